"""PDF: a pre-scan that refuses stream bombs, then PDFium (pypdfium2) for the page count, the
text layer with its boxes, and page renders with bounded pixels.

PDFium takes 2.1 GB to load a page whose 1 MB content stream inflates to 1 GiB, and under a
memory limit it dies instead of raising (spec/MEDIA.md): so every stream is inflated first,
counting its output, and PDFium opens the file only once none of them is a bomb. Most PDFs
use no filter that expands but Flate: their streams are found in the raw bytes and inflated by
zlib-ng straight away (PDFium's Flate is zlib's, header and all), at a fifth of the cost of
parsing every object with pypdf. A file that names another expanding filter, is encrypted,
hides such a name in #-escapes or declares a large or indirect image size is read by pypdf,
which decodes every filter with its own caps.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import logging
import math
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from zlib_ng import zlib_ng

from scopix.server.domain.errors import CorruptFile, ResourceLimit
from scopix.server.domain.limits import DocumentLimits
from scopix.server.domain.regions import DECIMALS, BoundingBox, TextRegion
from scopix.server.isolation import reserve_memory
from scopix.server.media.base import ExtractedPage
from scopix.server.media.documents import EncryptedDocument
from scopix.server.vision.base import Pixels

__all__ = [
    "PdfText",
    "TextLayer",
    "open_pdf",
    "page_count",
    "page_size",
    "pdf_text",
    "prescan",
    "render_page",
    "scan_pixels",
]

#: A page whose text layer has fewer characters than this, and that shows an image, is a scan.
SCAN_MAX_CHARACTERS: Final = 10
#: Image XObjects declaring more pixels than this are refused before PDFium decodes them whole.
MAX_IMAGE_PIXELS: Final = 400_000_000
#: pypdf's own cap on one decoded stream (pypdf.filters.*_MAX_OUTPUT_LENGTH), which the pre-scan
#: may hold twice (its input and its output) while it checks a stream.
_PYPDF_STREAM_CAP: Final = 75_000_000
#: A page whose only object is an image covering this share of its width and height is a scan:
#: OCR reads that image's own pixels.
_SCAN_COVERAGE: Final = 0.98
#: What a render holds at once: PDFium's bitmap (4 bytes a pixel) and its numpy copy (3).
_RENDER_BYTES_PER_PIXEL: Final = 7
#: Less than a pixel: what a render's scale stays below a whole number of pixels by.
_UNDER_A_PIXEL: Final = 1e-3
_FILE_NAME: Final = re.compile(
    r"\.(pdf|docx?|odt|rtf|txt|tex|dvi|ps|indd|pages|xlsx?|pptx?)$", re.I
)
_PLACEHOLDER_TITLES: Final = frozenset({"untitled", "title", "document", "untitled document"})
#: Two lines share a row when they overlap by this share of the shorter one's height.
_ROW_OVERLAP: Final = 0.5
_LINE: Final = re.compile(r"[^\r\n]+")
_VISIBLE: Final = re.compile(r"\S")
#: Files already pre-scanned by this process, by identity and version: a child checks a file
#: once however many of its pages are rendered for OCR. New bytes are a new inode or mtime.
_prescanned: set[tuple[int, int, int, int]] = set()
#: What is inflated at a time: zlib's input and output pieces.
_INFLATE_PIECE: Final = 1 << 20
#: Flate applied more often than this to one stream is no document's doing.
_MAX_FLATE_DEPTH: Final = 4
#: PDF's white space and delimiters: what ends a name.
_NAME_END: Final = rb"\x00\t\n\x0c\r ()<>\[\]{}/%"
#: Filters that expand other than Flate, the Crypt filter and the encryption dictionary.
_PYPDF_NAMES: Final = frozenset(
    b"LZWDecode LZW RunLengthDecode RL ASCIIHexDecode AHx ASCII85Decode A85 Crypt Encrypt".split()
)
_PYPDF_FILTER: Final = re.compile(
    rb"/(?:" + b"|".join(sorted(_PYPDF_NAMES)) + rb")(?![^" + _NAME_END + rb"])"
)
_ESCAPED_NAME: Final = re.compile(
    rb"/([^" + _NAME_END + rb"]*#[0-9A-Fa-f]{2}[^" + _NAME_END + rb"]*)"
)
_IMAGE_SIZE: Final = re.compile(
    rb"/(?P<key>Width|Height)(?![^" + _NAME_END + rb"])[\x00\t\n\x0c\r ]*"
    rb"(?P<number>\+?\d+(?:\.\d*)?(?![^" + _NAME_END + rb"]))?"
    rb"(?P<reference>[\x00\t\n\x0c\r ]+\d+[\x00\t\n\x0c\r ]+R(?![^" + _NAME_END + rb"]))?"
)
_STREAM_KEYWORD: Final = re.compile(rb"stream[\x00\t\n\x0c\r ]*")
_LINE_END: Final = re.compile(rb"\r\n|\r|\n")
_LINE_SEARCH: Final = 256
_WHITE_SPACE: Final = re.compile(rb"[\x00\t\n\x0c\r ]*")
_PRESCANNED_KEPT: Final = 256
#: zlib-ng's stub types its error as an instance.
_INFLATE_ERROR: Final[type[Exception]] = zlib_ng.error  # type: ignore[assignment]
_Floats = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class TextLayer:
    """One page's text layer as it crosses from the decoder child: its text, and its lines in
    reading order as their texts and one array of their boxes (x, y, width, height normalized
    to the page, four doubles a line). A page has hundreds of lines: as regions they pickle and
    unpickle in a tenth of the time of PDFium's whole text extraction, as this in nothing."""

    number: int
    text: str
    lines: tuple[str, ...]
    boxes: array[float]
    width: int
    height: int

    def extracted(self) -> ExtractedPage:
        """The page with its lines as text regions (y from the top, on page `number`)."""
        number, boxes = self.number, iter(self.boxes)
        regions = []
        for line, x, y, width, height in zip(self.lines, boxes, boxes, boxes, boxes, strict=False):
            right = round(x + width, DECIMALS)
            bottom = round(y + height, DECIMALS)
            polygon = ((x, y), (right, y), (right, bottom), (x, bottom))
            box = BoundingBox(x, y, width, height)
            regions.append(TextRegion(line, 1.0, box, polygon, number))
        return ExtractedPage(
            number, self.text, tuple(regions), self.width, self.height, "text_layer"
        )


