"""Ingest: turn a staged upload into a stored, deduplicated, catalogued file with variants."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import anyio
from sqlalchemy.exc import IntegrityError

from scopix.server.catalog.models import Blob, ExtractionSchema, File, Job
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain import blobkeys
from scopix.server.domain.dedup import DedupOutcome, dedup_outcome
from scopix.server.domain.errors import Conflict, EmptyFile, IdempotencyKeyReused, Unavailable
from scopix.server.domain.fields import UploadOptions, validate_filename
from scopix.server.domain.ids import new_id
from scopix.server.domain.media import MediaType, media_of_mime, named, sniff
from scopix.server.domain.purge import is_attachable
from scopix.server.domain.status import initial_status
from scopix.server.domain.variants import PREVIEW_SIZES, variant_state
from scopix.server.imaging import RenderedImage
from scopix.server.jobs.queue import JobQueue
from scopix.server.jobs.records import VARIANTS, new_job
from scopix.server.media import MediaHandlers
from scopix.server.media.base import MediaHandler, Probe
from scopix.server.services.custom_extraction import queue_stored_schema, schema_or_404
from scopix.server.services.describe import queue_new_file, reserve_descriptions
from scopix.server.services.media_jobs import queue_media_job
from scopix.server.services.placement import Target, target
from scopix.server.services.storage_quota import DiskGuard, Reservation, StorageQuota
from scopix.server.services.variants import VARIANT_ATTEMPTS
from scopix.server.storage.base import BlobStore

log = logging.getLogger("scopix.ingest")

#: New bytes from this size on start their way to the disk while they are probed: the fsync
#: and the decode overlap (bench/uploads.py stream: a 90 MB TIFF's fsync took as long as its
#: probe). Smaller files would pay a thread's round trip for little.
SETTLE_AHEAD_BYTES: Final = 8 * 1024 * 1024

#: How long an upload waits for a purge to finish removing the same bytes before it stores
#: them anew (a purge removes one blob within seconds; past this, the purge likely died and
#: the next one finishes it: the client is asked to come back).
PURGE_WAIT_S = 15.0
_PURGE_POLL_S = 0.1


class _BytesPurged(Exception):
    """The stored bytes an upload was to share are being purged, or are gone."""


@dataclass(frozen=True)
class StagedUpload:
    """An upload streamed to a local staging file, hashed on the way in."""

    path: Path
    filename: str
    size: int
    sha256: str
    head: bytes


@dataclass(frozen=True)
class StoredUpload:
    """Bytes a client sent straight to storage, verified, at a temporary key. Only bytes their
    media handler does not probe come this way: what ingest probes is staged locally first."""

    key: str
    filename: str
    size: int
    sha256: str
    head: bytes


Upload = StagedUpload | StoredUpload


@dataclass(frozen=True)
class JobSettings:
    """Where new jobs go and how often a description is attempted."""

    queue: JobQueue
    describe_attempts: int


@dataclass(frozen=True)
class StorageRoom:
    """Where new bytes must fit: the tenant's storage quota and the data disk."""

    quota: StorageQuota
    disk: DiskGuard


@dataclass(frozen=True)
class _Placement:
    """Where a new file belongs (its batch session and its keyed-upload reference), and the
    columns of its kind that the probe at upload read (`Probe.file_fields`)."""

    session_id: str | None
    upload_ref: str | None
    file_fields: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class _Found:
    """What the catalog held for an upload's bytes when looked at: what an earlier attempt of
    the same keyed upload recorded, else the tenant's blob and a live file of them; and the
    room reserved for the bytes when they were new to the tenant."""

    earlier: Ingested | None
    blob: Blob | None
    live: File | None
    reservation: Reservation | None = None


@dataclass(frozen=True)
class Ingested:
    """The outcome of one upload."""

    file: File
    blob: Blob
    tags: tuple[str, ...]
    deduplicated: bool
    skipped: bool


