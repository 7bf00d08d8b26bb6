"""Requests per minute per tenant: the port, its decision, and the in-process adapter.

A port like `BlobStore`, wired in the composition root: the embedded profile counts in this
process's memory; the scale-out profile can swap in one that counts in Redis (the `limits` library
has the same strategy over Redis), so that replicas share one count per tenant.

Strategy: `limits`' moving window. It is exact, at most N requests in any 60 seconds, with no
double burst at a window's edge as a fixed window allows, and a refused request takes no slot, so
a client that keeps knocking is not locked out longer. Its cost, one timestamp per counted
request, is at most 500 per tenant at the largest limited tier.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter


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


class MemoryRateLimiter:
    """One process's counts, in memory: right for the embedded profile's single server."""

    def __init__(self) -> None:
        self._storage = MemoryStorage()
        self._strategy = MovingWindowRateLimiter(self._storage)

    async def hit(self, tenant_id: str, per_minute: int) -> RateDecision:
        item = RateLimitItemPerMinute(per_minute, namespace="scopix-tenant")
        allowed = await self._strategy.hit(item, tenant_id)
        stats = await self._strategy.get_window_stats(item, tenant_id)
        return decide(
            allowed=allowed,
            limit=per_minute,
            remaining=stats.remaining,
            reset_at=stats.reset_time,
            now=time.time(),  # the clock `limits` stamps its entries with
        )

    async def reset(self) -> None:
        await self._storage.reset()
