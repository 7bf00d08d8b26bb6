"""Uploads in progress per tenant: the port, its two adapters, and the limits' composition.

Each request that carries file bytes through the API holds one of its tenant's slots while it
runs, at most the tier's `max_concurrent_uploads`; one more is refused with `RATE_LIMITED`. The
embedded profile counts in this process's memory (`MemoryUploadSlots`); the scale-out profile
counts in the Redis its replicas share (`RedisUploadSlots`), which fails open as the rate limit
does (`FailOpen`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Final, Protocol

import anyio
import redis.asyncio

from scopix.server.domain.errors import RateLimited
from scopix.server.services.ratelimit import (
    REDIS_TIMEOUT_S,
    FailOpen,
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
)
from scopix.server.settings import Settings

log = logging.getLogger("scopix.limits")

#: Seconds a refused upload is told to wait: a slot frees whenever any upload ends.
RETRY_AFTER_S: Final = 1


def too_many_uploads(limit: int) -> RateLimited:
    """The refusal of an upload beyond the tenant's `limit` of uploads at once."""
    return RateLimited(
        f"more than {limit} uploads at once; retry in {RETRY_AFTER_S} s",
        limit=limit,
        reason="concurrent_uploads",
        retry_after=RETRY_AFTER_S,
    )


class UploadSlots(Protocol):
    """Counts each tenant's uploads in progress against a limit."""

    def hold(self, tenant_id: str, limit: int) -> AbstractAsyncContextManager[None]:
        """One of `tenant_id`'s `limit` slots while the block runs, given back however it ends;
        `too_many_uploads` when all are taken."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class MemoryUploadSlots:
    """One process's counts, in memory: right for the embedded profile's single server.

    Taking and giving back a slot never awaits, so no other task can run between the check and
    the count, and a cancelled request cannot be interrupted while it gives its slot back."""

    def __init__(self) -> None:
        self._held: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, tenant_id: str, limit: int) -> AsyncIterator[None]:
        held = self._held.get(tenant_id, 0)
        if held >= limit:
            raise too_many_uploads(limit)
        self._held[tenant_id] = held + 1
        try:
            yield
        finally:
            self._give_back(tenant_id)

    async def aclose(self) -> None:
        """Nothing to release: the counts go with the process."""

    def _give_back(self, tenant_id: str) -> None:
        left = self._held[tenant_id] - 1
        if left:
            self._held[tenant_id] = left
        else:
            del self._held[tenant_id]  # idle tenants take no memory


# Both scripts read Redis's clock, not a replica's: replicas whose clocks disagree still agree
# on which leases have lapsed. Scores are lease expiries in epoch milliseconds; the key itself
# expires with its latest lease, so a tenant that stops uploading leaves nothing behind.

# KEYS[1]: the tenant's slots. ARGV: the request's token, the limit, the lease in ms.
_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
    return 0
end
local lease = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now_ms + lease, ARGV[1])
if redis.call('PTTL', KEYS[1]) < lease then
    redis.call('PEXPIRE', KEYS[1], lease)
end
return 1
"""

# KEYS[1]: the tenant's slots. ARGV: the request's token, the lease in ms. 0 when the slot has
# lapsed already: it is not taken back, since the tenant may have filled it meanwhile.
_RENEW = """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
    return 0
end
local now = redis.call('TIME')
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], 'XX', now[1] * 1000 + math.floor(now[2] / 1000) + lease, ARGV[1])
if redis.call('PTTL', KEYS[1]) < lease then
    redis.call('PEXPIRE', KEYS[1], lease)
end
return 1
"""


class RedisUploadSlots:
    """Slots in the Redis at `url`, shared by every replica using it (Redis 5 or later).

    A tenant's slots are a sorted set under `key_prefix`: one member per request holding a
    slot, a random token, scored by when its lease lapses. Taking a slot is one script (drop
    the lapsed, count, add), so replicas racing for the last slot cannot both win. A request
    renews its lease every third of `lease_seconds` while it runs, so a slow upload keeps its
    slot through two missed renewals, and a replica killed mid-upload (`kill -9`, no `finally`)
    holds its slots at most one lease longer.

    While Redis cannot answer, uploads go through uncounted (see `FailOpen`); a slot that
    could not be given back lapses with its lease.
    """

    def __init__(
        self, url: str, *, lease_seconds: float = 60.0, key_prefix: str = "scopix:upload-slots"
    ) -> None:
        self._redis = redis.asyncio.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
        )
        self._acquire_script = self._redis.register_script(_ACQUIRE)
        self._renew_script = self._redis.register_script(_RENEW)
        self._lease_s = lease_seconds
        self._key_prefix = key_prefix
        self._fail_open = FailOpen("upload slots")

    @asynccontextmanager
    async def hold(self, tenant_id: str, limit: int) -> AsyncIterator[None]:
        token = await self.acquire(tenant_id, limit)
        if token is None:
            raise too_many_uploads(limit)
        renewing = asyncio.create_task(self._keep_leased(tenant_id, token))
        try:
            yield
        finally:
            renewing.cancel()
            # Shielded, as an anyio cancel scope (Starlette's) would cancel this await too:
            # a request cancelled (its client gone) still gives its slot back.
            with anyio.CancelScope(shield=True):
                await self.release(tenant_id, token)

    async def acquire(self, tenant_id: str, limit: int) -> str | None:
        """The token of a slot taken for one lease, or None when `limit` are taken. Prefer
        `hold`, which renews the lease and gives the slot back."""
        token = uuid.uuid4().hex
        taken = await self._fail_open.call(lambda: self._take(tenant_id, token, limit), True)
        return token if taken else None

    async def release(self, tenant_id: str, token: str) -> None:
        """Give back the slot that `token` holds."""
        await self._fail_open.call(lambda: self._redis.zrem(self._key(tenant_id), token), 0)

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def _take(self, tenant_id: str, token: str, limit: int) -> bool:
        key = self._key(tenant_id)
        return bool(await self._acquire_script(keys=[key], args=[token, limit, self._lease_ms]))

    async def _renew(self, tenant_id: str, token: str) -> bool:
        key = self._key(tenant_id)
        return bool(await self._renew_script(keys=[key], args=[token, self._lease_ms]))

    async def _keep_leased(self, tenant_id: str, token: str) -> None:
        while True:
            await asyncio.sleep(self._lease_s / 3)
            if not await self._fail_open.call(lambda: self._renew(tenant_id, token), True):
                log.warning("an upload slot of %s lapsed while its upload ran", tenant_id)
                return

    @property
    def _lease_ms(self) -> int:
        return max(round(self._lease_s * 1000), 1)

    def _key(self, tenant_id: str) -> str:
        return f"{self._key_prefix}:{tenant_id}"


def build_limits(settings: Settings) -> tuple[RateLimiter, UploadSlots]:
    """The rate limiter and upload slots for `settings`: counted in the Redis of `queue_url`,
    shared by every replica, or in this process's memory when it is unset."""
    if not settings.queue_url:
        return MemoryRateLimiter(), MemoryUploadSlots()
    return RedisRateLimiter(settings.queue_url), RedisUploadSlots(settings.queue_url)
