"""OCR of scanned pages: dense small text and an invoice read right, each line's box on its line;
and how often the detector runs on a small image, with text and without."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pagefactory import Page, draw_dense_page, draw_invoice_page
from scopix.server.domain.regions import TextRegion, join_text
from scopix.server.vision.base import DecodedImage
from scopix.server.vision.ondevice import TextReader, ocr

#: What a scanned page must read at, against the text drawn on it.
MIN_SIMILARITY = 0.95
#: Each drawn line must be found, read at least this close, where it was drawn.
MIN_LINE_SIMILARITY = 0.9
ASSETS = Path(__file__).resolve().parents[2] / "assets"
#: The describe pipeline hands images to OCR with this long a side.
DESCRIBE_MAX_SIDE = 2048


@pytest.fixture(scope="module")
def reader() -> TextReader:
    reader = TextReader(threads=2)
    reader.load()
    return reader


def read(reader: TextReader, image: Image.Image) -> tuple[TextRegion, ...]:
    pixels = np.asarray(image.convert("RGB"))
    return reader.read(DecodedImage(pixels=pixels, jpeg=b""))  # type: ignore[arg-type]


def similarity(read_text: str, truth: str) -> float:
    """Character similarity of the texts with runs of whitespace made one space. difflib's
    autojunk would skip characters frequent in a long text (spaces, 'e'), understating it."""
    a, b = " ".join(read_text.split()), " ".join(truth.split())
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def assert_read_on_its_lines(regions: tuple[TextRegion, ...], page: Page) -> None:
    """Every drawn line is read from the regions whose middles lie on it; every region lies on
    a drawn line, inside that line's ink box give or take a line's height."""
    width, height = page.image.size
    assigned = 0
    for line in page.lines:
        left, top, right, bottom = line.box
        slack = bottom - top
        on_line = [r for r in regions if top <= (r.bbox.y + r.bbox.height / 2) * height <= bottom]
        text = " ".join(r.text for r in sorted(on_line, key=lambda r: r.bbox.x))
        assert similarity(text, line.text) >= MIN_LINE_SIMILARITY, (line.text, text)
        for region in on_line:
            box = region.bbox
            assert box.x * width >= left - slack, (line.text, box)
            assert (box.x + box.width) * width <= right + slack, (line.text, box)
            assert box.y * height >= top - slack, (line.text, box)
            assert (box.y + box.height) * height <= bottom + slack, (line.text, box)
        assigned += len(on_line)
    assert assigned == len(regions), "a region lies between the drawn lines"


def shrunk(image: Image.Image, max_side: int) -> Image.Image:
    scale = max_side / max(image.size)
    size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, Image.Resampling.LANCZOS)


@pytest.mark.parametrize("size", [(2480, 3508), (2480, 1754)], ids=["a4-portrait", "half-height"])
def test_a_dense_300_dpi_page_is_read(reader: TextReader, size: tuple[int, int]) -> None:
    page = draw_dense_page(*size, lines=40, font_pt=9, dpi=300)
    regions = read(reader, page.image)
    assert similarity(join_text(regions), page.text) >= MIN_SIMILARITY
    assert_read_on_its_lines(regions, page)


def test_a_dense_page_is_read_at_the_size_the_describe_pipeline_gives(reader: TextReader) -> None:
    page = draw_dense_page(lines=40, font_pt=9, dpi=300)
    regions = read(reader, shrunk(page.image, DESCRIBE_MAX_SIDE))
    assert similarity(join_text(regions), page.text) >= MIN_SIMILARITY
    assert_read_on_its_lines(regions, page)


def test_an_invoice_is_read(reader: TextReader) -> None:
    page = draw_invoice_page()
    regions = read(reader, page.image)
    assert similarity(join_text(regions), page.text) >= MIN_SIMILARITY
    assert_read_on_its_lines(regions, page)
    assert "Total due EUR 1,336.07" in join_text(regions).splitlines()


def test_fine_print_too_small_for_a_first_look_is_read(reader: TextReader) -> None:
    # A long receipt's 3.5 pt lines are 15 px at 300 dpi, 5 px at the detector's first size:
    # read there alone, 17 of its 40 lines were found (similarity 0.55).
    page = draw_dense_page(1240, 3508, lines=40, font_pt=3.5, dpi=300)
    regions = read(reader, page.image)
    assert similarity(join_text(regions), page.text) >= MIN_SIMILARITY
    assert_read_on_its_lines(regions, page)


def test_a_page_upside_down_is_read_upright(reader: TextReader) -> None:
    page = draw_dense_page(2480, 420, lines=4, font_pt=9, dpi=300)
    regions = read(reader, page.image.rotate(180))
    # Each line is turned and read; the lines come in the image's order, last line first.
    bottom_up = "\n".join(line.text for line in reversed(page.lines))
    assert similarity(join_text(regions), bottom_up) >= MIN_SIMILARITY


@pytest.fixture
def detected_sides(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The long side of each image the text detector is given, in order."""
    sides: list[int] = []
    detect = ocr._detect

    def recording(detector: Any, bgr: Any, side: int) -> Any:
        sides.append(side)
        return detect(detector, bgr, side)

    monkeypatch.setattr(ocr, "_detect", recording)
    return sides


def test_a_small_photo_without_text_is_only_glanced_at(
    reader: TextReader, detected_sides: list[int]
) -> None:
    # Enlarged to 736 x 1106 px, the detector found two "lines" in the cat's fur.
    regions = read(reader, Image.open(ASSETS / "photos" / "chelsea.png"))
    assert regions == ()
    assert detected_sides == [451]


def test_text_glanced_on_a_small_image_is_read_from_the_enlarged_one(
    reader: TextReader, detected_sides: list[int]
) -> None:
    sign = ASSETS / "ocr" / "sign_coffee.png"
    regions = read(reader, Image.open(sign))
    assert similarity(join_text(regions), sign.with_suffix(".txt").read_text()) >= MIN_SIMILARITY
    assert detected_sides == [450, 1104]
