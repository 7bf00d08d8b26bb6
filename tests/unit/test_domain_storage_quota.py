"""Storage quotas by tier, reserve/release arithmetic, the free-disk minimum, their settings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from scopix.server.domain.errors import InsufficientStorage, QuotaExceeded
from scopix.server.domain.storage_quota import (
    MIN_FREE_DISK_FLOOR,
    StorageStanding,
    after_release,
    after_reserve,
    check_disk_room,
    min_free_disk,
    over_quota,
    storage_limit,
)
from scopix.server.domain.tiers import GiB, TiB, tier_named
from scopix.server.settings import Settings

# The table: free 1 GiB, starter 50 GiB, professional 500 GiB, enterprise 5 TiB.
TIER_QUOTAS = {
    "free": 1 * GiB,
    "starter": 50 * GiB,
    "professional": 500 * GiB,
    "enterprise": 5 * TiB,
    "custom": None,
}


@pytest.mark.parametrize(("name", "quota"), sorted(TIER_QUOTAS.items()))
def test_each_tier_has_its_storage_quota(name: str, quota: int | None) -> None:
    assert storage_limit(tier_named(name), {}) == quota


def test_settings_override_the_quota_of_the_tiers_they_name() -> None:
    overrides = {"free": 5_000, "enterprise": None}
    assert storage_limit(tier_named("free"), overrides) == 5_000
    assert storage_limit(tier_named("enterprise"), overrides) is None
    assert storage_limit(tier_named("starter"), overrides) == 50 * GiB


def test_standing_says_what_is_left() -> None:
    assert StorageStanding(used=30, limit=100).available == 70
    assert StorageStanding(used=130, limit=100).available == 0  # a lowered quota
    assert StorageStanding(used=10**15, limit=None).available is None
    assert StorageStanding(used=30, limit=100).fits(70)
    assert not StorageStanding(used=30, limit=100).fits(71)
    assert StorageStanding(used=10**15, limit=None).fits(10**15)


def test_the_refusal_carries_available_and_limit() -> None:
    refusal = over_quota(StorageStanding(used=900, limit=1_000), 250)
    assert isinstance(refusal, QuotaExceeded)
    assert refusal.code == "QUOTA_EXCEEDED"
    assert refusal.details["available"] == 100
    assert refusal.details["limit"] == 1_000
    assert refusal.details["requested"] == 250
    assert "250" in refusal.message and "1,000" in refusal.message


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="refund"):
        after_reserve(0, 10, -1)
    with pytest.raises(ValueError, match="charge"):
        after_release(10, -1)


_OPS = st.lists(
    st.tuples(st.sampled_from(["reserve", "release"]), st.integers(0, 2_000)), max_size=60
)


@given(limit=st.none() | st.integers(0, 10_000), ops=_OPS)
def test_reserve_and_release_never_go_negative_or_over_the_limit(
    limit: int | None, ops: list[tuple[str, int]]
) -> None:
    used = 0
    for op, nbytes in ops:
        if op == "reserve":
            after = after_reserve(used, limit, nbytes)
            fits = limit is None or used + nbytes <= limit
            assert (after is not None) == fits
            used = used if after is None else after
        else:
            used = after_release(used, nbytes)
        assert used >= 0
        assert limit is None or used <= limit


@given(used=st.integers(0, 10**13), nbytes=st.integers(0, 10**13))
def test_a_reservation_given_back_leaves_the_count_as_it_was(used: int, nbytes: int) -> None:
    reserved = after_reserve(used, None, nbytes)
    assert reserved is not None
    assert after_release(reserved, nbytes) == used


# --- the free-disk guard ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "minimum"),
    [
        (10 * GiB, MIN_FREE_DISK_FLOOR),  # 5 % is 512 MiB: the 1 GiB floor holds
        (20 * GiB, 1 * GiB),  # the two meet
        (1 * TiB, 1 * TiB // 20),  # 5 % of a large disk
    ],
)
def test_the_disk_keeps_the_larger_of_1_gib_and_5_percent(total: int, minimum: int) -> None:
    assert min_free_disk(total) == minimum


def test_settings_set_the_disk_minimum() -> None:
    assert min_free_disk(1 * TiB, override=0) == 0
    assert min_free_disk(1 * TiB, override=123) == 123


def test_an_upload_that_would_leave_too_little_free_is_refused() -> None:
    total, free = 100 * GiB, 6 * GiB  # minimum: 5 GiB
    check_disk_room(free, total, incoming=1 * GiB)  # exactly the minimum is left: fine
    with pytest.raises(InsufficientStorage) as refused:
        check_disk_room(free, total, incoming=1 * GiB + 1)
    assert refused.value.code == "INSUFFICIENT_STORAGE"
    with pytest.raises(InsufficientStorage):  # already under it: even bytes on disk count
        check_disk_room(4 * GiB, total, incoming=0)


@given(
    total=st.integers(0, 2**50),
    free=st.integers(0, 2**50),
    incoming=st.integers(0, 2**45),
    override=st.none() | st.integers(0, 2**50),
)
def test_the_guard_passes_exactly_when_the_minimum_is_kept(
    total: int, free: int, incoming: int, override: int | None
) -> None:
    minimum = min_free_disk(total, override)
    try:
        check_disk_room(free, total, incoming, override)
    except InsufficientStorage:
        assert free - incoming < minimum
    else:
        assert free - incoming >= minimum


# --- settings --------------------------------------------------------------------------------


def test_quota_overrides_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCOPIX_STORAGE_QUOTA_BYTES__FREE", "2147483648")
    monkeypatch.setenv("SCOPIX_STORAGE_QUOTA_BYTES__STARTER", "unlimited")
    monkeypatch.setenv("SCOPIX_MIN_FREE_DISK_BYTES", "1000")
    settings = Settings()
    assert settings.storage_quota_bytes == {"free": 2 * GiB, "starter": None}
    assert settings.min_free_disk_bytes == 1000


@pytest.mark.parametrize("quotas", [{"gold": 5}, {"free": -1}, {"free": "lots"}])
def test_bad_quota_overrides_are_refused(quotas: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(storage_quota_bytes=quotas)
