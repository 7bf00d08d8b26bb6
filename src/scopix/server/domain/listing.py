"""The rules of listing files: filters, sorting and paging."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from scopix.server.domain.errors import ValidationFailed
from scopix.server.domain.fields import MAX_TAGS

SortField = Literal["content_created_at", "created_at", "title", "size_bytes"]
SORT_FIELDS: Final = ("content_created_at", "created_at", "title", "size_bytes")
MAX_IDS: Final = 500
#: Repeatable filters are capped before any query is built: each tag is one more clause (5,000
#: of them blew SQLite's expression depth and held the event loop for seconds while compiling).
#: A file holds at most MAX_TAGS tags, so more tags that must all match can match nothing.
MAX_FILTER_TAGS: Final = MAX_TAGS
#: Far more than the media types a server accepts; a longer list only costs.
MAX_FILTER_MEDIA_TYPES: Final = 20
MAX_LIMIT: Final = 100
MAX_OFFSET: Final = 1_000_000_000

SearchMode = Literal["all", "metadata", "visible_text", "semantic"]
SEARCH_MODES: Final = ("all", "metadata", "visible_text", "semantic")
MAX_SEARCH_CHARS: Final = 200
#: A full-text search with more matches than this lists them newest first rather than by
#: relevance. Scoring reads every match's statistics (about a microsecond each on SQLite and
#: PostgreSQL alike), and words found in that many files say little about which one is meant:
#: more words or a filter bring the search back under the limit, and into relevance order.
MAX_RANKED_MATCHES: Final = 10_000
_WORD = re.compile(r"[^\W_]+")  # letters and digits, as the index tokenizes


@dataclass(frozen=True)
class TextSearch:
    """A ranked full-text search: every word (folded: lowercase, no accents; matched by stem)
    must occur in one of the mode's fields (`metadata`: filename, title, description, tags;
    `visible_text`; `all`: any of them).
    """

    words: tuple[str, ...]
    mode: SearchMode = "all"
    #: the query as typed, for the semantic side (`semantic`, and `all`'s hybrid ranking)
    text: str = ""


@dataclass(frozen=True)
class FileQuery:
    """A validated listing request."""

    tags: tuple[str, ...] = ()
    media_types: tuple[str, ...] = ()
    date_from: datetime | None = None
    date_to: datetime | None = None
    has_description: bool | None = None
    ids: tuple[str, ...] = ()
    #: files directly in this folder, or anywhere below it with `include_subfolders`
    folder_id: str | None = None
    include_subfolders: bool = False
    project_id: str | None = None
    limit: int = 20
    offset: int = 0
    #: None: by relevance when searching, else by created_at
    sort_by: SortField | None = None
    descending: bool = True
    search: TextSearch | None = None

    @property
    def filtered(self) -> bool:
        """Whether anything besides the tenant, the words and the paging narrows it."""
        return bool(
            self.tags
            or self.media_types
            or self.date_from
            or self.date_to
            or self.has_description is not None
            or self.ids
            or self.folder_id
            or self.project_id
        )

    def ranks_by_relevance(self, matches: int) -> bool:
        """Whether a full-text search with this many matches comes best match first."""
        return self.sort_by is None and matches <= MAX_RANKED_MATCHES


def split_multi(values: list[str] | None, field: str, cap: int) -> tuple[str, ...]:
    """Accept both `?x=a&x=b` and `?x=a,b`: at most `cap` distinct values, else a
    ValidationFailed naming `field` (decided as soon as the cap is passed)."""
    out: dict[str, None] = {}
    for value in values or []:
        for part in value.split(","):
            if part := part.strip():
                out[part] = None
                if len(out) > cap:
                    raise ValidationFailed(
                        f"at most {cap} values of {field} per request", field=field, limit=cap
                    )
    return tuple(out)


def fold(text: str) -> str:
    """Text as the search index holds it: case-folded, accents removed ("Größe" -> "grosse",
    "café" -> "cafe"), so a query matches whatever accents and case either side typed."""
    # Compatibility forms first ("🄰" is an "A"), then case, then decompose what folding made.
    lowered = unicodedata.normalize("NFKD", text).casefold()
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def searchable(text: str) -> str:
    """Text as the index stores it: its folded words, space-separated. Both databases then
    see plain words only (PostgreSQL's parser would otherwise keep "cafe.jpg" or "and/or"
    whole), and a query's words are exactly the stored ones."""
    return " ".join(_WORD.findall(fold(text)))


def search_words(text: str) -> tuple[str, ...]:
    """The distinct searchable words of a query, folded, in order.

    A word is a run of letters and digits (as the index tokenizes); punctuation separates.
    """
    words = _WORD.findall(fold(text))
    return tuple(dict.fromkeys(words))


def text_search(search: str | None, mode: str = "all") -> TextSearch | None:
    """Validate `search` and `search_mode`; None when there is nothing to search for."""
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
    if not text:
        return None  # a blank search is no search
    # Text without a single word (only punctuation) is a search that matches nothing.
    return TextSearch(search_words(text), mode, text)  # type: ignore[arg-type]  # checked against SEARCH_MODES


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
    sort_by: str | None = None,
    sort_order: str = "desc",
    search: str | None = None,
    search_mode: str = "all",
    folder_id: str | None = None,
    include_subfolders: bool = False,
    project_id: str | None = None,
) -> FileQuery:
    """Check every listing parameter against API.md's rules."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    if not 0 <= offset <= MAX_OFFSET:
        raise ValidationFailed(f"offset must be between 0 and {MAX_OFFSET}", field="offset")
    if sort_by is not None and sort_by not in SORT_FIELDS:
        raise ValidationFailed("unknown sort_by", field="sort_by", allowed=list(SORT_FIELDS))
    if sort_order not in ("asc", "desc"):
        raise ValidationFailed("sort_order must be asc or desc", field="sort_order")
    tag_list = split_multi(tags, "tags", MAX_FILTER_TAGS)
    media_type_list = split_multi(media_types, "media_types", MAX_FILTER_MEDIA_TYPES)
    id_list = split_multi(ids, "ids", MAX_IDS)
    date_from, date_to = _as_utc(date_from), _as_utc(date_to)  # an inverted range matches nothing
    text = text_search(search, search_mode)
    return FileQuery(
        tags=tag_list,
        media_types=media_type_list,
        date_from=date_from,
        date_to=date_to,
        has_description=has_description,
        ids=id_list,
        limit=limit,
        offset=offset,
        sort_by=sort_by,  # type: ignore[arg-type]  # checked against SORT_FIELDS above
        descending=sort_order == "desc",
        search=text,
        # Any other string names no folder or project of the tenant's: 404, not a refusal.
        folder_id=folder_id or None,
        include_subfolders=include_subfolders,
        project_id=project_id or None,
    )
