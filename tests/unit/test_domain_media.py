"""Media typing from magic bytes (and text told from binary), and the declared-dimension limits
checked before decoding."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
import pyvips
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scopix.server.domain.errors import ImageTooLarge, UnsupportedMediaType
from scopix.server.domain.limits import check_image_dimensions
from scopix.server.domain.media import (
    ACCEPTED,
    ACCEPTED_DOCUMENTS,
    ACCEPTED_IMAGES,
    ACCEPTED_VIDEOS,
    DOCX_MIME,
    NOT_YET_ACCEPTED,
    SNIFF_BYTES,
    looks_like_text,
    media_of_mime,
    named,
    sniff,
)

MAX_PIXELS = 100_000_000
MAX_SIDE = 16_384


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _png(*, animated: bool = False) -> bytes:
    ihdr = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    actl = _png_chunk(b"acTL", struct.pack(">II", 1, 0)) if animated else b""
    idat = _png_chunk(b"IDAT", zlib.compress(b"\x00\x00"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + actl + idat + _png_chunk(b"IEND", b"")


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = b"ftyp" + major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", len(body) + 4) + body + b"\x00" * 64


HAND_MADE: dict[str, bytes] = {
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
    "image/png": _png(),
    "image/gif": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
    "image/webp": b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x00",
    "image/tiff": b"II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    "image/avif": _ftyp(b"avif", b"mif1", b"miaf"),
}


def _vips(fmt: str) -> bytes:
    image = pyvips.Image.black(8, 8, bands=3).copy(interpretation="srgb")
    data: bytes = image.write_to_buffer(fmt)
    return data


@pytest.mark.parametrize(("mime", "head"), sorted(HAND_MADE.items()))
def test_hand_made_headers(mime: str, head: bytes) -> None:
    media = sniff(head)
    assert media.kind == "image"
    assert media.mime == mime
    assert media.extension == ACCEPTED_IMAGES[mime]


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        (".jpg", "image/jpeg"),
        (".png", "image/png"),
        (".webp", "image/webp"),
        (".gif", "image/gif"),
        (".tif", "image/tiff"),
        (".avif", "image/avif"),
    ],
)
def test_real_encoder_output(fmt: str, mime: str) -> None:
    try:
        data = _vips(fmt)
    except pyvips.Error as exc:  # pragma: no cover - depends on the libvips build
        pytest.skip(f"libvips cannot write {fmt}: {exc}")
    assert sniff(data[:SNIFF_BYTES]).mime == mime
    assert sniff(data).mime == mime


def test_big_endian_tiff() -> None:
    assert sniff(b"MM\x00*\x00\x00\x00\x08" + b"\x00" * 16).mime == "image/tiff"


def test_extensions() -> None:
    assert ACCEPTED_IMAGES == {
        "image/jpeg": "jpg",
        "image/png": "png",
        "image/webp": "webp",
        "image/gif": "gif",
        "image/tiff": "tiff",
        "image/avif": "avif",
    }


def test_only_the_bytes_matter() -> None:
    # A JPEG is a JPEG whatever follows its magic; the rest of the stream is never consulted.
    assert sniff(HAND_MADE["image/jpeg"] + b"<svg>" * 100).mime == "image/jpeg"


def test_animated_png_is_a_png() -> None:
    media = sniff(_png(animated=True))
    assert media.kind == "image"


# --- refusals ----------------------------------------------------------------------------------


PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
MP4 = _ftyp(b"isom", b"isom", b"iso2", b"mp41")
MOV = _ftyp(b"qt  ", b"qt  ")
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm" + b"\x00" * 16
AVI = b"RIFF\x00\x00\x00\x00AVI LIST" + b"\x00" * 16
HEIC = _ftyp(b"heic", b"mif1", b"heic")


def _zip(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            archive.writestr(name, "<x/>" * 100)
    return buffer.getvalue()


#: Members in the order Word writes them, and in the order LibreOffice does.
DOCX_WORD = _zip("[Content_Types].xml", "_rels/.rels", "word/document.xml", "word/styles.xml")
DOCX_LIBREOFFICE = _zip("_rels/.rels", "docProps/app.xml", "word/document.xml")
PLAIN_ZIP = _zip("readme.txt", "data/notes.xml")
XLSX = _zip("[Content_Types].xml", "_rels/.rels", "xl/workbook.xml")


@pytest.mark.parametrize(
    ("head", "mime", "kind"),
    [
        (PDF, "application/pdf", "document"),
        (DOCX_WORD, DOCX_MIME, "document"),
        (DOCX_LIBREOFFICE, DOCX_MIME, "document"),
        (b"Invoice 2024-113\nTotal: 1 200 EUR\n", "text/plain", "document"),
        (MP4, "video/mp4", "video"),
        (MOV, "video/quicktime", "video"),
        (WEBM, "video/webm", "video"),
        (AVI, "video/x-msvideo", "video"),
    ],
)
def test_documents_and_videos(head: bytes, mime: str, kind: str) -> None:
    media = sniff(head[:SNIFF_BYTES])
    accepted = ACCEPTED_DOCUMENTS if kind == "document" else ACCEPTED_VIDEOS
    assert (media.kind, media.mime, media.extension) == (kind, mime, accepted[mime])
    assert media_of_mime(mime) == media


def test_document_types_are_their_extensions() -> None:
    assert ACCEPTED_DOCUMENTS == {
        "application/pdf": "pdf",
        DOCX_MIME: "docx",
        "text/plain": "txt",
        "text/markdown": "md",
    }


@pytest.mark.parametrize(
    ("hint", "mime"),
    [
        ("notes.md", "text/markdown"),
        ("README.Markdown", "text/markdown"),
        ("dir.md/notes.txt", "text/plain"),
        ("notes.txt", "text/plain"),
        ("notes", "text/plain"),
        (None, "text/plain"),
        ("photo.png", "text/plain"),
    ],
)
def test_markdown_is_plain_text_named_so(hint: str | None, mime: str) -> None:
    assert sniff(b"# Title\n\nSome *words*.\n", filename_hint=hint).mime == mime


def test_known_bytes_take_the_text_type_their_new_name_gives() -> None:
    markdown, text = media_of_mime("text/markdown"), media_of_mime("text/plain")
    assert named(markdown, "notes.txt") == text
    assert named(text, "notes.md") == markdown
    assert named(markdown, "notes.markdown") == markdown
    pdf = media_of_mime("application/pdf")
    assert named(pdf, "notes.md") == pdf


def test_the_filename_never_changes_binary_types() -> None:
    assert sniff(HAND_MADE["image/png"], filename_hint="notes.md").mime == "image/png"
    assert sniff(PDF, filename_hint="notes.md").mime == "application/pdf"
    with pytest.raises(UnsupportedMediaType):
        sniff(ELF, filename_hint="notes.txt")


def test_latin1_and_utf8_text() -> None:
    assert sniff("Grüße aus Köln, déjà vu\n".encode("latin-1")).mime == "text/plain"
    assert sniff("Grüße aus Köln, déjà vu — “quoted”\n".encode("cp1252")).mime == "text/plain"
    assert sniff("Grüße aus Köln, 東京, déjà vu\n".encode()).mime == "text/plain"


def test_recognised_but_not_yet_accepted() -> None:
    assert "image/heic" in NOT_YET_ACCEPTED
    with pytest.raises(UnsupportedMediaType) as info:
        sniff(HEIC)
    assert info.value.code == "UNSUPPORTED_MEDIA_TYPE"
    assert info.value.details["detected"] == "image/heic"
    assert info.value.details["accepted"] == ACCEPTED
    assert "not accept them yet" in info.value.message


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48
SHELL = b"#!/bin/sh\nrm -rf /\n"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>'
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
GZIP = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\x00" * 10
BMP = b"BM" + b"\x00" * 60
CONTROLS = b"words\x01\x02\x03\x1b[0m more words\x7f\x08\x08"


@pytest.mark.parametrize(
    "head",
    [PLAIN_ZIP, XLSX, ELF, PE, SHELL, SVG, HTML, GZIP, BMP, CONTROLS, b"", b"\xff", b"\xff\xd8"],
    ids=[
        "zip",
        "xlsx",
        "elf",
        "pe",
        "shell",
        "svg",
        "html",
        "gzip",
        "bmp",
        "controls",
        "empty",
        "1b",
        "2b",
    ],
)
def test_other_bytes_refused(head: bytes) -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        sniff(head)
    assert info.value.code == "UNSUPPORTED_MEDIA_TYPE"
    assert info.value.details["accepted"] == ACCEPTED
    assert info.value.details["detected"] not in ACCEPTED


def test_unknown_bytes_are_detected_as_unknown() -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        sniff(SVG)
    assert info.value.details["detected"] == "unknown"


magic_prefixes = st.sampled_from(
    [
        b"",
        *HAND_MADE.values(),
        PDF,
        MP4,
        DOCX_WORD[:64],
        PLAIN_ZIP,
        ELF,
        PE,
        b"\xff\xd8\xff",
        b"\x89PNG\r\n\x1a\n",
    ]
)


@given(st.binary(max_size=256), magic_prefixes, st.binary(max_size=64))
@example(b"", b"", b"")
@settings(max_examples=400)
def test_sniff_property(noise: bytes, prefix: bytes, tail: bytes) -> None:
    for head in (noise, prefix[: len(noise)] + tail, prefix + noise):
        try:
            media = sniff(head)
        except UnsupportedMediaType as exc:
            assert exc.details["detected"] not in ACCEPTED
            continue
        assert media.mime in ACCEPTED
        assert media_of_mime(media.mime) == media
        if media.mime.startswith("text/"):
            assert looks_like_text(head)


# --- text or binary ----------------------------------------------------------------------------

#: Characters a text file holds: anything but control characters and lone surrogates.
text_chars = st.characters(blacklist_categories=("Cc", "Cs"))
#: Words, with the line breaks and tabs real text has.
texts = st.lists(
    st.one_of(st.text(text_chars, min_size=1, max_size=12), st.sampled_from(["\n", "\t", " "])),
    min_size=1,
    max_size=400,
).map("".join)


def _prose(text: str) -> bool:
    """Text that is not blank and does not start like a script or a markup page."""
    start = text.lstrip().lower()
    markup = ("#!", "<?xml", "<!doctype", "<html", "<svg", "<script", "<head", "<body")
    return bool(start) and not start.startswith(markup)


@given(texts.filter(_prose), st.integers(min_value=0, max_value=3))
@settings(max_examples=300)
def test_utf8_text_is_text_even_cut_mid_character(text: str, cut: int) -> None:
    data = text.encode()
    head = data[: max(len(data) - cut, 1)]
    if not head.decode("utf-8", errors="ignore").strip():
        return  # the cut left nothing to read
    assert looks_like_text(head)
    assert sniff(head).kind == "document"


#: Western European words, as Latin-1 and Windows-1252 files hold them.
WORDS = ["Grüße", "aus", "Köln", "déjà", "vu", "naïve", "façade", "über", "the", "invoice"]
WORDS += ["Straße", "année", "señor", "total", "1 200,50 €", "“quoted”", "and", "page"]
latin_texts = st.lists(
    st.tuples(st.sampled_from(WORDS), st.sampled_from([" ", "\n", ", ", ".\n\n", "\t"])),
    min_size=1,
    max_size=300,
).map(lambda pairs: "".join(word + gap for word, gap in pairs))


@given(latin_texts, st.sampled_from(["latin-1", "cp1252"]))
@settings(max_examples=200)
def test_latin1_and_windows_1252_text_is_text(text: str, encoding: str) -> None:
    data = text.encode(encoding, errors="ignore")
    assert looks_like_text(data)
    assert sniff(data).mime == "text/plain"


@given(st.binary(max_size=512), st.binary(max_size=512))
def test_bytes_with_a_nul_are_never_text(before: bytes, after: bytes) -> None:
    assert not looks_like_text(before + b"\x00" + after)


@given(texts.filter(_prose), st.data())
@settings(max_examples=200)
def test_text_with_control_characters_in_it_is_binary(text: str, data: st.DataObject) -> None:
    raw = text.encode()
    controls = [c for c in range(0x20) if chr(c) not in "\t\n\r\f\v"] + [0x7F]
    # Over 1% of the characters are control characters: one in every 50 bytes.
    count = len(raw) // 50 + 2
    junk = data.draw(st.lists(st.sampled_from(controls), min_size=count, max_size=count))
    assert not looks_like_text(bytes(junk) + raw)


BINARIES = [Path("/bin/ls").read_bytes(), zlib.compress(bytes(range(256)) * 64, 9)]
BINARIES += [_vips(".jpg"), _vips(".png")]


@pytest.mark.parametrize("length", [512, SNIFF_BYTES])
def test_real_binary_files_are_never_text_from_any_offset(length: int) -> None:
    for binary in BINARIES:
        for start in range(0, max(len(binary) - 16, 1), 7):
            assert not looks_like_text(binary[start : start + length]), start


# --- dimensions --------------------------------------------------------------------------------


def _check(width: int, height: int) -> None:
    check_image_dimensions(width, height, max_pixels=MAX_PIXELS, max_side=MAX_SIDE)


@pytest.mark.parametrize(
    ("width", "height"),
    [(1, 1), (16_384, 1), (1, 16_384), (16_384, 6_103), (10_000, 10_000), (6_103, 16_384)],
)
def test_dimensions_within_limits(width: int, height: int) -> None:
    _check(width, height)


@pytest.mark.parametrize(("width", "height"), [(16_385, 1), (1, 16_385), (16_385, 16_385)])
def test_side_over_16384_refused(width: int, height: int) -> None:
    with pytest.raises(ImageTooLarge) as info:
        _check(width, height)
    assert info.value.code == "IMAGE_TOO_LARGE"
    assert info.value.details["max_side"] == MAX_SIDE
    assert (info.value.details["width"], info.value.details["height"]) == (width, height)


@pytest.mark.parametrize(("width", "height"), [(10_001, 10_000), (16_384, 6_104), (16_384, 16_384)])
def test_pixels_over_100_million_refused(width: int, height: int) -> None:
    with pytest.raises(ImageTooLarge) as info:
        _check(width, height)
    assert info.value.details["max_pixels"] == MAX_PIXELS


def test_pixel_limit_is_inclusive_at_exactly_the_limit() -> None:
    # 100,000,001 = 17 x 5,882,353 cannot be reached within 16384 px a side, so widen the side.
    check_image_dimensions(10_000, 10_000, max_pixels=MAX_PIXELS, max_side=10**8)
    check_image_dimensions(100_000_000, 1, max_pixels=MAX_PIXELS, max_side=10**8)
    with pytest.raises(ImageTooLarge) as info:
        check_image_dimensions(17, 5_882_353, max_pixels=MAX_PIXELS, max_side=10**8)
    assert info.value.details["max_pixels"] == MAX_PIXELS
    with pytest.raises(ImageTooLarge):
        check_image_dimensions(100_000_001, 1, max_pixels=MAX_PIXELS, max_side=10**9)


@pytest.mark.parametrize(("width", "height"), [(0, 0), (0, 10), (10, 0), (-1, 10), (10, -5)])
def test_no_pixels_refused(width: int, height: int) -> None:
    with pytest.raises(ImageTooLarge):
        _check(width, height)


@given(st.integers(-10, 40_000), st.integers(-10, 40_000))
@settings(max_examples=500)
def test_dimensions_property(width: int, height: int) -> None:
    ok = 0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE and width * height <= MAX_PIXELS
    try:
        _check(width, height)
    except ImageTooLarge:
        assert not ok
    else:
        assert ok


@given(st.integers(1, 50), st.integers(1, 50), st.integers(1, 2500), st.integers(1, 50))
@settings(max_examples=300)
def test_dimensions_property_small_limits(w: int, h: int, max_pixels: int, max_side: int) -> None:
    ok = max(w, h) <= max_side and w * h <= max_pixels
    try:
        check_image_dimensions(w, h, max_pixels=max_pixels, max_side=max_side)
    except ImageTooLarge:
        assert not ok
    else:
        assert ok