@dataclass(frozen=True)
class PdfText:
    """A PDF's title (its metadata's) and text layer, page by page, and the pages to OCR."""

    title: str | None
    pages: tuple[TextLayer, ...]
    scanned: tuple[int, ...]


def prescan(path: Path) -> None:
    """Inflate every stream, counting its output. Raises ResourceLimit for a bomb (a stream past
    the cap, an image declaring too many pixels) and, where pypdf reads the file, CorruptFile
    for a file it cannot parse at all; an encrypted file is left to PDFium, which knows whether
    it opens."""
    stat = path.stat()
    key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key in _prescanned:
        return
    reserve_memory(stat.st_size + 2 * _INFLATE_PIECE)
    data = path.read_bytes()
    if _needs_pypdf(data):
        del data
        _prescan_with_pypdf(path, stat.st_size)
    else:
        _inflate_streams(data)
    if len(_prescanned) >= _PRESCANNED_KEPT:
        _prescanned.clear()
    _prescanned.add(key)


def _needs_pypdf(data: bytes) -> bool:
    """Whether some stream may expand by other means than Flate (another filter, encryption),
    or an image's size is not a plain number a glance can read and check."""
    if _PYPDF_FILTER.search(data):
        return True
    for escaped in _ESCAPED_NAME.finditer(data):
        name = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m[1], 16)]), escaped[1])
        if name in _PYPDF_NAMES or name in (b"Width", b"Height"):
            return True
    widest = {b"Width": 0, b"Height": 0}
    for size in _IMAGE_SIZE.finditer(data):
        if size["number"] is None or size["reference"] is not None:
            return True
        widest[size["key"]] = max(widest[size["key"]], int(float(size["number"])))
    return widest[b"Width"] * widest[b"Height"] > MAX_IMAGE_PIXELS


