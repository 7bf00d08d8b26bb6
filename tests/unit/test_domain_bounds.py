"""The pure bounds on requests: body budgets and caps on repeatable query parameters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.bounds import MAX_JSON_BODY_BYTES, BodyBudget, declared_length
from scopix.server.domain.errors import PayloadTooLarge, ValidationFailed
from scopix.server.domain.fields import MAX_TAGS
from scopix.server.domain.listing import (
    MAX_FILTER_MEDIA_TYPES,
    MAX_FILTER_TAGS,
    MAX_IDS,
    file_query,
    split_multi,
)


def test_json_bodies_are_capped_at_1_mib() -> None:
    assert MAX_JSON_BODY_BYTES == 1024 * 1024


@pytest.mark.parametrize(
    ("header", "length"),
    [(None, None), ("0", 0), ("1048576", 1048576), ("", None), ("-1", None), ("1e3", None)],
)
def test_declared_length(header: str | None, length: int | None) -> None:
    assert declared_length(header) == length


@given(st.text(max_size=30))
def test_declared_length_is_a_plain_number_or_nothing(header: str) -> None:
    plain = header.isascii() and header.isdigit()
    assert declared_length(header) == (int(header) if plain else None)


@given(st.integers(0, 4096), st.lists(st.integers(0, 1024), max_size=20))
def test_a_budget_refuses_the_chunk_that_passes_its_limit(limit: int, chunks: list[int]) -> None:
    budget = BodyBudget(limit)
    taken = 0
    for size in chunks:
        if taken + size > limit:
            with pytest.raises(PayloadTooLarge) as info:
                budget.take(size)
            assert info.value.code == "PAYLOAD_TOO_LARGE"
            assert info.value.details["limit"] == limit
            return
        budget.take(size)
        taken += size
    assert budget.used == taken <= limit


@given(st.integers(0, 4096), st.one_of(st.none(), st.integers(0, 8192)))
def test_a_budget_refuses_a_declared_length_over_its_limit(
    limit: int, declared: int | None
) -> None:
    budget = BodyBudget(limit)
    if declared is not None and declared > limit:
        with pytest.raises(PayloadTooLarge):
            budget.check_declared(declared)
    else:
        budget.check_declared(declared)
    assert budget.used == 0


def test_split_multi_edges() -> None:
    assert split_multi(None, "tags", 3) == ()
    assert split_multi([], "tags", 3) == ()
    assert split_multi(["", " , "], "tags", 3) == ()
    assert split_multi(["a,b", "b", " c "], "tags", 3) == ("a", "b", "c")


@given(st.lists(st.text(max_size=20), max_size=10), st.integers(0, 12))
def test_split_multi_keeps_distinct_values_up_to_the_cap(values: list[str], cap: int) -> None:
    expected = list(dict.fromkeys(p.strip() for v in values for p in v.split(",") if p.strip()))
    if len(expected) > cap:
        with pytest.raises(ValidationFailed) as info:
            split_multi(values, "media_types", cap)
        assert info.value.details == {"field": "media_types", "limit": cap}
    else:
        assert list(split_multi(values, "media_types", cap)) == expected


@pytest.mark.parametrize(
    ("name", "cap"),
    [("tags", MAX_FILTER_TAGS), ("media_types", MAX_FILTER_MEDIA_TYPES), ("ids", MAX_IDS)],
)
def test_every_repeatable_listing_filter_is_capped(name: str, cap: int) -> None:
    values = [f"v{i}" for i in range(cap + 1)]
    assert len(getattr(file_query(**{name: values[:cap]}), name)) == cap
    with pytest.raises(ValidationFailed) as info:
        file_query(**{name: values})
    assert info.value.details["field"] == name


def test_a_flood_of_one_value_is_one_value() -> None:
    assert file_query(tags=["a"] * 10_000).tags == ("a",)


def test_the_tag_filter_cap_is_the_most_tags_a_file_can_hold() -> None:
    assert MAX_FILTER_TAGS == MAX_TAGS == 40
