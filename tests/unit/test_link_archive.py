"""The page archive: any page and image round-trip through MHTML unchanged, and bytes that are
not such an archive are refused as corrupt, within bounds."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagefactory import png_bytes
from scopix.server.domain.errors import CorruptFile
from scopix.server.media.links.archive import (
    MAX_ARCHIVE_BYTES,
    PageArchive,
    build_archive,
    read_archive,
)

URLS = st.from_regex(
    r"https?://[a-z0-9.-]{1,40}\.[a-z]{2,6}(/[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,300}){0,4}",
    fullmatch=True,
)


@settings(max_examples=200, deadline=None)
@given(
    url=URLS,
    html=st.binary(max_size=5000),
    charset=st.sampled_from([None, "utf-8", "shift_jis", "iso-8859-1", "windows-1251"]),
    image=st.none() | st.binary(min_size=1, max_size=3000),
    image_url=URLS,
)
def test_any_page_round_trips(
    url: str, html: bytes, charset: str | None, image: bytes | None, image_url: str
) -> None:
    page = PageArchive(url, html, charset, image, image_url if image is not None else None)
    assert read_archive(build_archive(page)) == page


def test_an_archive_is_mhtml() -> None:
    image = png_bytes(8, 8)
    data = build_archive(
        PageArchive(
            "https://a.example/p", b"<html>hi</html>", "utf-8", image, "https://a.example/i"
        )
    )
    assert data.startswith(b"From: ") and b"multipart/related" in data[:300]
    assert b"Content-Location: https://a.example/p" in data and b"image/png" in data


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"https://a.example/\r\n",
        b"<html><body>hi</body></html>",
        b"Content-Type: multipart/related\r\n\r\nno boundary",
        b'Content-Type: multipart/related; boundary="b"\r\n\r\n--b--\r\n',
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n',
        b'Content-Type: multipart/related; boundary="b"\r\n\r\n--b\r\nContent-Type: text/html'
        b"\r\n\r\nno location\r\n--b--\r\n",
        b'Content-Type: multipart/related; boundary="b"\r\n\r\n' + b"--b\r\n\r\nx\r\n" * 10_000,
    ],
)
def test_what_is_not_an_archive_is_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptFile):
        read_archive(data)


def test_an_oversized_archive_is_not_parsed() -> None:
    with pytest.raises(CorruptFile, match="at most"):
        read_archive(b"x" * (MAX_ARCHIVE_BYTES + 1))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_are_an_archive_or_corrupt(data: bytes) -> None:
    with contextlib.suppress(CorruptFile):
        read_archive(data)
