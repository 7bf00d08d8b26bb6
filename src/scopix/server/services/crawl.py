"""Links' pages: the `crawl` job fetches a link's URL in the isolated workers, keeps an HTML
page as an MHTML archive with its preview image (or a PDF, an image, a text as a file of that
type), stores those bytes in place of the link's placeholder, and queues what they need as
ingest does (variants, their kind's own job, a description when a recrawl changed them).

Until the crawl is over nothing reads the placeholder (`WAITS_FOR`): a failed crawl leaves it,
and the waiting description then fails on it too, saying why."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final

from scopix.server.catalog.models import Blob, File, Job
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain.errors import (
    DomainError,
    InsufficientStorage,
    QuotaExceeded,
    ResourceLimit,
    Unavailable,
    UnsupportedMediaType,
)
from scopix.server.domain.failures import Failure
from scopix.server.domain.media import (
    PAGE_ARCHIVE_MIME,
    SNIFF_BYTES,
    URI_LIST_MIME,
    MediaType,
    is_image,
    media_of_mime,
    sniff,
)
from scopix.server.domain.purge import is_attachable
from scopix.server.domain.status import DescriptionEvent, can_request
from scopix.server.domain.variants import variant_state
from scopix.server.isolation import DecodeResourceLimit, IsolatedPool, IsolationLimits
from scopix.server.jobs.handler import JobFailed
from scopix.server.jobs.records import CRAWL, DESCRIBE, VARIANTS, new_job
from scopix.server.media import MediaHandlers
from scopix.server.media.links.archive import PageArchive, build_archive
from scopix.server.media.links.fetch import Fetched, FetchFailed, FetchRules, fetch, is_html
from scopix.server.media.links.read import preview_image_url
from scopix.server.services.describe import record_event, reserve_descriptions
from scopix.server.services.ingest import (
    Ingestor,
    StagedUpload,
    blob_row,
    queue_variants,
)
from scopix.server.services.media_jobs import LINK_CRAWL, content_job, queue_media_job
from scopix.server.services.pipeline_jobs import PipelineJob, file_of
from scopix.server.services.storage_quota import Reservation
from scopix.types.describe import DescriptionErrorType, DescriptionStatus

__all__ = ["CrawlHandler", "CrawlSettings", "Crawled", "fetch_failure"]

log = logging.getLogger("scopix.crawl")

#: The isolated task's name in logs (and for the test crash hook).
STAGE: Final = "crawl"
#: Wall clock a fetch's child gets past the fetch's own deadline before it is killed: the
#: deadline stops the fetch, this only stops a child that hangs anyway.
CHILD_GRACE_S: Final = 10.0

_VALIDATION = DescriptionErrorType.VALIDATION_ERROR
_DELETED = Failure(_VALIDATION, "the file was deleted first")
_NO_URL = Failure(_VALIDATION, "the file was not saved from a URL")

#: How each kind of fetch failure is classified: a refused address or scheme, a 4xx, a TLS
#: error or what is no page is permanent; a site down, slow or busy is worth more attempts.
_FETCH_ERRORS: Final = {
    "refused": _VALIDATION,
    "client": _VALIDATION,
    "server": DescriptionErrorType.TIMEOUT,
    "network": DescriptionErrorType.TIMEOUT,
    "timeout": DescriptionErrorType.TIMEOUT,
    "too_large": DescriptionErrorType.RESOURCE_LIMIT,
}


@dataclass(frozen=True)
class CrawlSettings:
    """How pages are fetched (`links_*` settings) and the limits of the child that does it."""

    rules: FetchRules
    max_image_bytes: int
    limits: IsolationLimits

    @property
    def child_limits(self) -> IsolationLimits:
        """The isolation limits with a wall clock just past the fetch's own deadline."""
        wall = self.rules.deadline_seconds + CHILD_GRACE_S
        return replace(self.limits, wall_seconds=min(self.limits.wall_seconds, wall))


@dataclass(frozen=True)
class Crawled:
    """What a crawl kept: the bytes' type, hash and size, where they came from, and the blob
    stored for them with the room reserved for it (None when the tenant stores them already)."""

    media: MediaType
    sha256: str
    size: int
    url: str
    new_blob: Blob | None = None
    reservation: Reservation | None = None


