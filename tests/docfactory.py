"""Test documents made on the fly: good ones (text-layer PDFs, DOCX, TXT, MD, scanned PDFs) and
hostile ones (bombs, lies, truncations, encryption, binary "text").

The PDFs are written by hand, object by object, with a correct cross-reference table: enough for
our own fixtures (Helvetica, one of the 14 standard fonts every PDF reader has, needs no font
file), and free to lie where a hostile file lies.
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from collections.abc import Sequence

from PIL import Image

from scopix.server.domain.limits import DocumentLimits

__all__ = [
    "A4_POINTS",
    "DEFAULT_LIMITS",
    "GIB",
    "LATIN1_SENTENCES",
    "MARKDOWN",
    "binary_text",
    "bomb_pdf",
    "docx_bytes",
    "docx_declaring",
    "docx_inflating_past",
    "encrypted_pdf",
    "joined_pdfs",
    "latin1_text",
    "markdown_text",
    "page_count_lie_pdf",
    "pdf_from_objects",
    "plain_zip",
    "scanned_pdf",
    "stream",
    "text_pdf",
    "truncated_pdf",
]

#: The server's default document limits (settings.py), for tests of the decoders themselves.
DEFAULT_LIMITS = DocumentLimits(
    max_pages=2000,
    max_extract_bytes=500 << 20,
    docx_max_unpacked_bytes=256 << 20,
    docx_max_members=10_000,
    ocr_dpi=300,
)

GIB = 1 << 30
_MIB = 1 << 20
#: A4 in points.
A4_POINTS = (595, 842)
_FONT_SIZE = 12
_LEADING = 16
_MARGIN = 72
#: A zlib stream's header: deflate, 32 KiB window, best compression.
_ZLIB_HEADER = b"\x78\xda"


def pdf_from_objects(objects: Sequence[bytes], *, info: bytes | None = None) -> bytes:
    """A PDF whose object n (1-based) is objects[n-1]; object 1 is the catalog. `info`, when
    given, is the number of the document information dictionary's object, as b"3"."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    info_entry = b"" if info is None else b" /Info " + info + b" 0 R"
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\n" % (len(objects) + 1, info_entry)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def stream(data: bytes, entries: bytes = b"") -> bytes:
    """A stream object's body: its dictionary (with the right /Length) and its bytes."""
    return b"<< /Length %d %s >>\nstream\n" % (len(data), entries) + data + b"\nendstream"


def text_pdf(pages: Sequence[Sequence[str]], *, title: str | None = None) -> bytes:
    """An A4 PDF with a real text layer: each page's lines set in 12-pt Helvetica from the top
    margin, one line every 16 pt. `title` goes into the document information dictionary."""
    page_count = len(pages)
    # Objects: 1 catalog, 2 page tree, 3 font, 4 info, then a page and its content per page.
    first_page = 5
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(page_count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, page_count),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Title (%s) /Producer (scopix docfactory) >>" % _pdf_string(title or ""),
    ]
    width, height = A4_POINTS
    for index, lines in enumerate(pages):
        content_ref = first_page + 2 * index + 1
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R "
            b">> >> /Contents %d 0 R >>" % (width, height, content_ref)
        )
        objects.append(stream(_text_content(lines, height)))
    return pdf_from_objects(objects, info=b"4" if title else None)


def _text_content(lines: Sequence[str], page_height: int) -> bytes:
    shown = b"".join(
        b"1 0 0 1 %d %d Tm (%s) Tj\n"
        % (_MARGIN, page_height - _MARGIN - index * _LEADING, _pdf_string(line))
        for index, line in enumerate(lines)
    )
    return b"BT\n/F1 %d Tf\n" % _FONT_SIZE + shown + b"ET"


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


