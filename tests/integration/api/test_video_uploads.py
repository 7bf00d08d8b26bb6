"""Hostile videos through the upload route: each is refused with its precise 422 where the
container shows it, nothing of it is stored, and the server goes on serving the next upload."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import videofactory
from apiclient import Api
from scopix.server.settings import Settings

FILES = "/api/v2/files"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"video_max_duration_seconds": 20.0})


async def upload(api: Api, filename: str, data: bytes) -> tuple[int, dict[str, object]]:
    answer = await api.client.post(
        f"{FILES}/upload", files={"file": (filename, data)}, data={"auto_describe": "false"}
    )
    return answer.status_code, answer.json()


@pytest.mark.parametrize(
    ("make", "filename", "code", "said"),
    [
        (videofactory.truncated_mp4, "cut.mp4", "CORRUPT_FILE", "truncated"),
        (videofactory.ftyp_only, "empty.mp4", "CORRUPT_FILE", "no streams at all"),
        (videofactory.audio_only, "song.mp4", "CORRUPT_FILE", "no video stream"),
        (videofactory.absurd_dimensions, "strip.mp4", "VIDEO_TOO_LARGE", "8192 px"),
        (videofactory.lying_dimensions, "liar.webm", "CORRUPT_FILE", "no frame size"),
        (lambda: videofactory.too_long(30.0), "long.mp4", "VIDEO_TOO_LARGE", "0:20"),
    ],
)
async def test_a_hostile_video_is_refused_with_its_code_and_the_server_serves_on(
    api: Api, make: Callable[[], bytes], filename: str, code: str, said: str
) -> None:
    status, body = await upload(api, filename, make())

    assert status == 422, body
    error = body["error"]
    assert isinstance(error, dict) and error["code"] == code and said in error["message"]
    listed = (await api.client.get(FILES)).json()
    assert listed["items"] == []  # nothing stored, nothing half-visible

    status, body = await upload(api, "ok.mp4", videofactory.captioned_video("STILL SERVING"))
    assert status == 201, body
    assert body["media_type"] == "video"
    await api.drain()
    details = (await api.client.get(f"{FILES}/{body['image_id']}")).json()
    assert details["video_analysis_status"] == "completed" and details["scene_count"] == 1
