"""Media typing from magic bytes, and the declared-dimension limits checked before decoding."""

from __future__ import annotations

import struct
import zlib

import pytest
import pyvips
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scopix.server.domain.errors import ImageTooLarge, UnsupportedMediaType
from scopix.server.domain.limits import check_image_dimensions
from scopix.server.domain.media import (
    ACCEPTED,
    ACCEPTED_IMAGES,
    NOT_YET_ACCEPTED,
    SNIFF_BYTES,
    STORED_AS_IS,
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


@pytest.mark.parametrize(
    ("head", "mime", "kind"),
    [
        (PDF, "application/pdf", "document"),
        (MP4, "video/mp4", "video"),
        (MOV, "video/quicktime", "video"),
        (WEBM, "video/webm", "video"),
        (AVI, "video/x-msvideo", "video"),
    ],
)
def test_documents_and_videos_are_stored_as_they_are(head: bytes, mime: str, kind: str) -> None:
    media = sniff(head)
    assert (media.kind, media.mime, media.extension) == (kind, mime, STORED_AS_IS[mime][1])
    assert not media.decoded


def test_recognised_but_not_yet_accepted() -> None:
    assert "image/heic" in NOT_YET_ACCEPTED
    with pytest.raises(UnsupportedMediaType) as info:
        sniff(HEIC)
    assert info.value.code == "UNSUPPORTED_MEDIA_TYPE"
    assert info.value.details["detected"] == "image/heic"
    assert info.value.details["accepted"] == ACCEPTED
    assert "not accept them yet" in info.value.message


ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 20 + b"word/document.xml"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48
SHELL = b"#!/bin/sh\nrm -rf /\n"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>'
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
GZIP = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\x00" * 10
BMP = b"BM" + b"\x00" * 60
TEXT = b"just some words\n"


@pytest.mark.parametrize(
    "head",
    [ZIP, ELF, PE, SHELL, SVG, HTML, GZIP, BMP, TEXT, b"", b"\xff", b"\xff\xd8", b"GI"],
    ids=[
        "zip",
        "elf",
        "pe",
        "shell",
        "svg",
        "html",
        "gzip",
        "bmp",
        "text",
        "empty",
        "1b",
        "2b",
        "3b",
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
    [b"", *HAND_MADE.values(), PDF, MP4, ZIP, ELF, PE, b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"]
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
        if media.decoded:
            assert media.extension == ACCEPTED_IMAGES[media.mime]
        else:
            assert (media.kind, media.extension) == STORED_AS_IS[media.mime]


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
