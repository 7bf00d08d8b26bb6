"""Requests per minute per tenant: the port, its decision, and its two adapters.

A port like `BlobStore`, wired in the composition root: the embedded profile counts in this
process's memory (`MemoryRateLimiter`); the scale-out profile counts in the Redis its replicas
share (`RedisRateLimiter`), so that a tenant has one count however its requests are spread.

Strategy: `limits`' moving window. It is exact, at most N requests in any 60 seconds, with no
double burst at a window's edge as a fixed window allows, and a refused request takes no slot, so
a client that keeps knocking is not locked out longer. Its cost, one timestamp per counted
request, is at most 500 per tenant at the largest limited tier.

A limit counted in Redis fails open (`FailOpen`): while Redis cannot answer, requests go through
uncounted rather than failing.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar

import redis.asyncio
from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

from scopix.server.domain.breaker import CircuitBreaker

log = logging.getLogger("scopix.limits")

T = TypeVar("T")

#: Seconds to wait for Redis to connect or answer before a limit lets the request through:
#: its scripts answer in well under a millisecond, so this only ever cuts a stall short.
REDIS_TIMEOUT_S: Final = 1.0


@dataclass(frozen=True)
class RateDecision:
    """Whether one request may go ahead, and what its response tells the client."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # whole seconds until the window frees a request

    @property
    def retry_after(self) -> int:
        """Seconds a refused client should wait: the reset, at least 1."""
        return max(self.reset_seconds, 1)


def decide(
    *, allowed: bool, limit: int, remaining: int, reset_at: float, now: float
) -> RateDecision:
    """A decision from a window's state; `reset_at` is when (epoch seconds) it frees a request.

    Seconds round up, so a client that waits `reset_seconds` is never early."""
    return RateDecision(
        allowed=allowed,
        limit=limit,
        remaining=min(max(remaining, 0), limit),
        reset_seconds=max(math.ceil(reset_at - now), 0),
    )


class RateLimiter(Protocol):
    """Counts requests per tenant against a per-minute limit."""

    async def hit(self, tenant_id: str, per_minute: int) -> RateDecision:
        """Count one request of `tenant_id` if it fits in `per_minute`; the decision either way."""
        ...

    async def reset(self) -> None:
        """Forget every count."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class MemoryRateLimiter:
    """One process's counts, in memory: right for the embedded profile's single server."""

    def __init__(self) -> None:
        self._storage = MemoryStorage()
        self._strategy = MovingWindowRateLimiter(self._storage)

    async def hit(self, tenant_id: str, per_minute: int) -> RateDecision:
        return await _count(self._strategy, tenant_id, per_minute)

    async def reset(self) -> None:
        await self._storage.reset()

    async def aclose(self) -> None:
        """Nothing to release: the counts go with the process."""


class RedisRateLimiter:
    """Counts in the Redis at `url` (`redis://host:6379/0`), shared by every replica using it.

    Keys start with `key_prefix`, so `reset` forgets Scopix's counts and nothing else in a Redis
    that Celery shares. The window's timestamps come from each replica's clock (`limits` stamps
    them), so replicas are expected to keep their clocks in step (NTP).

    While Redis cannot answer, a request is let through uncounted (see `FailOpen`): its
    decision allows it, with the whole limit remaining.
    """

    def __init__(self, url: str, *, key_prefix: str = "scopix:ratelimit") -> None:
        self._pool = redis.asyncio.ConnectionPool.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
        )
        # `limits` documents the `connection_pool` option but types its options as scalars.
        options: dict[str, Any] = {"connection_pool": self._pool}
        self._storage = RedisStorage(
            f"async+{url}", implementation="redispy", key_prefix=key_prefix, **options
        )
        self._strategy = MovingWindowRateLimiter(self._storage)
        self._fail_open = FailOpen("rate limits")

    async def hit(self, tenant_id: str, per_minute: int) -> RateDecision:
        now = time.time()
        uncounted = decide(
            allowed=True, limit=per_minute, remaining=per_minute, reset_at=now, now=now
        )
        return await self._fail_open.call(
            lambda: _count(self._strategy, tenant_id, per_minute), uncounted
        )

    async def reset(self) -> None:
        """Forget the counts under this limiter's key prefix (never the whole database)."""
        await self._storage.reset()

    async def aclose(self) -> None:
        await self._pool.aclose()


async def _count(
    strategy: MovingWindowRateLimiter, tenant_id: str, per_minute: int
) -> RateDecision:
    item = RateLimitItemPerMinute(per_minute, namespace="scopix-tenant")
    allowed = await strategy.hit(item, tenant_id)
    stats = await strategy.get_window_stats(item, tenant_id)
    return decide(
        allowed=allowed,
        limit=per_minute,
        remaining=stats.remaining,
        reset_at=stats.reset_time,
        now=time.time(),  # the clock `limits` stamps its entries with
    )


class FailOpen:
    """Runs a limit's Redis calls; while Redis cannot answer, each call returns its fallback.

    A limit keeps one tenant from crowding out the others; it is not the product. Refusing
    every request (or answering 500) while the Redis that keeps the counts is down would turn
    an outage of a counter into an outage of the API, so the request goes through uncounted
    instead. The outage is logged when it starts and when it ends, not once per request, and a
    circuit breaker stops asking a Redis that keeps failing (each try could wait out
    `REDIS_TIMEOUT_S`) until a trial call, a second later and then less and less often, finds
    it back.
    """

    def __init__(self, what: str) -> None:
        self._what = what
        self._breaker = CircuitBreaker(
            failure_threshold=3, reset_timeout_s=1.0, max_reset_timeout_s=15.0
        )
        self._down = False

    async def call(self, redis_call: Callable[[], Awaitable[T]], fallback: T) -> T:
        """`redis_call()`'s answer, or `fallback` when Redis fails it or is presumed down."""
        if not self._breaker.allow(time.monotonic()):
            return fallback
        try:
            answer = await redis_call()
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return fallback
        except BaseException:
            self._breaker.abandon_trial(time.monotonic())
            raise
        self._answered()
        return answer

    def _failed(self, exc: Exception) -> None:
        self._breaker.record_failure(time.monotonic())
        if not self._down:
            self._down = True
            log.warning(
                "%s: Redis does not answer (%s); not counting until it does", self._what, exc
            )

    def _answered(self) -> None:
        self._breaker.record_success(time.monotonic())
        if self._down:
            self._down = False
            log.info("%s: Redis answers again; counting resumes", self._what)
