"""Tiers, quota arithmetic, dedup decisions, listing rules, blob keys, ids and variant names."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scopix.server.domain.blobkeys import blob_prefix, original_key, parse_blob_prefix, variant_key
from scopix.server.domain.dedup import DedupOutcome, dedup_outcome
from scopix.server.domain.errors import ValidationFailed
from scopix.server.domain.ids import looks_like_id, new_id
from scopix.server.domain.listing import MAX_IDS, MAX_LIMIT, SORT_FIELDS, file_query
from scopix.server.domain.quota import CREDITS_PER_ITEM, billing_period, credits_for, standing
from scopix.server.domain.tiers import TIERS, UNLIMITED, Tier, tier_named
from scopix.server.domain.variants import ORIGINAL, THUMBNAIL, VARIANT_SIZES, is_known_variant

# --- tiers -------------------------------------------------------------------------------------

# API.md: requests/min, concurrent uploads, files per batch request, descriptions per month.
API_TIERS = {
    "free": (10, 10, 10, 10),
    "starter": (30, 20, 50, 500),
    "professional": (100, 30, 100, 2_500),
    "enterprise": (500, 50, 200, 10_000),
}


@pytest.mark.parametrize(("name", "numbers"), sorted(API_TIERS.items()))
def test_tier_table_matches_api_md(name: str, numbers: tuple[int, int, int, int]) -> None:
    tier = tier_named(name)
    assert tier.name == name
    assert (
        tier.requests_per_minute,
        tier.max_concurrent_uploads,
        tier.max_batch_size,
        tier.monthly_descriptions,
    ) == numbers


def test_custom_tier_is_unlimited() -> None:
    custom = tier_named("custom")
    assert custom.requests_per_minute == UNLIMITED
    assert custom.max_concurrent_uploads == UNLIMITED
    assert custom.monthly_descriptions == UNLIMITED
    assert custom.max_batch_size >= 10_000  # the SDK sends at most 10,000 files per call


def test_tier_names() -> None:
    assert set(TIERS) == {*API_TIERS, "custom"}
    assert all(t.name == n for n, t in TIERS.items())


@pytest.mark.parametrize("name", ["", "Free", "gold", "free "])
def test_unknown_tier_refused(name: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        tier_named(name)
    assert info.value.details["field"] == "tier"
    assert info.value.details["allowed"] == sorted(TIERS)


# --- quota -------------------------------------------------------------------------------------


def test_standing_uses_monthly_allowance_then_prepaid() -> None:
    s = standing(tier_named("starter"), used=480, prepaid=5, requested=25)
    assert s.available == 25
    assert s.can_proceed
    assert (s.monthly_limit, s.current_usage, s.prepaid_credits) == (500, 480, 5)
    assert (s.max_batch_size, s.max_concurrent_uploads) == (50, 20)
    assert s.message == "25 descriptions available"


def test_standing_refuses_one_over() -> None:
    s = standing(tier_named("free"), used=4, prepaid=0, requested=7)
    assert s.available == 6
    assert not s.can_proceed
    assert "7 descriptions requested but only 6 available" in s.message
    assert "4 of 10 used this month" in s.message


def test_overused_month_counts_zero_not_negative() -> None:
    s = standing(tier_named("free"), used=25, prepaid=3, requested=3)
    assert s.available == 3
    assert s.can_proceed
    assert standing(tier_named("free"), used=25, prepaid=0, requested=1).available == 0


def test_negative_prepaid_counts_zero() -> None:
    assert standing(tier_named("free"), used=0, prepaid=-50, requested=0).available == 10


def test_custom_tier_never_overflows() -> None:
    s = standing(tier_named("custom"), used=0, prepaid=10**6, requested=10_000)
    assert s.available == UNLIMITED
    assert s.can_proceed


tiers_st = st.sampled_from(sorted(TIERS.values(), key=lambda t: t.name))


@given(
    tiers_st,
    st.integers(0, 20_000),
    st.integers(-100, 100_000),
    st.integers(0, 200_000),
)
@settings(max_examples=500)
def test_standing_property(tier: Tier, used: int, prepaid: int, requested: int) -> None:
    s = standing(tier, used=used, prepaid=prepaid, requested=requested)
    expected = min(max(tier.monthly_descriptions - used, 0) + max(prepaid, 0), UNLIMITED)
    assert s.available == expected
    assert 0 <= s.available <= UNLIMITED
    assert s.can_proceed is (requested <= s.available)
    assert s.requested == requested
    assert s.monthly_limit == tier.monthly_descriptions
    assert s.max_batch_size == tier.max_batch_size
    assert str(s.available) in s.message


@given(tiers_st, st.integers(0, 20_000), st.integers(0, 100_000))
@settings(max_examples=200)
def test_more_usage_never_means_more_available(tier: Tier, used: int, prepaid: int) -> None:
    a = standing(tier, used=used, prepaid=prepaid, requested=0).available
    b = standing(tier, used=used + 1, prepaid=prepaid, requested=0).available
    assert b <= a
    assert standing(tier, used=used, prepaid=prepaid + 1, requested=0).available >= a


def test_billing_period() -> None:
    assert billing_period(datetime(2024, 1, 31, 23, 59, 59, tzinfo=UTC)) == "2024-01"
    assert billing_period(datetime(2024, 2, 1, 0, 0, tzinfo=UTC)) == "2024-02"
    assert billing_period(datetime(2025, 12, 15, tzinfo=UTC)) == "2025-12"
    assert billing_period(datetime(2030, 7, 4)) == "2030-07"


def test_billing_period_uses_utc_month() -> None:
    # 2024-05-01 01:00 at UTC+2 is still April in UTC.
    assert billing_period(datetime(2024, 5, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))) == (
        "2024-04"
    )


@given(st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.just(UTC)))
def test_billing_period_property(now: datetime) -> None:
    period = billing_period(now)
    assert len(period) == 7
    year, month = period.split("-")
    assert int(year) == now.year and int(month) == now.month


# --- dedup -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("live", "blob", "skip", "outcome"),
    [
        (False, False, False, DedupOutcome.NEW),
        (False, False, True, DedupOutcome.NEW),
        (False, True, False, DedupOutcome.SHARED),
        (False, True, True, DedupOutcome.SHARED),  # nothing live to answer with: share the blob
        (True, False, False, DedupOutcome.SHARED),
        (True, True, False, DedupOutcome.SHARED),
        (True, False, True, DedupOutcome.SKIPPED),
        (True, True, True, DedupOutcome.SKIPPED),
    ],
)
def test_dedup_truth_table(live: bool, blob: bool, skip: bool, outcome: DedupOutcome) -> None:
    assert dedup_outcome(live_file_exists=live, blob_exists=blob, skip_duplicates=skip) is outcome


def test_dedup_values() -> None:
    assert {o.value for o in DedupOutcome} == {"new", "shared", "skipped"}


# --- listing -----------------------------------------------------------------------------------


def test_file_query_defaults() -> None:
    q = file_query()
    # No sort given: the repository sorts by relevance when searching, else by created_at.
    assert (q.limit, q.offset, q.sort_by, q.descending) == (20, 0, None, True)
    assert q.tags == q.media_types == q.ids == ()
    assert q.date_from is None and q.date_to is None and q.has_description is None


@pytest.mark.parametrize("limit", [1, 20, 100])
def test_limit_in_range(limit: int) -> None:
    assert file_query(limit=limit).limit == limit


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"limit": 0}, "limit"),
    ({"limit": 101}, "limit"),
    ({"limit": -1}, "limit"),
    ({"offset": -1}, "offset"),
    ({"sort_by": "name"}, "sort_by"),
    ({"sort_by": "CREATED_AT"}, "sort_by"),
    ({"sort_order": "up"}, "sort_order"),
    ({"sort_order": ""}, "sort_order"),
])  # fmt: skip
def test_bad_listing_parameters(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        file_query(**kwargs)  # type: ignore[arg-type]
    assert info.value.details["field"] == field


def test_large_offset_accepted() -> None:
    assert file_query(offset=10**9).offset == 10**9


@pytest.mark.parametrize("field", SORT_FIELDS)
@pytest.mark.parametrize(("order", "descending"), [("asc", False), ("desc", True)])
def test_sort_fields_and_orders(field: str, order: str, descending: bool) -> None:
    q = file_query(sort_by=field, sort_order=order)
    assert (q.sort_by, q.descending) == (field, descending)


def test_sort_fields_match_api_md() -> None:
    assert set(SORT_FIELDS) == {"content_created_at", "created_at", "title", "size_bytes"}


def test_ids_limit() -> None:
    ids = [new_id() for _ in range(MAX_IDS)]
    assert file_query(ids=ids).ids == tuple(ids)
    assert file_query(ids=[",".join(ids)]).ids == tuple(ids)
    assert len(file_query(ids=ids + ids).ids) == 500  # duplicates count once
    with pytest.raises(ValidationFailed) as info:
        file_query(ids=[*ids, new_id()])
    assert info.value.details["field"] == "ids"


def test_comma_and_repeat_splitting() -> None:
    q = file_query(tags=["a,b", "c", " b ", ",,"], media_types=["image", "image,video"])
    assert q.tags == ("a", "b", "c")
    assert q.media_types == ("image", "video")


def test_date_order() -> None:
    early = datetime(2024, 1, 1, tzinfo=UTC)
    late = datetime(2024, 6, 1, tzinfo=UTC)
    assert file_query(date_from=early, date_to=late).date_from == early
    assert file_query(date_from=early, date_to=early).date_to == early
    assert file_query(date_from=late).date_from == late
    assert file_query(date_to=early).date_to == early
    inverted = file_query(date_from=late, date_to=early)  # a valid, empty range
    assert (inverted.date_from, inverted.date_to) == (late, early)


def test_naive_dates_are_utc() -> None:
    query = file_query(date_from=datetime(2024, 1, 1), date_to=datetime(2024, 2, 1, tzinfo=UTC))
    assert query.date_from == datetime(2024, 1, 1, tzinfo=UTC)


def test_has_description_passes_through() -> None:
    assert file_query(has_description=True).has_description is True
    assert file_query(has_description=False).has_description is False


@given(
    st.integers(-5, 110),
    st.integers(-5, 10**6),
    st.sampled_from([*SORT_FIELDS, "nope", ""]),
    st.sampled_from(["asc", "desc", "ASC", "x"]),
)
@settings(max_examples=300)
def test_file_query_property(limit: int, offset: int, sort_by: str, sort_order: str) -> None:
    ok = 1 <= limit <= MAX_LIMIT and offset >= 0 and sort_by in SORT_FIELDS
    ok = ok and sort_order in ("asc", "desc")
    try:
        q = file_query(limit=limit, offset=offset, sort_by=sort_by, sort_order=sort_order)
    except ValidationFailed as exc:
        assert not ok
        assert exc.details["field"] in ("limit", "offset", "sort_by", "sort_order")
    else:
        assert ok
        assert (q.limit, q.offset, q.sort_by) == (limit, offset, sort_by)


# --- blob keys ---------------------------------------------------------------------------------

sha256s = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
tenants = st.text(min_size=1, max_size=40).filter(lambda t: "/" not in t)


def test_blob_layout() -> None:
    sha = "ab" + "0" * 62
    assert blob_prefix("t1", sha) == f"t1/ab/{sha}"
    assert original_key("t1", sha) == f"t1/ab/{sha}/original"
    assert variant_key("t1", sha, "small_256") == f"t1/ab/{sha}/small_256.webp"


@pytest.mark.parametrize(
    "sha", ["", "AB" + "0" * 62, "ab" * 31, "g" * 64, "a" * 65, " " + "a" * 63]
)
def test_blob_prefix_refuses_non_digests(sha: str) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        blob_prefix("t1", sha)
    with pytest.raises(ValueError):
        original_key("t1", sha)


@given(tenants, sha256s)
@settings(max_examples=300)
def test_blob_prefix_round_trip(tenant: str, sha: str) -> None:
    assert parse_blob_prefix(blob_prefix(tenant, sha)) == (tenant, sha)


@pytest.mark.parametrize(
    "prefix",
    [
        "",
        "t1",
        "t1/ab",
        f"t1/cd/ab{'0' * 62}",
        f"t1/ab/ab{'0' * 62}/original",
        f"a/t1/ab/ab{'0' * 62}",
        f"t1/AB/AB{'0' * 62}",
        f"t1/ab/ab{'0' * 61}",
    ],
)
def test_parse_blob_prefix_refuses_garbage(prefix: str) -> None:
    assert parse_blob_prefix(prefix) is None


@given(st.text(max_size=120))
@settings(max_examples=300)
def test_parse_blob_prefix_property(prefix: str) -> None:
    parsed = parse_blob_prefix(prefix)
    if parsed is not None:
        tenant, sha = parsed
        assert blob_prefix(tenant, sha) == prefix


@given(tenants, sha256s, st.sampled_from(sorted(VARIANT_SIZES)))
def test_keys_live_under_the_prefix(tenant: str, sha: str, variant: str) -> None:
    prefix = blob_prefix(tenant, sha)
    assert original_key(tenant, sha).startswith(prefix + "/")
    assert variant_key(tenant, sha, variant).startswith(prefix + "/")
    assert original_key(tenant, sha) != variant_key(tenant, sha, variant)


# --- ids ---------------------------------------------------------------------------------------


def test_new_id_is_a_uuid7() -> None:
    value = new_id()
    parsed = uuid.UUID(value)
    assert parsed.version == 7
    assert str(parsed) == value  # canonical, lower case
    assert looks_like_id(value)


def test_new_ids_sort_by_time() -> None:
    first = new_id()
    time.sleep(0.002)
    second = new_id()
    assert first < second
    burst = [new_id() for _ in range(2_000)]
    assert len(set(burst)) == len(burst)
    assert burst == sorted(burst)
    assert second < burst[0]


def test_new_id_carries_its_time() -> None:
    before = int(time.time() * 1000)
    value = new_id()
    after = int(time.time() * 1000)
    millis = uuid.UUID(value).int >> 80
    assert before - 1 <= millis <= after + 1


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not-an-id",
        "0190d3e0-2a5b-7c3d-8e4f-5a6b7c8d9e0",
        "0190D3E0-2A5B-7C3D-8E4F-5A6B7C8D9E0F",
        "0190d3e02a5b7c3d8e4f5a6b7c8d9e0f",
        " 0190d3e0-2a5b-7c3d-8e4f-5a6b7c8d9e0f",
        "0190d3e0-2a5b-7c3d-8e4f-5a6b7c8d9e0f\n",
        "{0190d3e0-2a5b-7c3d-8e4f-5a6b7c8d9e0f}",
    ],
)
def test_looks_like_id_refuses(value: str) -> None:
    assert not looks_like_id(value)


@given(st.uuids())
def test_looks_like_id_accepts_canonical_uuids(value: uuid.UUID) -> None:
    assert looks_like_id(str(value))


@given(st.text(max_size=40))
def test_looks_like_id_property(value: str) -> None:
    if looks_like_id(value):
        assert str(uuid.UUID(value)) == value


# --- variants ----------------------------------------------------------------------------------


def test_variant_names_match_api_md() -> None:
    assert VARIANT_SIZES == {"tiny_64": 64, "small_256": 256, "medium_750": 750, "large_1024": 1024}
    assert THUMBNAIL == "small_256"
    assert ORIGINAL == "original"


@pytest.mark.parametrize("name", ["original", "tiny_64", "small_256", "medium_750", "large_1024"])
def test_known_variants(name: str) -> None:
    assert is_known_variant(name)


@pytest.mark.parametrize(
    "name", ["", "thumbnail", "small", "large_2048", "ORIGINAL", "../original"]
)
def test_unknown_variants(name: str) -> None:
    assert not is_known_variant(name)


def test_every_analysis_level_costs_one_credit_an_item() -> None:
    assert set(CREDITS_PER_ITEM) == {"basic", "standard", "detailed"}
    for level in ("basic", "standard", "detailed"):
        assert credits_for(7, level) == 7
