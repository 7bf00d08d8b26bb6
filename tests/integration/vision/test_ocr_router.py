"""The OCR router on the labeled set (tests/assets/ocr): the engine each kind of image goes to,
and its text read close to the truth."""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scopix.server.domain.regions import join_text
from scopix.server.vision.base import AnalyzerError, DecodedImage
from scopix.server.vision.ondevice import ocr
from scopix.server.vision.ondevice.ocr_router import OcrRouter
from scopix.server.vision.ondevice.tesseract import TesseractReader

SET = Path(__file__).resolve().parents[2] / "assets" / "ocr"
#: The router's reading of each image against its truth; bench/quality_ocr.py measured 1.00
#: (memo 0.997) for these, so this leaves room for a recognizer's single slip.
MIN_SIMILARITY = 0.95


@pytest.fixture(scope="module")
def router() -> OcrRouter:
    router = OcrRouter(threads=2)
    router.load()
    return router


def labeled(name: str) -> tuple[DecodedImage, str]:
    pixels = np.ascontiguousarray(np.asarray(Image.open(SET / f"{name}.png").convert("RGB")))
    return DecodedImage(pixels, jpeg=b""), (SET / f"{name}.txt").read_text(encoding="utf-8")


def similarity(read: str, truth: str) -> float:
    a, b = " ".join(read.split()), " ".join(truth.split())
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


@pytest.mark.parametrize(
    ("name", "engine"),
    [
        ("document_memo", "tesseract"),
        ("document_letter", "tesseract"),
        ("screenshot_settings", "rapidocr"),
        ("sign_cat", "rapidocr"),
        ("page_photo_book", "rapidocr"),
        ("rotated_90", "rapidocr"),
    ],
)
def test_each_kind_goes_to_its_engine_and_reads_right(
    router: OcrRouter, name: str, engine: str
) -> None:
    image, truth = labeled(name)
    reading = router.read_with_engine(image)
    assert reading.engine == engine
    assert similarity(join_text(reading.regions), truth) >= MIN_SIMILARITY


def test_tesseract_regions_are_normalized_lines(router: OcrRouter) -> None:
    image, truth = labeled("document_memo")
    regions = router.read(image)
    assert regions == router.read_with_engine(image).regions
    assert len(regions) == len(truth.splitlines())
    for region in regions:
        assert 0 <= region.bbox.x <= region.bbox.x + region.bbox.width <= 1
        assert 0 <= region.bbox.y <= region.bbox.y + region.bbox.height <= 1
        assert 0.5 <= region.confidence <= 1


def test_a_page_tesseract_cannot_read_falls_back_to_pp_ocr(router: OcrRouter) -> None:
    # A clean page of lines drawn upside down: page-like, but tesseract reads it unsure.
    image, _ = labeled("document_memo")
    turned = DecodedImage(np.ascontiguousarray(image.pixels[::-1, ::-1]), jpeg=b"")
    assert router.read_with_engine(turned).engine == "rapidocr"


def test_fingerprint_names_both_engines(router: OcrRouter) -> None:
    assert "tesseract-" in router.fingerprint
    assert "rapidocr-" in router.fingerprint
    assert ocr.DETECTION in router.fingerprint  # how lines are found reads images otherwise


def test_odd_pixels_are_a_validation_error() -> None:
    with pytest.raises(AnalyzerError):
        TesseractReader().read(DecodedImage(np.zeros((8, 8), np.uint8), jpeg=b""))
