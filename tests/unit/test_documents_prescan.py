"""The PDF pre-scan: every stream inflated and counted before PDFium may open the file, by
zlib-ng straight from the bytes, or by pypdf where a glance cannot be sure (another expanding
filter, encryption, a name hidden in #-escapes, an image size that is not a plain number)."""

from __future__ import annotations

import binascii
import os
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docfactory import GIB, bomb_pdf, encrypted_pdf, pdf_from_objects, stream, text_pdf
from scopix.server.domain.errors import ResourceLimit
from scopix.server.media.documents import pdf

MIB = 1 << 20
#: Past the pre-scan's cap on one stream (75,000,000 bytes).
OVER_THE_CAP = 80 * MIB


def one_page(content: bytes, *more: bytes, page_entries: bytes = b"") -> bytes:
    """A one-page PDF whose content stream is object 4 (`content`, a whole stream object's
    body) and whose further objects are 5, 6, ..."""
    return pdf_from_objects(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R %s >>"
            % page_entries,
            content,
            *more,
        ]
    )


def zeros(size: int) -> bytes:
    """`size` zero bytes deflated: a thousandth of that, from the bytes of a real bomb."""
    bomb = bomb_pdf(size)
    start = bomb.index(b"stream\n") + len(b"stream\n")
    return bomb[start : bomb.index(b"\nendstream", start)]


def deflated(data: bytes, times: int) -> bytes:
    for _ in range(times):
        data = zlib.compress(data, 9)
    return data


def image(width: bytes, height: bytes, entries: bytes = b"") -> bytes:
    """An 8-bit grey image XObject of one pixel's data that declares `width` x `height`."""
    return stream(
        b"\x00",
        b"/Type /XObject /Subtype /Image /Width %s /Height %s /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 %s" % (width, height, entries),
    )


def scanned(tmp_path: Path, data: bytes, name: str = "file.pdf") -> None:
    path = tmp_path / name
    path.write_bytes(data)
    pdf.prescan(path)


@pytest.fixture(autouse=True)
def nothing_prescanned_yet() -> None:
    pdf._prescanned.clear()


# ---- what passes ----------------------------------------------------------------------------


def test_a_text_pdf_passes(tmp_path: Path) -> None:
    scanned(tmp_path, text_pdf([["a line"], ["another page"]]))


def test_a_stream_just_under_the_cap_passes(tmp_path: Path) -> None:
    scanned(tmp_path, one_page(stream(zeros(64 * MIB), b"/Filter /FlateDecode")))


def test_flate_applied_twice_within_the_cap_passes(tmp_path: Path) -> None:
    content = deflated(b"BT /F1 12 Tf (twice) Tj ET" * 1000, times=2)
    scanned(tmp_path, one_page(stream(content, b"/Filter [/FlateDecode /FlateDecode]")))


def test_a_pdf_encrypted_with_a_password_is_left_to_pdfium(tmp_path: Path) -> None:
    scanned(tmp_path, encrypted_pdf())


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    content=st.binary(max_size=4096),
    times=st.integers(0, 3),
    gap=st.sampled_from([b"\n", b"\r\n", b"\r", b" \r\n", b"  \n"]),
)
def test_no_stream_within_the_cap_is_refused(
    tmp_path: Path, content: bytes, times: int, gap: bytes
) -> None:
    body = stream(deflated(content, times), b"/Filter /FlateDecode" if times else b"")
    pdf._prescanned.clear()
    scanned(tmp_path, one_page(body.replace(b"stream\n", b"stream" + gap, 1)))


# ---- bombs found in the raw bytes -----------------------------------------------------------


def test_a_flate_bomb_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ResourceLimit, match="decompression bomb"):
        scanned(tmp_path, bomb_pdf(GIB))


def test_a_bomb_just_over_the_cap_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ResourceLimit, match="decompression bomb"):
        scanned(tmp_path, one_page(stream(zeros(OVER_THE_CAP), b"/Filter /FlateDecode")))


