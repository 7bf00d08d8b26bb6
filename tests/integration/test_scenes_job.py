"""The scenes job, through the real app with its decoder children: a video uploaded is probed at
once (its metadata shows before any job ran), then cut into scenes whose thumbnails are stored
beside its bytes; its description waits for that; what cannot be cut ends `failed` with a clear
error and type; and a purge takes the thumbnails with the video."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image

from apiclient import Api, running_api
from scopix.server.catalog.models import File, FileEvent, VideoScene
from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.domain import blobkeys
from scopix.server.jobs.records import DESCRIBE, SCENES
from scopix.server.services.purge import Purger
from scopix.server.settings import Settings
from videofactory import THREE_SCENES_CUTS, captioned_video, ftyp_only, three_scenes

FILES = "/api/v2/files"


async def _upload(api: Api, data: bytes, *, describe: bool = False) -> str:
    sent = await api.client.post(
        f"{FILES}/upload",
        files={"file": ("harbour.mp4", data)},
        data={"auto_describe": str(describe).lower()},
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["media_type"] == "video"
    file_id: str = sent.json()["image_id"]
    return file_id


def _uows(api: Api) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(api.services.database)


async def _file(api: Api, file_id: str) -> File:
    async with _uows(api).read() as uow:
        file = await uow.session.get(File, file_id)
    assert file is not None
    return file


async def _scenes(api: Api, file: File) -> list[VideoScene]:
    async with _uows(api).read() as uow:
        return list(await uow.videos.scenes(file.tenant_id, file.id))


async def _events(api: Api, file_id: str) -> list[str]:
    async with _uows(api).read() as uow:
        events: list[FileEvent] = list(await uow.files.events_for(file_id))
    return [e.event for e in events if e.event.startswith("video_analysis")]


async def _set(api: Api, file_id: str, **columns: Any) -> None:
    async with _uows(api).write() as uow:
        file = await uow.session.get(File, file_id)
        assert file is not None
        for name, value in columns.items():
            setattr(file, name, value)
        await uow.commit()


async def test_a_video_is_probed_at_upload_then_cut_into_scenes_with_thumbnails(
    api: Api,
) -> None:
    data, _ = three_scenes()
    file_id = await _upload(api, data)
    uploaded = await _file(api, file_id)
    assert uploaded.video_analysis_status == "pending"
    assert uploaded.video_metadata is not None  # the probe's, before any job ran
    assert (uploaded.video_metadata["width"], uploaded.video_metadata["height"]) == (640, 360)
    assert uploaded.video_metadata["video_codec"] == "h264"
    assert uploaded.video_metadata["duration_seconds"] == pytest.approx(9.0, abs=0.1)
    # As a second upload of the same bytes, not probed again: the job reads the metadata anew.
    await _set(api, file_id, video_metadata=None)

    assert await api.drain(SCENES) == 1
    file = await _file(api, file_id)
    assert (file.video_analysis_status, file.scene_count) == ("completed", 3)
    assert (file.video_analysis_error, file.video_analysis_error_type) == (None, None)
    assert file.video_metadata is not None
    assert file.video_metadata["duration_seconds"] == pytest.approx(9.0, abs=0.1)
    scenes = await _scenes(api, file)
    starts = [s.start_seconds for s in scenes[1:]]
    assert starts == pytest.approx(list(THREE_SCENES_CUTS), abs=0.25)
    for scene in scenes:
        assert scene.start_seconds <= scene.keyframe_seconds < scene.end_seconds
        key = blobkeys.scene_thumbnail_key(file.tenant_id, file.sha256, scene.scene_index)
        assert scene.thumbnail_key == key
        thumbnail = Image.open(io.BytesIO(await api.services.store.read_head(key, 1 << 20)))
        assert thumbnail.format == "WEBP" and max(thumbnail.size) <= 512
    assert await _events(api, file_id) == [
        "video_analysis_queued",
        "video_analysis_started",
        "video_analysis_completed",
    ]


async def test_a_description_waits_for_its_videos_scenes(api: Api) -> None:
    data, _ = three_scenes()
    file_id = await _upload(api, data, describe=True)
    runner = api.services.workers.runner
    assert await runner.claim([DESCRIBE]) is None  # the scenes are still to be cut
    assert await api.drain(SCENES) == 1
    describe = await runner.claim([DESCRIBE])
    assert describe is not None and describe.file_id == file_id


async def test_bytes_that_hold_no_video_fail_the_analysis_clearly(api: Api) -> None:
    data, _ = three_scenes()
    file_id = await _upload(api, data)
    file = await _file(api, file_id)
    # The stored original turned into an `ftyp` box and nothing playable.
    await api.services.store.put_bytes(
        blobkeys.original_key(file.tenant_id, file.sha256), ftyp_only()
    )
    assert await api.drain(SCENES) == 1  # permanent: never retried
    file = await _file(api, file_id)
    assert file.video_analysis_status == "failed"
    assert file.video_analysis_error_type == "validation"
    assert file.video_analysis_error == "the file holds no streams at all: nothing in it plays"
    assert file.scene_count is None and await _scenes(api, file) == []
    assert (await _events(api, file_id))[-1] == "video_analysis_failed"
    # The server and its decoder children keep serving: the next video is cut.
    other = await _upload(api, captioned_video("HARBOUR MASTER"))
    assert await api.drain(SCENES) == 1
    assert (await _file(api, other)).video_analysis_status == "completed"


async def test_a_video_past_the_analysis_limit_is_stored_and_fails_at_once(
    settings: Settings,
) -> None:
    data, _ = three_scenes()
    limit = len(data) // 2
    async with running_api(settings.model_copy(update={"video_max_bytes": limit})) as api:
        file_id = await _upload(api, data)  # not probed: stored as it is
        assert (await _file(api, file_id)).video_metadata is None
        assert await api.drain(SCENES) == 1
        file = await _file(api, file_id)
        download = await api.client.get(f"{FILES}/{file_id}/download")
    assert (file.video_analysis_status, file.video_analysis_error_type) == (
        "failed",
        "resource_limit",
    )
    assert file.video_analysis_error
    assert download.content == data


async def test_storage_that_refuses_a_thumbnail_is_retried(api: Api) -> None:
    data, _ = three_scenes()
    file_id = await _upload(api, data)
    file = await _file(api, file_id)
    original = api.services.store.local_path(blobkeys.original_key(file.tenant_id, file.sha256))
    assert original is not None
    blocker = original.parent / "scenes"  # a file where the thumbnails' folder must go
    blocker.write_bytes(b"")
    runner = api.services.workers.runner
    job = await runner.claim([SCENES])
    assert job is not None
    await runner.run(job)
    file = await _file(api, file_id)
    assert file.video_analysis_status == "pending"  # another attempt is due
    assert (await _events(api, file_id))[-1] == "video_analysis_retry_scheduled"

    blocker.unlink()
    assert await api.drain(SCENES) == 1
    assert (await _file(api, file_id)).video_analysis_status == "completed"


async def test_a_missing_original_or_a_deleted_file_fails_the_analysis(api: Api) -> None:
    data, _ = three_scenes()
    missing = await _upload(api, data)
    file = await _file(api, missing)
    await api.services.store.delete(blobkeys.original_key(file.tenant_id, file.sha256))
    assert await api.drain(SCENES) == 1
    assert (await _file(api, missing)).video_analysis_error == "the stored original is missing"

    deleted = await _upload(api, captioned_video("HARBOUR MASTER"))
    assert (await api.client.delete(f"{FILES}/{deleted}")).status_code == 204
    assert await api.drain(SCENES) == 1
    assert (await _file(api, deleted)).video_analysis_error == "the file was deleted first"


async def test_a_purge_takes_the_scene_thumbnails_with_the_video(api: Api) -> None:
    data, _ = three_scenes()
    file_id = await _upload(api, data)
    assert await api.drain(SCENES) == 1
    file = await _file(api, file_id)
    keys = [s.thumbnail_key for s in await _scenes(api, file)]
    assert len(keys) == 3 and all(keys)
    await _set(api, file_id, deleted_at=datetime.now(UTC) - timedelta(days=1))

    report = await Purger(_uows(api), api.services.store).purge(timedelta(0))
    assert (report.files, report.blobs) == (1, 1)
    for key in keys:
        assert key is not None and not await api.services.store.exists(key)
    async with _uows(api).read() as uow:
        assert await uow.session.get(VideoScene, (file_id, 0)) is None
