"""How the web page shows values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scopix.server.catalog.models import File
from scopix.server.services.files import BlobLocation
from scopix.server.web.views import (
    best_image,
    document_facts,
    human_size,
    is_moving,
    pages_render,
    percent,
    points,
    shows_inline,
    when,
)


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1 KB"),
        (246_272, "240.5 KB"),
        (100 * 2**20, "100 MB"),
        (3 * 2**30 + 2**20, "3 GB"),
        (7000 * 2**40, "7000 TB"),
    ],
)
def test_sizes(size: int, shown: str) -> None:
    assert human_size(size) == shown


def test_times_and_fractions() -> None:
    assert when(datetime(2026, 11, 29, 9, 5, 31, tzinfo=UTC)) == "2026-11-29 09:05 UTC"
    assert when(None) == "—"
    assert percent(0.915) == "92%"
    assert percent(None) == "—"


def test_polygon_points_for_svg() -> None:
    assert points([[0, 0], [0.5, 0], [0.5, 0.25], [0, 0.25]]) == (
        "0.00000,0.00000 0.50000,0.00000 0.50000,0.25000 0.00000,0.25000"
    )


def test_the_detail_shows_the_largest_variant_made() -> None:
    assert best_image({"small_256": "", "large_1024": "", "original": ""}, True) == "large_1024"
    assert best_image({"original": ""}, True) == "original"  # variants still being made
    assert best_image({"original": ""}, False) is None


def test_cards_move_while_processing_or_described() -> None:
    assert is_moving("processing", "pending")
    assert is_moving("completed", "queued")
    assert is_moving("completed", "processing")
    assert not any(
        is_moving("completed", state) for state in ("pending", "completed", "failed", "skipped")
    )


def test_only_images_open_in_the_page() -> None:
    assert shows_inline(BlobLocation("k", "image/webp", "a.webp"))
    assert not shows_inline(BlobLocation("k", "application/pdf", "a.pdf"))
    assert not shows_inline(BlobLocation("k", "video/mp4", "a.mp4"))


def test_cards_move_while_a_document_is_read() -> None:
    assert is_moving("completed", "pending", "pending")
    assert is_moving("completed", "pending", "processing")
    assert not any(
        is_moving("completed", "pending", state) for state in (None, "completed", "failed")
    )


def test_a_document_says_its_type_and_length() -> None:
    assert document_facts(File(media_type="image")) is None
    pdf = document_facts(File(document_type="pdf", page_count=12, text_extraction_status="done"))
    assert pdf is not None
    assert pdf.label == "PDF · 12 pages"
    assert pdf.extraction_status == "done"
    one = document_facts(File(document_type="md", page_count=1))
    assert one is not None and one.label == "MD · 1 page"
    unread = document_facts(File(document_type="docx"))
    assert unread is not None and unread.label == "DOCX"
    thick = document_facts(File(document_type="pdf", page_count=2000))
    assert thick is not None and thick.label == "PDF · 2,000 pages"


def test_pages_show_as_pictures_once_page_one_was_rendered() -> None:
    assert pages_render({"small_256": "", "original": ""})
    assert not pages_render({"original": ""})
