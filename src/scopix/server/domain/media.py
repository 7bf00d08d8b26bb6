"""Media typing from magic bytes alone: never from the client's Content-Type, and from the
filename only to tell Markdown from plain text (the same bytes can be either)."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

import filetype

from scopix.server.domain.errors import UnsupportedMediaType

MediaKind = Literal["image", "document", "video", "link"]

#: How many leading bytes `sniff` needs to decide.
SNIFF_BYTES = 8192

#: Image types the decoder handles, by the MIME type `filetype` reports.
ACCEPTED_IMAGES: dict[str, str] = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/tiff": "tiff",
    "image/avif": "avif",
}

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TEXT_MIME = "text/plain"
MARKDOWN_MIME = "text/markdown"

#: Documents, by MIME type; the extension is also the file's `document_type`.
ACCEPTED_DOCUMENTS: dict[str, str] = {
    "application/pdf": "pdf",
    DOCX_MIME: "docx",
    TEXT_MIME: "txt",
    MARKDOWN_MIME: "md",
}

#: Videos, by the MIME type `filetype` reports.
ACCEPTED_VIDEOS: dict[str, str] = {
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
    "video/x-msvideo": "avi",
    "video/x-m4v": "m4v",
    "video/x-matroska": "mkv",
}

#: A link's URL, normalized, as the bytes of the link's file until its page is fetched.
URI_LIST_MIME = "text/uri-list"
#: A fetched web page with its preview image, as one MHTML archive (media.links.archive).
PAGE_ARCHIVE_MIME = "multipart/related"

#: Links, by MIME type: never uploaded (sniff accepts neither), only written by the link
#: service and the crawl job; their files are found by `media_of_mime` like any other.
LINK_TYPES: dict[str, str] = {URI_LIST_MIME: "url", PAGE_ARCHIVE_MIME: "mhtml"}

#: Types we recognise and will accept once a decoder for them ships offline.
NOT_YET_ACCEPTED: dict[str, MediaKind] = {
    "image/heic": "image",
    "image/heif": "image",
}

_ACCEPTED_BY_KIND: dict[MediaKind, dict[str, str]] = {
    "image": ACCEPTED_IMAGES,
    "document": ACCEPTED_DOCUMENTS,
    "video": ACCEPTED_VIDEOS,
}
_STORED_BY_KIND: dict[MediaKind, dict[str, str]] = {**_ACCEPTED_BY_KIND, "link": LINK_TYPES}

#: What an upload may be (links are added by URL, never uploaded).
ACCEPTED: list[str] = sorted(mime for types in _ACCEPTED_BY_KIND.values() for mime in types)

#: Filename extensions that make plain text Markdown.
MARKDOWN_EXTENSIONS = frozenset({".md", ".markdown"})

#: Text that is a program or a web page, not a document: refused like executables are.
_CODE_STARTS = (b"#!", b"<?xml", b"<!doctype", b"<html", b"<svg", b"<script", b"<head", b"<body")

#: At most this share of a text's characters may be control characters (other than tab and
#: line and page breaks): any more and the bytes are binary that happens to decode.
MAX_CONTROL_SHARE = 0.01
#: Bytes that are not UTF-8 are read as Windows-1252 (a superset of Latin-1's printable range),
#: which decodes almost any byte: Western European text in it is still mostly ASCII.
MIN_ASCII_SHARE_8BIT = 0.5

_TEXT_CONTROLS = frozenset("\t\n\r\f\v")


@dataclass(frozen=True)
class MediaType:
    """What the bytes are."""

    kind: MediaKind
    mime: str
    extension: str


def media_of_mime(mime: str) -> MediaType:
    """The media type of bytes already stored under `mime` (which sniff gave them)."""
    for kind, types in _STORED_BY_KIND.items():
        if mime in types:
            return MediaType(kind, mime, types[mime])
    raise KeyError(mime)


def named(media: MediaType, filename: str) -> MediaType:
    """The type of known bytes as a file of this name holds them: identical bytes are one
    stored blob, but plain text is Markdown in a file named so, and Markdown plain text in
    one that is not."""
    if media.mime in (TEXT_MIME, MARKDOWN_MIME):
        return media_of_mime(_text_mime(filename))
    return media


def sniff(head: bytes, filename_hint: str | None = None) -> MediaType:
    """Type an upload from its first bytes; refuse anything that is not an accepted type.
    `filename_hint` only chooses between plain text and Markdown."""
    mime = _guess_mime(head)
    if mime is None and looks_like_text(head):
        mime = _text_mime(filename_hint)
    if mime in ACCEPTED:
        return media_of_mime(mime)
    if mime in NOT_YET_ACCEPTED:
        raise UnsupportedMediaType(
            f"{mime} files are recognised but this server does not accept them yet",
            detected=mime,
            accepted=ACCEPTED,
        )
    raise UnsupportedMediaType(
        "the file is not of a supported type (JPEG, PNG, WebP, GIF, TIFF, AVIF images; "
        "PDF, DOCX, TXT, MD documents; MP4, MOV, M4V, WebM, AVI, MKV videos)",
        detected=mime or "unknown",
        accepted=ACCEPTED,
    )


def is_image(head: bytes) -> bool:
    """Whether the first bytes are an image this server decodes."""
    return _guess_mime(head) in ACCEPTED_IMAGES


def looks_like_text(head: bytes) -> bool:
    """Whether the first bytes of a file are human text: no NUL, UTF-8 (a character cut at
    the end of the head allowed) or else mostly-ASCII Windows-1252/Latin-1, with almost no
    control characters; a script (`#!`) or markup page (HTML, SVG, XML) is not a document."""
    if not head or b"\x00" in head:
        return False
    if head.lstrip().lower().startswith(_CODE_STARTS):
        return False
    text = _utf8(head)
    if text is None:
        text = _windows_1252(head)
        if text is None or sum(char.isascii() for char in text) < MIN_ASCII_SHARE_8BIT * len(text):
            return False
    if not text.strip():
        return False
    controls = sum(1 for char in text if _is_control(char))
    return controls <= MAX_CONTROL_SHARE * len(text)


def _utf8(head: bytes) -> str | None:
    """The head as UTF-8, its last character possibly cut (held back), or None."""
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return None


def _windows_1252(head: bytes) -> str | None:
    try:
        return head.decode("cp1252")
    except UnicodeDecodeError:  # bytes it leaves undefined: 0x81, 0x8D, 0x8F, 0x90, 0x9D
        return None


def _is_control(char: str) -> bool:
    code = ord(char)
    return (code < 0x20 or 0x7F <= code < 0xA0) and char not in _TEXT_CONTROLS


def _text_mime(filename_hint: str | None) -> str:
    if filename_hint and PurePosixPath(filename_hint).suffix.lower() in MARKDOWN_EXTENSIONS:
        return MARKDOWN_MIME
    return TEXT_MIME


#: Types `filetype` reports under a name of their own that are one of ours.
ALIASES: dict[str, str] = {"image/apng": "image/png"}


def _guess_mime(head: bytes) -> str | None:
    kind = filetype.guess(head)
    return None if kind is None else ALIASES.get(str(kind.mime), str(kind.mime))