def fetch_failure(exc: FetchFailed) -> Failure:
    """A fetch's failure, classified by its kind."""
    return Failure(_FETCH_ERRORS.get(exc.kind, _VALIDATION), exc.reason)


class CrawlHandler(PipelineJob):
    """The `crawl` job of a link (pipeline_jobs.py says what such jobs share)."""

    kind = CRAWL
    status = LINK_CRAWL

    def __init__(
        self,
        uows: UnitOfWorkFactory,
        ingest: Ingestor,
        media: MediaHandlers,
        pool: IsolatedPool,
        settings: CrawlSettings,
        describe_attempts: int,
    ) -> None:
        super().__init__(ingest.store, media)
        self.uows = uows
        self.ingest = ingest
        self.pool = pool
        self.settings = settings
        self.describe_attempts = describe_attempts

    async def execute(self, job: Job) -> Crawled:
        async with self.uows.read() as uow:
            file = await uow.files.by_id(job.tenant_id, job.file_id)
        if file is None or file.deleted_at is not None:
            raise JobFailed(_DELETED)
        if file.source_url is None:
            raise JobFailed(_NO_URL)
        fetched = await self._fetch(file.source_url, self.settings.rules)
        data, media = await self._content(fetched)
        return await self._keep(job.tenant_id, data, media, fetched.url)

    async def _fetch(self, url: str, rules: FetchRules) -> Fetched:
        try:
            return await self.pool.run(
                fetch, url, rules, limits=self.settings.child_limits, stage=STAGE
            )
        except FetchFailed as exc:
            raise JobFailed(fetch_failure(exc)) from None
        except DecodeResourceLimit as exc:
            what = f"fetching the page ran past its limits: {exc}"
            raise JobFailed(Failure(DescriptionErrorType.RESOURCE_LIMIT, what)) from None

    async def _content(self, fetched: Fetched) -> tuple[bytes, MediaType]:
        """An HTML page as an archive with its preview image; anything else as the accepted
        type it is, or a permanent failure naming what it is."""
        if is_html(fetched):
            image_url, image = await self._preview_image(fetched)
            page = PageArchive(fetched.url, fetched.body, fetched.charset, image, image_url)
            return build_archive(page), media_of_mime(PAGE_ARCHIVE_MIME)
        try:
            return fetched.body, sniff(fetched.body[:SNIFF_BYTES], filename_hint=fetched.url)
        except UnsupportedMediaType as exc:
            detected = exc.details.get("detected", "unknown")
            what = fetched.content_type or detected
            message = f"the page is {what}, which is not read"
            raise JobFailed(Failure(_VALIDATION, message)) from None

    async def _preview_image(self, fetched: Fetched) -> tuple[str | None, bytes | None]:
        """The page's og:image or first article image, fetched by the same rules under the
        image cap; an image that cannot be had is left out, and the page kept without it."""
        try:
            url = await self.pool.run(
                preview_image_url,
                fetched.body,
                fetched.url,
                fetched.charset,
                limits=self.settings.child_limits,
                stage=STAGE,
            )
            if url is None:
                return None, None
            rules = replace(self.settings.rules, max_body_bytes=self.settings.max_image_bytes)
            image = await self.pool.run(
                fetch, url, rules, limits=self.settings.child_limits, stage=STAGE
            )
            if not is_image(image.body[:SNIFF_BYTES]):
                return None, None
        except (FetchFailed, DecodeResourceLimit, DomainError) as exc:
            log.info("the preview image of %s is left out: %s", fetched.url, exc)
            return None, None
        return image.url, image.body

    async def _keep(self, tenant_id: str, data: bytes, media: MediaType, url: str) -> Crawled:
        """Store bytes the tenant does not hold yet, as an upload's are (quota reserved, the
        preview of an image rendered); a refusal of the bytes or the room fails the crawl."""
        sha256 = hashlib.sha256(data).hexdigest()
        async with self.uows.read() as uow:
            blob = await uow.blobs.get(tenant_id, sha256)
        if blob is not None and is_attachable(blob.state):
            return Crawled(media, sha256, len(data), url)
        path = self.store.new_staging_path()
        path.write_bytes(data)
        staged = StagedUpload(path, "crawled", len(data), sha256, data[:SNIFF_BYTES])
        try:
            new_blob, reservation = await self.ingest.keep_new_bytes(tenant_id, staged, media)
        except DomainError as exc:
            raise JobFailed(_refusal(exc)) from None
        finally:
            path.unlink(missing_ok=True)
        return Crawled(media, sha256, len(data), url, new_blob, reservation)

    async def succeeded(self, uow: UnitOfWork, job: Job, result: Crawled) -> None:
        file = await file_of(uow, job)
        now = datetime.now(UTC)
        file.crawled_at = now
        if result.sha256 == file.sha256:  # a recrawl of a page that has not changed
            self.status.completed(uow, file, f"unchanged at {result.url}")
            return
        recrawled = file.mime_type != URI_LIST_MIME  # it held a page before, not its URL
        saved, stored_before = await blob_row(uow, job.tenant_id, result.sha256, result.new_blob)
        if result.reservation is not None:
            await result.reservation.settle(uow, keep=not stored_before)
        _repoint(file, saved, result.media, now)
        await uow.jobs.repoint_file(file.id, result.sha256)
        await self._queue_work(uow, file, saved, result.media, now)
        if recrawled and file.auto_describe and self.media.of(result.media).describable:
            await self._describe_again(uow, file, now)
        detail = f"{result.media.mime}, {result.size} bytes from {result.url}"
        self.status.completed(uow, file, detail)
        await uow.files.reindex(file)

    async def failed(self, uow: UnitOfWork, job: Job, failure: Failure) -> None:
        """The crawl failed for good: the upload itself is done, its crawl status says how."""
        file = await file_of(uow, job)
        self.status.failed(uow, file, job, failure)
        file.status = "completed"

    async def _queue_work(
        self, uow: UnitOfWork, file: File, blob: Blob, media: MediaType, now: datetime
    ) -> None:
        """What the new bytes need, as ingest queues it: variants unless made (or a queued job
        of the file, now pointing at them, makes them), the kind's own job (a page archive's
        text is extracted as a document's), in the crawl's transaction."""
        handler = self.media.of(media)
        file.status = "completed"
        if handler.has_previews:
            queued = await uow.jobs.active_for_file(file.id, VARIANTS)
            state = variant_state(blob.variants, blob.variant_error)
            needed = queued is None and state == "processing"
            if queued is not None or needed:
                file.status = "processing"
            queue_variants(uow, file, blob, needed=needed, now=now)
        own_job = content_job(handler.extract_job)
        if own_job is None or await uow.jobs.active_for_file(file.id, own_job) is not None:
            return
        queue_media_job(uow, file, own_job, now)

    async def _describe_again(self, uow: UnitOfWork, file: File, now: datetime) -> None:
        """A recrawl that changed the page describes it again, quota permitting; an event
        says why not otherwise."""
        if not can_request(DescriptionStatus(file.description_status)):
            return  # the description queued or running waits for this crawl: it reads the page
        try:
            await reserve_descriptions(uow, file.tenant_id, 1)
        except QuotaExceeded as exc:
            uow.files.add_event(file, now, "description_not_queued", exc.message)
            return
        uow.jobs.add(new_job(DESCRIBE, file, max_attempts=self.describe_attempts, now=now))
        record_event(uow, file, DescriptionEvent.REQUESTED, now, "the page changed")


def _repoint(file: File, blob: Blob, media: MediaType, now: datetime) -> None:
    """The file now holds the crawled bytes, as their kind."""
    file.sha256 = blob.sha256
    file.mime_type = media.mime
    file.media_type = media.kind
    file.size_bytes = blob.size_bytes
    file.width, file.height = blob.width, blob.height
    file.content_created_at = blob.content_created_at
    file.updated_at = now


def _refusal(exc: DomainError) -> Failure:
    """Fetched bytes refused as an upload's would be: storage away is worth another attempt,
    no room or bytes over a limit are a resource limit, anything else is the bytes' fault."""
    if isinstance(exc, Unavailable):
        return Failure(DescriptionErrorType.TIMEOUT, exc.message)
    if isinstance(exc, QuotaExceeded | InsufficientStorage | ResourceLimit) or exc.code.endswith(
        "TOO_LARGE"
    ):
        return Failure(DescriptionErrorType.RESOURCE_LIMIT, exc.message)
    return Failure(_VALIDATION, exc.message)
