"""Document types: a document's text by page, its chunks, and chunk search results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from scopix.types._parse import build

__all__ = [
    "ChunkList",
    "DocumentChunk",
    "DocumentSearchHit",
    "DocumentSearchMode",
    "DocumentSearchResults",
    "DocumentText",
    "PageText",
]

#: How ``client.documents.search`` ranks chunks: full text, meaning, or both fused.
DocumentSearchMode = Literal["hybrid", "text", "semantic"]


def _page_numbers(value: Any) -> list[int]:
    return [int(n) for n in value] if value else []


@dataclass(frozen=True)
class PageText:
    """The text of one page (1-based ``page``); TXT and MD documents have one page."""

    page: int
    text: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PageText:
        """Parse one entry of ``pages``."""
        return build(cls, data, page=int, text=lambda v: v or "")


@dataclass(frozen=True)
class DocumentText:
    """A document's extracted text, whole and page by page (``GET /files/{id}/text``)."""

    text: str
    pages: list[PageText] = field(default_factory=list)

    def page(self, number: int) -> PageText:
        """The page numbered ``number`` (1-based); ``KeyError`` when the document has none."""
        for page in self.pages:
            if page.page == number:
                return page
        raise KeyError(f"the document has no page {number} (it has {len(self.pages)})")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DocumentText:
        """Parse the server's JSON; unknown keys are ignored."""
        return cls(
            text=data.get("text") or "",
            pages=[PageText.from_dict(p) for p in data.get("pages") or []],
        )


@dataclass(frozen=True)
class DocumentChunk:
    """A passage of a few hundred words and the pages its text came from."""

    chunk_id: str
    chunk_index: int
    content: str
    page_numbers: list[int] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DocumentChunk:
        """Parse one chunk; unknown keys are ignored."""
        return build(
            cls,
            {"content": "", **data},
            chunk_id=str,
            chunk_index=int,
            page_numbers=_page_numbers,
        )


@dataclass(frozen=True)
class ChunkList:
    """One page of a document's chunks in order; ``has_more`` says whether more follow."""

    items: list[DocumentChunk]
    total_count: int
    has_more: bool

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChunkList:
        """Parse ``GET /files/{id}/chunks``."""
        items = [DocumentChunk.from_dict(item) for item in data.get("items") or []]
        return cls(
            items=items,
            total_count=int(data.get("total_count", len(items))),
            has_more=bool(data.get("has_more", False)),
        )


@dataclass(frozen=True)
class DocumentSearchHit:
    """A chunk that matched a search, with its document and a score from 0 to 1."""

    chunk_id: str
    document_id: str
    document_filename: str
    content: str
    score: float
    chunk_index: int
    page_numbers: list[int] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DocumentSearchHit:
        """Parse one search hit; unknown keys are ignored."""
        return build(
            cls,
            {"content": "", "document_filename": "", **data},
            chunk_id=str,
            document_id=str,
            score=float,
            chunk_index=int,
            page_numbers=_page_numbers,
            document_filename=lambda v: v or "",
        )


@dataclass(frozen=True)
class DocumentSearchResults:
    """The chunks that best match a search, best first (``POST /documents/search``)."""

    items: list[DocumentSearchHit]
    total_count: int
    has_more: bool

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DocumentSearchResults:
        """Parse the server's JSON."""
        items = [DocumentSearchHit.from_dict(item) for item in data.get("items") or []]
        return cls(
            items=items,
            total_count=int(data.get("total_count", len(items))),
            has_more=bool(data.get("has_more", False)),
        )
