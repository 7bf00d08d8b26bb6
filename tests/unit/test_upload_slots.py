"""The refusal of one upload too many, which adapters the settings pick, and failing open.

`FailOpen` is driven here by calls that fail as a Redis client does, with its clock moved by
hand; the adapters themselves run against a real Redis in tests/integration."""

from __future__ import annotations

import logging
import time

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from scopix.server.services.ratelimit import FailOpen, MemoryRateLimiter, RedisRateLimiter
from scopix.server.services.upload_slots import (
    MemoryUploadSlots,
    RedisUploadSlots,
    build_limits,
    too_many_uploads,
)
from scopix.server.settings import Settings


class ManualClock:
    """`time.monotonic` that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return time.time()


class FlakyRedis:
    """A Redis call that fails while `down`, counting how often it was made."""

    def __init__(self) -> None:
        self.down = True
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.down:
            raise RedisConnectionError("Connection refused")
        return "counted"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    manual = ManualClock()
    monkeypatch.setattr("scopix.server.services.ratelimit.time", manual)
    return manual


def test_the_refusal_says_the_limit_the_reason_and_when_to_retry() -> None:
    refusal = too_many_uploads(20)
    assert refusal.code == "RATE_LIMITED"
    assert dict(refusal.details) == {
        "limit": 20,
        "reason": "concurrent_uploads",
        "retry_after": 1,
    }
    assert "20 uploads at once" in refusal.message


async def test_without_a_queue_url_limits_count_in_memory() -> None:
    limiter, slots = build_limits(Settings(queue_url=None))
    assert isinstance(limiter, MemoryRateLimiter)
    assert isinstance(slots, MemoryUploadSlots)


async def test_a_queue_url_makes_every_replica_count_in_its_redis() -> None:
    limiter, slots = build_limits(Settings(queue_url="redis://127.0.0.1:6379/0"))
    try:
        assert isinstance(limiter, RedisRateLimiter)
        assert isinstance(slots, RedisUploadSlots)
    finally:
        await limiter.aclose()
        await slots.aclose()


async def test_a_failing_redis_gives_the_fallback_and_is_left_alone_for_a_while(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    guard, redis_call = FailOpen("upload slots"), FlakyRedis()
    with caplog.at_level(logging.INFO, logger="scopix.limits"):
        answers = [await guard.call(redis_call, "uncounted") for _ in range(10)]
    assert answers == ["uncounted"] * 10
    assert redis_call.calls == 3, "after three failures in a row Redis is not asked"
    assert [r.levelno for r in caplog.records] == [logging.WARNING], "one warning per outage"
    assert "upload slots" in caplog.records[0].getMessage()


async def test_a_redis_that_answers_again_is_counted_in_again(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    guard, redis_call = FailOpen("rate limits"), FlakyRedis()
    for _ in range(3):
        await guard.call(redis_call, "uncounted")
    redis_call.down = False
    assert await guard.call(redis_call, "uncounted") == "uncounted"  # still resting
    clock.now += 1.0
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="scopix.limits"):
        assert await guard.call(redis_call, "uncounted") == "counted"  # the trial
        assert await guard.call(redis_call, "uncounted") == "counted"
    assert [r.getMessage() for r in caplog.records] == [
        "rate limits: Redis answers again; counting resumes"
    ]


async def test_other_errors_are_not_an_outage(clock: ManualClock) -> None:
    guard = FailOpen("rate limits")

    async def broken() -> str:
        raise ValueError("a bug, not Redis")

    for _ in range(5):
        with pytest.raises(ValueError):
            await guard.call(broken, "uncounted")
    healthy = FlakyRedis()
    healthy.down = False
    assert await guard.call(healthy, "uncounted") == "counted"
