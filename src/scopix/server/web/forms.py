"""The page's forms: the gallery's filters and the open folder, read into a file query (a form
sends every field, blank or not), and the "Add a link" field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel, Field

from scopix.server.domain.errors import ValidationFailed
from scopix.server.domain.listing import FileQuery, file_query

#: Cards per page: fills rows of 2, 3, 4 and 6 columns.
PAGE_SIZE = 24
#: The form's fields, in the order the page shows them; last the open folder, which the folder
#: tree sets in a hidden field (blank: every file, in a folder or not).
FILTER_FIELDS = (
    "search",
    "search_mode",
    "tags",
    "media_type",
    "date_from",
    "date_to",
    "has_description",
    "folder_id",
)
_HAS_DESCRIPTION = {"": None, "yes": True, "no": False}


@dataclass(frozen=True)
class GalleryForm:
    """The filters as typed, to fill the form again."""

    values: Mapping[str, str]

    @classmethod
    def read(cls, params: Mapping[str, str]) -> GalleryForm:
        return cls({name: params.get(name, "").strip() for name in FILTER_FIELDS})

    def query(self, offset: int = 0) -> FileQuery:
        """The listing these filters ask for; `ValidationFailed` names a field that is wrong."""
        values = self.values
        if values["has_description"] not in _HAS_DESCRIPTION:
            raise ValidationFailed("has_description must be yes or no", field="has_description")
        date_to = _day(values["date_to"], "date_to")
        return file_query(
            search=values["search"] or None,
            search_mode=values["search_mode"] or "all",
            tags=[values["tags"]],
            media_types=[values["media_type"]],
            date_from=_day(values["date_from"], "date_from"),
            # The whole of the last day: up to, not including, the midnight after it.
            date_to=date_to + timedelta(days=1, microseconds=-1) if date_to else None,
            has_description=_HAS_DESCRIPTION[values["has_description"]],
            folder_id=values["folder_id"] or None,
            limit=PAGE_SIZE,
            offset=offset,
        )


def _day(value: str, field: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), UTC)
    except ValueError:
        raise ValidationFailed(f"{field} must be a date like 2026-11-29", field=field) from None


class LinkForm(BaseModel):
    """The "Add a link" field as the page sends it, with the folder open in the page (None: no
    folder); the link service reads the URL itself and refuses an unknown folder."""

    #: Room for a long URL before it is normalized; the service refuses one still too long.
    url: str = Field(min_length=1, max_length=8192)
    folder_id: str | None = Field(default=None, min_length=1, max_length=64)
