"""Links: a URL saved as a file. The file is recorded at once, its bytes a placeholder (the
normalized URL as a URL list) until the crawl job fetches the page (services/crawl.py); the
tenant's links are deduplicated by that URL, and a link is fetched again on demand or, when
`links_recrawl_hours` says so, by the maintenance sweep."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from scopix.server.catalog.models import File, Job
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain.errors import (
    Conflict,
    DomainError,
    IdempotencyKeyReused,
    NotFound,
    WrongMediaType,
)
from scopix.server.domain.fields import (
    MAX_FILENAME_CHARS,
    UploadOptions,
    validate_optional_id,
    validate_tags,
    validate_title,
)
from scopix.server.domain.ids import looks_like_id
from scopix.server.domain.media import URI_LIST_MIME, media_of_mime
from scopix.server.domain.urls import normalize_url, url_domain
from scopix.server.jobs.queue import JobQueue
from scopix.server.jobs.records import CRAWL
from scopix.server.services.describe import reserve_descriptions
from scopix.server.services.ingest import Ingested, Ingestor, StagedUpload
from scopix.server.services.media_jobs import queue_crawl

__all__ = ["LinkOutcome", "LinkRequest", "LinkService", "placeholder_bytes"]

#: Links queued for a recrawl by one maintenance sweep; the rest wait for the next sweep.
RECRAWLS_PER_SWEEP = 100


@dataclass(frozen=True)
class LinkRequest:
    """One link to save, as a client asked for it (the URL not yet normalized)."""

    url: str
    title: str | None = None
    tags: tuple[str, ...] = ()
    auto_describe: bool = True
    skip_duplicates: bool = False
    folder_id: str | None = None
    project_id: str | None = None
    custom_schema_id: str | None = None
    #: `<idempotency record id>:<position>` when the request carries an Idempotency-Key: a
    #: retry finds the link its first attempt saved, even after a crash between the two
    upload_ref: str | None = None


@dataclass(frozen=True)
class LinkOutcome:
    """What became of one URL of a batch: its file, or the refusal that is its alone."""

    url: str
    ingested: Ingested | None = None
    error: DomainError | None = None


def placeholder_bytes(url: str) -> bytes:
    """A link's bytes until its page is fetched: its normalized URL as a one-line URL list
    (RFC 2483), so that links to the same URL share one tiny blob."""
    return url.encode() + b"\r\n"


class LinkService:
    """`POST /files/links`, `/files/links/batch` and `/files/{id}/recrawl`."""

    def __init__(
        self, uows: UnitOfWorkFactory, ingest: Ingestor, queue: JobQueue, *, allow_private: bool
    ) -> None:
        self.uows = uows
        self.ingest = ingest
        self.queue = queue
        self.allow_private = allow_private

    async def add(self, tenant_id: str, request: LinkRequest) -> Ingested:
        """Record a link to be fetched (its crawl is queued with it, and its description when
        asked for); with `skip_duplicates`, the tenant's live link to the same URL instead.
        A URL that is not http(s), or names a refused address, is refused here."""
        url = normalize_url(request.url, allow_private=self.allow_private)
        options = _options(request)
        if request.upload_ref is not None:
            earlier = await self._saved_under(tenant_id, request.upload_ref, url)
            if earlier is not None:
                return earlier
        if options.skip_duplicates:
            found = await self._live_link(tenant_id, url)
            if found is not None:
                return found
        await self.ingest.check_placement(tenant_id, options)
        fields = {"source_url": url, "domain": url_domain(url)}
        staged = self._stage(url)
        return await self.ingest.ingest_written(
            tenant_id, staged, media_of_mime(URI_LIST_MIME), options, fields, request.upload_ref
        )

    async def add_batch(self, tenant_id: str, requests: Sequence[LinkRequest]) -> list[LinkOutcome]:
        """Add each link; a bad URL fails alone. A batch whose descriptions do not all fit in
        the quota is refused whole, before anything is recorded, as a batch upload is."""
        if requests:  # one place for the whole batch: refused once, before anything
            await self.ingest.check_placement(tenant_id, _options(requests[0]))
        wanted = sum(1 for request in requests if request.auto_describe)
        if wanted:
            async with self.uows.read() as uow:
                await reserve_descriptions(uow, tenant_id, wanted)
        outcomes = []
        for request in requests:
            try:
                outcomes.append(LinkOutcome(request.url, await self.add(tenant_id, request)))
            except DomainError as exc:
                outcomes.append(LinkOutcome(request.url, error=exc))
        return outcomes

    async def recrawl(self, tenant_id: str, file_id: str) -> File:
        """Queue a new fetch of a link's page; 409 while one is queued or running, 400
        (WRONG_MEDIA_TYPE) for a file that was not saved from a URL."""
        async with self.uows.write() as uow:
            file = await uow.files.lock(tenant_id, file_id) if looks_like_id(file_id) else None
            if file is None:
                raise NotFound("file not found", file_id=file_id)
            if file.source_url is None:
                raise WrongMediaType(
                    "only a link (a file saved from a URL) can be fetched again",
                    media_type=file.media_type,
                )
            job = await _queue_recrawl(uow, file)
            if job is None:
                raise Conflict(
                    "the link is being fetched or read already; ask again once its crawl is "
                    "completed or failed and its page read",
                    crawl_status=file.crawl_status,
                )
            await uow.commit()
        await self.queue.dispatch([job.id])
        return file

    async def recrawl_due(self, older_than: timedelta) -> int:
        """Queue a fetch of links last crawled longer ago than `older_than` (at most
        RECRAWLS_PER_SWEEP); how many were queued."""
        cutoff = datetime.now(UTC) - older_than
        async with self.uows.read() as uow:
            due = await uow.files.due_for_recrawl(cutoff, RECRAWLS_PER_SWEEP)
        queued = []
        for tenant_id, file_id in due:
            async with self.uows.write() as uow:
                file = await uow.files.lock(tenant_id, file_id)
                job = await _queue_recrawl(uow, file) if file is not None else None
                if job is not None:
                    await uow.commit()
                    queued.append(job.id)
        await self.queue.dispatch(queued)
        return len(queued)

    async def _saved_under(self, tenant_id: str, upload_ref: str, url: str) -> Ingested | None:
        """The link a first attempt of this keyed request saved (its bytes may be the fetched
        page by now), or None; another URL at the same reference means the key was reused."""
        earlier = await self.ingest.recorded(tenant_id, upload_ref)
        if earlier is not None and earlier.file.source_url != url:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used to save another URL; use a new key",
                field="Idempotency-Key",
            )
        return earlier

    async def _live_link(self, tenant_id: str, url: str) -> Ingested | None:
        async with self.uows.read() as uow:
            live = await uow.files.live_link(tenant_id, url)
            blob = await uow.blobs.get(tenant_id, live.sha256) if live is not None else None
        if live is None or blob is None:
            return None
        return await self.ingest.skipped(live, blob)

    def _stage(self, url: str) -> StagedUpload:
        data = placeholder_bytes(url)
        path = self.ingest.store.new_staging_path()
        path.write_bytes(data)
        filename = url[:MAX_FILENAME_CHARS]
        return StagedUpload(path, filename, len(data), hashlib.sha256(data).hexdigest(), data)


async def _queue_recrawl(uow: UnitOfWork, file: File) -> Job | None:
    """Queue the locked link's crawl, unless one is queued or running already, or a job that
    reads its bytes runs now (None): that job would finish on the old page after the crawl
    replaced it. Queued ones wait for the crawl (`WAITS_FOR`) and follow the new bytes."""
    if await uow.jobs.active_for_file(file.id, CRAWL) is not None:
        return None
    if await uow.jobs.running_for_file(file.id):
        return None
    return queue_crawl(uow, file, datetime.now(UTC))


def _options(request: LinkRequest) -> UploadOptions:
    return UploadOptions(
        title=validate_title(request.title),
        tags=validate_tags(request.tags),
        auto_describe=request.auto_describe,
        skip_duplicates=request.skip_duplicates,
        folder_id=validate_optional_id(request.folder_id, field="folder_id"),
        project_id=validate_optional_id(request.project_id, field="project_id"),
        custom_schema_id=validate_optional_id(request.custom_schema_id, field="custom_schema_id"),
    )
