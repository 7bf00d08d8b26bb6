"""The OCR routing rule: which images tesseract reads first, and when its reading stands."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.ocr_routing import (
    MAX_COLOURFULNESS,
    MAX_INK_SHARE,
    MIN_BACKGROUND_LEVEL,
    MIN_BACKGROUND_SHARE,
    MIN_TESSERACT_CONFIDENCE,
    ImageStats,
    is_page_like,
    trusts_tesseract,
)

#: Measured on tests/assets/ocr (bench/quality_ocr.py): one image of each kind.
DENSE_PAGE = ImageStats(
    colourfulness=0.0, background_level=252, background_share=0.75, ink_share=0.13
)
SCREENSHOT = ImageStats(
    colourfulness=30.7, background_level=246, background_share=0.88, ink_share=0.10
)
PAGE_PHOTO = ImageStats(
    colourfulness=16.1, background_level=55, background_share=0.71, ink_share=0.27
)
SIGN = ImageStats(colourfulness=80.8, background_level=76, background_share=0.15, ink_share=0.36)
LABEL_ON_SHELF = ImageStats(
    colourfulness=3.2, background_level=150, background_share=0.49, ink_share=0.51
)

stats = st.builds(
    ImageStats,
    colourfulness=st.floats(0, 150),
    background_level=st.integers(0, 255),
    background_share=st.floats(0, 1),
    ink_share=st.floats(0, 1),
)


def test_a_clean_page_is_page_like() -> None:
    assert is_page_like(DENSE_PAGE)


def test_screenshots_photos_of_pages_signs_and_labels_are_not() -> None:
    for image in (SCREENSHOT, PAGE_PHOTO, SIGN, LABEL_ON_SHELF):
        assert not is_page_like(image), image


@given(stats)
def test_page_like_only_within_every_bound(image: ImageStats) -> None:
    within = (
        image.colourfulness <= MAX_COLOURFULNESS
        and image.background_level >= MIN_BACKGROUND_LEVEL
        and image.background_share >= MIN_BACKGROUND_SHARE
        and image.ink_share <= MAX_INK_SHARE
    )
    assert is_page_like(image) == within


@given(stats, st.floats(0, 50))
def test_more_colour_never_makes_an_image_page_like(image: ImageStats, more: float) -> None:
    colourful = replace(image, colourfulness=image.colourfulness + more)
    assert not (is_page_like(colourful) and not is_page_like(image))


def test_tesseract_is_trusted_when_its_lines_are_sure() -> None:
    assert trusts_tesseract([("Quarterly report", 0.96), ("Total 12.50", 0.93)])


def test_no_text_or_unsure_text_falls_back() -> None:
    assert not trusts_tesseract([])
    assert not trusts_tesseract([("   ", 0.99)])
    assert not trusts_tesseract([("Fragile", 0.19), ("Box 12", 0.4)])


def test_confidence_is_weighted_by_line_length() -> None:
    long_sure = ("A whole line of running text read surely", 0.95)
    short_unsure = ("|~", 0.1)
    assert trusts_tesseract([long_sure, short_unsure])
    assert not trusts_tesseract([("ok", 0.95), ("a long line that was read as garbage", 0.3)])


@given(st.lists(st.tuples(st.text(min_size=1), st.floats(0, 1)), min_size=1))
def test_the_mean_decides(lines: list[tuple[str, float]]) -> None:
    lengths = [len(text.strip()) for text, _ in lines]
    if sum(lengths):
        mean = sum(n * c for n, (_, c) in zip(lengths, lines, strict=True)) / sum(lengths)
        assert trusts_tesseract(lines) == (mean >= MIN_TESSERACT_CONFIDENCE)
    else:
        assert not trusts_tesseract(lines)