class Ingestor:
    """The ingest use case; what each kind of media needs is asked of its handler (`media`).

    A request probes the bytes through their handler (an image's header is checked and the
    whole image decoded once at the smallest size, in one isolated call, so oversized, corrupt
    and truncated files are refused with a 4xx) and stores the tiny preview and blurhash; the
    larger variants, the kind's own pipeline and the description are jobs committed with the
    file.
    """

    def __init__(
        self,
        uows: UnitOfWorkFactory,
        store: BlobStore,
        media: MediaHandlers,
        jobs: JobSettings,
        room: StorageRoom,
    ) -> None:
        self.uows = uows
        self.store = store
        self.media = media
        self.jobs = jobs
        self.room = room

    async def ingest(
        self,
        tenant_id: str,
        staged: Upload,
        options: UploadOptions,
        session_id: str | None = None,
        upload_ref: str | None = None,
    ) -> Ingested:
        """Validate, dedup, store and record one upload; the staged bytes are always consumed.

        `upload_ref` names this upload within a keyed request (domain.idempotency.upload_ref)
        or a direct upload: when a first attempt already stored it, that file is the result,
        and nothing is stored, queued or reserved again.
        """
        try:
            staged = replace(staged, filename=validate_filename(staged.filename))
            media = _media_of(staged)
            handler = self.media.of(media)
            # Media with nothing to describe get no job and take no credit.
            options = replace(options, auto_describe=options.auto_describe and handler.describable)
            # One look at the catalog serves the probe and the dedup below; what changes
            # meanwhile is caught in the recording transaction, which looks again under lock.
            found = await self._look_and_reserve(tenant_id, staged, upload_ref, options)
            try:
                return await self._probe_store_and_record(
                    tenant_id,
                    staged,
                    media,
                    handler,
                    options,
                    _Placement(session_id, upload_ref),
                    found,
                )
            finally:
                if found.reservation is not None and not found.reservation.settled:
                    await self.room.quota.release(found.reservation)
        finally:
            await self._discard(staged)

    async def _probe_store_and_record(
        self,
        tenant_id: str,
        staged: Upload,
        media: MediaType,
        handler: MediaHandler,
        options: UploadOptions,
        placed: _Placement,
        found: _Found,
    ) -> Ingested:
        if found.earlier is not None:
            return found.earlier
        probed = None
        if handler.probes(staged.size):
            probed = await self._probe_settling(staged, media, handler, found)
        if probed is not None:
            placed = replace(placed, file_fields=probed.file_fields)
        preview = probed.rendered if probed is not None else None
        return await self._store_and_record(
            tenant_id, staged, media, options, placed, preview, found
        )

    async def ingest_written(
        self,
        tenant_id: str,
        staged: StagedUpload,
        media: MediaType,
        options: UploadOptions,
        file_fields: Mapping[str, object],
        upload_ref: str | None = None,
    ) -> Ingested:
        """Record bytes the server wrote itself (a link's URL list, named by its URL): their
        type is known, so they are not sniffed, and `file_fields` are the new file's columns
        of its kind. Deduplicated and stored as an upload is (`upload_ref` as `ingest`'s); the
        staged bytes are consumed."""
        try:
            handler = self.media.of(media)
            options = replace(options, auto_describe=options.auto_describe and handler.describable)
            placed = _Placement(None, upload_ref, file_fields)
            return await self._store_and_record(tenant_id, staged, media, options, placed, None)
        finally:
            await self._discard(staged)

    async def keep_new_bytes(
        self, tenant_id: str, staged: StagedUpload, media: MediaType
    ) -> tuple[Blob, Reservation]:
        """Store bytes new to the tenant that an existing file will name (a link's fetched
        page), as an upload's are: room reserved first, preview rendered when the kind has
        one, original placed. The caller inserts the blob row (`blob_row`) and settles the
        reservation in one transaction, or releases it; it is released here on any error."""
        self.room.disk.check(0)  # the bytes are on the data disk already
        reservation = await self.room.quota.reserve(tenant_id, staged.size)
        try:
            return await self._store_blob(tenant_id, staged, media, None), reservation
        except BaseException:
            await self.room.quota.release(reservation)
            raise

    async def ingest_known(
        self,
        tenant_id: str,
        filename: str,
        sha256: str,
        options: UploadOptions,
        upload_ref: str | None = None,
    ) -> Ingested | None:
        """Record a file for bytes the tenant already stores, with no bytes sent (a direct
        upload that declared a known SHA-256); None when the tenant does not hold them."""
        async with self.uows.read() as uow:
            if upload_ref is not None:
                earlier = await _stored_under(uow, tenant_id, upload_ref, sha256)
                if earlier is not None:
                    return earlier
            blob = await uow.blobs.get(tenant_id, sha256)
            live = await uow.files.find_live_by_hash(tenant_id, sha256)
        if blob is None or not is_attachable(blob.state):
            return None
        outcome = dedup_outcome(
            live_file_exists=live is not None,
            blob_exists=True,
            skip_duplicates=options.skip_duplicates,
        )
        if outcome is DedupOutcome.SKIPPED and live is not None:
            return await self.skipped(live, blob)
        media = named(media_of_mime(blob.mime_type), filename)
        describable = self.media.of(media).describable
        options = replace(options, auto_describe=options.auto_describe and describable)
        known = StoredUpload(
            blob.storage_key, validate_filename(filename), blob.size_bytes, sha256, b""
        )
        placed = _Placement(None, upload_ref)
        try:
            return await self._record(tenant_id, known, media, None, options, placed)
        except _BytesPurged:  # purged since the look above: the client sends the bytes
            return None

    async def check_placement(self, tenant_id: str, options: UploadOptions) -> None:
        """Refuse a folder or project the tenant does not have (404), or a folder of another
        project (422), before work starts; recording the file checks again."""
        async with self.uows.read() as uow:
            await _target_of(uow, tenant_id, options, hold=False)
            await _schema_of(uow, tenant_id, options)

    async def recorded(self, tenant_id: str, upload_ref: str) -> Ingested | None:
        """What an earlier attempt stored under `upload_ref`, if it got that far."""
        async with self.uows.read() as uow:
            file = await uow.files.by_upload_ref(tenant_id, upload_ref)
            if file is None:
                return None
            return await _stored_under(uow, tenant_id, upload_ref, file.sha256)

    async def _look(self, tenant_id: str, sha256: str, upload_ref: str | None) -> _Found:
        """What the catalog holds for these bytes, in one read transaction."""
        async with self.uows.read() as uow:
            return await _found(uow, tenant_id, sha256, upload_ref)

    async def _look_and_reserve(
        self, tenant_id: str, staged: Upload, upload_ref: str | None, options: UploadOptions
    ) -> _Found:
        """`_look`, and for bytes new to the tenant, room reserved for them (a description
        credit checked too) in the same transaction: one trip to the catalog's writer where
        a look and a reservation took two. The caller settles or releases the reservation."""
        async with self.uows.write() as uow:
            found = await _found(uow, tenant_id, staged.sha256, upload_ref)
            if found.earlier is not None:
                return found
            # Refused before any byte is stored; held only where the file is recorded, after
            # the tenant row, as a folder's deletion orders its locks.
            await _target_of(uow, tenant_id, options, hold=False)
            await _schema_of(uow, tenant_id, options)
            if found.blob is not None:
                return found  # nothing to store (or a purge to wait for first): no room taken
            if options.auto_describe:  # refuse before any byte is stored; _record checks again
                await reserve_descriptions(uow, tenant_id, 1)
            if isinstance(staged, StagedUpload):  # its bytes are on the data disk already
                self.room.disk.check(0)
            reservation = await self.room.quota.reserve_in(uow, tenant_id, staged.size)
            await uow.commit()
        return replace(found, reservation=reservation)

    async def _probe_settling(
        self, staged: Upload, media: MediaType, handler: MediaHandler, found: _Found
    ) -> Probe:
        """`_probe`; large new bytes start their way to the disk meanwhile (SETTLE_AHEAD_BYTES),
        and the probe's refusal is raised once that is done."""
        stored = found.blob is not None
        if not isinstance(staged, StagedUpload) or not _settles_ahead(staged, found):
            return await self._probe(staged, media, handler, stored=stored)
        refusal: Exception | None = None
        async with anyio.create_task_group() as settling:
            settling.start_soon(self._settle, staged.path)
            try:
                probed = await self._probe(staged, media, handler, stored=stored)
            except Exception as exc:  # raised as itself, not in the task group's ExceptionGroup
                refusal = exc
        if refusal is not None:
            raise refusal
        return probed

    async def _settle(self, path: Path) -> None:
        with contextlib.suppress(OSError):  # the promote that follows fsyncs and says so
            await self.store.settle(path)

    async def _probe(
        self, staged: Upload, media: MediaType, handler: MediaHandler, *, stored: bool
    ) -> Probe:
        """Check the bytes and render the preview in one isolated call; bytes the tenant
        stores already are only checked (their preview exists): no rendering then."""
        sizes = PREVIEW_SIZES if handler.has_previews and not stored else None
        return await handler.probe(_local_path(staged), media, sizes)

    async def _discard(self, upload: Upload) -> None:
        if isinstance(upload, StagedUpload):
            upload.path.unlink(missing_ok=True)
        else:
            await self.store.delete(upload.key)

    async def _store_and_record(
        self,
        tenant_id: str,
        staged: Upload,
        media: MediaType,
        options: UploadOptions,
        placed: _Placement,
        preview: RenderedImage | None,
        found: _Found | None = None,
    ) -> Ingested:
        """`found`: the catalog's look at these bytes when the caller made it already."""
        if found is None:
            found = await self._look(tenant_id, staged.sha256, placed.upload_ref)
        if found.earlier is not None:
            return found.earlier
        blob, live = found.blob, found.live
        if blob is not None and not is_attachable(blob.state):
            await self._purge_finished(tenant_id, staged.sha256)
            blob = None
        outcome = dedup_outcome(
            live_file_exists=live is not None,
            blob_exists=blob is not None,
            skip_duplicates=options.skip_duplicates,
        )
        if outcome is DedupOutcome.SKIPPED and live is not None and blob is not None:
            return await self.skipped(live, blob)
        if options.auto_describe and found.reservation is None:
            async with self.uows.read() as uow:  # refuse before any byte is stored, as above
                await reserve_descriptions(uow, tenant_id, 1)
        if blob is not None:  # bytes the tenant already stores cost no room
            try:
                return await self._record_once(tenant_id, staged, media, None, options, placed)
            except _BytesPurged:  # a purge took them since the look above: store them anew
                await self._purge_finished(tenant_id, staged.sha256)
        return await self._store_new(
            tenant_id, staged, media, options, placed, preview, found.reservation
        )

    async def _purge_finished(self, tenant_id: str, sha256: str) -> None:
        """Wait until a purge has removed these bytes (their row is gone, or live again after
        another upload); Unavailable when it takes longer than PURGE_WAIT_S."""
        log.info("bytes %s are being purged; they are stored anew once gone", sha256)
        with anyio.move_on_after(PURGE_WAIT_S):
            while True:
                async with self.uows.read() as uow:
                    blob = await uow.blobs.get(tenant_id, sha256)
                if blob is None or is_attachable(blob.state):
                    return
                await anyio.sleep(_PURGE_POLL_S)
        raise Unavailable("these bytes are being removed from storage; send them again later")

    async def _store_new(
        self,
        tenant_id: str,
        staged: Upload,
        media: MediaType,
        options: UploadOptions,
        placed: _Placement,
        preview: RenderedImage | None,
        reservation: Reservation | None = None,
    ) -> Ingested:
        """Store bytes new to the tenant: room is reserved before they are kept (unless the
        caller holds `reservation` for them), and given back unless the file that keeps them
        is recorded."""
        if reservation is None:
            if isinstance(staged, StagedUpload):  # its bytes are on the data disk already
                self.room.disk.check(0)
            reservation = await self.room.quota.reserve(tenant_id, staged.size)
        try:
            new_blob = await self._store_blob(tenant_id, staged, media, preview)
            return await self._record_once(
                tenant_id, staged, media, new_blob, options, placed, reservation
            )
        finally:
            if not reservation.settled:
                await self.room.quota.release(reservation)

    async def _record_once(
        self,
        tenant_id: str,
        staged: Upload,
        media: MediaType,
        new_blob: Blob | None,
        options: UploadOptions,
        placed: _Placement,
        reservation: Reservation | None = None,
    ) -> Ingested:
        """`_record`, or what another attempt of the same keyed upload recorded first."""
        try:
            return await self._record(
                tenant_id, staged, media, new_blob, options, placed, reservation
            )
        except IntegrityError:
            # Another attempt of the same keyed upload recorded it first: one file, not two.
            if placed.upload_ref is None:
                raise
            async with self.uows.read() as uow:
                earlier = await _stored_under(uow, tenant_id, placed.upload_ref, staged.sha256)
            if earlier is None:
                raise
            return earlier

    async def _store_blob(
        self, tenant_id: str, staged: Upload, media: MediaType, preview: RenderedImage | None
    ) -> Blob:
        """Decode, write variants and the original; the row is inserted by the caller."""
        blob = Blob(
            tenant_id=tenant_id,
            sha256=staged.sha256,
            storage_key=blobkeys.original_key(tenant_id, staged.sha256),
            size_bytes=staged.size,
            mime_type=media.mime,
            variants=[],
            variant_error=None,
            created_at=_now(),
        )
        handler = self.media.of(media)
        if handler.has_previews and handler.probes(staged.size):
            # The preview was rendered with the probe, unless the bytes seemed stored already
            # then and were purged since.
            rendered = preview
            if rendered is None:
                probed = await handler.probe(_local_path(staged), media, PREVIEW_SIZES)
                rendered = probed.rendered
        else:
            rendered = None
        variants = rendered.variants if rendered is not None else {}
        names = {blobkeys.variant_key(tenant_id, staged.sha256, n): n for n in variants}
        if rendered is not None:
            blob.width, blob.height = rendered.width, rendered.height
            blob.content_created_at = rendered.content_created_at
            blob.blur_hash = rendered.blur_hash
        try:
            stored = await self._place(
                staged, blob.storage_key, {k: variants[n] for k, n in names.items()}
            )
        except OSError as exc:
            log.exception("storing an original failed")
            raise Unavailable("storage is unavailable; nothing was stored") from exc
        # A preview refused is not fatal: the variants job makes it again.
        blob.variants = [names[key] for key in stored]
        return blob

    async def _place(self, upload: Upload, key: str, previews: dict[str, bytes]) -> list[str]:
        """Put the original under `key` and its previews (key -> bytes) beside it; the keys of
        the previews stored. Bytes sent straight to storage were not probed: they have none."""
        if isinstance(upload, StoredUpload):
            await self.store.move(upload.key, key)
            return []
        return await self.store.promote(upload.path, key, previews)

    async def _record(
        self,
        tenant_id: str,
        staged: Upload,
        media: MediaType,
        new_blob: Blob | None,
        options: UploadOptions,
        placed: _Placement,
        reservation: Reservation | None = None,
    ) -> Ingested:
        """Record the file; `new_blob` is None when the bytes were already stored, and then
        `reservation` (the room reserved for it) is None too."""
        async with self.uows.write() as uow:
            if options.auto_describe:
                # Lock the tenant before inserting rows that refer to it: their foreign-key
                # checks take a share lock on it, and PostgreSQL would deadlock two uploads
                # that each hold one and then ask to lock it for update.
                await uow.usage.lock_tenant(tenant_id)
            saved, deduplicated = await blob_row(uow, tenant_id, staged.sha256, new_blob)
            if reservation is not None:
                # Kept with the new blob; given back when a concurrent upload of the same
                # bytes kept them first, as they count once.
                await reservation.settle(uow, keep=not deduplicated)
            if placed.upload_ref is not None:  # the blob lock orders attempts of the same bytes
                earlier = await _stored_under(uow, tenant_id, placed.upload_ref, staged.sha256)
                if earlier is not None:
                    return earlier
            if options.skip_duplicates:
                live = await uow.files.find_live_by_hash(tenant_id, staged.sha256)
                if live is not None:  # a concurrent upload of the same bytes won the race
                    return await self.skipped(live, saved)
            if options.auto_describe:
                await reserve_descriptions(uow, tenant_id, 1)
            handler = self.media.of(media)
            file = _new_file(tenant_id, staged, media, handler, saved, options, placed)
            (await _target_of(uow, tenant_id, options)).place(file, file.created_at)
            uow.files.add(file, options.tags)
            uow.files.add_event(file, file.created_at, "uploaded", _upload_note(deduplicated))
            jobs = self._queue_work(uow, file, saved, variants_needed=new_blob is not None)
            await uow.insert_added()
            await uow.files.index_new(file, options.tags)
            schema = await _schema_of(uow, tenant_id, options)
            if schema is not None:
                jobs.append(await queue_stored_schema(uow, file, schema))
            await uow.commit()
            if reservation is not None:
                reservation.settled = True
        await self.jobs.queue.dispatch([job.id for job in jobs])
        return Ingested(file, saved, options.tags, deduplicated=deduplicated, skipped=False)

    def _queue_work(
        self, uow: UnitOfWork, file: File, blob: Blob, *, variants_needed: bool
    ) -> list[Job]:
        """The jobs of a new file, in its own transaction: none is ever lost or orphaned."""
        handler = self.media.for_mime(file.mime_type)
        jobs = []
        if handler.has_previews:
            jobs += queue_variants(uow, file, blob, needed=variants_needed, now=file.created_at)
        if handler.extract_job is not None:  # per file: each file's own status
            jobs.append(queue_media_job(uow, file, handler.extract_job, file.created_at))
        if file.auto_describe:
            attempts = self.jobs.describe_attempts
            jobs.append(queue_new_file(uow, file, max_attempts=attempts, now=file.created_at))
        return jobs

    async def skipped(self, live: File, blob: Blob) -> Ingested:
        """The outcome of an upload skipped as a duplicate of `live`."""
        async with self.uows.read() as uow:
            tags = await uow.files.tags_for([live.id])
        return Ingested(live, blob, tuple(tags.get(live.id, ())), deduplicated=True, skipped=True)