def _inflate_streams(data: bytes) -> None:
    """Inflate every zlib stream that starts where a stream's data may start (after the
    `stream` keyword and its white space, or on the line after it), counting the output of
    each and of a zlib stream inside it (Flate applied twice). Raises ResourceLimit for one
    past the cap; a stream that is not zlib, or stops being it, is PDFium's to skip."""
    view = memoryview(data)
    for keyword in _STREAM_KEYWORD.finditer(data):
        if data[keyword.start() - 3 : keyword.start()] == b"end":
            continue  # (a look-behind in the pattern would cost more than the inflating)
        starts = {keyword.end()}
        line_end = _LINE_END.search(data, keyword.start(), keyword.start() + _LINE_SEARCH)
        if line_end is not None:
            starts.add(_WHITE_SPACE.match(data, line_end.end()).end())  # type: ignore[union-attr]
        for start in starts:
            if start + 1 < len(data) and (data[start] << 8 | data[start + 1]) % 31 == 0:
                with contextlib.suppress(_INFLATE_ERROR):
                    _check_inflated(_pieces(view, start), depth=1)


def _pieces(view: memoryview, start: int) -> Iterator[memoryview]:
    for at in range(start, len(view), _INFLATE_PIECE):
        yield view[at : at + _INFLATE_PIECE]


def _inflated(pieces: Iterator[bytes | memoryview]) -> Iterator[bytes]:
    """The output of the zlib stream `pieces` hold, at most a piece's size at a time, until
    its end. Raises zlib_ng.error where the data stops being zlib."""
    decoder = zlib_ng.decompressobj()
    for piece in pieces:
        pending: bytes | memoryview = piece
        while pending and not decoder.eof:
            output = decoder.decompress(pending, _INFLATE_PIECE)
            pending = decoder.unconsumed_tail
            if output:
                yield output
        if decoder.eof:
            return


def _check_inflated(pieces: Iterator[bytes | memoryview], depth: int) -> None:
    """Count what the zlib stream in `pieces` inflates to, and when that starts as a zlib
    stream itself, what it inflates to in turn, as its pieces pass. All of it is counted
    whatever the inner stream does: PDFium inflates the outer one whole before the next."""
    inflated = _inflated(pieces)
    head = b""
    for output in inflated:
        head += output
        if len(head) >= 2:
            break
    produced = len(head)

    def counted() -> Iterator[bytes]:
        nonlocal produced
        yield head
        for output in inflated:
            produced += len(output)
            if produced > _PYPDF_STREAM_CAP:
                raise ResourceLimit(
                    f"a PDF stream inflates past {_PYPDF_STREAM_CAP:,} bytes: a decompression bomb"
                )
            yield output

    if len(head) >= 2 and (head[0] << 8 | head[1]) % 31 == 0 and head[0] & 0x0F == 8:
        if depth >= _MAX_FLATE_DEPTH:
            raise ResourceLimit(
                f"a PDF stream is deflated more than {_MAX_FLATE_DEPTH} times: a decompression bomb"
            )
        passing = counted()
        with contextlib.suppress(_INFLATE_ERROR):
            _check_inflated(passing, depth + 1)
        for _ in passing:  # what follows the inner stream's end, or where it broke off
            pass
        return
    for _ in counted():
        pass