@functools.cache
def _zeros_deflated(size: int) -> bytes:
    """`size` zero bytes (a multiple of 1 MiB) as a zlib stream of about a thousandth of that.

    Each MiB is deflated after a full flush, which resets the compressor: every MiB after the
    first comes out the same, so it is deflated once and repeated (the checksum still covers
    every byte), not a gigabyte deflated in the test."""
    raw = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    step = bytes(_MIB)
    first = raw.compress(step) + raw.flush(zlib.Z_FULL_FLUSH)
    repeated = raw.compress(step) + raw.flush(zlib.Z_FULL_FLUSH)
    end = raw.flush()
    checksum = 1
    for _ in range(size // _MIB):
        checksum = zlib.adler32(step, checksum)
    body = first + repeated * (size // _MIB - 1) + end
    return _ZLIB_HEADER + body + struct.pack(">I", checksum)


def bomb_pdf(inflated: int = GIB) -> bytes:
    """A one-page PDF of about a megabyte whose content stream inflates to `inflated` bytes."""
    return pdf_from_objects(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            stream(_zeros_deflated(inflated), b"/Filter /FlateDecode"),
        ]
    )


def page_count_lie_pdf(declared: int = 100_000) -> bytes:
    """A PDF whose page tree declares `declared` pages (/Count) and holds one."""
    one_page = text_pdf([["the only page"]])
    return one_page.replace(b"/Count 1 >>", b"/Count %d >>" % declared)


def encrypted_pdf(password: str = "secret", *, text: str = "a secret page") -> bytes:
    """A text-layer PDF that opens only with `password` (RC4, which pypdf writes on its own);
    with an empty password it opens for anyone, and only its owner may edit it."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf([[text]]))))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def truncated_pdf(keep: int = 120) -> bytes:
    """The first `keep` bytes of a text-layer PDF: its header and part of its first object."""
    return text_pdf([["cut short"] * 5])[:keep]


def scanned_pdf(pages: Sequence[Image.Image], dpi: int = 300, quality: int = 95) -> bytes:
    """Page images as a PDF of grey scans, one JPEG per page at `quality`, no text layer:
    Pillow's own PDF writer."""
    out = io.BytesIO()
    first, *rest = [page.convert("L") for page in pages]
    first.save(out, "PDF", resolution=dpi, save_all=True, append_images=rest, quality=quality)
    return out.getvalue()


def joined_pdfs(*documents: bytes) -> bytes:
    """The pages of several PDFs, in order, as one PDF (pypdf's writer)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for document in documents:
        writer.append(PdfReader(io.BytesIO(document)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes(
    *,
    title: str | None = None,
    headings: Sequence[tuple[int, str]] = (),
    paragraphs: Sequence[str] = (),
    table: Sequence[Sequence[str]] = (),
) -> bytes:
    """A real DOCX written by python-docx: headings (level, text), then paragraphs, then a
    table, in that order; `title` goes into its core properties."""
    import docx

    document = docx.Document()
    if title is not None:
        document.core_properties.title = title
    for level, text in headings:
        document.add_heading(text, level=level)
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, cells in zip(grid.rows, table, strict=True):
            for cell, text in zip(row.cells, cells, strict=True):
                cell.text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def docx_declaring(unpacked: int, *, members: int = 1) -> bytes:
    """A small DOCX-shaped zip whose central directory declares `unpacked` bytes of
    word/document.xml (a lie: the member holds a few bytes) plus `members - 1` tiny parts."""
    real = docx_bytes(paragraphs=["small"])
    with zipfile.ZipFile(io.BytesIO(real)) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)
        for index in range(members - len(parts)):
            target.writestr(f"word/padding/part{index}.xml", b"<a/>")
    return _declare_size(out.getvalue(), "word/document.xml", unpacked)


def _declare_size(archive: bytes, name: str, size: int) -> bytes:
    """The archive with `name`'s uncompressed size set to `size` in the central directory."""
    data = bytearray(archive)
    entry = data.rfind(b"PK\x01\x02", 0, data.find(b"PK\x05\x06"))
    while entry != -1:
        name_length = struct.unpack_from("<H", data, entry + 28)[0]
        if data[entry + 46 : entry + 46 + name_length] == name.encode():
            struct.pack_into("<I", data, entry + 24, min(size, 0xFFFFFFFE))
            return bytes(data)
        entry = data.rfind(b"PK\x01\x02", 0, entry)
    raise ValueError(f"{name} is not in the archive")


def docx_inflating_past(inflated: int) -> bytes:
    """A DOCX whose word/document.xml really inflates to `inflated` bytes of XML (a paragraph
    of spaces), while its central directory and local header declare 1 KiB: sizes that lie."""
    real = docx_bytes(paragraphs=["small"])
    with zipfile.ZipFile(io.BytesIO(real)) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    head = b'<?xml version="1.0"?><w:document xmlns:w="x"><w:body><w:p><w:r><w:t>'
    tail = b"</w:t></w:r></w:p></w:body></w:document>"
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    start = deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH)
    # As in _zeros_deflated: after a full flush each MiB of spaces deflates the same.
    spaces = deflate.compress(b" " * _MIB) + deflate.flush(zlib.Z_FULL_FLUSH)
    compressed = start + spaces * (inflated // _MIB) + deflate.compress(tail) + deflate.flush()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            if name != "word/document.xml":
                target.writestr(name, data)
    declared = 1024
    name = b"word/document.xml"
    local_offset = len(out.getvalue()) - _central_directory_length(out.getvalue())
    archive = out.getvalue()[:local_offset]
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, 0, len(compressed), declared, len(name), 0
    )
    central_entry = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        0x02014B50,
        20,
        20,
        0,
        8,
        0,
        0,
        0,
        len(compressed),
        declared,
        len(name),
        0,
        0,
        0,
        0,
        0,
        local_offset,
    )
    central = out.getvalue()[local_offset:]
    end = central.find(b"PK\x05\x06")
    entries, count = central[:end], struct.unpack_from("<H", central, end + 10)[0] + 1
    members = archive + local + name + compressed
    directory = entries + central_entry + name
    end_record = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(directory), len(members), 0
    )
    return members + directory + end_record


