"""Text lines and their boxes, read with rapidocr's bundled PP-OCR models on onnxruntime."""

from __future__ import annotations

import logging
import math
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

import numpy as np

from scopix.server.domain.regions import RawLine, TextRegion, text_regions
from scopix.server.vision.base import AnalyzerError, DecodedImage, Pixels
from scopix.server.vision.ondevice.loading import PerProcess
from scopix.types.describe import DescriptionErrorType

__all__ = ["MIN_CONFIDENCE", "RAPIDOCR_VERSION", "TextReader"]

log = logging.getLogger("scopix.vision.ocr")

RAPIDOCR_VERSION: Final = version("rapidocr")
#: rapidocr's own default: lines read with less confidence are dropped by the engine.
MIN_CONFIDENCE: Final = 0.5
# rapidocr raises on a strip thinner than 1/66 of its length (it cannot bring the short side up
# to 30 px and keep the long side under 2000), and its detector scales the short side up to
# 736 px: a 1 x 2048 strip ran 38 s. Padding the short side to a quarter of the long one keeps
# the detector's input under 736 x 2944: measured on a 2048 x 160 banner and a 280 x 2048
# screenshot, both read in full, 30 % faster and with 300 MB less memory than at 1/8.
_MAX_ASPECT: Final = 4
# The detector sees at most this long a side: measured on 1600 px photos and 1100 x 1500 pages,
# 1.5 to 2.5 times faster than full size, with the same lines found and read.
_DETECT_MAX_SIDE: Final = 1280
_DETECT_MIN_SIDE: Final = 736
# The bundled models, named so that rapidocr never takes its download path: without a model_path
# it looks the file up and re-downloads it when the checksum does not match. Only these models
# ship in the rapidocr==3.10.0 wheel; another model or language would need a download.
_MODEL_FILES: Final = {
    "Det": "PP-OCRv6_det_small.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    "Rec": "PP-OCRv6_rec_small.onnx",
}


class TextReader:
    """Reads the text lines of an image. The engine loads on first use, once per process.

    `threads` caps onnxruntime's intra-op threads per model run: keep threads times the number
    of concurrent reads within the cores. Readers with the same count share one engine, which
    may be called from several threads at once (its models are onnxruntime sessions).
    """

    def __init__(self, *, threads: int = 1) -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self._threads = threads

    def load(self) -> None:
        """Load the engine and its three models now rather than on the first image."""
        engine = _engines.get(self._threads)
        # rapidocr loads each model on its first use (a page without text never loads the
        # recognizer); these loaders are private, which the exact rapidocr pin makes safe.
        engine._load_det_model()
        engine._load_cls_model()
        engine._load_rec_model()

    def read(self, image: DecodedImage) -> tuple[TextRegion, ...]:
        """The text lines in reading order; AnalyzerError(VALIDATION_ERROR) if unreadable."""
        pixels = _upscaled(_checked(image.pixels))
        try:
            output = _engines.get(self._threads)(_padded_bgr(pixels))
        except Exception as exc:  # rapidocr raises bare errors of many kinds on odd input
            # Their text may name model files on this server: it goes to the log, not the client.
            log.warning("OCR failed", exc_info=True)
            raise AnalyzerError(
                DescriptionErrorType.VALIDATION_ERROR,
                f"the OCR engine could not read this image ({type(exc).__name__})",
            ) from exc
        # Normalized coordinates are the same at any scale: normalize by the size OCR saw.
        return text_regions(_raw_lines(output), pixels.shape[1], pixels.shape[0])


def _create_engine(threads: int) -> Any:
    """A RapidOCR engine on the bundled models, quiet, with `threads` intra-op threads."""
    import rapidocr  # deferred: importing it pulls in OpenCV, omegaconf and Pillow

    models = Path(rapidocr.__file__).resolve().parent / "models"
    params: dict[str, Any] = {
        # Its logger prints every model load at INFO and every text-free image at WARNING.
        "Global.log_level": "error",
        "Global.text_score": MIN_CONFIDENCE,
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        "Det.limit_type": "max",
        "Det.limit_side_len": _DETECT_MAX_SIDE,
    }
    params.update({f"{task}.model_path": str(models / f) for task, f in _MODEL_FILES.items()})
    return rapidocr.RapidOCR(params=params)


def _checked(pixels: Pixels) -> Pixels:
    """Refuse what no decoder produces: wrong shape, type, or an empty image."""
    shape = pixels.shape
    if pixels.dtype != np.uint8 or len(shape) != 3 or shape[2] != 3 or 0 in shape:
        raise AnalyzerError(
            DescriptionErrorType.VALIDATION_ERROR,
            f"expected non-empty 8-bit RGB pixels, got {pixels.dtype} {shape}",
        )
    return pixels


def _upscaled(pixels: Pixels) -> Pixels:
    """A small image enlarged so its short side reaches _DETECT_MIN_SIDE: small text on a small
    image is found only when the detector sees it larger (rapidocr's own default did this, but
    also ran its detector on every large photo at full size, two to three times slower)."""
    height, width = pixels.shape[:2]
    factor = min(_DETECT_MIN_SIDE / min(height, width), _DETECT_MAX_SIDE / max(height, width))
    if factor <= 1:
        return pixels
    size = (round(width * factor), round(height * factor))
    import cv2  # deferred: OpenCV maps some 35 MiB of libraries that only analyses need

    return np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_CUBIC), dtype=np.uint8)


def _padded_bgr(pixels: Pixels) -> Pixels:
    """BGR (rapidocr takes arrays as OpenCV does), a thin strip padded at its bottom or right.

    Padding there leaves every pixel coordinate of the original where it was.
    """
    bgr: Pixels = np.ascontiguousarray(pixels[:, :, ::-1])
    height, width = bgr.shape[:2]
    bottom = max(0, math.ceil(width / _MAX_ASPECT) - height)
    right = max(0, math.ceil(height / _MAX_ASPECT) - width)
    if bottom or right:
        # The strip's mean colour: a white or black border would be an edge the detector sees.
        fill = [float(v) for v in bgr.reshape(-1, 3).mean(axis=0)]
        import cv2  # deferred, as above

        border = cv2.copyMakeBorder(bgr, 0, bottom, 0, right, cv2.BORDER_CONSTANT, value=fill)
        bgr = np.asarray(border, dtype=np.uint8)
    return bgr


def _raw_lines(output: Any) -> list[RawLine]:
    """rapidocr's RapidOCROutput (boxes N x 4 x 2, txts, scores; None when nothing was found)."""
    boxes, texts, scores = (getattr(output, name, None) for name in ("boxes", "txts", "scores"))
    if boxes is None or texts is None or scores is None:
        return []
    return [
        RawLine(points=[(float(x), float(y)) for x, y in box], text=str(text), score=float(score))
        for box, text, score in zip(boxes, texts, scores, strict=True)
    ]


_engines: PerProcess[int, Any] = PerProcess(_create_engine)
