"""OCR by the engine that reads an image best at the lowest cost (see domain.ocr_routing).

Page-like images go to tesseract (~0.1-0.3 s for a page on one core), and to PP-OCR after it
only when tesseract was unsure; everything else (photos, signs, screenshots, turned text) goes
straight to PP-OCR (~0.5-2 s). Both give the same TextRegion lines.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from scopix.server.domain.ocr_routing import (
    MAX_COLOURFULNESS,
    MAX_INK_SHARE,
    MIN_BACKGROUND_LEVEL,
    MIN_BACKGROUND_SHARE,
    MIN_TESSERACT_CONFIDENCE,
    Engine,
    ImageStats,
    is_page_like,
    trusts_tesseract,
)
from scopix.server.domain.regions import SPURIOUS_MIN_CONFIDENCE, TextRegion
from scopix.server.vision.base import DecodedImage, Pixels
from scopix.server.vision.ondevice import ocr, tesseract
from scopix.server.vision.ondevice.ocr import TextReader, checked_pixels
from scopix.server.vision.ondevice.tesseract import TesseractReader

__all__ = ["OcrReading", "OcrRouter", "image_stats"]

# Statistics are taken on every n-th pixel so that the long side is at most this: ~2 ms on a
# 1240 x 1754 page, and the same values to 0.01 as at full size on the labeled set.
_STATS_SIDE = 512
# A pixel is background within this many grey levels of the commonest one (JPEG noise and
# anti-aliasing stay inside it), and ink beyond _INK_LEVELS from it.
_BACKGROUND_LEVELS = 10
_INK_LEVELS = 60


class OcrReading(NamedTuple):
    regions: tuple[TextRegion, ...]
    engine: Engine


class OcrRouter:
    """Reads text with tesseract or PP-OCR, whichever the image's statistics call for.

    `threads` is PP-OCR's intra-op thread count (TextReader's); tesseract runs in the calling
    thread, one engine per thread.
    """

    def __init__(self, *, threads: int = 1) -> None:
        self._rapidocr = TextReader(threads=threads)
        self._tesseract = TesseractReader()

    @property
    def fingerprint(self) -> str:
        """Both engines, their versions and the routing thresholds."""
        return (
            f"ocr-router[page:colour<={MAX_COLOURFULNESS},bg>={MIN_BACKGROUND_LEVEL}"
            f"x{MIN_BACKGROUND_SHARE},ink<={MAX_INK_SHARE}]"
            f"/tesseract-{tesseract.TESSEROCR_VERSION}-fast_eng-{tesseract.TESSDATA_VERSION}"
            f">={tesseract.MIN_CONFIDENCE},keep>={MIN_TESSERACT_CONFIDENCE}"
            f"/rapidocr-{ocr.RAPIDOCR_VERSION}>={ocr.MIN_CONFIDENCE}"
            f",lone>={SPURIOUS_MIN_CONFIDENCE},{ocr.DETECTION}"
        )

    def load(self, engines: int = 1) -> None:
        """Load both engines now rather than on first use: PP-OCR's shared one, and `engines`
        of tesseract's (one per thread that will read at once)."""
        self._rapidocr.load()
        self._tesseract.load(engines)

    def read(self, image: DecodedImage) -> tuple[TextRegion, ...]:
        """The text lines in reading order; AnalyzerError(VALIDATION_ERROR) if unreadable."""
        return self.read_with_engine(image).regions

    def read_with_engine(self, image: DecodedImage) -> OcrReading:
        """The text lines and the engine whose reading they are."""
        if is_page_like(image_stats(checked_pixels(image.pixels))):
            lines = self._tesseract.read_all(image)
            if trusts_tesseract((r.text, r.confidence) for r in lines):
                kept = tuple(r for r in lines if r.confidence >= tesseract.MIN_CONFIDENCE)
                return OcrReading(kept, "tesseract")
        return OcrReading(self._rapidocr.read(image), "rapidocr")


def image_stats(pixels: Pixels) -> ImageStats:
    """The routing statistics of an RGB image, on a grid of at most _STATS_SIDE a side."""
    step = max(1, -(-max(pixels.shape[:2]) // _STATS_SIDE))
    sample = pixels[::step, ::step].astype(np.float32)
    red, green, blue = sample[..., 0], sample[..., 1], sample[..., 2]
    red_green = red - green
    yellow_blue = (red + green) / 2 - blue
    # Hasler and Suesstrunk (2003): spread plus 0.3 times the mean of the opponent channels.
    colourfulness = float(
        np.hypot(red_green.std(), yellow_blue.std())
        + 0.3 * np.hypot(red_green.mean(), yellow_blue.mean())
    )
    grey = (sample @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).astype(np.uint8)
    histogram = np.bincount(grey.ravel(), minlength=256)
    level = int(histogram.argmax())
    near = histogram[max(0, level - _BACKGROUND_LEVELS) : level + _BACKGROUND_LEVELS + 1]
    ink = np.abs(grey.astype(np.int16) - level) > _INK_LEVELS
    return ImageStats(
        colourfulness=colourfulness,
        background_level=level,
        background_share=float(near.sum() / grey.size),
        ink_share=float(ink.mean()),
    )
