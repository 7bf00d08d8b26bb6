"""Rate-limit decisions, their headers, and the in-memory moving-window limiter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.api.ratelimit import STATE_KEY, enforce, rate_limit_headers
from scopix.server.domain.errors import RateLimited
from scopix.server.domain.tiers import TIERS, UNLIMITED
from scopix.server.services.ratelimit import MemoryRateLimiter, RateDecision, decide

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("reset_in", "seconds"),
    [(60.0, 60), (59.2, 60), (0.3, 1), (1.0, 1), (0.0, 0), (-4.0, 0)],
)
def test_reset_is_whole_seconds_rounded_up(reset_in: float, seconds: int) -> None:
    decision = decide(allowed=True, limit=10, remaining=3, reset_at=NOW + reset_in, now=NOW)
    assert decision.reset_seconds == seconds


def test_retry_after_is_the_reset_and_at_least_one_second() -> None:
    assert (
        decide(allowed=False, limit=10, remaining=0, reset_at=NOW + 41.5, now=NOW).retry_after == 42
    )
    assert decide(allowed=False, limit=10, remaining=0, reset_at=NOW, now=NOW).retry_after == 1


@given(
    limit=st.integers(1, 500),
    remaining=st.integers(-1000, 1000),
    reset_in=st.floats(-120, 120, allow_nan=False),
)
def test_decisions_stay_in_range(limit: int, remaining: int, reset_in: float) -> None:
    reset_at = NOW + reset_in
    decision = decide(allowed=False, limit=limit, remaining=remaining, reset_at=reset_at, now=NOW)
    assert 0 <= decision.remaining <= limit
    assert decision.reset_seconds >= 0
    assert NOW + decision.reset_seconds >= reset_at  # a client that waits this long is not early
    assert decision.retry_after >= 1


def test_headers_of_an_allowed_request() -> None:
    headers = rate_limit_headers(RateDecision(True, limit=30, remaining=12, reset_seconds=17))
    assert headers == {
        "X-RateLimit-Limit": "30",
        "X-RateLimit-Remaining": "12",
        "X-RateLimit-Reset": "17",
    }


def test_headers_of_a_refused_request_add_retry_after() -> None:
    headers = rate_limit_headers(RateDecision(False, limit=10, remaining=0, reset_seconds=0))
    assert headers["X-RateLimit-Remaining"] == "0"
    assert headers["X-RateLimit-Reset"] == "0"
    assert headers["Retry-After"] == "1"


async def test_memory_limiter_counts_down_then_refuses() -> None:
    limiter = MemoryRateLimiter()
    decisions = [await limiter.hit("t1", 3) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert {d.limit for d in decisions} == {3}
    for d in decisions:
        assert 1 <= d.reset_seconds <= 60


async def test_memory_limiter_keeps_tenants_apart_and_forgets_on_reset() -> None:
    limiter = MemoryRateLimiter()
    for _ in range(2):
        await limiter.hit("t1", 2)
    assert not (await limiter.hit("t1", 2)).allowed
    assert (await limiter.hit("t2", 2)).remaining == 1
    await limiter.reset()
    assert (await limiter.hit("t1", 2)).remaining == 1


async def test_enforce_records_the_decision_and_raises_when_refused() -> None:
    limiter = MemoryRateLimiter()
    first: dict[str, object] = {}
    await enforce(limiter, first, "t1", 1)
    assert isinstance(first[STATE_KEY], RateDecision)
    state: dict[str, object] = {}  # each request has a state of its own
    with pytest.raises(RateLimited) as refused:
        await enforce(limiter, state, "t1", 1)
    assert refused.value.code == "RATE_LIMITED"
    decision = state[STATE_KEY]
    assert isinstance(decision, RateDecision) and not decision.allowed
    assert dict(refused.value.details) == {"limit": 1, "retry_after": decision.retry_after}


async def test_a_request_is_counted_once_however_often_it_is_checked() -> None:
    limiter = MemoryRateLimiter()
    state: dict[str, object] = {}
    for _ in range(3):  # the idempotency layer, then the route, check the same request
        await enforce(limiter, state, "t1", 1)  # a second count would be over the limit of 1
    with pytest.raises(RateLimited):
        await enforce(limiter, {}, "t1", 1)


async def test_enforce_leaves_the_unlimited_tier_alone() -> None:
    assert TIERS["custom"].requests_per_minute == UNLIMITED
    limiter = MemoryRateLimiter()
    state: dict[str, object] = {}
    for _ in range(50):
        await enforce(limiter, state, "t1", UNLIMITED)
    assert state == {}