async def _found(uow: UnitOfWork, tenant_id: str, sha256: str, upload_ref: str | None) -> _Found:
    if upload_ref is not None:
        earlier = await _stored_under(uow, tenant_id, upload_ref, sha256)
        if earlier is not None:
            return _Found(earlier, None, None)
    blob = (
        await uow.blobs.get(tenant_id, sha256) if await uow.blobs.has(tenant_id, sha256) else None
    )
    if blob is None:  # a file names its blob (a foreign key): no blob, no file to look for
        return _Found(None, None, None)
    return _Found(None, blob, await uow.files.find_live_by_hash(tenant_id, sha256))


async def _stored_under(
    uow: UnitOfWork, tenant_id: str, upload_ref: str, sha256: str
) -> Ingested | None:
    """What a first attempt of this keyed upload stored at `upload_ref` (even if deleted since),
    or None; other bytes at the same reference mean the key was reused for another request."""
    file = await uow.files.by_upload_ref(tenant_id, upload_ref)
    if file is None:
        return None
    if file.sha256 != sha256:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used to upload other bytes; use a new key",
            field="Idempotency-Key",
        )
    blob = await uow.blobs.get(tenant_id, sha256)
    if blob is None:  # pragma: no cover - a file's blob row outlives it (foreign key)
        raise Conflict("the stored copy of these bytes was purged meanwhile; upload again")
    tags = await uow.files.tags_for([file.id])
    events = await uow.files.events_for(file.id)
    deduplicated = any(e.event == "uploaded" and e.detail == _upload_note(True) for e in events)
    return Ingested(file, blob, tuple(tags.get(file.id, ())), deduplicated, skipped=False)


