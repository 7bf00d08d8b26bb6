"""Videos in the catalog, on a real SQLite file and a real PostgreSQL database: scenes in order,
the cut a description reads, tenant walls, deleted files, and a description waiting for its
video's scenes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import func, select

from catalogrows import blob_row, tenant_row
from scopix.server.catalog.migrate import alembic_config, upgrade
from scopix.server.catalog.models import File, Job, VideoScene
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain.blobkeys import scene_thumbnail_key
from scopix.server.domain.failures import RetryPolicy
from scopix.server.domain.ids import new_id
from scopix.server.domain.videos import SceneSpan, VideoMetadata
from scopix.server.jobs.records import DESCRIBE, SCENES, VARIANTS, new_job
from scopix.server.jobs.runner import JobRunner, LeaseSettings
from scopix.server.media.base import Scene, SceneCut

# They step the schema through old revisions: a database with none to begin with.
pytestmark = pytest.mark.fresh_catalog

METADATA = VideoMetadata(
    duration_seconds=6.0,
    width=640,
    height=360,
    frame_rate=25.0,
    video_codec="h264",
    audio_codec=None,
    bit_rate=250_000,
    has_audio=False,
)
SPANS = [
    SceneSpan(0, 0.0, 2.0, 1.0),
    SceneSpan(1, 2.0, 4.5, 3.25),
    SceneSpan(2, 4.5, 6.0, 5.25),
]


def test_the_videos_revision_migrates_down_and_up_again(database_url: str) -> None:
    upgrade(database_url)
    config = alembic_config(database_url)
    command.downgrade(config, "0012")
    command.upgrade(config, "head")
    command.check(config)


async def _tenant(uow: UnitOfWork) -> str:
    tenant = tenant_row()
    await uow.tenants.add(tenant)
    return tenant.id


def _video(tenant_id: str, sha: str, now: datetime) -> File:
    return File(
        id=new_id(),
        tenant_id=tenant_id,
        sha256=sha,
        filename="harbour.mp4",
        media_type="video",
        mime_type="video/mp4",
        size_bytes=1,
        status="completed",
        description_status="pending",
        video_metadata=METADATA.as_record(),
        video_analysis_status="pending",
        created_at=now,
        updated_at=now,
    )


async def _recorded_video(uows: UnitOfWorkFactory, tenant_id: str | None = None) -> File:
    """A video just uploaded: its scenes not cut yet."""
    now = datetime.now(UTC)
    async with uows.write() as uow:
        tenant_id = tenant_id or await _tenant(uow)
        sha = new_id().replace("-", "").ljust(64, "0")
        await uow.blobs.add_if_absent(blob_row(tenant_id, sha))
        file = _video(tenant_id, sha, now)
        uow.files.add(file, ())
        await uow.commit()
    return file


async def _cut_video(uows: UnitOfWorkFactory, tenant_id: str | None = None) -> File:
    """A video whose scenes job completed: three scenes, the last without a thumbnail."""
    file = await _recorded_video(uows, tenant_id)
    keys = [scene_thumbnail_key(file.tenant_id, file.sha256, i) for i in (0, 1)] + [None]
    async with uows.write() as uow:
        stored = await uow.files.by_id(file.tenant_id, file.id)
        assert stored is not None
        await uow.videos.replace(stored, SPANS, keys)
        stored.scene_count = len(SPANS)
        stored.video_analysis_status = "completed"
        await uow.commit()
    return file


async def test_scenes_come_back_in_order_with_their_thumbnails(uows: UnitOfWorkFactory) -> None:
    file = await _cut_video(uows)
    async with uows.read() as uow:
        scenes = await uow.videos.scenes(file.tenant_id, file.id)
    assert [(s.scene_index, s.start_seconds, s.end_seconds) for s in scenes] == [
        (0, 0.0, 2.0),
        (1, 2.0, 4.5),
        (2, 4.5, 6.0),
    ]
    assert scenes[1].keyframe_seconds == 3.25
    assert scenes[0].thumbnail_key == scene_thumbnail_key(file.tenant_id, file.sha256, 0)
    assert scenes[2].thumbnail_key is None


async def test_the_cut_is_read_back_for_the_description(uows: UnitOfWorkFactory) -> None:
    file = await _cut_video(uows)
    async with uows.read() as uow:
        cut = await uow.videos.cut(file.tenant_id, file.id)
    assert cut == SceneCut(METADATA, tuple(Scene(span) for span in SPANS))


async def test_a_video_whose_scenes_are_not_cut_has_no_cut(uows: UnitOfWorkFactory) -> None:
    waiting = await _recorded_video(uows)
    failed = await _cut_video(uows)
    async with uows.write() as uow:
        stored = await uow.files.by_id(failed.tenant_id, failed.id)
        assert stored is not None
        stored.video_analysis_status = "failed"
        await uow.commit()
    async with uows.read() as uow:
        assert await uow.videos.cut(waiting.tenant_id, waiting.id) is None
        assert await uow.videos.cut(failed.tenant_id, failed.id) is None
        assert await uow.videos.scenes(waiting.tenant_id, waiting.id) == []


async def test_scenes_are_the_tenants_own(uows: UnitOfWorkFactory) -> None:
    file = await _cut_video(uows)
    other = await _cut_video(uows)  # another tenant's
    async with uows.read() as uow:
        assert await uow.videos.scenes(file.tenant_id, other.id) == []
        assert await uow.videos.cut(file.tenant_id, other.id) is None
        assert len(await uow.videos.scenes(other.tenant_id, other.id)) == len(SPANS)


async def test_a_new_cut_replaces_the_scenes(uows: UnitOfWorkFactory) -> None:
    file = await _cut_video(uows)
    async with uows.write() as uow:
        stored = await uow.files.by_id(file.tenant_id, file.id)
        assert stored is not None
        await uow.videos.replace(stored, [SceneSpan(0, 0.0, 6.0, 3.0)], [None])
        await uow.commit()
    async with uows.read() as uow:
        scenes = await uow.videos.scenes(file.tenant_id, file.id)
    assert [(s.scene_index, s.end_seconds) for s in scenes] == [(0, 6.0)]


async def test_deleted_videos_show_no_scenes_and_are_purged_with_them(
    uows: UnitOfWorkFactory,
) -> None:
    file = await _cut_video(uows)
    async with uows.write() as uow:
        stored = await uow.files.by_id(file.tenant_id, file.id)
        assert stored is not None
        stored.deleted_at = datetime.now(UTC) - timedelta(days=40)
        await uow.commit()
    async with uows.read() as uow:
        assert await uow.videos.scenes(file.tenant_id, file.id) == []
        # A job still finishing on the deleted file reads its cut.
        assert await uow.videos.cut(file.tenant_id, file.id) is not None
    async with uows.write() as uow:
        assert await uow.files.remove_deleted([file.id], datetime.now(UTC)) == [file.id]
        await uow.commit()
    async with uows.read() as uow:
        left = await uow.session.scalar(select(func.count()).select_from(VideoScene))
    assert left == 0


# A description waits for its video's scenes.


class _Idle:
    """A job handler of one kind that does nothing."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    async def started(self, uow: UnitOfWork, job: Job) -> None:
        pass

    async def execute(self, job: Job) -> None:
        pass

    async def succeeded(self, uow: UnitOfWork, job: Job, result: None) -> None:
        pass

    async def retrying(self, uow: UnitOfWork, job: Job, failure: object, run_after: object) -> None:
        pass

    async def requeued(self, uow: UnitOfWork, job: Job, reason: str) -> None:
        pass

    async def failed(self, uow: UnitOfWork, job: Job, failure: object) -> None:
        pass


async def test_a_description_waits_for_its_videos_scenes(uows: UnitOfWorkFactory) -> None:
    file = await _recorded_video(uows)
    now = datetime.now(UTC)
    async with uows.write() as uow:
        jobs = {
            kind: new_job(kind, file, max_attempts=3, now=now)
            for kind in (VARIANTS, SCENES, DESCRIBE)
        }
        for job in jobs.values():
            uow.jobs.add(job)
        await uow.commit()
    runner = JobRunner(
        uows,
        {kind: _Idle(kind) for kind in (VARIANTS, SCENES, DESCRIBE)},
        lease=LeaseSettings(30.0),
        retry=RetryPolicy(base_delay_s=0.0, max_delay_s=0.0),
        owner="w1",
    )
    assert await runner.claim([DESCRIBE]) is None  # scenes are queued: it waits
    scenes = await runner.claim([SCENES])
    assert scenes is not None
    assert await runner.claim([DESCRIBE]) is None  # scenes run: it still waits
    assert await runner.run(scenes) == [jobs[DESCRIBE].id]  # dispatched the moment it may run
    describe = await runner.claim([DESCRIBE])
    assert describe is not None and describe.id == jobs[DESCRIBE].id
