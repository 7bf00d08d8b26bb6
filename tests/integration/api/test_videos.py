"""Videos through the API with the jobs run, on SQLite and PostgreSQL: metadata at upload, the
scenes job's status, scenes with their times and thumbnails, what each described scene shows,
the scene a search matched, the walls around them (other tenants, other kinds, scenes not
found yet), and downloads answering byte ranges on local disk and on S3."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from apiclient import Api, running_api
from docfactory import text_pdf
from imagefactory import png_bytes
from s3server import S3Storage
from scopix.server.settings import Settings
from videofactory import captioned_video, three_scenes

FILES = "/api/v2/files"
#: How far a found cut may be from the true one (issue 18).
CUT_TOLERANCE = 0.25


async def upload(api: Api, name: str, data: bytes, **fields: str) -> dict[str, Any]:
    response = await api.client.post(
        f"{FILES}/upload", files={"file": (name, data)}, data={"auto_describe": "false", **fields}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def get(api: Api, url: str, status: int = 200, **kwargs: Any) -> Any:
    response = await api.client.get(url, **kwargs)
    assert response.status_code == status, (url, response.text)
    return response.json() if "json" in response.headers.get("content-type", "") else response


async def test_a_video_is_cut_into_scenes_listed_with_times_and_thumbnails(api: Api) -> None:
    data, cuts = three_scenes()
    file_id = (await upload(api, "three.mp4", data))["image_id"]
    details = await get(api, f"{FILES}/{file_id}")
    assert details["media_type"] == "video"
    assert details["video_metadata"]["duration_seconds"] == pytest.approx(9.0, abs=0.1)
    assert (details["video_metadata"]["width"], details["video_metadata"]["height"]) == (640, 360)
    assert (details["video_analysis_status"], details["scene_count"]) == ("pending", None)
    assert details["page_count"] is None and details["text_extraction_status"] is None
    early = await get(api, f"{FILES}/{file_id}/scenes", status=409)
    assert early["error"]["details"]["video_analysis_status"] == "pending"

    await api.drain()
    details = await get(api, f"{FILES}/{file_id}")
    assert (details["video_analysis_status"], details["scene_count"]) == ("completed", 3)
    assert details["video_analysis_error"] is None
    status = await get(api, f"{FILES}/{file_id}/status")
    assert (status["video_analysis_status"], status["scene_count"]) == ("completed", 3)
    assert status["video_analysis_error_type"] is None
    assert status["video_metadata"]["video_codec"] == "h264"

    scenes = (await get(api, f"{FILES}/{file_id}/scenes"))["items"]
    assert [s["scene_index"] for s in scenes] == [0, 1, 2]
    assert scenes[0]["start_seconds"] == 0.0
    assert scenes[-1]["end_seconds"] == pytest.approx(9.0, abs=0.1)
    for (earlier, later), cut in zip(itertools.pairwise(scenes), cuts, strict=True):
        assert earlier["end_seconds"] == later["start_seconds"]
        assert abs(later["start_seconds"] - cut) <= CUT_TOLERANCE
    assert all(s["description"] is None and s["tags"] == [] for s in scenes)  # not described

    for scene in scenes:
        thumbnail = await get(api, scene["thumbnail_url"])
        assert thumbnail.headers["content-type"] == "image/webp"
        assert thumbnail.content[:4] == b"RIFF" and thumbnail.content[8:12] == b"WEBP"
    missing = await get(api, f"{FILES}/{file_id}/scenes/3/thumbnail", status=404)
    assert missing["error"]["details"] == {"scene_index": 3}


async def test_described_scenes_say_what_each_shows_and_a_search_names_the_scene(
    api: Api,
) -> None:
    data, cuts = three_scenes()
    file_id = (await upload(api, "three.mp4", data, auto_describe="true"))["image_id"]
    await api.drain()
    details = await get(api, f"{FILES}/{file_id}")
    assert details["description_status"] == "completed", details["description_error"]
    scenes = (await get(api, f"{FILES}/{file_id}/scenes"))["items"]
    assert all(s["description"] for s in scenes)
    assert "HARBOUR" in (scenes[1]["visible_text"] or "").upper()

    found = await get(api, FILES, params={"search": "harbour master"})
    (item,) = [i for i in found["items"] if i["id"] == file_id]
    assert item["matched_scene"]["scene_index"] == 1
    assert abs(item["matched_scene"]["start_seconds"] - cuts[0]) <= CUT_TOLERANCE
    listed = await get(api, FILES)  # no search: no scene to name
    assert all(i["matched_scene"] is None for i in listed["items"])


async def test_scenes_are_for_videos_and_document_routes_are_not(api: Api) -> None:
    image = (await upload(api, "dot.png", png_bytes(32, 24)))["image_id"]
    document = (await upload(api, "a.pdf", text_pdf([["Harbour report."]])))["image_id"]
    video = (await upload(api, "caption.mp4", captioned_video("HELLO")))["image_id"]
    await api.drain()
    for other, kind in ((image, "image"), (document, "document")):
        for route in ("scenes", "scenes/0/thumbnail"):
            refused = await get(api, f"{FILES}/{other}/{route}", status=400)
            assert refused["error"]["code"] == "WRONG_MEDIA_TYPE"
            assert refused["error"]["details"] == {"media_type": kind}
        details = await get(api, f"{FILES}/{other}")
        assert details["video_metadata"] is None and details["video_analysis_status"] is None
    for route in ("text", "chunks", "pages/1"):
        refused = await get(api, f"{FILES}/{video}/{route}", status=400)
        assert refused["error"]["code"] == "WRONG_MEDIA_TYPE"


async def test_another_tenants_video_is_not_found(api: Api) -> None:
    video = (await upload(api, "caption.mp4", captioned_video("HELLO")))["image_id"]
    await api.drain()
    assert len((await get(api, f"{FILES}/{video}/scenes"))["items"]) == 1
    other = api.auth(api.other_key)
    for route in ("scenes", "scenes/0/thumbnail", "download"):
        refused = await get(api, f"{FILES}/{video}/{route}", status=404, headers=other)
        assert refused["error"]["code"] == "NOT_FOUND"
    unknown = await get(api, f"{FILES}/not-an-id/scenes", status=404)
    assert unknown["error"]["code"] == "NOT_FOUND"


async def assert_ranges_answered(api: Api, file_id: str, data: bytes) -> None:
    """The download of `data` answers single byte ranges, and refuses ones past the end."""
    url, size = f"{FILES}/{file_id}/download", len(data)
    whole = await get(api, url)
    assert (whole.content, whole.headers["accept-ranges"]) == (data, "bytes")
    for asked, start, end in (
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, size - 1),
        ("bytes=-10", size - 10, size - 1),
        (f"bytes={size - 5}-{size + 1000}", size - 5, size - 1),
        ("bytes=0-", 0, size - 1),
    ):
        part = await get(api, url, status=206, headers={"Range": asked})
        assert part.content == data[start : end + 1], asked
        assert part.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert int(part.headers["content-length"]) == end - start + 1
        assert part.headers["content-disposition"].startswith("attachment")
    for ignored in ("bytes=0-1,5-9", "lines=0-9", "bytes=9-2"):
        full = await get(api, url, headers={"Range": ignored})
        assert full.content == data, ignored
    refused = await get(api, url, status=416, headers={"Range": f"bytes={size}-"})
    assert refused["error"]["code"] == "RANGE_NOT_SATISFIABLE"
    assert refused["error"]["details"] == {"size_bytes": size}


async def test_downloads_answer_byte_ranges_on_local_disk(api: Api) -> None:
    data = captioned_video("SEEK")
    file_id = (await upload(api, "seek.mp4", data))["image_id"]
    await assert_ranges_answered(api, file_id, data)
    refused = await api.client.get(
        f"{FILES}/{file_id}/download", headers={"Range": f"bytes={len(data)}-"}
    )
    assert refused.headers["content-range"] == f"bytes */{len(data)}"


@pytest.fixture
async def s3_api(s3_storage: S3Storage, tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings(
        data_dir=tmp_path / "data", storage_url=s3_storage.url, workers=0, retry_base_seconds=0
    )
    async with running_api(settings) as api:
        yield api


async def test_downloads_answer_byte_ranges_on_s3(s3_api: Api) -> None:
    data = captioned_video("SEEK")
    file_id = (await upload(s3_api, "seek.mp4", data))["image_id"]
    await assert_ranges_answered(s3_api, file_id, data)
