"""Room for new bytes: each tenant's storage quota, and the free space of the data disk."""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio

from scopix.server.catalog.models import StorageReservation
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain.ids import new_id
from scopix.server.domain.storage_quota import (
    RESERVATION_LEASE,
    StorageStanding,
    check_disk_room,
    over_quota,
    storage_limit,
)
from scopix.server.domain.tiers import TIERS, tier_named


class DiskGuard:
    """Refuses bytes that would leave the disk holding `path` under its free minimum.

    The disk's usage is read at most every `USAGE_TTL_S`: every upload checks it twice, each a
    system call on the event loop, and the free minimum (gigabytes) dwarfs what a fraction of
    a second of uploads adds."""

    USAGE_TTL_S = 0.5

    def __init__(self, path: Path, min_free_override: int | None = None) -> None:
        self.path = path
        self.min_free_override = min_free_override
        self._usage: tuple[float, int, int] | None = None  # (read at, free, total)

    def check(self, incoming: int) -> None:
        """Refuse (InsufficientStorage) when `incoming` more bytes on this disk would leave it
        under its minimum; bytes already written there count as 0."""
        free, total = self._free_and_total()
        check_disk_room(free, total, incoming, self.min_free_override)

    def _free_and_total(self) -> tuple[int, int]:
        now = time.monotonic()
        if self._usage is None or now - self._usage[0] > self.USAGE_TTL_S:
            usage = shutil.disk_usage(self.path)
            self._usage = (now, usage.free, usage.total)
        return self._usage[1], self._usage[2]


@dataclass
class Reservation:
    """Room one upload holds for new bytes; `settled` once kept or given back."""

    id: str
    tenant_id: str
    nbytes: int
    settled: bool = False

    async def settle(self, uow: UnitOfWork, *, keep: bool) -> None:
        """End the reservation within `uow`'s transaction; mark it settled after the commit."""
        await uow.tenants.settle_storage(self.id, self.tenant_id, self.nbytes, keep=keep)


class StorageQuota:
    """Reserves and releases the bytes each tenant stores, within its tier's quota."""

    def __init__(self, uows: UnitOfWorkFactory, overrides: Mapping[str, int | None]) -> None:
        self.uows = uows
        self.overrides = dict(overrides)
        self._limits = {name: storage_limit(tier, self.overrides) for name, tier in TIERS.items()}

    async def standing(self, tenant_id: str) -> StorageStanding:
        """The bytes the tenant stores now against its quota."""
        async with self.uows.read() as uow:
            return await self._standing(uow, tenant_id)

    async def require_room(self, tenant_id: str, nbytes: int) -> None:
        """Refuse (QuotaExceeded) bytes that do not fit now, reserving nothing: for a direct
        upload's start, whose bytes arrive much later."""
        standing = await self.standing(tenant_id)
        if not standing.fits(nbytes):
            raise over_quota(standing, nbytes)

    async def reserve(self, tenant_id: str, nbytes: int) -> Reservation:
        """Count `nbytes` against the quota before they are kept, or refuse (QuotaExceeded).
        The caller settles the reservation with the file that keeps the bytes, or releases it."""
        async with self.uows.write() as uow:
            reservation = await self.reserve_in(uow, tenant_id, nbytes)
            await uow.commit()
        return reservation

    async def reserve_in(self, uow: UnitOfWork, tenant_id: str, nbytes: int) -> Reservation:
        """`reserve` within the caller's write transaction, which commits it. Room that uploads
        of dead processes still held is reclaimed when the bytes would not fit otherwise."""
        now = datetime.now(UTC)
        row = StorageReservation(
            id=new_id(), tenant_id=tenant_id, nbytes=nbytes, expires_at=now + RESERVATION_LEASE
        )
        reserved = await uow.tenants.reserve_storage(row, self._limits)
        if not reserved and await uow.tenants.reclaim_expired_storage(tenant_id, now):
            reserved = await uow.tenants.reserve_storage(row, self._limits)
        if not reserved:
            raise over_quota(await self._standing(uow, tenant_id), nbytes)
        return Reservation(row.id, tenant_id, nbytes)

    async def reclaim_expired(self) -> int:
        """Give back the room every tenant's uploads of dead processes still held (a
        reservation is reclaimed on demand only where bytes would not fit); the bytes."""
        now = datetime.now(UTC)
        async with self.uows.read() as uow:
            tenants = await uow.tenants.tenants_with_expired_storage(now)
        reclaimed = 0
        for tenant_id in tenants:
            async with self.uows.write() as uow:
                reclaimed += await uow.tenants.reclaim_expired_storage(tenant_id, now)
                await uow.commit()
        return reclaimed

    async def release(self, reservation: Reservation) -> None:
        """Give back a reservation whose bytes were not kept; done even when the caller was
        cancelled, since the count would otherwise stay too high until the lease ends."""
        with anyio.CancelScope(shield=True):
            async with self.uows.write() as uow:
                await reservation.settle(uow, keep=False)
                await uow.commit()
        reservation.settled = True

    async def _standing(self, uow: UnitOfWork, tenant_id: str) -> StorageStanding:
        limit = await self._limit(uow, tenant_id)
        used = await uow.tenants.storage_used(tenant_id)  # not the session's cached row
        return StorageStanding(used, limit)

    async def _limit(self, uow: UnitOfWork, tenant_id: str) -> int | None:
        tier = await uow.tenants.tier(tenant_id)
        assert tier is not None, "an authenticated tenant exists"
        return storage_limit(tier_named(tier), self.overrides)
