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

__all__ = ["DETECTION", "MIN_CONFIDENCE", "RAPIDOCR_VERSION", "TextReader", "checked_pixels"]

log = logging.getLogger("scopix.vision.ocr")

RAPIDOCR_VERSION: Final = version("rapidocr")
#: rapidocr's own default (its text_score): lines read with less confidence are dropped.
MIN_CONFIDENCE: Final = 0.5
# rapidocr raises on a strip thinner than 1/66 of its length (it cannot bring the short side up
# to 30 px and keep the long side under 2000), and its detector scales the short side up to
# 736 px: a 1 x 2048 strip ran 38 s. Padding the short side to a quarter of the long one keeps
# the detector's input under 736 x 2944: measured on a 2048 x 160 banner and a 280 x 2048
# screenshot, both read in full, 30 % faster and with 300 MB less memory than at 1/8. (Measured
# through rapidocr's own call, which TextReader made until the steps below replaced it; the
# padded strips still read in full through them.)
_MAX_ASPECT: Final = 4
# The detector first sees at most this long a side: measured on 1600 px photos and 1100 x 1500
# pages, 1.5 to 2.5 times faster than full size, with the same lines found and read; on 300-dpi
# A4 pages it finds every line of text down to 5 pt.
_DETECT_MAX_SIDE: Final = 1280
_DETECT_MIN_SIDE: Final = 736
# An image enlarged for the detector by _GLANCE_MIN_ENLARGEMENT or more is first glanced at, at
# its own size, where detection costs at most 1/2.25 as much: when nothing found there reads as
# text, the image holds none (on the 21 images of tests/assets/ocr, from a 338 px sign to 820 px
# screenshots, both sizes found the same lines), and a photo without text, most photos, ends
# there. Text found is detected again on the enlarged image, whose boxes are tighter: read from
# the glance's boxes, a sign turned -35 degrees lost 13 % of its characters and a dark screenshot
# 1 %. So an image with text pays for both passes: enlarged less than this, the glance would cost
# over 44 % of the detection it might save (a 720 x 560 page photo: 380 against 690 ms).
_GLANCE_MIN_ENLARGEMENT: Final = 1.5
# Text is too small for the detector when its lines' median height there is under
# _SMALL_TEXT_PX (box heights bottom out near 13 px as text shrinks towards what it cannot see):
# at 1280 px it lost lines of 4 pt on a 300-dpi A4 page (126 of 150 found) and all of 3.5 pt
# (one box). Such an image is detected again with its side _SMALL_TEXT_ZOOM times longer (never
# beyond its own pixels): at 1.5 times both pages gave every line. Lines of 9 pt on that page
# measure 19 px, the invoice's 21 px and text in the test photos 21 px or more: one pass.
_SMALL_TEXT_PX: Final = 14
_SMALL_TEXT_ZOOM: Final = 2
#: How lines are found, for the analysis fingerprint: a change here reads some images otherwise.
DETECTION: Final = (
    f"det{_DETECT_MIN_SIDE}-{_DETECT_MAX_SIDE}x{_SMALL_TEXT_ZOOM}+glance{_GLANCE_MIN_ENLARGEMENT}"
)
# The angle classifier sees a line squeezed into 192 x 48 px: on 40 lines of a dense page it
# called half of them upside down, up to 98 % sure, and the turned lines read as garbage. It
# judges pieces of a line shaped as it expects instead (the start, middle and end) and the
# line turns only when their mean says upside down as surely as rapidocr's own threshold.
_CLASSIFIER_ASPECT: Final = 4
_UPSIDE_DOWN_MIN_SCORE: Final = 0.9
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
        _engines.get(self._threads).load()

    def read(self, image: DecodedImage) -> tuple[TextRegion, ...]:
        """The text lines in reading order; AnalyzerError(VALIDATION_ERROR) if unreadable."""
        pixels = checked_pixels(image.pixels)
        own_side = max(pixels.shape[:2])
        pixels = _upscaled(pixels)
        bgr = _padded_bgr(pixels)
        engine = _engines.get(self._threads)
        try:
            glanced = max(bgr.shape[:2]) >= own_side * _GLANCE_MIN_ENLARGEMENT
            if glanced and not text_regions(engine(bgr, own_side), *pixels.shape[1::-1]):
                return ()
            lines = engine(bgr)
        except Exception as exc:  # rapidocr raises bare errors of many kinds on odd input
            # Their text may name model files on this server: it goes to the log, not the client.
            log.warning("OCR failed", exc_info=True)
            raise AnalyzerError(
                DescriptionErrorType.VALIDATION_ERROR,
                f"the OCR engine could not read this image ({type(exc).__name__})",
            ) from exc
        # Normalized coordinates are the same at any scale: normalize by the size OCR saw.
        return text_regions(lines, pixels.shape[1], pixels.shape[0])


