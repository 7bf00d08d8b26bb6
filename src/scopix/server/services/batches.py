"""Batch uploads: many files in one request, tracked as an upload session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from scopix.server.catalog.models import UploadSession, UploadSessionItem
from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.domain.errors import DomainError, IdempotencyKeyReused, NotFound
from scopix.server.domain.events import BATCH_COMPLETED
from scopix.server.domain.fields import UploadOptions
from scopix.server.domain.idempotency import upload_ref
from scopix.server.domain.ids import looks_like_id, new_id
from scopix.server.services.describe import reserve_descriptions
from scopix.server.services.files import FileView
from scopix.server.services.ingest import Ingested, Ingestor, StagedUpload


@dataclass(frozen=True)
class BatchItem:
    """One file of a batch: its view when stored, its error when refused."""

    position: int
    filename: str
    view: FileView | None
    deduplicated: bool | None
    outcome: str  # "uploaded", "skipped" or "failed"
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class BatchOutcome:
    """A finished batch."""

    session: UploadSession
    items: list[BatchItem]


class BatchService:
    """Runs each file of a batch through ingest and records the session."""

    def __init__(self, uows: UnitOfWorkFactory, ingestor: Ingestor) -> None:
        self.uows = uows
        self.ingestor = ingestor

    async def upload(
        self,
        tenant_id: str,
        staged: Sequence[StagedUpload],
        options: UploadOptions,
        idempotency_record: str | None = None,
    ) -> BatchOutcome:
        """Ingest every file; one bad file fails alone. A batch whose descriptions do not all
        fit in the quota is refused whole, before anything is stored.

        A keyed batch (`idempotency_record`) is its record's session, and each file is stored
        under its position's reference: a retry after a crash finds what the first attempt
        stored, and stores, reserves and records only the rest.
        """
        refs = [
            upload_ref(idempotency_record, i) if idempotency_record else None
            for i in range(len(staged))
        ]
        await self.ingestor.check_placement(tenant_id, options)  # one place for all: 404 once
        if options.auto_describe and staged:
            await self._reserve(tenant_id, refs)
        session_id = idempotency_record or new_id()
        items = [
            await self._one(tenant_id, position, upload, options, session_id, refs[position])
            for position, upload in enumerate(staged)
        ]
        session = await self._record(tenant_id, session_id, items)
        return BatchOutcome(session, items)

    async def _reserve(self, tenant_id: str, refs: list[str | None]) -> None:
        """Check the quota for the files not yet stored (their descriptions hold a credit)."""
        async with self.uows.read() as uow:
            keyed = [r for r in refs if r is not None]
            stored = await uow.files.stored_refs(tenant_id, keyed)
            needed = len(refs) - len(stored)
            if needed:
                await reserve_descriptions(uow, tenant_id, needed)

    async def _one(
        self,
        tenant_id: str,
        position: int,
        upload: StagedUpload,
        options: UploadOptions,
        session_id: str,
        ref: str | None,
    ) -> BatchItem:
        try:
            done = await self.ingestor.ingest(tenant_id, upload, options, session_id, ref)
        except IdempotencyKeyReused:
            raise  # the whole request is another one, not one bad file
        except DomainError as exc:
            return BatchItem(position, upload.filename, None, None, "failed", exc.code, exc.message)
        return _item(position, upload.filename, done)

    async def _record(
        self, tenant_id: str, session_id: str, items: list[BatchItem]
    ) -> UploadSession:
        now = datetime.now(UTC)
        failed = sum(1 for i in items if i.outcome == "failed")
        session = UploadSession(
            id=session_id,
            tenant_id=tenant_id,
            status="completed",
            total_files=len(items),
            succeeded=len(items) - failed,
            failed=failed,
            created_at=now,
            completed_at=now,
        )
        rows = [_row(session_id, i) for i in items]
        try:
            async with self.uows.write() as uow:
                # A retried batch records its session afresh: the first attempt may have
                # recorded it before dying.
                await uow.sessions.remove(tenant_id, session_id)
                uow.sessions.add(session, rows)
                uow.events.record(tenant_id, BATCH_COMPLETED, now, _completed_data(session))
                await uow.commit()
        except IntegrityError:  # a concurrent attempt of the same keyed batch recorded it
            async with self.uows.read() as uow:
                recorded = await uow.sessions.get(tenant_id, session_id)
            if recorded is None:
                raise
            return recorded
        return session

    async def get(self, tenant_id: str, session_id: str) -> BatchOutcome:
        """A session and what became of each of its files (as they are now)."""
        async with self.uows.read() as uow:
            session = (
                await uow.sessions.get(tenant_id, session_id) if looks_like_id(session_id) else None
            )
            if session is None:
                raise NotFound("upload session not found", session_id=session_id)
            rows = await uow.sessions.items(session_id)
            files = {
                r.file_id: await uow.files.get(tenant_id, r.file_id) for r in rows if r.file_id
            }
            live = [f for f in files.values() if f is not None]
            blobs = await uow.files.blobs_for(live)
            tags = await uow.files.tags_for([f.id for f in live])
        items = []
        for row in rows:
            file = files.get(row.file_id) if row.file_id else None
            view = (
                FileView(file, blobs[file.sha256], tuple(tags.get(file.id, ()))) if file else None
            )
            items.append(_stored_item(row, view))
        return BatchOutcome(session, items)


def _item(position: int, filename: str, done: Ingested) -> BatchItem:
    view = FileView(done.file, done.blob, done.tags)
    outcome = "skipped" if done.skipped else "uploaded"
    return BatchItem(position, filename, view, done.deduplicated, outcome)


def _row(session_id: str, item: BatchItem) -> UploadSessionItem:
    return UploadSessionItem(
        session_id=session_id,
        position=item.position,
        filename=item.filename,
        file_id=item.view.file.id if item.view else None,
        deduplicated=item.deduplicated,
        outcome=item.outcome,
        error_code=item.error_code,
        error_message=item.error_message,
    )


def _stored_item(row: UploadSessionItem, view: FileView | None) -> BatchItem:
    return BatchItem(
        row.position,
        row.filename,
        view,
        row.deduplicated,
        row.outcome,
        row.error_code,
        row.error_message,
    )


def _completed_data(session: UploadSession) -> dict[str, object]:
    return {
        "session_id": session.id,
        "total_files": session.total_files,
        "succeeded": session.succeeded,
        "failed": session.failed,
    }