def _prescan_with_pypdf(path: Path, size: int) -> None:
    """Decode every stream with pypdf's caps (see `prescan`)."""
    reserve_memory(2 * _PYPDF_STREAM_CAP + 4 * size)
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, LimitReachedError, PdfReadError, PdfStreamError
    from pypdf.generic import IndirectObject, StreamObject

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # it warns of every repaired xref entry
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            return
        for number, generation in _object_numbers(reader):
            stream = reader.get_object(IndirectObject(number, generation, reader))
            if not isinstance(stream, StreamObject):
                continue
            _check_image_size(stream)
            try:
                stream.get_data()
            except (DependencyError, NotImplementedError):
                continue  # a filter pypdf lacks (JBIG2 without jbig2dec): PDFium's own
            except LimitReachedError:
                raise ResourceLimit(
                    f"PDF object {number} inflates past {_PYPDF_STREAM_CAP:,} bytes: "
                    "a decompression bomb"
                ) from None
            except (PdfStreamError, ValueError, OSError):
                continue  # a damaged stream: PDFium skips it too, at no cost
    except ResourceLimit:
        raise
    except (PdfReadError, PdfStreamError) as exc:
        raise CorruptFile(f"the PDF does not open: {exc}") from None
    except RecursionError:
        raise ResourceLimit("the PDF's objects nest too deeply") from None


def _object_numbers(reader: object) -> Iterator[tuple[int, int]]:
    """Every object the cross-reference tables list, as (number, generation)."""
    for generation, numbers in reader.xref.items():  # type: ignore[attr-defined]
        for number in numbers:
            yield number, generation


def _check_image_size(stream: object) -> None:
    get = stream.get  # type: ignore[attr-defined]
    if get("/Subtype") != "/Image":
        return
    try:
        pixels = int(get("/Width", 0)) * int(get("/Height", 0))
    except (TypeError, ValueError):
        return
    if pixels > MAX_IMAGE_PIXELS:
        raise ResourceLimit(
            f"a PDF image declares {pixels:,} pixels; at most {MAX_IMAGE_PIXELS:,} are decoded"
        )


def open_pdf(path: Path, limits: DocumentLimits) -> pdfium.PdfDocument:
    """The pre-scanned PDF opened by PDFium, its page count within the limits. Raises
    EncryptedDocument, CorruptFile, DocumentTooLarge or ResourceLimit."""
    prescan(path)
    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise EncryptedDocument("the PDF is encrypted: it opens only with a password") from None
        raise CorruptFile(f"the PDF does not open: {_pdfium_reason(exc)}") from None
    try:
        if len(document) == 0:
            raise CorruptFile("the PDF has no pages")
        limits.check_pages(len(document))
    except Exception:
        document.close()
        raise
    return document


@contextlib.contextmanager
def _opened(path: Path, limits: DocumentLimits) -> Iterator[pdfium.PdfDocument]:
    """The checked PDF, closed after use; PDFium's failures past the open (a page or its text
    that does not load) are CorruptFile."""
    document = open_pdf(path, limits)
    try:
        yield document
    except pdfium.PdfiumError as exc:
        raise CorruptFile(f"the PDF is damaged: {_pdfium_reason(exc)}") from None
    finally:
        document.close()


@contextlib.contextmanager
def _page(document: pdfium.PdfDocument, number: int) -> Iterator[pdfium.PdfPage]:
    """Page `number` (1-based), closed after use. IndexError for a page the PDF lacks."""
    if not 1 <= number <= len(document):
        raise IndexError(f"the PDF has {len(document)} pages, not a page {number}")
    page = document[number - 1]
    try:
        yield page
    finally:
        page.close()


def _pdfium_reason(exc: Exception) -> str:
    text = str(exc)
    return text.split("PDFium: ", 1)[-1].rstrip(").") if "PDFium: " in text else text


def page_count(path: Path, limits: DocumentLimits) -> int:
    """The checked page count of a PDF."""
    with _opened(path, limits) as document:
        return len(document)


def page_size(path: Path, limits: DocumentLimits, number: int) -> tuple[int, int]:
    """Page `number`'s width and height in points (1/72 inch)."""
    with _opened(path, limits) as document, _page(document, number) as page:
        width, height = page.get_size()
    return max(round(width), 1), max(round(height), 1)


def pdf_text(path: Path, limits: DocumentLimits) -> PdfText:
    """Every page's text layer, its lines as regions normalized to the page (y from the top),
    in reading order, and which pages show no text but an image: scans for OCR."""
    with _opened(path, limits) as document:
        title = _meaningful(document.get_metadata_value("Title") or "")
        pages = []
        scanned = []
        corners: list[float] = []
        for number in range(1, len(document) + 1):
            with _page(document, number) as page:
                read = _read_page(page, corners)
                if _is_scan(page, read.text):
                    scanned.append(number)
            pages.append(read)
        return PdfText(title, _text_layers(pages, corners), tuple(scanned))


