"""Scanned PDFs through the document handler: pages without a text layer are rendered at the OCR
resolution in the isolated pool and read by the on-device OCR, each page's regions on its page."""

from __future__ import annotations

import difflib
import io
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
import pytest_asyncio
from PIL import Image

import docfactory
from docfactory import DEFAULT_LIMITS as LIMITS
from imagefactory import DOCUMENT_LINES, document_png
from pagefactory import dense_page, invoice_page
from scopix.server.domain.media import media_of_mime
from scopix.server.isolation import IsolatedPool, IsolationLimits
from scopix.server.media.document import DocumentHandler
from scopix.server.vision.ondevice.ocr import TextReader

pytestmark = pytest.mark.asyncio(loop_scope="module")

MiB = 1 << 20
PDF = media_of_mime("application/pdf")
ISOLATION = IsolationLimits(
    address_space_bytes=2048 * MiB, cpu_seconds=60, wall_seconds=60, scratch_bytes=256 * MiB
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def handler() -> AsyncIterator[DocumentHandler]:
    reader = TextReader(threads=2)
    reader.load()
    pool = IsolatedPool(1, 1024 * MiB)
    yield DocumentHandler(pool, ISOLATION, LIMITS, reader, anyio.CapacityLimiter(1))
    await pool.aclose()


def similarity(found: str, truth: str) -> float:
    """Character similarity of two texts, whitespace runs counted as one space."""
    a, b = " ".join(found.split()), " ".join(truth.split())
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


async def test_a_two_page_scan_is_read_by_ocr_page_by_page(
    handler: DocumentHandler, tmp_path: Path
) -> None:
    (dense, dense_truth), (invoice, invoice_truth) = dense_page(), invoice_page()
    path = tmp_path / "scan.pdf"
    path.write_bytes(docfactory.scanned_pdf([dense, invoice], dpi=300))

    extracted = await handler.extract(path, PDF, path.stat().st_size)

    assert [page.number for page in extracted.pages] == [1, 2]
    for page, truth in zip(extracted.pages, (dense_truth, invoice_truth), strict=True):
        assert page.method == "ocr"
        assert (page.width, page.height) == dense.size  # the scan itself, pixel for pixel
        assert similarity(page.text, truth) >= 0.95, page.text
        assert page.regions and {region.page for region in page.regions} == {page.number}
        assert all(0 <= r.bbox.y <= 1 and 0 <= r.bbox.x <= 1 for r in page.regions)


async def test_only_pages_without_a_text_layer_are_read_by_ocr(
    handler: DocumentHandler, tmp_path: Path
) -> None:
    """A typed page, then a small scanned one (three lines of large print)."""
    scan_png, _ = document_png()
    scan = Image.open(io.BytesIO(scan_png))
    typed = docfactory.text_pdf([["A typed cover page with its own text layer."]])
    path = tmp_path / "mixed.pdf"
    path.write_bytes(docfactory.joined_pdfs(typed, docfactory.scanned_pdf([scan], dpi=150)))

    extracted = await handler.extract(path, PDF, path.stat().st_size)

    cover, scanned = extracted.pages
    assert (cover.method, cover.text) == (
        "text_layer",
        "A typed cover page with its own text layer.",
    )
    assert scanned.method == "ocr" and scanned.number == 2
    assert [region.text for region in scanned.regions] == [line for line, _, _ in DOCUMENT_LINES]
    assert {region.page for region in scanned.regions} == {2}
