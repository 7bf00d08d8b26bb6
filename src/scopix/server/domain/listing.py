"""The rules of listing files: filters, sorting and paging."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from scopix.server.domain.errors import ValidationFailed

SortField = Literal["content_created_at", "created_at", "title", "size_bytes"]
SORT_FIELDS: Final = ("content_created_at", "created_at", "title", "size_bytes")
MAX_IDS: Final = 500
MAX_LIMIT: Final = 100
MAX_OFFSET: Final = 1_000_000_000


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


def split_multi(values: list[str] | None) -> tuple[str, ...]:
    """Accept both `?x=a&x=b` and `?x=a,b`."""
    out: list[str] = []
    for value in values or []:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return tuple(dict.fromkeys(out))


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
    )
