"""Batch uploads: many files in one request, tracked as an upload session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from scopix.server.catalog.models import UploadSession, UploadSessionItem
from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.domain.errors import DomainError, NotFound
from scopix.server.domain.fields import UploadOptions
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
        self, tenant_id: str, staged: Sequence[StagedUpload], options: UploadOptions
    ) -> BatchOutcome:
        """Ingest every file; one bad file fails alone. A batch whose descriptions do not all
        fit in the quota is refused whole, before anything is stored."""
        if options.auto_describe and staged:
            async with self.uows.read() as uow:
                await reserve_descriptions(uow, tenant_id, len(staged))
        session_id = new_id()
        items = [
            await self._one(tenant_id, position, upload, options, session_id)
            for position, upload in enumerate(staged)
        ]
        session = await self._record(tenant_id, session_id, items)
        return BatchOutcome(session, items)

    async def _one(
        self,
        tenant_id: str,
        position: int,
        upload: StagedUpload,
        options: UploadOptions,
        session_id: str,
    ) -> BatchItem:
        try:
            done = await self.ingestor.ingest(tenant_id, upload, options, session_id)
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
        async with self.uows.write() as uow:
            uow.sessions.add(session, [_row(session_id, i) for i in items])
            await uow.commit()
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
