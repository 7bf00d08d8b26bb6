"""Link types: a saved page's Open Graph card, one URL's outcome in a batch, and a recrawl."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scopix.types._parse import build
from scopix.types.upload import UploadResult

__all__ = ["LinkResult", "OpenGraph", "RecrawlResult"]


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class OpenGraph:
    """What a page says about itself in its Open Graph tags (``og_metadata`` of a link);
    each field is None when the page did not say. ``image`` is an absolute URL."""

    title: str | None = None
    description: str | None = None
    image: str | None = None
    site_name: str | None = None
    type: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OpenGraph:
        """Parse ``og_metadata``; unknown keys are ignored."""
        return build(
            cls,
            data,
            title=_optional_text,
            description=_optional_text,
            image=_optional_text,
            site_name=_optional_text,
            type=_optional_text,
        )


@dataclass(frozen=True)
class LinkResult:
    """One URL of ``client.files.add_links``: the link's upload result (``file``), or why the
    server refused the URL (``error_code`` such as INVALID_URL or URL_REFUSED, and
    ``error_message``)."""

    url: str
    file: UploadResult | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def ok(self) -> bool:
        """True when the link was saved (or, with ``skip_duplicates``, found saved already)."""
        return self.file is not None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LinkResult:
        """Parse one entry of ``POST /files/links/batch``'s ``results``."""
        file, error = data.get("file"), data.get("error") or {}
        return cls(
            url=str(data.get("url") or ""),
            file=None if file is None else UploadResult.from_dict(file),
            error_code=_optional_text(error.get("code")),
            error_message=_optional_text(error.get("message")),
        )


@dataclass(frozen=True)
class RecrawlResult:
    """A recrawl that was queued: the link's id and its crawl status (``pending``)."""

    file_id: str
    crawl_status: str = "pending"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecrawlResult:
        """Parse ``POST /files/{id}/recrawl``."""
        return build(cls, data, file_id=str, crawl_status=lambda v: str(v or "pending"))
