"""Housekeeping: abandoned staging files, blobs whose catalog row never committed, idempotency
keys past retention, direct uploads that will never complete, storage room that uploads of
dead processes held, files deleted long enough ago to be purged; and links due for a
recrawl, when periodic recrawls are on."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.domain.blobkeys import parse_blob_prefix
from scopix.server.domain.purge import DEFAULT_PURGE_AFTER
from scopix.server.services.direct_uploads import DirectUploadService
from scopix.server.services.idempotency import IdempotencyService
from scopix.server.services.links import LinkService
from scopix.server.services.purge import Purger
from scopix.server.services.storage_quota import StorageQuota
from scopix.server.storage.base import BlobStore

log = logging.getLogger("scopix.maintenance")

#: Purge batches per sweep, so one sweep stays short; what is left goes at the next sweep.
PURGE_BATCHES_PER_SWEEP: Final = 50
#: How long `GET /events` can read back, and delivery logs are kept: a webhook disabled for
#: longer misses what fell out.
DEFAULT_KEEP_EVENTS: Final = timedelta(days=30)


@dataclass(frozen=True)
class SweepReport:
    """What one sweep removed."""

    staging_files: int
    orphan_blobs: int
    idempotency_keys: int = 0
    direct_uploads: int = 0
    purged_files: int = 0
    purged_blobs: int = 0
    recrawled_links: int = 0
    reclaimed_bytes: int = 0
    expired_events: int = 0


class Maintenance:
    """Sweeps that keep storage equal to what the catalog names."""

    def __init__(
        self,
        uows: UnitOfWorkFactory,
        store: BlobStore,
        grace_seconds: float,
        idempotency: IdempotencyService | None = None,
        direct_uploads: DirectUploadService | None = None,
        purger: Purger | None = None,
        purge_after: timedelta = DEFAULT_PURGE_AFTER,
        links: LinkService | None = None,
        recrawl_after: timedelta | None = None,
        storage: StorageQuota | None = None,
        keep_events: timedelta = DEFAULT_KEEP_EVENTS,
    ) -> None:
        self.uows = uows
        self.store = store
        self.grace_seconds = grace_seconds
        self.idempotency = idempotency or IdempotencyService(uows)
        self.direct_uploads = direct_uploads
        self.purger = purger or Purger(uows, store)
        self.purge_after = purge_after
        self.links = links
        self.recrawl_after = recrawl_after
        self.storage = storage or StorageQuota(uows, {})
        self.keep_events = keep_events
        self._swept = asyncio.Event()

    async def swept_once(self) -> None:
        """Wait until a sweep has ended, well or not (a server sweeps as it starts)."""
        await self._swept.wait()

    async def sweep(self) -> SweepReport:
        """Remove staging files and orphan blobs older than the grace period, idempotency keys
        past retention, and files deleted more than `purge_after` ago; queue a crawl of the
        links last crawled more than `recrawl_after` ago (None: never); give back the room of
        storage reservations past their lease; forget events and webhook delivery logs older
        than `keep_events`."""
        try:
            return await self._sweep()
        finally:
            self._swept.set()

    async def _sweep(self) -> SweepReport:
        staging = await self.store.sweep_staging(self.grace_seconds)
        orphans = 0
        for prefix in await self.store.list_stale_prefixes(3, self.grace_seconds):
            if await self._is_orphan(prefix):
                await self.store.delete_prefix(prefix)
                orphans += 1
        keys = await self.idempotency.purge_expired()
        uploads = await self.direct_uploads.sweep() if self.direct_uploads else 0
        reclaimed = await self.storage.reclaim_expired()
        purged = await self.purger.purge(self.purge_after, PURGE_BATCHES_PER_SWEEP)
        expired = await self._expire_events()
        recrawled = 0
        if self.links is not None and self.recrawl_after is not None:
            recrawled = await self.links.recrawl_due(self.recrawl_after)
        if staging or orphans or keys or uploads:
            log.info(
                "swept %d staging files, %d orphan blobs, %d idempotency keys, %d direct uploads",
                staging,
                orphans,
                keys,
                uploads,
            )
        return SweepReport(
            staging,
            orphans,
            keys,
            uploads,
            purged.files,
            purged.blobs,
            recrawled,
            reclaimed,
            expired,
        )

    async def _expire_events(self) -> int:
        before = datetime.now(UTC) - self.keep_events
        async with self.uows.write() as uow:
            expired = await uow.events.expire(before)
            await uow.webhooks.expire_log(before)
            await uow.commit()
        return expired

    async def _is_orphan(self, prefix: str) -> bool:
        parsed = parse_blob_prefix(prefix)
        if parsed is None:
            return False
        async with self.uows.read() as uow:
            return await uow.blobs.get(*parsed) is None
