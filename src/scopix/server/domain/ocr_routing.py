"""Which OCR engine reads an image (pure): tesseract for clean pages, PP-OCR for the rest.

tesseract reads a clean page ten times faster than PP-OCR and as well (tests/assets/ocr:
documents 1.00 against 1.00, in 0.14-2 s against 1.6-21 s on 2 cores), but misses text over
photos, rotated text, coloured UI and photographed pages. The rule sends an image to tesseract
only when its statistics say "printed page", and takes PP-OCR's reading when tesseract was
unsure of what it read. Thresholds were read off the labeled set (bench/quality_ocr.py); the
measured values of each class are given beside each one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "MAX_COLOURFULNESS",
    "MAX_INK_SHARE",
    "MIN_BACKGROUND_LEVEL",
    "MIN_BACKGROUND_SHARE",
    "MIN_TESSERACT_CONFIDENCE",
    "Engine",
    "ImageStats",
    "is_page_like",
    "trusts_tesseract",
]

Engine = Literal["tesseract", "rapidocr"]

#: Hasler and Suesstrunk's colourfulness (0 for grey). Generated pages 0-8 (a cream memo 8.3),
#: screenshots 30-36 (title bars, buttons), signs over photos 40-81, photographed pages 14-18.
MAX_COLOURFULNESS: Final = 12.0
#: The commonest grey level (the background) must be paper-light: pages 245-255, photographed
#: pages 52-62 (the desk) or 231 (a grey book page), labels on a shelf 150, dark screens 34.
MIN_BACKGROUND_LEVEL: Final = 200
#: Share of pixels within 10 levels of the background: pages 0.75 (dense A4) to 0.96, a
#: photographed book page 0.27, signs 0.03-0.28.
MIN_BACKGROUND_SHARE: Final = 0.6
#: Share of pixels far (over 60 levels) from the background: pages 0.03-0.13, photos 0.12-0.96.
MAX_INK_SHARE: Final = 0.25
#: tesseract's reading stands when its lines' mean confidence (weighted by their length) reaches
#: this: clean pages 0.95-0.96, screenshots 0.79-0.93, upside-down labels 0.46, 90 degrees 0.19.
MIN_TESSERACT_CONFIDENCE: Final = 0.85


@dataclass(frozen=True)
class ImageStats:
    """Cheap statistics of an image: colourfulness (0 for grey, 30+ for vivid), the background's
    grey level (0-255), the share of pixels at that level and the share far from it (0-1)."""

    colourfulness: float
    background_level: int
    background_share: float
    ink_share: float


def is_page_like(stats: ImageStats) -> bool:
    """Whether the image looks like a printed page or a clean scan: grey, mostly light
    background, a little ink. Only such images go to tesseract first."""
    return (
        stats.colourfulness <= MAX_COLOURFULNESS
        and stats.background_level >= MIN_BACKGROUND_LEVEL
        and stats.background_share >= MIN_BACKGROUND_SHARE
        and stats.ink_share <= MAX_INK_SHARE
    )


def trusts_tesseract(lines: Iterable[tuple[str, float]]) -> bool:
    """Whether tesseract's lines (text, confidence 0-1) are read surely enough to keep: some
    text, with a length-weighted mean confidence of at least MIN_TESSERACT_CONFIDENCE."""
    weighted = total = 0.0
    for text, confidence in lines:
        length = len(text.strip())
        weighted += length * confidence
        total += length
    return total > 0 and weighted / total >= MIN_TESSERACT_CONFIDENCE
