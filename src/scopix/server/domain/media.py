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

#: Types stored and served as they are, with nothing decoded and nothing to describe yet: their
#: pipelines are future work, but a user can keep the files with the rest.
STORED_AS_IS: dict[str, tuple[MediaKind, str]] = {
    "application/pdf": ("document", "pdf"),
    "video/mp4": ("video", "mp4"),
    "video/quicktime": ("video", "mov"),
    "video/webm": ("video", "webm"),
    "video/x-msvideo": ("video", "avi"),
}

#: Types we recognise and will accept once a decoder for them ships offline.
NOT_YET_ACCEPTED: dict[str, MediaKind] = {
    "image/heic": "image",
    "image/heif": "image",
}

ACCEPTED: list[str] = sorted([*ACCEPTED_IMAGES, *STORED_AS_IS])


@dataclass(frozen=True)
class MediaType:
    """What the bytes are."""

    kind: MediaKind
    mime: str
    extension: str

    @property
    def decoded(self) -> bool:
        """Whether ingest decodes these bytes (variants, description) or only stores them."""
        return self.kind == "image"


def is_decoded(mime: str) -> bool:
    """Whether bytes of this stored MIME type are decoded (have variants, get described)."""
    return mime in ACCEPTED_IMAGES


def media_of_mime(mime: str) -> MediaType:
    """The media type of bytes already stored under `mime` (which sniff gave them)."""
    if mime in ACCEPTED_IMAGES:
        return MediaType("image", mime, ACCEPTED_IMAGES[mime])
    kind, extension = STORED_AS_IS[mime]
    return MediaType(kind, mime, extension)


def sniff(head: bytes) -> MediaType:
    """Type an upload from its first bytes; refuse anything that is not an accepted type."""
    mime = _guess_mime(head)
    if mime in ACCEPTED_IMAGES:
        return MediaType("image", mime, ACCEPTED_IMAGES[mime])
    if mime in STORED_AS_IS:
        kind, extension = STORED_AS_IS[mime]
        return MediaType(kind, mime, extension)
    if mime in NOT_YET_ACCEPTED:
        raise UnsupportedMediaType(
            f"{mime} files are recognised but this server does not accept them yet",
            detected=mime,
            accepted=ACCEPTED,
        )
    raise UnsupportedMediaType(
        "the file is not of a supported type (JPEG, PNG, WebP, GIF, TIFF, AVIF images; "
        "MP4, MOV, WebM, AVI videos; PDF)",
        detected=mime or "unknown",
        accepted=ACCEPTED,
    )


#: Types `filetype` reports under a name of their own that are one of ours.
ALIASES: dict[str, str] = {"image/apng": "image/png"}


def _guess_mime(head: bytes) -> str | None:
    kind = filetype.guess(head)
    return None if kind is None else ALIASES.get(str(kind.mime), str(kind.mime))
