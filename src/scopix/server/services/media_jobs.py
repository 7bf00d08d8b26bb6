"""The media kinds' own pipeline jobs (`MediaHandler.extract_job`): how each is queued with a
new file, and how what it read is loaded back for the describe job. Ingest and describe go
through here, so that a kind with a pipeline of its own is one more entry, not a branch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Final

from scopix.server.catalog.models import File, Job
from scopix.server.catalog.uow import UnitOfWork
from scopix.server.jobs.records import CRAWL, EXTRACT, SCENES
from scopix.server.media.base import Extraction
from scopix.server.services.extract import queue_extraction
from scopix.server.services.pipeline_jobs import PipelineStatus
from scopix.server.services.scenes import queue_scene_analysis

__all__ = [
    "CRAWL_MAX_ATTEMPTS",
    "LINK_CRAWL",
    "content_job",
    "load_extraction",
    "queue_crawl",
    "queue_media_job",
]

#: Attempts of one crawl: a site that is down, slow or refusing for now (5xx, 429, a timeout,
#: a lost connection) gets a few more; a refused address, a 4xx or a page that is no page is
#: permanent and never retried (domain.failures decides by its error type).
CRAWL_MAX_ATTEMPTS: Final = 3

#: The crawl job's status columns and events on a link's file (services/crawl.py).
LINK_CRAWL = PipelineStatus("crawl")


def queue_crawl(uow: UnitOfWork, file: File, now: datetime) -> Job:
    """Queue the fetch of a link's page, in the transaction that records or recrawls it."""
    return LINK_CRAWL.queue(uow, file, CRAWL, CRAWL_MAX_ATTEMPTS, now)


_Queue = Callable[[UnitOfWork, File, datetime], Job]
_Load = Callable[[UnitOfWork, str, str], Awaitable[Extraction | None]]

_QUEUES: dict[str, _Queue] = {
    EXTRACT: queue_extraction,
    SCENES: queue_scene_analysis,
    CRAWL: queue_crawl,
}
_LOADS: dict[str, _Load] = {
    EXTRACT: lambda uow, tenant_id, file_id: uow.documents.extracted(tenant_id, file_id),
    SCENES: lambda uow, tenant_id, file_id: uow.videos.cut(tenant_id, file_id),
    # A crawled page's text is extracted as a document's is (the crawl queues EXTRACT).
    CRAWL: lambda uow, tenant_id, file_id: uow.documents.extracted(tenant_id, file_id),
}


#: Pipelines that fetch their content, and the job that then reads what they fetched: a
#: crawled page's text is extracted as a document's is.
_READ_AFTER: dict[str, str] = {CRAWL: EXTRACT}


def content_job(extract_job: str | None) -> str | None:
    """The job that reads the stored bytes of a kind whose own pipeline is `extract_job`."""
    if extract_job is None:
        return None
    return _READ_AFTER.get(extract_job, extract_job)


def queue_media_job(uow: UnitOfWork, file: File, kind: str, now: datetime) -> Job:
    """Queue `file`'s pipeline job of `kind`, in the transaction that records the file: its
    status is `pending` until a worker takes the job."""
    return _QUEUES[kind](uow, file, now)


async def load_extraction(
    uow: UnitOfWork, kind: str, tenant_id: str, file_id: str
) -> Extraction | None:
    """What `file_id`'s pipeline job of `kind` read, or None while it has read nothing."""
    return await _LOADS[kind](uow, tenant_id, file_id)