def _central_directory_length(archive: bytes) -> int:
    end = archive.rfind(b"PK\x05\x06")
    size = struct.unpack_from("<I", archive, end + 12)[0]
    return size + (len(archive) - end)


def plain_zip() -> bytes:
    """A zip of two text files: no [Content_Types].xml, no word/document.xml."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("notes.txt", "a plain zip, not a document")
        archive.writestr("more/data.csv", "a,b\n1,2\n")
    return out.getvalue()


def binary_text(size: int = 64 * 1024) -> bytes:
    """Text for its first kilobytes, then binary (NUL bytes and every other byte)."""
    text = b"This starts out as plain text, line after line.\n" * 100
    return (text + bytes(range(256)) * (size // 256))[:size]


LATIN1_SENTENCES = (
    "Le café de la rue Saint-André ouvre à sept heures.",
    "Die Größe des Bücherregals überrascht Jürgen.",
    "Señora Muñoz pagó 12 € por el jamón.",
)


def latin1_text() -> bytes:
    """French, German and Spanish sentences encoded in Latin-1 (cp1252 for the euro sign)."""
    return "\n".join(LATIN1_SENTENCES).encode("cp1252") + b"\n"


MARKDOWN = """\
# Field guide to ferns

Ferns are **vascular plants** that reproduce by *spores*.
See [the fern society](https://example.org/ferns) for more.

## Where they grow

- shaded forest floors
- rock crevices and `old walls`

```
spores: 1,000,000 per frond
```

> Patience is a fern's virtue.
"""


def markdown_text() -> bytes:
    """A Markdown file with headings, emphasis, a link, a list, inline code, a code block and a
    quote, in UTF-8."""
    return MARKDOWN.encode()
