"""Merging what several providers found (pure rules)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.regions import BoundingBox, TextRegion
from scopix.server.vision.base import Analysis, Tag
from scopix.server.vision.merge import MAX_TAGS, merge

REGION = TextRegion(
    "OPEN",
    0.9,
    BoundingBox(0.1, 0.1, 0.2, 0.05),
    ((0.1, 0.1), (0.3, 0.1), (0.3, 0.15), (0.1, 0.15)),
)


def test_the_first_description_wins_and_tags_are_united_in_order() -> None:
    vlm = Analysis("vlm:x", description="A cat on a sofa.", tags=(Tag("cat"), Tag("sofa")))
    local = Analysis("ondevice", description="A cat.", tags=(Tag("Cat", 0.9), Tag("tabby", 0.4)))
    merged = merge([vlm, local])
    assert merged.description == "A cat on a sofa."
    assert merged.tags == ("cat", "sofa", "tabby")
    assert merged.providers == ("vlm:x", "ondevice") and merged.provider_count == 2


def test_located_text_beats_text_that_was_only_read() -> None:
    vlm = Analysis("vlm:x", description="A sign.", visible_text="0PEN")
    local = Analysis("ondevice", visible_text="OPEN", text_regions=(REGION,))
    merged = merge([vlm, local])
    assert merged.visible_text == "OPEN" and merged.text_regions == (REGION,)
    only_vlm = merge([vlm])
    assert only_vlm.visible_text == "0PEN" and only_vlm.text_regions == ()


def test_a_provider_with_nothing_to_say_does_not_count() -> None:
    merged = merge([Analysis("vlm:x"), Analysis("ondevice", tags=(Tag("cup", 0.8),))])
    assert merged.providers == ("ondevice",)
    assert merged.description == "An image with no objects or text recognised."


def test_confidence_averages_each_provider_s_best_evidence() -> None:
    merged = merge([Analysis("ondevice", tags=(Tag("cup", 0.8),), text_regions=(REGION,))])
    assert merged.confidence_score == round((0.8 + 0.9) / 2, 4)
    assert merge([Analysis("vlm:x", description="x")]).confidence_score is None


def test_image_features_and_class_scores_come_from_the_first_provider_with_them() -> None:
    vlm = Analysis("vlm:x", description="A cat on a sofa.")
    local = Analysis(
        "ondevice", tags=(Tag("cat", 0.9),), image_features=b"\0" * 8, class_scores=((281, 0.9),)
    )
    later = Analysis("other", image_features=b"\1" * 8, class_scores=((1, 0.5),))
    merged = merge([vlm, local, later])
    assert (merged.image_features, merged.class_scores) == (b"\0" * 8, ((281, 0.9),))
    assert (merge([vlm]).image_features, merge([vlm]).class_scores) == (None, ())


def test_the_embedded_text_holds_description_tags_and_text() -> None:
    merged = merge([Analysis("ondevice", description="A sign.", tags=(Tag("sign"),))])
    assert merged.embedding_text() == "A sign.\nsign"


labels = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@given(st.lists(st.lists(labels, max_size=30), max_size=4))
def test_tags_are_unique_ignoring_case_and_capped(tag_lists: list[list[str]]) -> None:
    analyses = [
        Analysis(f"p{i}", tags=tuple(Tag(t) for t in tags)) for i, tags in enumerate(tag_lists)
    ]
    merged = merge(analyses)
    folded = [t.casefold() for t in merged.tags]
    assert len(folded) == len(set(folded)) <= MAX_TAGS
    assert all(t and t == t.strip() for t in merged.tags)
    given_labels = {t.strip().casefold() for tags in tag_lists for t in tags}
    assert set(folded) <= given_labels
    assert merged.description  # never empty
