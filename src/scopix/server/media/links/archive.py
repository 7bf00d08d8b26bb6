"""A fetched page and its preview image as one MHTML archive (multipart/related), the stored
bytes of a crawled link: the page's HTML exactly as fetched (its Content-Location the page's
URL), then the image when there is one (its Content-Location the image's URL). Both parts are
base64, so any bytes round-trip unchanged."""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage, Message
from typing import Final

import filetype

from scopix.server.domain.errors import CorruptFile

__all__ = ["MAX_ARCHIVE_BYTES", "PageArchive", "build_archive", "read_archive"]

#: An archive holds a page of at most 10 MB and an image of at most 10 MB, base64-encoded.
MAX_ARCHIVE_BYTES: Final = 32 * 1024 * 1024
#: The headers before the first part are read from at most this many bytes.
_HEAD_BYTES: Final = 16 * 1024
#: Ours have one or two parts; a few more are allowed, a thousand are not read.
_MAX_PARTS: Final = 4
_OCTETS: Final = "application/octet-stream"
#: Headers are written unfolded: a URL (up to 2,048 characters) stays one plain header line,
#: as browsers that open MHTML expect, never folded into encoded words.
_WRITE: Final = email.policy.SMTP.clone(max_line_length=None)


@dataclass(frozen=True)
class PageArchive:
    """A page as fetched from `url` (its body in `charset`, None when undeclared) and the
    image that stands for it, fetched from `image_url`."""

    url: str
    html: bytes
    charset: str | None
    image: bytes | None = None
    image_url: str | None = None


def build_archive(page: PageArchive) -> bytes:
    """The MHTML bytes of `page`."""
    archive = EmailMessage()
    archive["From"] = "<Saved by Scopix>"
    archive["MIME-Version"] = "1.0"
    archive.set_type("multipart/related")
    archive.set_param("type", "text/html")
    params = {} if page.charset is None else {"charset": page.charset}
    html = EmailMessage()
    html.set_content(page.html, "text", "html", cte="base64", params=params)
    html["Content-Location"] = page.url
    archive.attach(html)
    if page.image is not None:
        part = EmailMessage()
        maintype, subtype = (filetype.guess_mime(page.image) or _OCTETS).split("/", 1)
        part.set_content(page.image, maintype, subtype, cte="base64")
        part["Content-Location"] = page.image_url or ""
        archive.attach(part)
    return archive.as_bytes(policy=_WRITE)


def read_archive(data: bytes) -> PageArchive:
    """The page in `data`; CorruptFile when `data` is not an archive `build_archive` wrote
    (too large, not multipart/related, too many parts, no HTML part with a URL)."""
    if len(data) > MAX_ARCHIVE_BYTES:
        raise CorruptFile(f"a page archive is at most {MAX_ARCHIVE_BYTES:,} bytes")
    head = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(
        data[:_HEAD_BYTES]
    )
    boundary = head.get_boundary()
    if head.get_content_type() != "multipart/related" or not boundary:
        raise CorruptFile("the bytes are not a page archive (MHTML)")
    if data.count(b"--" + boundary.encode("ascii", "replace")) > _MAX_PARTS + 1:
        raise CorruptFile(f"a page archive has at most {_MAX_PARTS} parts")
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(data)
    payload = message.get_payload()
    parts = (
        [part for part in payload if isinstance(part, Message)] if isinstance(payload, list) else []
    )
    if not parts:
        raise CorruptFile("the page archive holds no page")
    page, *rest = parts
    url = page.get("Content-Location")
    if page.get_content_type() != "text/html" or not url:
        raise CorruptFile("the page archive's first part is not a page with its URL")
    image = rest[0] if rest else None
    return PageArchive(
        url=str(url),
        html=_payload(page),
        charset=page.get_content_charset(),
        image=None if image is None else _payload(image),
        image_url=None if image is None else str(image.get("Content-Location") or "") or None,
    )


def _payload(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raise CorruptFile("a part of the page archive is not a single body")
    return payload
