"""The unit of work: one transaction, the repositories on it, and an explicit commit."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from scopix.server.catalog.added_rows import insert_added
from scopix.server.catalog.db import Database
from scopix.server.catalog.events import EventRepository, WebhookRepository
from scopix.server.catalog.extractions import ExtractionRepository, ExtractionSchemaRepository
from scopix.server.catalog.folders import FolderRepository
from scopix.server.catalog.projects import ProjectRepository
from scopix.server.catalog.repositories import (
    AnalysisRepository,
    ApiKeyRepository,
    BlobRepository,
    DirectUploadRepository,
    DocumentRepository,
    FileRepository,
    IdempotencyRepository,
    JobRepository,
    SessionRepository,
    TenantRepository,
    UsageRepository,
    VideoRepository,
)


class UnitOfWork:
    """`async with uow:` opens a transaction that is rolled back unless `commit()` was called."""

    session: AsyncSession
    tenants: TenantRepository
    keys: ApiKeyRepository
    blobs: BlobRepository
    files: FileRepository
    sessions: SessionRepository
    usage: UsageRepository
    jobs: JobRepository
    analyses: AnalysisRepository
    idempotency: IdempotencyRepository
    direct_uploads: DirectUploadRepository
    documents: DocumentRepository
    videos: VideoRepository
    projects: ProjectRepository
    folders: FolderRepository
    extraction_schemas: ExtractionSchemaRepository
    extractions: ExtractionRepository
    events: EventRepository
    webhooks: WebhookRepository

    def __init__(self, session_factory: Callable[[], AsyncSession]) -> None:
        self._session_factory = session_factory

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.tenants = TenantRepository(self.session)
        self.keys = ApiKeyRepository(self.session)
        self.blobs = BlobRepository(self.session)
        self.events = EventRepository(self.session)
        self.webhooks = WebhookRepository(self.session)
        self.files = FileRepository(self.session, self.events)
        self.sessions = SessionRepository(self.session)
        self.usage = UsageRepository(self.session)
        self.jobs = JobRepository(self.session)
        self.analyses = AnalysisRepository(self.session)
        self.idempotency = IdempotencyRepository(self.session)
        self.direct_uploads = DirectUploadRepository(self.session)
        self.documents = DocumentRepository(self.session)
        self.videos = VideoRepository(self.session)
        self.projects = ProjectRepository(self.session)
        self.folders = FolderRepository(self.session)
        self.extraction_schemas = ExtractionSchemaRepository(self.session)
        self.extractions = ExtractionRepository(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closing rolls back whatever was not committed and keeps loaded rows readable.
        await self.session.close()

    async def insert_added(self) -> None:
        """Write the rows added since the last flush now, as plain INSERTs; the objects leave
        the session, so later changes to them are not written (`added_rows`)."""
        await insert_added(self.session)

    async def commit(self) -> None:
        """Make everything done in this unit durable, with the events it recorded."""
        await self.events.write()
        await self.session.commit()

    async def commit_unique(self, conflict: Exception) -> None:
        """Commit, where a unique key was checked first: one that another transaction took
        since the check (an IntegrityError) raises `conflict` instead."""
        try:
            await self.commit()
        except IntegrityError as exc:
            raise conflict from exc


class UnitOfWorkFactory:
    """Hands out units of work for reading or for writing."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def read(self) -> UnitOfWork:
        """A unit of work that only reads."""
        return UnitOfWork(self.database.reader)

    def lookup(self) -> UnitOfWork:
        """A unit of work that reads a few rows by their keys in one statement, and nothing
        else: on SQLite it runs on the event loop (catalog/loop_session.py), where no scan may
        run, and outside any transaction, so two statements would not share one snapshot."""
        return UnitOfWork(self.database.looker)

    def write(self) -> UnitOfWork:
        """A unit of work that writes (on SQLite, it holds the single writer lock)."""
        return UnitOfWork(self.database.writer)