class _Engine:
    """rapidocr's three models run step by step, each step on what suits it: lines found at a
    scale chosen from their size, cut from the full image, turned upright, read. (RapidOCR's
    own call shrinks the whole image to 2000 px first and runs each step with fixed settings.)
    Thread-safe: the steps keep no state between calls; the models are onnxruntime sessions."""

    def __init__(self, threads: int) -> None:
        self._rapidocr = _create_rapidocr(threads)

    def load(self) -> None:
        # rapidocr loads each model on its first use (a page without text never loads the
        # recognizer); these loaders are private, which the exact rapidocr pin makes safe.
        self._rapidocr._load_det_model()
        self._rapidocr._load_cls_model()
        self._rapidocr._load_rec_model()

    def __call__(self, bgr: Pixels, side: int | None = None) -> list[RawLine]:
        """The lines of a BGR image: corners in its pixels, text and the recognizer's score.
        Detected with the long side at `side` alone when given, else as _text_boxes chooses."""
        detector = self._rapidocr._load_det_model()
        boxes = _text_boxes(detector, bgr) if side is None else _detect(detector, bgr, side)
        if not len(boxes):
            return []
        from rapidocr.ch_ppocr_rec import TextRecInput  # deferred with rapidocr
        from rapidocr.utils.process_img import get_rotate_crop_image

        crops = [get_rotate_crop_image(bgr, box.astype(np.float32)) for box in boxes]
        upright = _upright(self._rapidocr._load_cls_model(), crops)
        read = self._rapidocr._load_rec_model()(TextRecInput(img=upright))
        return [
            RawLine([(float(x), float(y)) for x, y in box], str(text), float(score))
            for box, text, score in zip(boxes, read.txts, read.scores, strict=True)
            if score >= MIN_CONFIDENCE
        ]


def _create_rapidocr(threads: int) -> Any:
    """A RapidOCR engine on the bundled models, quiet, with `threads` intra-op threads."""
    import rapidocr  # deferred: importing it pulls in OpenCV, omegaconf and Pillow

    models = Path(rapidocr.__file__).resolve().parent / "models"
    params: dict[str, Any] = {
        # Its logger prints every model load at INFO and every text-free image at WARNING.
        "Global.log_level": "error",
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    }
    params.update({f"{task}.model_path": str(models / f) for task, f in _MODEL_FILES.items()})
    return rapidocr.RapidOCR(params=params)


def checked_pixels(pixels: Pixels) -> Pixels:
    """Refuse what no decoder produces: wrong shape, type, or an empty image."""
    shape = pixels.shape
    if pixels.dtype != np.uint8 or len(shape) != 3 or shape[2] != 3 or 0 in shape:
        raise AnalyzerError(
            DescriptionErrorType.VALIDATION_ERROR,
            f"expected non-empty 8-bit RGB pixels, got {pixels.dtype} {shape}",
        )
    return pixels


def _upscaled(pixels: Pixels) -> Pixels:
    """A small image enlarged so its short side reaches _DETECT_MIN_SIDE, as rapidocr's own
    default does (which also ran its detector on every large photo at full size, two to three
    times slower): the detector places the boxes of small text on a small image better."""
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


def _text_boxes(detector: Any, bgr: Pixels) -> Any:
    """The lines' boxes (N x 4 x 2, pixels of `bgr`): detected at _DETECT_MAX_SIDE, and again
    larger when the text found there is too small for the detector to see all of it."""
    longest = max(bgr.shape[:2])
    side = min(longest, _DETECT_MAX_SIDE)
    boxes = _detect(detector, bgr, side)
    heights = [_line_height(box) * side / longest for box in boxes]
    if heights and np.median(heights) < _SMALL_TEXT_PX and side < longest:
        return _detect(detector, bgr, min(longest, side * _SMALL_TEXT_ZOOM))
    return boxes


def _detect(detector: Any, bgr: Pixels, side: int) -> Any:
    """rapidocr's TextDetector run with the longest side scaled to `side`. Its own call reads
    the scale from the detector's shared settings; the engine serves several threads."""
    from rapidocr.ch_ppocr_det.utils import DetPreProcess  # deferred with rapidocr

    tensor = DetPreProcess(side, "max", detector.mean, detector.std)(bgr)
    if tensor is None:
        return []
    boxes, _scores = detector.postprocess_op(detector.session(tensor), bgr.shape[:2])
    return boxes


def _line_height(box: Any) -> float:
    """The short side of a line's (rotated) rectangle: its height at any slant."""
    return float(min(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[1] - box[2])))


def _upright(classifier: Any, crops: list[Pixels]) -> list[Pixels]:
    """The crops, those judged upside down turned: a line longer than the classifier's input
    shape is judged by its start, middle and end, each cut to that shape."""
    pieces: list[Pixels] = []
    owners: list[int] = []
    for index, crop in enumerate(crops):
        height, width = crop.shape[:2]
        piece = max(1, height * _CLASSIFIER_ASPECT)
        for start in sorted({0, max(0, width - piece) // 2, max(0, width - piece)}):
            pieces.append(np.ascontiguousarray(crop[:, start : start + piece]))
            owners.append(index)
    upside_down = np.zeros(len(crops))
    counts = np.zeros(len(crops))
    for (label, score), owner in zip(classifier(pieces).cls_res, owners, strict=True):
        upside_down[owner] += score if label == "180" else 1 - score
        counts[owner] += 1
    turned = upside_down / counts > _UPSIDE_DOWN_MIN_SCORE
    return [
        np.ascontiguousarray(np.rot90(crop, 2)) if turn else crop
        for crop, turn in zip(crops, turned, strict=True)
    ]


_engines: PerProcess[int, _Engine] = PerProcess(_Engine)
