"""The document decodes that `IsolatedPool.run` calls in a child: top-level functions of paths
and small values, whose results pickle back. Each checks the file again (pre-scan, page count,
zip pre-pass) before it decodes: limits change, and stored bytes are checked at every decode."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import pyvips

from scopix.server.domain.limits import DocumentLimits
from scopix.server.imaging.analysis import decoded_image
from scopix.server.imaging.variants import RenderedImage, variants_of, webp_of
from scopix.server.isolation import reserve_memory
from scopix.server.media.base import ExtractedPage
from scopix.server.media.documents import EncryptedDocument, docx, pdf, text
from scopix.server.media.documents.card import CARD_HEIGHT, CARD_WIDTH, text_card
from scopix.server.vision.base import DecodedImage, Pixels

__all__ = [
    "DocumentProbe",
    "DocumentText",
    "document_text",
    "page_image",
    "page_pixels",
    "page_variants",
    "page_webp",
    "probe_document",
]

#: What the card of a text file needs from its start: a page of text and more.
_CARD_HEAD_BYTES: Final = 64 * 1024
#: Bytes of memory a text file's decode may take per byte of the file: the bytes, the str (up
#: to 4 bytes a character) and, for Markdown, the parser's tokens.
_TEXT_COST: Final = {"txt": 6, "md": 12}


@dataclass(frozen=True)
class DocumentProbe:
    """What an upload shows of itself: its page count (None for an encrypted PDF, which is kept
    but cannot be read) and page 1's preview variants when they were asked for."""

    page_count: int | None
    rendered: RenderedImage | None


@dataclass(frozen=True)
class DocumentText:
    """A document's title and text page by page (one page for DOCX, TXT and MD; a PDF's in the
    compact form of its text layer), and the pages whose text is to be read by OCR (1-based)."""

    title: str | None
    pages: tuple[ExtractedPage | pdf.TextLayer, ...]
    scanned: tuple[int, ...] = ()

    def extracted_pages(self) -> list[ExtractedPage]:
        """The pages, a PDF's lines as text regions."""
        return [
            page.extracted() if isinstance(page, pdf.TextLayer) else page for page in self.pages
        ]


def probe_document(
    path: Path, document_type: str, limits: DocumentLimits, sizes: Mapping[str, int] | None
) -> DocumentProbe:
    """The header checks of an upload (pre-scan and page count of a PDF, the zip pre-pass of a
    DOCX), then page 1's variants of `sizes` unless that is None."""
    if document_type == "pdf":
        try:
            pages = pdf.page_count(path, limits)
        except EncryptedDocument:
            return DocumentProbe(None, None)
    else:
        if document_type == "docx":
            docx.check_archive(path, limits)
        pages = 1
    rendered = None if sizes is None else page_variants(path, document_type, limits, sizes)
    return DocumentProbe(pages, rendered)


def document_text(path: Path, document_type: str, limits: DocumentLimits) -> DocumentText:
    """Every page's text: a PDF's text layer (with its lines' boxes) and which of its pages are
    scans; a DOCX's, TXT's or MD's text as one page without boxes."""
    if document_type == "pdf":
        read = pdf.pdf_text(path, limits)
        return DocumentText(read.title, read.pages, read.scanned)
    plain = _plain_text(path, document_type, limits)
    page = ExtractedPage(1, plain.text, (), CARD_WIDTH, CARD_HEIGHT, "plain")
    return DocumentText(plain.title, (page,))


def page_pixels(
    path: Path, document_type: str, limits: DocumentLimits, number: int, dpi: float
) -> Pixels:
    """A scanned PDF page's pixels for OCR: the scan's own, or the page rendered at `dpi`
    (bounded). Only PDFs have scanned pages."""
    return pdf.scan_pixels(path, limits, number, dpi)


def page_image(
    path: Path, document_type: str, limits: DocumentLimits, number: int, max_side: int
) -> DecodedImage:
    """Page `number` as the analyzers see it: pixels and a JPEG, at most `max_side` a side."""
    return decoded_image(_picture(path, document_type, limits, number, max_side))


def page_webp(
    path: Path, document_type: str, limits: DocumentLimits, number: int, max_side: int
) -> bytes:
    """Page `number` as WebP, at most `max_side` a side."""
    return webp_of(_picture(path, document_type, limits, number, max_side))


def page_variants(
    path: Path, document_type: str, limits: DocumentLimits, sizes: Mapping[str, int]
) -> RenderedImage:
    """Page 1's variants of `sizes` and its blurhash, rendered once at the largest size. The
    width and height are the page's own: in points for a PDF, the card's for the others."""
    largest = max(sizes.values(), default=64)
    rendered = variants_of(_picture(path, document_type, limits, 1, largest), sizes)
    if document_type == "pdf":
        width, height = pdf.page_size(path, limits, 1)
    else:
        width, height = CARD_WIDTH, CARD_HEIGHT
    return replace(rendered, width=width, height=height)


def _picture(
    path: Path, document_type: str, limits: DocumentLimits, number: int, max_side: int
) -> pyvips.Image:
    """Page `number` as an 8-bit sRGB image in memory. Raises IndexError past the last page."""
    if document_type == "pdf":
        pixels = pdf.render_page(path, limits, number, dpi=None, max_side=max_side)
        height, width, bands = pixels.shape
        image = pyvips.Image.new_from_memory(pixels.tobytes(), width, height, bands, "uchar")
        return image.copy(interpretation="srgb")
    if number != 1:
        raise IndexError(f"a {document_type.upper()} document has one page, not a page {number}")
    if document_type == "docx":
        words = docx.read_docx(path, limits).text
    else:
        with path.open("rb") as file:
            words = text.read_text_file(
                file.read(_CARD_HEAD_BYTES), document_type, complete=False
            ).text
    card = text_card(words)
    return card.thumbnail_image(max_side, height=max_side, size="down").copy_memory()


def _plain_text(path: Path, document_type: str, limits: DocumentLimits) -> text.PlainText:
    if document_type == "docx":
        return docx.read_docx(path, limits)
    reserve_memory(_TEXT_COST.get(document_type, 6) * path.stat().st_size)
    return text.read_text_file(path.read_bytes(), document_type)