def queue_variants(
    uow: UnitOfWork, file: File, blob: Blob, *, needed: bool, now: datetime
) -> list[Job]:
    """The variants job of bytes whose variants are still to be made; for bytes that have
    them, once the file is complete, the event that says how they went."""
    if needed:
        job = new_job(VARIANTS, file, max_attempts=VARIANT_ATTEMPTS, now=now)
        uow.jobs.add(job)
        return [job]
    if file.status == "completed":
        uow.files.add_event(file, now, *_variant_event(blob))
    return []


async def blob_row(
    uow: UnitOfWork, tenant_id: str, sha256: str, new_blob: Blob | None
) -> tuple[Blob, bool]:
    """The locked blob row and whether these bytes were stored before this upload (raises
    _BytesPurged when known bytes are being purged, Conflict when new ones came as a purge
    emptied their key)."""
    if new_blob is not None:
        saved, inserted = await uow.blobs.add_if_absent(new_blob)
        if not inserted and not is_attachable(saved.state):
            # Stored under the key a purge is emptying, after this upload found none there:
            # the bytes may be gone already, and no file may name them.
            raise Conflict("these bytes were being removed from storage as they came; upload again")
        return saved, not inserted
    existing = await uow.blobs.lock(tenant_id, sha256)
    if existing is None or not is_attachable(existing.state):
        raise _BytesPurged(sha256)
    return existing, True


