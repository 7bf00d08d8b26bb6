"""What the media kinds' own pipeline jobs (a document's text extraction, a video's scenes)
share: their status columns and events on the file, the job's life around them, and reading
the stored original through the kind's handler.

Each such job is one per file, not per blob: every file has its own status. The kind's handler
refuses what it will not read (over a limit, corrupt, hostile) with a classified failure,
which is the job's; a storage error is worth another attempt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from scopix.server.catalog.models import File, Job
from scopix.server.catalog.uow import UnitOfWork
from scopix.server.domain import blobkeys
from scopix.server.domain.failures import Failure
from scopix.server.domain.media import media_of_mime
from scopix.server.jobs.handler import JobFailed
from scopix.server.jobs.records import new_job
from scopix.server.media import MediaHandlers
from scopix.server.media.base import Extraction, MediaFailed
from scopix.server.storage.base import BlobNotFound, BlobStore, local_copy
from scopix.types.describe import DescriptionErrorType

__all__ = ["PipelineJob", "PipelineStatus", "file_of", "storage_failure"]

log = logging.getLogger("scopix.pipeline")

_MISSING = Failure(DescriptionErrorType.VALIDATION_ERROR, "the stored original is missing")
_DELETED = Failure(DescriptionErrorType.VALIDATION_ERROR, "the file was deleted first")


@dataclass(frozen=True)
class PipelineStatus:
    """A pipeline's columns on the file, `<name>_status`, `<name>_error` and
    `<name>_error_type`, and its events, `<name>_queued`, `<name>_started`, ..."""

    name: str

    def queue(self, uow: UnitOfWork, file: File, kind: str, attempts: int, now: datetime) -> Job:
        """Queue the job of `kind` for a just-recorded file, in the transaction that records
        it: its status is `pending` until a worker takes the job."""
        self._set(file, "pending")
        job = new_job(kind, file, max_attempts=attempts, now=now)
        uow.jobs.add(job)
        uow.files.add_event(file, now, f"{self.name}_queued")
        return job

    def started(self, uow: UnitOfWork, file: File, job: Job) -> None:
        now = self._set(file, "processing")
        detail = f"attempt {job.attempts} of {job.max_attempts}"
        uow.files.add_event(file, now, f"{self.name}_started", detail)

    def completed(self, uow: UnitOfWork, file: File, detail: str) -> None:
        now = self._set(file, "completed")
        self._error(file, None, None)
        uow.files.add_event(file, now, f"{self.name}_completed", detail)

    def retrying(self, uow: UnitOfWork, file: File, failure: Failure, run_after: datetime) -> None:
        now = self._set(file, "pending")
        wait = max((run_after - now).total_seconds(), 0)
        note = f"{failure.error_type.value}: {failure.message}; retrying in {wait:.0f} s"
        uow.files.add_event(file, now, f"{self.name}_retry_scheduled", note)

    def requeued(self, uow: UnitOfWork, file: File, reason: str) -> None:
        now = self._set(file, "pending")
        uow.files.add_event(file, now, f"{self.name}_requeued", reason)

    def failed(self, uow: UnitOfWork, file: File, job: Job, failure: Failure) -> None:
        now = self._set(file, "failed")
        self._error(file, failure.message, failure.error_type.value)
        note = f"{failure.error_type.value}: {failure.message} (after {job.attempts} attempts)"
        uow.files.add_event(file, now, f"{self.name}_failed", note)
        log.info("%s of file %s failed: %s", self.name, file.id, note)

    def _set(self, file: File, status: str) -> datetime:
        now = datetime.now(UTC)
        setattr(file, f"{self.name}_status", status)
        file.updated_at = now
        return now

    def _error(self, file: File, message: str | None, error_type: str | None) -> None:
        setattr(file, f"{self.name}_error", message)
        setattr(file, f"{self.name}_error_type", error_type)


class PipelineJob:
    """The life of a pipeline job around its `execute` and `succeeded`: its status and events
    as a worker takes it, retries it, loses it or gives up on it."""

    status: PipelineStatus

    def __init__(self, store: BlobStore, media: MediaHandlers) -> None:
        self.store = store
        self.media = media

    async def started(self, uow: UnitOfWork, job: Job) -> None:
        self.status.started(uow, await file_of(uow, job), job)

    async def retrying(
        self, uow: UnitOfWork, job: Job, failure: Failure, run_after: datetime
    ) -> None:
        self.status.retrying(uow, await file_of(uow, job), failure, run_after)

    async def requeued(self, uow: UnitOfWork, job: Job, reason: str) -> None:
        self.status.requeued(uow, await file_of(uow, job), reason)

    async def failed(self, uow: UnitOfWork, job: Job, failure: Failure) -> None:
        self.status.failed(uow, await file_of(uow, job), job, failure)

    async def read(self, job: Job, file: File | None) -> Extraction:
        """What the kind's handler reads of the file's stored original; a file deleted first,
        a missing original or a refusal of the bytes fail the job for good."""
        if file is None or file.deleted_at is not None:
            raise JobFailed(_DELETED)
        media = media_of_mime(file.mime_type)
        key = blobkeys.original_key(job.tenant_id, job.sha256)
        try:
            async with local_copy(self.store, key) as path:
                return await self.media.of(media).extract(path, media, file.size_bytes)
        except MediaFailed as exc:
            raise JobFailed(exc.failure) from None
        except BlobNotFound:
            raise JobFailed(_MISSING) from None
        except OSError as exc:  # storage did not hand the bytes over: worth another attempt
            raise JobFailed(storage_failure("did not give the original", exc)) from exc


def storage_failure(what: str, exc: OSError) -> Failure:
    """A storage error as a retryable failure; strerror names no path (and S3's own text
    would name its endpoint)."""
    reason = exc.strerror or type(exc).__name__
    return Failure(DescriptionErrorType.TIMEOUT, f"storage {what}: {reason}")


async def file_of(uow: UnitOfWork, job: Job) -> File:
    file = await uow.files.by_id(job.tenant_id, job.file_id)
    assert file is not None, "a job's file is deleted only with the job (cascade)"
    return file
