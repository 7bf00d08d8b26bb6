"""The SDK's and CLI's video calls over real sockets: what they send and how they read the
answers (the server's side is tested in tests/integration/api/test_videos.py)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from scopix import Scopix, ScopixError, SyncScopix, WrongMediaTypeError
from scopix.cli.app import app
from scriptedhttp import Reply, ScriptedServer

SCENES = {
    "items": [
        {
            "scene_index": 0,
            "start_seconds": 0.0,
            "end_seconds": 4.0,
            "description": "A red field.",
            "tags": ["red"],
            "visible_text": None,
            "thumbnail_url": "http://s/api/v2/files/v1/scenes/0/thumbnail",
        },
        {
            "scene_index": 1,
            "start_seconds": 4.0,
            "end_seconds": 65.5,
            "description": "A harbour sign.",
            "tags": ["sign", "harbour"],
            "visible_text": "HARBOUR MASTER",
            "thumbnail_url": "http://s/api/v2/files/v1/scenes/1/thumbnail",
        },
    ]
}
VIDEO = {
    "id": "v1",
    "filename": "clip.mp4",
    "media_type": "video",
    "description_status": "completed",
    "video_metadata": {
        "duration_seconds": 65.5,
        "width": 640,
        "height": 360,
        "frame_rate": 25.0,
        "video_codec": "h264",
        "audio_codec": "aac",
        "bit_rate": 900000,
        "has_audio": True,
        "rotation": 0,
    },
    "video_analysis_status": "completed",
    "scene_count": 2,
}


def ok(body: Any) -> Reply:
    return (200, {}, json.dumps(body).encode())


def envelope(status: int, code: str, **details: Any) -> Reply:
    body = {"error": {"code": code, "message": "no", "details": details}, "request_id": "r1"}
    return (status, {}, json.dumps(body).encode())


def client(server: ScriptedServer) -> Scopix:
    return Scopix(api_key="scopix_abcdefgh_secret", base_url=server.url, retry_delay=0)


async def test_get_scenes_sends_what_the_api_names_and_reads_every_scene() -> None:
    with ScriptedServer([ok(SCENES)]) as server:
        async with client(server) as scopix:
            scenes = await scopix.files.get_scenes("v1")
    (seen,) = server.seen
    assert (seen.method, seen.path) == ("GET", "/api/v2/files/v1/scenes")
    assert [s.scene_index for s in scenes.items] == [0, 1]
    assert scenes.at(10).visible_text == "HARBOUR MASTER"
    assert scenes.items[1].tags == ["sign", "harbour"]


async def test_scenes_of_an_image_raise_wrong_media_type() -> None:
    with ScriptedServer([envelope(400, "WRONG_MEDIA_TYPE", media_type="image")]) as server:
        async with client(server) as scopix:
            with pytest.raises(WrongMediaTypeError) as caught:
                await scopix.files.get_scenes("i1")
    assert caught.value.details == {"media_type": "image"}


async def test_scenes_still_being_found_are_a_conflict_with_their_state() -> None:
    busy = envelope(409, "CONFLICT", video_analysis_status="processing")
    with ScriptedServer([busy]) as server:
        async with client(server) as scopix:
            with pytest.raises(ScopixError) as caught:
                await scopix.files.get_scenes("v1")
    assert (caught.value.code, caught.value.details) == (
        "CONFLICT",
        {"video_analysis_status": "processing"},
    )


async def test_an_upload_waits_for_the_scenes_as_well_as_the_description() -> None:
    def status(description: str, analysis: str) -> Reply:
        body = {"image_id": "v1", "status": "completed", "description_status": description}
        return ok({**body, "video_analysis_status": analysis})

    replies = [
        (201, {}, json.dumps({"image_id": "v1", "filename": "clip.mp4"}).encode()),
        status("pending", "processing"),  # auto_describe off: the description stays pending
        status("pending", "completed"),
        ok(VIDEO),
    ]
    with ScriptedServer(replies) as server:
        async with Scopix(
            api_key="k", base_url=server.url, retry_delay=0, polling_interval=0.01
        ) as scopix:
            result = await scopix.files.upload(io.BytesIO(b"\x00\x00\x00\x18ftypmp42"))
    assert result.media_type == "video"
    paths = [s.path.rsplit("/", 1)[-1] for s in server.seen]
    assert paths == ["upload", "status", "status", "v1"]


def test_the_sync_client_reads_scenes() -> None:
    with (
        ScriptedServer([ok(SCENES)]) as server,
        SyncScopix(api_key="k", base_url=server.url, retry_delay=0) as scopix,
    ):
        assert scopix.files.get_scenes("v1").items[0].description == "A red field."


def run_cli(server: ScriptedServer, *args: str) -> Any:
    env = {"SCOPIX_API_KEY": "k", "SCOPIX_BASE_URL": server.url, "COLUMNS": "160"}
    return CliRunner().invoke(app, list(args), env=env)


def test_scopix_scenes_shows_each_scene_with_its_time_and_what_it_shows() -> None:
    with ScriptedServer([ok(SCENES), ok(SCENES)]) as server:
        done = run_cli(server, "scenes", "v1")
        as_json = json.loads(run_cli(server, "scenes", "v1", "--json").stdout)
    assert done.exit_code == 0, done.output
    for shown in ("0:00.0–0:04.0", "0:04.0–1:05.5", "A harbour sign.", "sign, harbour", "HARBOUR"):
        assert shown in done.stdout
    assert as_json == SCENES


def test_scopix_scenes_of_a_document_is_one_error_line() -> None:
    with ScriptedServer([envelope(400, "WRONG_MEDIA_TYPE")]) as server:
        done = run_cli(server, "scenes", "d1")
    assert (done.exit_code, done.stderr) == (1, "error: WRONG_MEDIA_TYPE: no (request r1)\n")


def test_scopix_get_shows_a_videos_length_codecs_and_scenes() -> None:
    with ScriptedServer([ok(VIDEO)]) as server:
        done = run_cli(server, "get", "v1")
    assert done.exit_code == 0, done.output
    for shown in ("1:05.5", "25 fps", "h264 + aac", "scene analysis", "completed"):
        assert shown in done.stdout


def test_a_search_shows_the_scene_of_a_video_that_matched() -> None:
    found = {**VIDEO, "matched_scene": {"scene_index": 1, "start_seconds": 4, "end_seconds": 65.5}}
    page = {"items": [found], "total_count": 1, "has_more": False, "limit": 20, "offset": 0}
    with ScriptedServer([ok(page)]) as server:
        done = run_cli(server, "search", "harbour")
    assert done.exit_code == 0, done.output
    assert "1 (0:04.0–1:05.5)" in done.stdout