async def _target_of(
    uow: UnitOfWork, tenant_id: str, options: UploadOptions, *, hold: bool = True
) -> Target:
    """Where the upload's file goes (services/placement.py)."""
    return await target(
        uow,
        tenant_id,
        options.folder_id,
        options.project_id,
        project_given=options.project_id is not None,
        hold=hold,
    )


async def _schema_of(
    uow: UnitOfWork, tenant_id: str, options: UploadOptions
) -> ExtractionSchema | None:
    """The schema the upload asks to extract with, if any (404 for one the tenant lacks)."""
    if options.custom_schema_id is None:
        return None
    return await schema_or_404(uow, tenant_id, options.custom_schema_id, field="custom_schema_id")


def _settles_ahead(staged: StagedUpload, found: _Found) -> bool:
    """Whether large new bytes should start their way to the disk now (SETTLE_AHEAD_BYTES)."""
    return staged.size >= SETTLE_AHEAD_BYTES and found.blob is None


def _local_path(upload: Upload) -> Path:
    if not isinstance(upload, StagedUpload):
        raise TypeError("probed media must be staged locally before ingest")
    return upload.path


def _media_of(staged: Upload) -> MediaType:
    if staged.size == 0:
        raise EmptyFile("the file is empty", filename=staged.filename)
    return sniff(staged.head, filename_hint=staged.filename)


