"""The rules of listing files: filters, sorting and paging."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from scopix.server.domain.errors import ValidationFailed

SortField = Literal["content_created_at", "created_at", "title", "size_bytes"]
SORT_FIELDS: Final = ("content_created_at", "created_at", "title", "size_bytes")
MAX_IDS: Final = 500
MAX_LIMIT: Final = 100
MAX_OFFSET: Final = 1_000_000_000

SearchMode = Literal["all", "metadata", "visible_text"]
#: the search modes this server answers; API.md also names `semantic`, refused until it lands
SEARCH_MODES: Final = ("all", "metadata", "visible_text")
UNAVAILABLE_SEARCH_MODES: Final = ("semantic",)
MAX_SEARCH_CHARS: Final = 200


@dataclass(frozen=True)
class TextSearch:
    """A plain text filter: every word must occur, case-insensitively, in one of the mode's
    fields (`metadata`: filename, title, description, tags; `visible_text`; `all`: any of them).
    """

    words: tuple[str, ...]
    mode: SearchMode = "all"


@dataclass(frozen=True)
class FileQuery:
    """A validated listing request."""

    tags: tuple[str, ...] = ()
    media_types: tuple[str, ...] = ()
    date_from: datetime | None = None
    date_to: datetime | None = None
    has_description: bool | None = None
    ids: tuple[str, ...] = ()
    limit: int = 20
    offset: int = 0
    sort_by: SortField = "created_at"
    descending: bool = True
    search: TextSearch | None = None


def split_multi(values: list[str] | None) -> tuple[str, ...]:
    """Accept both `?x=a&x=b` and `?x=a,b`."""
    out: list[str] = []
    for value in values or []:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return tuple(dict.fromkeys(out))


def search_words(text: str) -> tuple[str, ...]:
    """The distinct words of a query, lowercased, in order.

    Words are what `str.split` separates (any Unicode whitespace). The text is NFC-normalized,
    as stored filenames are, and lowercased with `str.lower` (not `casefold`, which would turn
    "ß" into "ss" and then miss the "ß" that a lowercased column still holds).
    """
    words = unicodedata.normalize("NFC", text).lower().split()
    return tuple(dict.fromkeys(words))


def text_search(search: str | None, mode: str = "all") -> TextSearch | None:
    """Validate `search` and `search_mode`; None when there is nothing to search for."""
    if mode in UNAVAILABLE_SEARCH_MODES:
        raise ValidationFailed(
            f"{mode} search is not available on this server yet; "
            f"use one of: {', '.join(SEARCH_MODES)}",
            field="search_mode",
            allowed=list(SEARCH_MODES),
        )
    if mode not in SEARCH_MODES:
        raise ValidationFailed(
            "unknown search_mode", field="search_mode", allowed=list(SEARCH_MODES)
        )
    text = (search or "").strip()
    if len(text) > MAX_SEARCH_CHARS:
        raise ValidationFailed(
            f"search may be at most {MAX_SEARCH_CHARS} characters",
            field="search",
            length=len(text),
        )
    words = search_words(text)
    if not words:
        return None  # a blank search is no search
    return TextSearch(words, mode)  # type: ignore[arg-type]  # checked against SEARCH_MODES


def _as_utc(moment: datetime | None) -> datetime | None:
    """Times without a zone are UTC, as everywhere in the API."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def file_query(
    *,
    tags: list[str] | None = None,
    media_types: list[str] | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    has_description: bool | None = None,
    ids: list[str] | None = None,
    limit: int = 20,
    offset: int = 0,
    sort_by: str = "created_at",
    sort_order: str = "desc",
    search: str | None = None,
    search_mode: str = "all",
) -> FileQuery:
    """Check every listing parameter against API.md's rules."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    if not 0 <= offset <= MAX_OFFSET:
        raise ValidationFailed(f"offset must be between 0 and {MAX_OFFSET}", field="offset")
    if sort_by not in SORT_FIELDS:
        raise ValidationFailed("unknown sort_by", field="sort_by", allowed=list(SORT_FIELDS))
    if sort_order not in ("asc", "desc"):
        raise ValidationFailed("sort_order must be asc or desc", field="sort_order")
    id_list = split_multi(ids)
    if len(id_list) > MAX_IDS:
        raise ValidationFailed(f"at most {MAX_IDS} ids per request", field="ids")
    date_from, date_to = _as_utc(date_from), _as_utc(date_to)  # an inverted range matches nothing
    text = text_search(search, search_mode)
    return FileQuery(
        tags=split_multi(tags),
        media_types=split_multi(media_types),
        date_from=date_from,
        date_to=date_to,
        has_description=has_description,
        ids=id_list,
        limit=limit,
        offset=offset,
        sort_by=sort_by,  # type: ignore[arg-type]  # checked against SORT_FIELDS above
        descending=sort_order == "desc",
        search=text,
    )