def _meaningful(title: str) -> str | None:
    """A metadata title, unless it is only the name of the file it was made from ("Binder1.pdf",
    "report.docx", "Microsoft Word - notes.doc") or a placeholder: the first line says more."""
    title = " ".join(title.split())
    if not title or title.lower() in _PLACEHOLDER_TITLES or _FILE_NAME.search(title):
        return None
    return title


@dataclass(frozen=True)
class _PageRead:
    """One page's text and lines as PDFium gives them, its lines' corners appended to the
    document's list (normalized for all pages at once: a page has hundreds of lines, a
    document thousands)."""

    text: str
    lines: list[str]
    bbox: tuple[float, float, float, float]
    rotation: int

    @property
    def shown_size(self) -> tuple[int, int]:
        """Width and height in points as the page is shown: turned by its /Rotate."""
        left, bottom, right, top = self.bbox
        width, height = max(round(right - left), 1), max(round(top - bottom), 1)
        return (height, width) if self.rotation in (90, 270) else (width, height)


def _read_page(page: pdfium.PdfPage, corners: list[float]) -> _PageRead:
    left, bottom, right, top = page.get_bbox()
    text_page = page.get_textpage()
    try:
        raw = text_page.get_text_range()
        lines = _line_boxes(text_page, raw, corners) if right > left and top > bottom else []
    finally:
        text_page.close()
    return _PageRead(_clean(raw), lines, (left, bottom, right, top), page.get_rotation())


def _text_layers(pages: list[_PageRead], corners: list[float]) -> tuple[TextLayer, ...]:
    """The pages with their lines' boxes normalized to the page as shown, in reading order."""
    counts = [len(page.lines) for page in pages]
    frames = np.repeat(np.array([page.bbox for page in pages]).reshape(-1, 4), counts, axis=0)
    boxes = _normalized(np.array(corners, dtype=np.float64).reshape(-1, 4), frames)
    shown = _turned(boxes, np.repeat([page.rotation for page in pages], counts))
    layers = []
    start = 0
    for number, (page, count) in enumerate(zip(pages, counts, strict=True), start=1):
        # Read in the text's own frame (as the page was written), shown as the page is turned.
        order = _reading_order(boxes[start : start + count])
        ordered = array("d")
        ordered.frombytes(shown[start : start + count][order].tobytes())
        start += count
        layers.append(
            TextLayer(
                number,
                page.text,
                tuple(page.lines[index] for index in order),
                ordered,
                *page.shown_size,
            )
        )
    return tuple(layers)


def _line_boxes(text_page: pdfium.PdfTextPage, raw: str, corners: list[float]) -> list[str]:
    """Each text line of the page, the corners of the box around its characters appended to
    `corners` (PDF coordinates: left, bottom, right, top, four floats a line).

    PDFium's text has one character per character index, its line breaks included, so a line
    is a run of indices between breaks and its box the union of the rectangles PDFium makes of
    that run. Where the text and the indices disagree (text PDFium cannot map one to one), the
    rectangles are read one by one with the text each bounds, which costs a page scan each.
    """
    lines: list[str] = []
    if len(raw) != text_page.count_chars():
        for index in range(text_page.count_rects()):
            rect = text_page.get_rect(index)
            line = _clean(text_page.get_text_bounded(*rect)).strip()
            if line:
                lines.append(line)
                corners.extend(rect)
        return lines
    # The rectangles are read through PDFium's C functions with four reused doubles: a page has
    # hundreds of lines, and pypdfium2's wrapper allocates and checks anew for each.
    handle = text_page.raw
    count_rects, get_rect = pdfium_c.FPDFText_CountRects, pdfium_c.FPDFText_GetRect
    left, top, right, bottom = (ctypes.c_double() for _ in range(4))
    for match in _LINE.finditer(raw):
        start, end = match.span()
        count = count_rects(handle, start, end - start)
        if count <= 0:
            continue
        # `_clean` less its line ends, which a line has none of
        line = match.group().replace("\ufffe", "").replace("\x02", "").strip()
        if not line:
            continue
        get_rect(handle, 0, left, top, right, bottom)
        x0, y0, x1, y1 = left.value, bottom.value, right.value, top.value
        for index in range(1, count):  # most lines are one rectangle
            get_rect(handle, index, left, top, right, bottom)
            x0, y0 = min(x0, left.value), min(y0, bottom.value)
            x1, y1 = max(x1, right.value), max(y1, top.value)
        lines.append(line)
        corners += (x0, y0, x1, y1)
    return lines


