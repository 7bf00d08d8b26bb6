"""Media typing from magic bytes alone: never from the filename or the client's Content-Type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import filetype

from scopix.server.domain.errors import UnsupportedMediaType

MediaKind = Literal["image", "document", "video"]

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

#: Types we recognise and will accept once their pipelines exist.
NOT_YET_ACCEPTED: dict[str, MediaKind] = {
    "application/pdf": "document",
    "video/mp4": "video",
    "video/quicktime": "video",
    "video/webm": "video",
    "video/x-msvideo": "video",
    "image/heic": "image",
    "image/heif": "image",
}


@dataclass(frozen=True)
class MediaType:
    """What the bytes are."""

    kind: MediaKind
    mime: str
    extension: str


def sniff(head: bytes) -> MediaType:
    """Type an upload from its first bytes; refuse anything that is not an accepted image."""
    mime = _guess_mime(head)
    if mime in ACCEPTED_IMAGES:
        return MediaType("image", mime, ACCEPTED_IMAGES[mime])
    if mime in NOT_YET_ACCEPTED:
        raise UnsupportedMediaType(
            f"{mime} files are recognised but this server does not accept them yet",
            detected=mime,
            accepted=sorted(ACCEPTED_IMAGES),
        )
    raise UnsupportedMediaType(
        "the file is not an image of a supported type (JPEG, PNG, WebP, GIF, TIFF, AVIF)",
        detected=mime or "unknown",
        accepted=sorted(ACCEPTED_IMAGES),
    )


#: Types `filetype` reports under a name of their own that are one of ours.
ALIASES: dict[str, str] = {"image/apng": "image/png"}


def _guess_mime(head: bytes) -> str | None:
    kind = filetype.guess(head)
    return None if kind is None else ALIASES.get(str(kind.mime), str(kind.mime))
