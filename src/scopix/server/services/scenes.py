"""Videos' scenes: the `scenes` job cuts a video into scenes through its media handler, stores
each scene's thumbnail beside the video's bytes, and records the scenes, their count and the
video's metadata (read again from the whole file) on the file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from scopix.server.catalog.models import File, Job
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain import blobkeys
from scopix.server.jobs.handler import JobFailed
from scopix.server.jobs.records import SCENES
from scopix.server.media import MediaHandlers
from scopix.server.media.base import SceneCut
from scopix.server.services.pipeline_jobs import (
    PipelineJob,
    PipelineStatus,
    file_of,
    storage_failure,
)
from scopix.server.storage.base import BlobStore

__all__ = ["SCENES_MAX_ATTEMPTS", "SceneHandler", "SceneResult", "queue_scene_analysis"]

#: Attempts of one video's analysis: storage hiccups and a worker lost mid-analysis (its lease
#: expired) get a few more; a classified failure of the bytes (corrupt, over a limit, a
#: decoder overrun) is permanent and never retried (domain.failures decides by its error type).
SCENES_MAX_ATTEMPTS: Final = 3

#: The scenes job's status columns and events on the file.
VIDEO_ANALYSIS = PipelineStatus("video_analysis")


def queue_scene_analysis(uow: UnitOfWork, file: File, now: datetime) -> Job:
    """Queue the scenes of a just-recorded video, in the transaction that records it."""
    return VIDEO_ANALYSIS.queue(uow, file, SCENES, SCENES_MAX_ATTEMPTS, now)


@dataclass(frozen=True)
class SceneResult:
    """What the analysis found, and where each scene's thumbnail was stored (in scene order;
    None for a scene the handler gave no thumbnail)."""

    cut: SceneCut
    thumbnail_keys: list[str | None]


class SceneHandler(PipelineJob):
    """The `scenes` job of a video (pipeline_jobs.py says what such jobs share)."""

    kind = SCENES
    status = VIDEO_ANALYSIS

    def __init__(self, uows: UnitOfWorkFactory, store: BlobStore, media: MediaHandlers) -> None:
        super().__init__(store, media)
        self.uows = uows

    async def execute(self, job: Job) -> SceneResult:
        async with self.uows.read() as uow:
            file = await uow.files.by_id(job.tenant_id, job.file_id)
        cut = await self.read(job, file)
        assert isinstance(cut, SceneCut), "only videos queue the scenes job"
        return SceneResult(cut, await self._store_thumbnails(job, cut))

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
                raise JobFailed(storage_failure(what, exc)) from exc
            keys.append(key)
        return keys

    async def succeeded(self, uow: UnitOfWork, job: Job, result: SceneResult) -> None:
        file = await file_of(uow, job)
        cut = result.cut
        await uow.videos.replace(file, [s.span for s in cut.scenes], result.thumbnail_keys)
        file.video_metadata = cut.metadata.as_record()
        file.scene_count = len(cut.scenes)
        detail = f"{file.scene_count} scenes, {cut.metadata.duration_seconds:.1f} s"
        self.status.completed(uow, file, detail)