def _normalized(corners: _Floats, frames: _Floats) -> _Floats:
    """Boxes given by their corners in PDF coordinates (left, bottom, right, top) as rows of
    (x, y, width, height) normalized to their page's frame (its bbox, given the same way), y
    from its top, clamped to it and rounded."""
    width = frames[:, 2] - frames[:, 0]
    height = frames[:, 3] - frames[:, 1]
    x = np.clip((corners[:, 0] - frames[:, 0]) / width, 0.0, 1.0).round(DECIMALS)
    y = np.clip((frames[:, 3] - corners[:, 3]) / height, 0.0, 1.0).round(DECIMALS)
    box_width = np.minimum((corners[:, 2] - corners[:, 0]) / width, 1.0 - x).round(DECIMALS)
    box_height = np.minimum((corners[:, 3] - corners[:, 1]) / height, 1.0 - y).round(DECIMALS)
    return np.stack([x, y, box_width, box_height], axis=1)


def _turned(boxes: _Floats, rotations: np.ndarray[Any, np.dtype[np.int64]]) -> _Floats:
    """Normalized boxes of unturned pages as they are on the pages shown: a page's /Rotate
    turns it clockwise when shown (and rendered), while its text stays in the unturned page's
    space."""
    x, y, width, height = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    right = (1.0 - (x + width)).clip(0.0, 1.0).round(DECIMALS)
    below = (1.0 - (y + height)).clip(0.0, 1.0).round(DECIMALS)
    turned = {
        90: (below, x, height, width),
        180: (right, below, width, height),
        270: (y, right, height, width),
    }
    out = boxes.copy()
    for rotation, columns in turned.items():
        rows = rotations == rotation
        if rows.any():
            out[rows] = np.stack(columns, axis=1)[rows]
    return out


def _reading_order(boxes: _Floats) -> list[int]:
    """The rows of `boxes` in reading order: top to bottom, those of one row left to right. A
    line joins the row above when it overlaps that row's first line by half the shorter height
    (as `regions.reading_rows` does for OCR, in one sweep: a text layer has thousands of lines,
    OCR a few dozen)."""
    xs, ys, heights = boxes[:, 0].tolist(), boxes[:, 1].tolist(), boxes[:, 3].tolist()
    by_position = np.lexsort((boxes[:, 0], boxes[:, 1])).tolist()
    ordered: list[int] = []
    row: list[int] = []
    first_top = first_bottom = first_height = 0.0
    for index in by_position:
        top, height = ys[index], heights[index]
        overlap = min(first_bottom, top + height) - max(first_top, top)
        if row and overlap >= _ROW_OVERLAP * min(first_height, height):
            row.append(index)
            continue
        ordered.extend(sorted(row, key=xs.__getitem__) if len(row) > 1 else row)
        row = [index]
        first_top, first_bottom, first_height = top, top + height, height
    ordered.extend(sorted(row, key=xs.__getitem__) if len(row) > 1 else row)
    return ordered


