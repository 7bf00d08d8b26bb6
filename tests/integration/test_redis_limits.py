"""Limits shared by replicas through a real Redis, and the upload slots' contract.

Each test keys its counts under a namespace of its own (the `redis_namespace` fixture) and
deletes only those keys: the Redis may be shared. Two adapters on one namespace stand for two
replicas. The slot tests that hold for either adapter run on both: two Redis replicas, or one
process's memory.

No test waits for the rate window: the limiter's clock is moved on instead. The lease tests
sleep a few tenths of a second in all.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import suppress

import anyio
import pytest
import redis

from scopix.server.domain.errors import RateLimited
from scopix.server.services.ratelimit import RedisRateLimiter
from scopix.server.services.upload_slots import MemoryUploadSlots, RedisUploadSlots, UploadSlots

Replicas = tuple[UploadSlots, UploadSlots]


@pytest.fixture
def tenant() -> str:
    return f"tenant-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def limiters(
    redis_url: str, redis_namespace: str
) -> AsyncIterator[tuple[RedisRateLimiter, RedisRateLimiter]]:
    """Two replicas' rate limiters on one Redis."""
    pair = tuple(
        RedisRateLimiter(redis_url, key_prefix=f"{redis_namespace}:ratelimit") for _ in "ab"
    )
    yield pair[0], pair[1]
    for limiter in pair:
        await limiter.aclose()


def redis_slots(redis_url: str, namespace: str, lease_seconds: float = 60.0) -> RedisUploadSlots:
    return RedisUploadSlots(
        redis_url, lease_seconds=lease_seconds, key_prefix=f"{namespace}:upload-slots"
    )


@pytest.fixture(params=["memory", "redis"])
async def replicas(request: pytest.FixtureRequest) -> AsyncIterator[Replicas]:
    """Where two uploads count: two replicas sharing Redis, or one process's memory."""
    if request.param == "memory":
        memory = MemoryUploadSlots()
        yield memory, memory
        return
    url: str = request.getfixturevalue("redis_url")
    redis_namespace: str = request.getfixturevalue("redis_namespace")
    first, second = redis_slots(url, redis_namespace), redis_slots(url, redis_namespace)
    yield first, second
    await first.aclose()
    await second.aclose()


class ShiftedClock:
    """The wall clock moved on by `shift` seconds: what `limits` stamps window entries with."""

    def __init__(self) -> None:
        self.shift = 0.0

    def time(self) -> float:
        return time.time() + self.shift

    def monotonic(self) -> float:
        return time.monotonic()


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there


# Rate limits


