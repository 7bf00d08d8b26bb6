"""A PDF's text-layer boxes lie on the text as the page is shown: on the ink of its render,
whatever way its /Rotate turns it."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from docfactory import DEFAULT_LIMITS, scanned_pdf, text_pdf
from scopix.server.media.documents import pdf

#: A box and the ink it bounds agree to a hundredth of the page (the glyphs' side bearings).
CLOSE = 0.01


def turned_pdf(tmp_path: Path, rotation: int) -> Path:
    data = text_pdf([["HELLO WORLD on the first line", "", "and a second line below"]])
    path = tmp_path / f"turned-{rotation}.pdf"
    path.write_bytes(
        data.replace(b"/Type /Page /Parent", b"/Type /Page /Rotate %d /Parent" % rotation)
    )
    return path


def ink_box(path: Path) -> tuple[float, float, float, float]:
    """The box around every dark pixel of page 1's render, normalized (x, y, width, height)."""
    return ink_of(pdf.render_page(path, DEFAULT_LIMITS, 1, dpi=None, max_side=1200))


def union(boxes: list[tuple[float, ...]]) -> tuple[float, float, float, float]:
    left = min(b[0] for b in boxes)
    top = min(b[1] for b in boxes)
    right = max(b[0] + b[2] for b in boxes)
    bottom = max(b[1] + b[3] for b in boxes)
    return left, top, right - left, bottom - top


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_text_boxes_lie_on_the_ink_of_the_page_as_shown(tmp_path: Path, rotation: int) -> None:
    path = turned_pdf(tmp_path, rotation)

    page = pdf.pdf_text(path, DEFAULT_LIMITS).pages[0]
    regions = page.extracted().regions

    assert [region.text for region in regions] == [  # read as written, however it is turned
        "HELLO WORLD on the first line",
        "and a second line below",
    ]
    assert union([astuple(region.bbox) for region in regions]) == pytest.approx(
        ink_box(path), abs=CLOSE
    )
    shown = (842, 595) if rotation in (90, 270) else (595, 842)
    assert (page.width, page.height) == shown


def astuple(box: object) -> tuple[float, float, float, float]:
    return box.x, box.y, box.width, box.height  # type: ignore[attr-defined]


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_a_turned_scan_is_read_as_shown(tmp_path: Path, rotation: int) -> None:
    from pypdf import PdfReader, PdfWriter

    scan = Image.new("L", (600, 800), 255)
    scan.paste(0, (0, 0, 150, 100))  # a dark block at the scan's top left
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(scanned_pdf([scan], dpi=72))))
    writer.pages[0].rotate(rotation)
    path = tmp_path / "turned-scan.pdf"
    writer.write(path)

    pixels = pdf.scan_pixels(path, DEFAULT_LIMITS, 1, dpi=72)

    shown = scan.rotate(-rotation, expand=True)  # /Rotate turns clockwise
    assert pixels.shape[:2] == (shown.height, shown.width)
    assert ink_of(pixels) == pytest.approx(ink_of(np.asarray(shown.convert("RGB"))), abs=CLOSE)


def ink_of(pixels: np.ndarray) -> tuple[float, float, float, float]:
    """The box around every dark pixel, normalized (x, y, width, height)."""
    height, width = pixels.shape[:2]
    dark = np.argwhere(pixels.min(axis=2) < 128)
    (top, left), (bottom, right) = dark.min(axis=0), dark.max(axis=0) + 1
    return left / width, top / height, (right - left) / width, (bottom - top) / height