def _clean(text: str) -> str:
    """PDFium's text with Unix line ends, without its marks for hyphens and unknown glyphs."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufffe", "").replace("\x02", "")


def _is_scan(page: pdfium.PdfPage, text: str) -> bool:
    """Whether a page is to be read by OCR: no text layer at all, or a few stray characters
    over an image."""
    characters = sum(1 for _ in itertools.islice(_VISIBLE.finditer(text), SCAN_MAX_CHARACTERS))
    if characters == 0:
        return True
    if characters >= SCAN_MAX_CHARACTERS:
        return False
    images = page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=2)
    return next(iter(images), None) is not None


def render_page(
    path: Path, limits: DocumentLimits, number: int, *, dpi: float | None, max_side: int | None
) -> Pixels:
    """Page `number` (1-based) as upright 8-bit RGB pixels, at `dpi` or to fit `max_side`, never
    more than `limits.max_render_pixels`. Raises IndexError for a page the PDF does not have."""
    with _opened(path, limits) as document, _page(document, number) as page:
        width, height = page.get_size()
        if dpi is not None:
            # A whole number of pixels across: a scan drawn edge to edge then lands pixel on
            # pixel, where a fraction would resample all of it. (pypdfium2 sizes the bitmap by
            # rounding width x scale up: stay a hair below.)
            scale = limits.render_scale(width, height, dpi=dpi)
            scale = (max(round(width * scale), 1) - _UNDER_A_PIXEL) / width
        else:
            side = max_side or 1
            scale = limits.fit_scale(width, height, side)
            scale = min(scale, (side - _UNDER_A_PIXEL) / max(width, height))
        reserve_memory(
            _RENDER_BYTES_PER_PIXEL * math.ceil(width * scale) * math.ceil(height * scale)
        )
        bitmap = page.render(scale=scale, rev_byteorder=True)
        try:
            return _rgb(bitmap)
        finally:
            bitmap.close()


def scan_pixels(path: Path, limits: DocumentLimits, number: int, dpi: float) -> Pixels:
    """A scanned page's pixels for OCR: the scan itself, pixel for pixel, when the page is one
    image edge to edge (rendering the page resamples it, which blurs small text); else the
    page rendered at `dpi`. Never more than `limits.max_render_pixels`."""
    with _opened(path, limits) as document, _page(document, number) as page:
        scan = _lone_image(page, limits)
        if scan is not None:
            width, height = scan.get_px_size()
            reserve_memory(_RENDER_BYTES_PER_PIXEL * width * height)
            # PDFium owns this bitmap (it is freed with the page): copied, never closed.
            return _rgb(scan.get_bitmap(render=True))
    return render_page(path, limits, number, dpi=dpi, max_side=None)


def _lone_image(page: pdfium.PdfPage, limits: DocumentLimits) -> pdfium.PdfImage | None:
    """The page's one object when it is an image that covers the page upright (the page not
    turned by /Rotate, the image placed without a turn or a flip) and is small enough: its
    pixels are then the page as shown."""
    if page.get_rotation() != 0:
        return None
    objects = list(itertools.islice(page.get_objects(max_depth=1), 2))
    if len(objects) != 1 or objects[0].type != pdfium_c.FPDF_PAGEOBJ_IMAGE:
        return None
    image = objects[0]
    scale_x, skew_y, skew_x, scale_y, _, _ = image.get_matrix().get()
    if skew_x or skew_y or scale_x <= 0 or scale_y <= 0:
        return None
    left, bottom, right, top = image.get_bounds()
    page_width, page_height = page.get_size()
    covers = (right - left) >= _SCAN_COVERAGE * page_width and (
        top - bottom
    ) >= _SCAN_COVERAGE * page_height
    width, height = image.get_px_size()
    return image if covers and 0 < width * height <= limits.max_render_pixels else None


def _rgb(bitmap: pdfium.PdfBitmap) -> Pixels:
    """A PDFium bitmap (grey, BGR, BGRx or BGRA) as RGB pixels, copied out of it."""
    array = bitmap.to_numpy()
    if array.ndim == 2 or bitmap.mode == "L":
        grey = array.reshape(array.shape[0], array.shape[1])
        return np.ascontiguousarray(np.stack([grey, grey, grey], axis=2), dtype=np.uint8)
    order = [0, 1, 2] if bitmap.mode.startswith("RGB") else [2, 1, 0]
    return np.ascontiguousarray(array[:, :, order], dtype=np.uint8)
