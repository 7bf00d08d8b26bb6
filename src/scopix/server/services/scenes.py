"""Videos' scenes: the `scenes` job cuts a video into scenes through its media handler, stores
each scene's thumbnail beside the video's bytes, and records the scenes, their count and the
video's metadata (read again from the whole file) on the file."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from scopix.server.catalog.models import File, Job
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain import blobkeys
from scopix.server.domain.failures import Failure
from scopix.server.domain.media import media_of_mime
from scopix.server.jobs.handler import JobFailed
from scopix.server.jobs.records import SCENES, new_job
from scopix.server.media import MediaHandlers
from scopix.server.media.base import MediaFailed, SceneCut
from scopix.server.storage.base import BlobNotFound, BlobStore, local_copy
from scopix.types.describe import DescriptionErrorType

__all__ = ["SCENES_MAX_ATTEMPTS", "SceneHandler", "SceneResult", "queue_scene_analysis"]

log = logging.getLogger("scopix.scenes")

#: Attempts of one video's analysis: storage hiccups and a worker lost mid-analysis (its lease
#: expired) get a few more; a classified failure of the bytes (corrupt, over a limit, a
#: decoder overrun) is permanent and never retried (domain.failures decides by its error type).
SCENES_MAX_ATTEMPTS: Final = 3

_MISSING = Failure(DescriptionErrorType.VALIDATION_ERROR, "the stored original is missing")
_DELETED = Failure(DescriptionErrorType.VALIDATION_ERROR, "the file was deleted first")


def queue_scene_analysis(uow: UnitOfWork, file: File, now: datetime) -> Job:
    """Queue the scenes of a just-recorded video, in the transaction that records it: its
    status is `pending` until a worker takes the job."""
    file.video_analysis_status = "pending"
    job = new_job(SCENES, file, max_attempts=SCENES_MAX_ATTEMPTS, now=now)
    uow.jobs.add(job)
    uow.files.add_event(file.id, now, "video_analysis_queued")
    return job


@dataclass(frozen=True)
class SceneResult:
    """What the analysis found, and where each scene's thumbnail was stored (in scene order;
    None for a scene the handler gave no thumbnail)."""

    cut: SceneCut
    thumbnail_keys: list[str | None]


class SceneHandler:
    """The `scenes` job: one per video file (not per blob: each file has its own status). The
    kind's handler refuses what it will not read (a video over the analysis limit, a corrupt
    or hostile one) with a classified failure, which is the job's."""

    kind = SCENES

    def __init__(self, uows: UnitOfWorkFactory, store: BlobStore, media: MediaHandlers) -> None:
        self.uows = uows
        self.store = store
        self.media = media

    async def started(self, uow: UnitOfWork, job: Job) -> None:
        file = await _file_of(uow, job)
        now = datetime.now(UTC)
        file.video_analysis_status = "processing"
        file.updated_at = now
        detail = f"attempt {job.attempts} of {job.max_attempts}"
        uow.files.add_event(file.id, now, "video_analysis_started", detail)

    async def execute(self, job: Job) -> SceneResult:
        async with self.uows.read() as uow:
            file = await uow.files.by_id(job.tenant_id, job.file_id)
        if file is None or file.deleted_at is not None:
            raise JobFailed(_DELETED)
        cut = await self._cut(job, file)
        return SceneResult(cut, await self._store_thumbnails(job, cut))

    async def _cut(self, job: Job, file: File) -> SceneCut:
        media = media_of_mime(file.mime_type)
        key = blobkeys.original_key(job.tenant_id, job.sha256)
        try:
            async with local_copy(self.store, key) as path:
                cut = await self.media.of(media).extract(path, media, file.size_bytes)
            assert isinstance(cut, SceneCut), "only videos queue the scenes job"
            return cut
        except MediaFailed as exc:
            raise JobFailed(exc.failure) from None
        except BlobNotFound:
            raise JobFailed(_MISSING) from None
        except OSError as exc:  # storage did not hand the bytes over: worth another attempt
            raise JobFailed(_storage_failure("did not give the original", exc)) from exc

    async def _store_thumbnails(self, job: Job, cut: SceneCut) -> list[str | None]:
        """Store each scene's thumbnail beside the video's bytes (before the transaction that
        names them, so a committed scene never points at nothing); their keys in order."""
        keys: list[str | None] = []
        for scene in cut.scenes:
            if scene.thumbnail is None:
                keys.append(None)
                continue
            key = blobkeys.scene_thumbnail_key(job.tenant_id, job.sha256, scene.span.index)
            try:
                await self.store.put_bytes(key, scene.thumbnail)
            except OSError as exc:
                what = f"did not take the thumbnail of scene {scene.span.index}"
                raise JobFailed(_storage_failure(what, exc)) from exc
            keys.append(key)
        return keys

    async def succeeded(self, uow: UnitOfWork, job: Job, result: SceneResult) -> None:
        file = await _file_of(uow, job)
        now = datetime.now(UTC)
        cut = result.cut
        await uow.videos.replace(file, [s.span for s in cut.scenes], result.thumbnail_keys)
        file.video_metadata = cut.metadata.as_record()
        file.scene_count = len(cut.scenes)
        file.video_analysis_status = "completed"
        file.video_analysis_error = None
        file.video_analysis_error_type = None
        file.updated_at = now
        detail = f"{file.scene_count} scenes, {cut.metadata.duration_seconds:.1f} s"
        uow.files.add_event(file.id, now, "video_analysis_completed", detail)

    async def retrying(
        self, uow: UnitOfWork, job: Job, failure: Failure, run_after: datetime
    ) -> None:
        file = await _file_of(uow, job)
        now = datetime.now(UTC)
        file.video_analysis_status = "pending"
        file.updated_at = now
        wait = max((run_after - now).total_seconds(), 0)
        note = f"{failure.error_type.value}: {failure.message}; retrying in {wait:.0f} s"
        uow.files.add_event(file.id, now, "video_analysis_retry_scheduled", note)

    async def requeued(self, uow: UnitOfWork, job: Job, reason: str) -> None:
        file = await _file_of(uow, job)
        now = datetime.now(UTC)
        file.video_analysis_status = "pending"
        file.updated_at = now
        uow.files.add_event(file.id, now, "video_analysis_requeued", reason)

    async def failed(self, uow: UnitOfWork, job: Job, failure: Failure) -> None:
        file = await _file_of(uow, job)
        now = datetime.now(UTC)
        file.video_analysis_status = "failed"
        file.video_analysis_error = failure.message
        file.video_analysis_error_type = failure.error_type.value
        file.updated_at = now
        note = f"{failure.error_type.value}: {failure.message} (after {job.attempts} attempts)"
        uow.files.add_event(file.id, now, "video_analysis_failed", note)
        log.info("analysis of video %s failed: %s", file.id, note)


def _storage_failure(what: str, exc: OSError) -> Failure:
    """A storage error as a retryable failure; strerror names no path (and S3's own text
    would name its endpoint)."""
    reason = exc.strerror or type(exc).__name__
    return Failure(DescriptionErrorType.TIMEOUT, f"storage {what}: {reason}")


async def _file_of(uow: UnitOfWork, job: Job) -> File:
    file = await uow.files.by_id(job.tenant_id, job.file_id)
    assert file is not None, "a job's file is deleted only with the job (cascade)"
    return file