def _now() -> datetime:
    return datetime.now(UTC)


def _upload_note(deduplicated: bool) -> str:
    return "shares bytes already stored" if deduplicated else "new bytes stored"


def _variant_event(blob: Blob) -> tuple[str, str | None]:
    if blob.variant_error:
        return "variants_failed", blob.variant_error
    return "variants_ready", ", ".join(blob.variants)


def _new_file(
    tenant_id: str,
    staged: Upload,
    media: MediaType,
    handler: MediaHandler,
    blob: Blob,
    options: UploadOptions,
    placed: _Placement,
) -> File:
    now = _now()
    file = File(
        id=new_id(),
        tenant_id=tenant_id,
        sha256=staged.sha256,
        filename=staged.filename,
        title=options.title,
        content_category=options.content_category,
        media_type=media.kind,
        # This file's own type: the same bytes are Markdown in one file, plain text in another.
        mime_type=media.mime,
        size_bytes=blob.size_bytes,
        width=blob.width,
        height=blob.height,
        content_created_at=blob.content_created_at,
        # The upload is done once its variants job has finished, one way or the other.
        status="processing"
        if variant_state(blob.variants, blob.variant_error, has_previews=handler.has_previews)
        == "processing"
        else "completed",
        auto_describe=options.auto_describe,
        description_status=initial_status(
            auto_describe=options.auto_describe, describable=handler.describable
        ).value,
        session_id=placed.session_id,
        upload_ref=placed.upload_ref,
        created_at=now,
        updated_at=now,
    )
    for name, value in placed.file_fields.items():  # the kind's own columns, as probed
        setattr(file, name, value)
    return file
