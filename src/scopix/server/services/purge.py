"""Purge: files deleted long enough ago are removed for good, and with them the bytes no file
names any more.

Each batch of files goes in one transaction that first locks their blobs, in key order, then
deletes the files with their tags, history, jobs and search rows, and marks `purging` each blob
that no file row names after that (domain.purge). Each marked blob then loses its bytes, and
then, in a transaction of its own, its analyses and its row. An upload of the same bytes locks
the blob row before it records a file: before the mark, the purge sees the new file and keeps
the blob; after it, the upload sees `purging` and stores the bytes anew once the row is gone
(services/ingest.py). Every step is idempotent, so any number of processes may purge at once,
and a purge that dies after marking is finished by a later one once the mark's lease runs out.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from scopix.server.catalog.models import Blob
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain import blobkeys
from scopix.server.domain.purge import (
    MARK_LEASE,
    BlobState,
    is_abandoned,
    may_mark,
    purge_cutoff,
)
from scopix.server.storage.base import BlobStore

log = logging.getLogger("scopix.purge")

#: Files per transaction: small enough that SQLite's single writer is held only briefly.
BATCH_SIZE: Final = 100

#: Drops purged files from a search index kept in memory: (tenant id, file ids).
Forget = Callable[[str, Sequence[str]], None]


@dataclass(frozen=True)
class PurgeReport:
    """What a purge removed (or, for a preview, would remove)."""

    files: int = 0
    blobs: int = 0
    bytes: int = 0

    def __add__(self, other: PurgeReport) -> PurgeReport:
        return PurgeReport(
            self.files + other.files, self.blobs + other.blobs, self.bytes + other.bytes
        )


class Purger:
    """Removes files deleted before a cutoff, then the blobs no file names any more."""

    def __init__(
        self,
        uows: UnitOfWorkFactory,
        store: BlobStore,
        forget: Forget | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.uows = uows
        self.store = store
        self.forget = forget
        self.batch_size = batch_size

    async def purge(self, older_than: timedelta, max_batches: int | None = None) -> PurgeReport:
        """Purge files deleted more than `older_than` ago, `batch_size` at a time, until none is
        due (or after `max_batches`: the rest waits for the next purge)."""
        cutoff = purge_cutoff(_now(), older_than)
        report = await self._finish_abandoned()
        report += await self._remove_replaced_url_lists()
        batches = 0
        while max_batches is None or batches < max_batches:
            batches += 1
            found, removed = await self._purge_batch(cutoff)
            report += removed
            if found < self.batch_size:
                break
        if report.files or report.blobs:
            log.info(
                "purged %d deleted files and %d blobs (%d bytes)",
                report.files,
                report.blobs,
                report.bytes,
            )
        return report

    async def preview(self, older_than: timedelta) -> PurgeReport:
        """What `purge(older_than)` would remove now, removing nothing."""
        cutoff = purge_cutoff(_now(), older_than)
        async with self.uows.read() as uow:
            files, blobs, size = await uow.files.purge_preview(cutoff)
        return PurgeReport(files, blobs, size)

    async def _purge_batch(self, cutoff: datetime) -> tuple[int, PurgeReport]:
        """One batch: (how many files were due, what was removed)."""
        async with self.uows.read() as uow:
            due = await uow.files.deleted_before(cutoff, self.batch_size)
        if not due:
            return 0, PurgeReport()
        removed, marked = await self._remove_files(due, cutoff)
        self._forget(due, removed)
        report = PurgeReport(files=len(removed))
        for tenant_id, sha256 in marked:
            report += await self._remove_blob(tenant_id, sha256)
        return len(due), report

    async def _remove_files(
        self, due: Sequence[Any], cutoff: datetime
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """Delete the due files and mark the blobs left unnamed; (file ids, marked blobs)."""
        async with self.uows.write() as uow:
            # Blobs before files, as uploads lock them: no lock cycle with an upload.
            blobs = await uow.blobs.lock_many({(row.tenant_id, row.sha256) for row in due})
            removed = await uow.files.remove_deleted([row.id for row in due], cutoff)
            marked = await _mark_unnamed(uow, blobs)
            await uow.commit()
        return removed, marked

    async def _remove_replaced_url_lists(self) -> PurgeReport:
        """Remove links' URL lists that no file names since their crawl fetched the page (an
        upload of the same URL meanwhile names one again, or stores it anew: ingest waits
        for a marked blob to go)."""
        report = PurgeReport()
        async with self.uows.write() as uow:
            unnamed = await uow.blobs.replaced_url_lists(self.batch_size)
            marked = await _mark_unnamed(uow, await uow.blobs.lock_many(unnamed))
            await uow.commit()
        for tenant_id, sha256 in marked:
            report += await self._remove_blob(tenant_id, sha256)
        return report

    async def _remove_blob(self, tenant_id: str, sha256: str) -> PurgeReport:
        """Delete a marked blob's bytes (original, variants, a video's scene thumbnails: all in
        the blob's folder), then its analyses and row, and give its size back to the tenant's
        storage quota."""
        await self.store.delete_prefix(blobkeys.blob_prefix(tenant_id, sha256))
        async with self.uows.write() as uow:
            # The tenant before the blob, in the order uploads lock them (PostgreSQL).
            await uow.usage.lock_tenant(tenant_id)
            blob = await uow.blobs.lock(tenant_id, sha256)
            if blob is None or blob.state != BlobState.PURGING:
                return PurgeReport()  # another purge finished it first
            size = blob.size_bytes
            await uow.blobs.remove(blob)
            await uow.tenants.release_storage(tenant_id, size)
            await uow.commit()
        return PurgeReport(blobs=1, bytes=size)

    async def _finish_abandoned(self) -> PurgeReport:
        """Take over the blobs whose purge died after marking them, and remove them."""
        report = PurgeReport()
        now = _now()
        async with self.uows.read() as uow:
            stale = await uow.blobs.abandoned_marks(now - MARK_LEASE, self.batch_size)
        for tenant_id, sha256 in stale:
            if await self._take_over(tenant_id, sha256, now):
                report += await self._remove_blob(tenant_id, sha256)
        return report

    async def _take_over(self, tenant_id: str, sha256: str, now: datetime) -> bool:
        """Renew an abandoned mark as this purge's own; False when another purge came first."""
        async with self.uows.write() as uow:
            blob = await uow.blobs.lock(tenant_id, sha256)
            if blob is None or not is_abandoned(blob.state, blob.purge_started_at, now):
                return False
            blob.purge_started_at = now
            await uow.commit()
        return True

    def _forget(self, due: Sequence[Any], removed: Collection[str]) -> None:
        if self.forget is None:
            return
        gone = set(removed)
        by_tenant: dict[str, list[str]] = defaultdict(list)
        for row in due:
            if row.id in gone:
                by_tenant[row.tenant_id].append(row.id)
        for tenant_id, file_ids in by_tenant.items():
            self.forget(tenant_id, file_ids)


async def _mark_unnamed(uow: UnitOfWork, blobs: Sequence[Blob]) -> list[tuple[str, str]]:
    """Mark the locked blobs that no file row names for removal; their (tenant, sha256)."""
    marked = []
    now = _now()
    for blob in blobs:
        if may_mark(blob.state, await uow.files.refers_to(blob.tenant_id, blob.sha256)):
            blob.state, blob.purge_started_at = BlobState.PURGING, now
            marked.append((blob.tenant_id, blob.sha256))
    return marked


def _now() -> datetime:
    return datetime.now(UTC)