@pytest.mark.parametrize("gap", [b"\r\n", b"\r", b" \r\n", b"\n\n", b"\t \n"])
def test_a_bomb_after_any_white_space_is_refused(tmp_path: Path, gap: bytes) -> None:
    body = stream(zeros(OVER_THE_CAP), b"/Filter /FlateDecode").replace(
        b"stream\n", b"stream" + gap, 1
    )
    with pytest.raises(ResourceLimit, match="decompression bomb"):
        scanned(tmp_path, one_page(body))


def test_a_bomb_in_an_object_no_page_uses_is_refused(tmp_path: Path) -> None:
    content = stream(b"BT ET")
    with pytest.raises(ResourceLimit, match="decompression bomb"):
        scanned(tmp_path, one_page(content, stream(zeros(OVER_THE_CAP), b"/Filter /FlateDecode")))


def test_a_bomb_deflated_twice_is_refused(tmp_path: Path) -> None:
    # The outer stream inflates to a hundred kilobytes: only the inner one is a bomb.
    content = zlib.compress(zeros(GIB), 9)
    assert len(content) < MIB
    with pytest.raises(ResourceLimit, match="decompression bomb"):
        scanned(tmp_path, one_page(stream(content, b"/Filter [/FlateDecode /FlateDecode]")))


def test_flate_applied_past_four_times_is_refused(tmp_path: Path) -> None:
    content = deflated(b"BT ET", times=5)
    with pytest.raises(ResourceLimit, match="more than 4 times"):
        scanned(tmp_path, one_page(stream(content, b"/Filter [%s]" % (b"/FlateDecode " * 5))))


def test_a_file_changed_into_a_bomb_is_scanned_again(tmp_path: Path) -> None:
    path = tmp_path / "changing.pdf"
    path.write_bytes(text_pdf([["harmless"]]))
    pdf.prescan(path)
    path.write_bytes(bomb_pdf(GIB))
    os.utime(path, ns=(1, 1))  # a new mtime whatever the clock's resolution

    with pytest.raises(ResourceLimit):
        pdf.prescan(path)


# ---- bombs only pypdf decodes ----------------------------------------------------------------


def test_a_bomb_behind_ascii_hex_is_refused(tmp_path: Path) -> None:
    content = binascii.hexlify(zeros(OVER_THE_CAP)) + b">"
    entries = b"/Filter [/ASCIIHexDecode /FlateDecode]"
    with pytest.raises(ResourceLimit, match="decompression bomb"):
        scanned(tmp_path, one_page(stream(content, entries)))


def test_a_bomb_behind_a_filter_name_hidden_in_escapes_is_refused(tmp_path: Path) -> None:
    content = binascii.hexlify(zeros(OVER_THE_CAP)) + b">"
    entries = b"/Filter [/ASCIIHex#44ecode /FlateDecode]"
    with pytest.raises(ResourceLimit, match="decompression bomb"):
        scanned(tmp_path, one_page(stream(content, entries)))


def test_a_run_length_bomb_is_refused(tmp_path: Path) -> None:
    # 128 zero bytes from every two bytes, deflated: a few kilobytes for 80 MiB.
    runs = b"\x81\x00" * (OVER_THE_CAP // 128) + b"\x80"
    entries = b"/Filter [/FlateDecode /RunLengthDecode]"
    with pytest.raises(ResourceLimit, match="decompression bomb"):
        scanned(tmp_path, one_page(stream(zlib.compress(runs, 9), entries)))


# ---- images too large to decode -------------------------------------------------------------


def test_an_image_declaring_too_many_pixels_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ResourceLimit, match="pixels"):
        scanned(tmp_path, one_page(stream(b"BT ET"), image(b"100000", b"100000")))


def test_an_image_whose_size_is_an_indirect_object_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ResourceLimit, match="pixels"):
        scanned(tmp_path, one_page(stream(b"BT ET"), image(b"6 0 R", b"100000"), b"100000"))


def test_an_image_whose_size_key_is_escaped_is_checked(tmp_path: Path) -> None:
    body = image(b"100000", b"100000").replace(b"/Width", b"/W#69dth")
    with pytest.raises(ResourceLimit, match="pixels"):
        scanned(tmp_path, one_page(stream(b"BT ET"), body))


def test_an_image_of_a_sane_size_passes(tmp_path: Path) -> None:
    scanned(tmp_path, one_page(stream(b"BT ET"), image(b"2480", b"3508")))
