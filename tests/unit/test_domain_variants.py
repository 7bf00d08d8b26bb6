"""Where an image's variants stand."""

from __future__ import annotations

from scopix.server.domain.variants import PREVIEW_SIZES, VARIANT_SIZES, variant_state


def test_variants_are_made_once_all_exist_and_failed_once_given_up_on() -> None:
    assert variant_state(list(PREVIEW_SIZES), None) == "processing"
    assert variant_state([], None) == "processing"
    assert variant_state(list(VARIANT_SIZES), None) == "completed"
    assert variant_state(list(PREVIEW_SIZES), "disk full") == "failed"


def test_media_without_previews_have_no_variants() -> None:
    assert variant_state([], None, has_previews=False) == "none"