async def test_replicas_share_one_count_per_tenant(
    limiters: tuple[RedisRateLimiter, RedisRateLimiter], tenant: str
) -> None:
    first, second = limiters
    decisions = [await limiter.hit(tenant, 3) for limiter in (first, second, first, second)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert 1 <= decisions[-1].retry_after <= 60


async def test_tenants_are_counted_apart(
    limiters: tuple[RedisRateLimiter, RedisRateLimiter], tenant: str
) -> None:
    first, second = limiters
    assert (await first.hit(tenant, 1)).allowed
    assert not (await second.hit(tenant, 1)).allowed
    assert (await second.hit(f"{tenant}-other", 1)).allowed


async def test_the_window_moves_on_one_request_at_a_time(
    limiters: tuple[RedisRateLimiter, RedisRateLimiter],
    tenant: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = ShiftedClock()
    monkeypatch.setattr("limits.aio.storage.redis.redispy.time", clock)
    monkeypatch.setattr("scopix.server.services.ratelimit.time", clock)
    first, second = limiters
    assert (await first.hit(tenant, 2)).allowed
    clock.shift = 30
    assert (await second.hit(tenant, 2)).allowed
    refused = await first.hit(tenant, 2)
    assert not refused.allowed
    assert 29 <= refused.reset_seconds <= 30  # when the first request leaves the window

    clock.shift = 61  # the first request has left the window; the second has not
    assert (await second.hit(tenant, 2)).allowed
    again = await first.hit(tenant, 2)
    assert not again.allowed
    assert 28 <= again.reset_seconds <= 29


async def test_reset_forgets_only_the_limiters_own_keys(
    limiters: tuple[RedisRateLimiter, RedisRateLimiter],
    tenant: str,
    redis_url: str,
    redis_namespace: str,
) -> None:
    first, _ = limiters
    neighbour = f"{redis_namespace}:celery-task"  # another user of the same Redis
    client = redis.Redis.from_url(redis_url)
    try:
        client.set(neighbour, "keep me")
        await first.hit(tenant, 1)
        assert not (await first.hit(tenant, 1)).allowed
        await first.reset()
        assert (await first.hit(tenant, 1)).allowed
        assert client.get(neighbour) == b"keep me"
    finally:
        client.close()


async def test_a_redis_that_is_down_lets_requests_through_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{unused_port()}/0")
    try:
        with caplog.at_level(logging.WARNING, logger="scopix.limits"):
            decisions = [await limiter.hit("t1", 2) for _ in range(5)]
    finally:
        await limiter.aclose()
    assert all(d.allowed for d in decisions)
    assert {(d.limit, d.remaining, d.reset_seconds) for d in decisions} == {(2, 2, 0)}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "rate limits" in warnings[0].getMessage()


# Upload slots, either adapter


async def test_slots_are_shared_and_one_more_than_the_limit_is_refused(
    replicas: Replicas, tenant: str
) -> None:
    first, second = replicas
    async with first.hold(tenant, 2), second.hold(tenant, 2):
        with pytest.raises(RateLimited) as refused:
            async with first.hold(tenant, 2):
                pytest.fail("a third upload at once")
        assert refused.value.code == "RATE_LIMITED"
        assert dict(refused.value.details) == {
            "limit": 2,
            "reason": "concurrent_uploads",
            "retry_after": 1,
        }
        async with second.hold(f"{tenant}-other", 2):  # another tenant's slots are its own
            pass
    async with first.hold(tenant, 2), second.hold(tenant, 2):  # both given back
        pass


async def test_a_slot_is_given_back_when_its_upload_fails(replicas: Replicas, tenant: str) -> None:
    first, second = replicas
    with pytest.raises(ValueError):
        async with first.hold(tenant, 1):
            raise ValueError("corrupt file")
    async with second.hold(tenant, 1):
        pass


async def test_a_slot_is_given_back_when_its_task_is_cancelled(
    replicas: Replicas, tenant: str
) -> None:
    first, second = replicas
    holding = asyncio.Event()

    async def upload() -> None:
        async with first.hold(tenant, 1):
            holding.set()
            await asyncio.Event().wait()  # a client that never finishes sending

    task = asyncio.create_task(upload())
    await holding.wait()
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
    async with second.hold(tenant, 1):
        pass


async def test_a_slot_is_given_back_when_its_cancel_scope_is_cancelled(
    replicas: Replicas, tenant: str
) -> None:
    first, second = replicas
    # anyio cancels every await inside a cancelled scope, giving the slot back included,
    # unless that is shielded.
    with anyio.CancelScope() as scope:
        async with first.hold(tenant, 1):
            scope.cancel()
            await anyio.sleep(60)
    assert scope.cancelled_caught
    async with second.hold(tenant, 1):
        pass


@pytest.mark.parametrize(("uploads", "limit"), [(12, 1), (30, 3), (40, 10)])
async def test_racing_uploads_never_hold_more_than_the_limit(
    replicas: Replicas, tenant: str, uploads: int, limit: int
) -> None:
    holding = peak = admitted = 0

    async def upload(slots: UploadSlots) -> None:
        nonlocal holding, peak, admitted
        with suppress(RateLimited):
            async with slots.hold(tenant, limit):
                holding += 1
                admitted += 1
                peak = max(peak, holding)
                await asyncio.sleep(0.01)
                holding -= 1

    for _ in range(3):
        await asyncio.gather(*(upload(replicas[i % 2]) for i in range(uploads)))
    assert peak == limit  # all were taken at once, and never one more
    assert admitted >= 3 * limit
    async with anyio.create_task_group() as all_back:  # every slot was given back
        for _ in range(limit):
            all_back.start_soon(upload, replicas[0])
    assert admitted >= 4 * limit


# Upload slots in Redis


async def test_a_vanished_holders_slot_frees_after_its_lease(
    redis_url: str, redis_namespace: str, tenant: str
) -> None:
    crashing = redis_slots(redis_url, redis_namespace, lease_seconds=0.2)
    survivor = redis_slots(redis_url, redis_namespace)
    try:
        assert await crashing.acquire(tenant, 1) is not None  # and never given back
        assert await survivor.acquire(tenant, 1) is None
        await asyncio.sleep(0.3)
        assert await survivor.acquire(tenant, 1) is not None
    finally:
        await crashing.aclose()
        await survivor.aclose()


async def test_a_long_upload_renews_its_lease(
    redis_url: str, redis_namespace: str, tenant: str
) -> None:
    slow = redis_slots(redis_url, redis_namespace, lease_seconds=0.2)
    other = redis_slots(redis_url, redis_namespace)
    try:
        async with slow.hold(tenant, 1):
            await asyncio.sleep(0.5)  # more than two leases
            assert await other.acquire(tenant, 1) is None
        assert await other.acquire(tenant, 1) is not None
    finally:
        await slow.aclose()
        await other.aclose()


async def test_a_tenant_without_uploads_leaves_no_key(
    redis_url: str, redis_namespace: str, tenant: str
) -> None:
    slots = redis_slots(redis_url, redis_namespace)
    client = redis.Redis.from_url(redis_url)
    try:
        async with slots.hold(tenant, 2):
            assert client.exists(f"{redis_namespace}:upload-slots:{tenant}")
        assert not client.exists(f"{redis_namespace}:upload-slots:{tenant}")
    finally:
        await slots.aclose()
        client.close()


async def test_slots_go_uncounted_while_redis_is_down(caplog: pytest.LogCaptureFixture) -> None:
    slots = RedisUploadSlots(f"redis://127.0.0.1:{unused_port()}/0")
    try:
        with caplog.at_level(logging.WARNING, logger="scopix.limits"):
            async with slots.hold("t1", 1), slots.hold("t1", 1):
                pass
    finally:
        await slots.aclose()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "upload slots" in warnings[0].getMessage()
