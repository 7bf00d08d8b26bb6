"""The gallery's filter form: whatever a browser sends becomes a query or a clear refusal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.errors import ValidationFailed
from scopix.server.domain.listing import FileQuery
from scopix.server.web.forms import FILTER_FIELDS, PAGE_SIZE, GalleryForm


def query(**params: str) -> FileQuery:
    return GalleryForm.read(params).query()


def test_a_blank_form_lists_everything_newest_first() -> None:
    blank = query(**dict.fromkeys(FILTER_FIELDS, "  "))
    assert blank == query()
    assert blank.search is None
    assert blank.tags == ()
    assert blank.media_types == ()
    assert blank.has_description is None
    assert (blank.limit, blank.offset) == (PAGE_SIZE, 0)


def test_dates_cover_whole_days() -> None:
    chosen = query(date_from="2026-11-01", date_to="2026-11-29")
    assert chosen.date_from == datetime(2026, 11, 1, tzinfo=UTC)
    assert chosen.date_to == datetime(2026, 11, 29, 23, 59, 59, 999999, tzinfo=UTC)


def test_fields_become_the_query() -> None:
    chosen = query(
        search="red car",
        search_mode="metadata",
        tags="a, b,,",
        media_type="image",
        has_description="no",
    )
    assert chosen.search is not None
    assert chosen.search.mode == "metadata"
    assert chosen.tags == ("a", "b")
    assert chosen.media_types == ("image",)
    assert chosen.has_description is False
    assert query(has_description="yes").has_description is True


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("date_from", "29/11/2026"),
        ("date_to", "2026-02-30"),
        ("has_description", "maybe"),
        ("search_mode", "fuzzy"),
    ],
)
def test_a_wrong_field_is_named(field: str, value: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        query(search="x", **{field: value})
    assert refused.value.details["field"] == field


@given(st.dictionaries(st.sampled_from(FILTER_FIELDS), st.text(max_size=40)))
def test_any_form_is_a_query_or_a_validation_error(params: dict[str, str]) -> None:
    try:
        chosen = query(**params)
    except ValidationFailed:
        return
    assert chosen.limit == PAGE_SIZE
