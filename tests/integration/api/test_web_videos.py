"""A video on the web page: its player plays the original over signed links that answer Range
requests, and its scenes show as a strip of signed thumbnails with what each scene shows."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from apiclient import Api, running_api
from s3server import S3Storage
from scopix.server.domain.signing import SceneGrant, ViewGrant, sign
from scopix.server.settings import Settings
from videofactory import THREE_SCENES_CUTS, three_scenes

UPLOAD = "/api/v2/files/upload"
ANONYMOUS = {"Authorization": ""}
PLAYER = re.compile(r'<video id="player"[^>]* src="([^"]+)"')
SCENE_LINK = re.compile(r'src="(/ui/scenes/[^"]+)"')
SCENE_START = re.compile(r'data-action="scene" data-scene="(\d+)"\s+data-start="([^"]+)"')


async def put_video(api: Api, data: bytes, *, describe: bool, key: str | None = None) -> str:
    response = await api.client.post(
        UPLOAD,
        files={"file": ("three.mp4", data, "video/mp4")},
        data={"auto_describe": "true" if describe else "false"},
        headers=api.auth(key),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["image_id"])


async def detail(api: Api, file_id: str, key: str | None = None) -> str:
    response = await api.client.get(f"/ui/files/{file_id}", headers=api.auth(key))
    assert response.status_code == 200, response.text
    return response.text


def player_link(html: str) -> str:
    return unescape(PLAYER.findall(html)[0])


def scene_links(html: str) -> list[str]:
    return [unescape(src) for src in SCENE_LINK.findall(html)]


async def test_the_page_lets_a_video_play_from_this_server(api: Api) -> None:
    policy = (await api.client.get("/", headers=ANONYMOUS)).headers["content-security-policy"]
    assert "media-src 'self';" in policy
    page = (await api.client.get("/", headers=ANONYMOUS)).text
    accepted = re.findall(r'id="file-input"[^>]* accept="([^"]+)"', page)[0].split(",")
    for extension in (".mp4", ".mov", ".m4v", ".webm", ".avi", ".mkv"):
        assert extension in accepted


async def test_a_video_plays_and_shows_its_scenes_and_what_each_shows(api: Api) -> None:
    data, _ = three_scenes()
    file_id = await put_video(api, data, describe=True)

    card = (await api.client.get("/ui/gallery")).text
    assert "Video · 0:09" in card  # the probe's metadata, at once
    assert 'data-moving="yes"' in card
    waiting = await detail(api, file_id)
    assert "Finding the scenes…" in waiting
    assert player_link(waiting).startswith(f"/ui/downloads/{file_id}?")
    assert scene_links(waiting) == []

    await api.drain()
    card = (await api.client.get("/ui/gallery")).text
    assert "scenes completed" in card
    assert 'data-moving="no"' in card
    html = await detail(api, file_id)
    assert 'poster="/ui/images/' in html
    assert "h264 · no sound" in html
    assert "640×360 · 25 fps" in html
    assert "3 scenes" in html

    starts = [float(start) for _, start in SCENE_START.findall(html)]
    assert starts[0] == 0.0
    assert starts[1:] == pytest.approx(list(THREE_SCENES_CUTS), abs=0.25)
    links = scene_links(html)
    assert [urlsplit(link).path for link in links] == [
        f"/ui/scenes/{file_id}/{n}" for n in (0, 1, 2)
    ]
    for link in links:
        shown = await api.client.get(link, headers=ANONYMOUS)
        assert shown.status_code == 200
        assert shown.headers["content-type"] == "image/webp"
        assert shown.content[:4] == b"RIFF" and shown.content[8:12] == b"WEBP"
    notes = re.findall(r'<li class="scene-note".*?</li>', html, re.S)
    assert len(notes) == 3
    for note in notes:
        assert '<p class="scene-description">' in note
    assert "HARBOUR" in notes[1]  # the card's caption, read from its keyframe
    assert "HARBOUR" not in notes[0]

    # Found by the words of its second scene, its card opens the video at that scene.
    found = (await api.client.get("/ui/gallery", params={"search": "harbour master"})).text
    assert f'href="#file={file_id}&amp;t={starts[1]}"' in found
    assert "Found in scene 2 at 0:03" in found
    unsearched = (await api.client.get("/ui/gallery")).text
    assert f'href="#file={file_id}"' in unsearched
    assert "Found in scene" not in unsearched


async def test_a_video_whose_scenes_could_not_be_found_says_why(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", workers=0, video_max_bytes=1000)
    async with running_api(settings) as api:
        file_id = await put_video(api, three_scenes()[0], describe=False)
        await api.drain()
        html = await detail(api, file_id)
    assert "Scenes not found: resource_limit" in html
    assert player_link(html)  # stored as it is: it still plays
    assert scene_links(html) == []


async def original_answers_ranges(api: Api) -> None:
    data, _ = three_scenes()
    file_id = await put_video(api, data, describe=False)
    link = player_link(await detail(api, file_id))
    size = len(data)

    whole = await api.client.get(link, headers=ANONYMOUS)
    assert whole.status_code == 200
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.content == data

    asked = {
        "bytes=0-99": (0, 99),
        "bytes=1000-": (1000, size - 1),
        "bytes=-10": (size - 10, size - 1),
    }
    for header, (first, last) in asked.items():
        part = await api.client.get(link, headers={**ANONYMOUS, "Range": header})
        assert part.status_code == 206, header
        assert part.headers["content-range"] == f"bytes {first}-{last}/{size}"
        assert int(part.headers["content-length"]) == last - first + 1
        assert part.content == data[first : last + 1]

    past = await api.client.get(link, headers={**ANONYMOUS, "Range": f"bytes={size}-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{size}"

    query = parse_qs(urlsplit(link).query)
    forged = {**query, "signature": ["0" * 64]}
    refused = await api.client.get(
        urlsplit(link).path, params=forged, headers={"Range": "bytes=0-9"}
    )
    assert refused.status_code == 403


async def test_the_original_a_video_plays_from_answers_range_requests(api: Api) -> None:
    await original_answers_ranges(api)


@pytest.fixture
async def s3_api(s3_storage: S3Storage, tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings(data_dir=tmp_path / "data", storage_url=s3_storage.url, workers=0)
    async with running_api(settings) as api:
        yield api


async def test_on_s3_the_original_answers_range_requests_too(s3_api: Api) -> None:
    await original_answers_ranges(s3_api)


async def test_scene_thumbnails_travel_on_signed_links(api: Api) -> None:
    data, _ = three_scenes()
    file_id = await put_video(api, data, describe=False)
    their_id = await put_video(api, data, describe=False, key=api.other_key)
    await api.drain()
    link = scene_links(await detail(api, file_id))[1]
    their_link = scene_links(await detail(api, their_id, key=api.other_key))[1]
    path, query = urlsplit(link).path, parse_qs(urlsplit(link).query)
    tenant = query["tenant"][0]
    their_tenant = parse_qs(urlsplit(their_link).query)["tenant"][0]

    tampered = {
        "signature": {**query, "signature": ["0" * 64]},
        "tenant": {**query, "tenant": [their_tenant]},
        "expiry": {**query, "expires": [str(int(query["expires"][0]) + 3600)]},
    }
    for what, params in tampered.items():
        refused = await api.client.get(path, params=params, headers=ANONYMOUS)
        assert refused.status_code == 403, what
        assert refused.json()["error"]["code"] == "INVALID_SIGNATURE"
    other_scene = f"/ui/scenes/{file_id}/2"
    assert (await api.client.get(other_scene, params=query, headers=ANONYMOUS)).status_code == 403
    their_path = urlsplit(their_link).path
    assert (await api.client.get(their_path, params=query, headers=ANONYMOUS)).status_code == 403

    # An image link's signature opens no scene, and a scene's opens no image.
    expires = int(query["expires"][0])
    secret = api.services.image_links.secret
    as_image = {**query, "signature": [sign(secret, ViewGrant(tenant, file_id, "1", expires))]}
    assert (await api.client.get(path, params=as_image, headers=ANONYMOUS)).status_code == 403
    image_path = f"/ui/images/{file_id}/small_256"
    assert (await api.client.get(image_path, params=query, headers=ANONYMOUS)).status_code == 403

    past = int(time.time()) - 1
    expired = {
        "tenant": tenant,
        "expires": past,
        "signature": sign(secret, SceneGrant(tenant, file_id, 1, past)),
    }
    refused = await api.client.get(path, params=expired, headers=ANONYMOUS)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "URL_EXPIRED"

    beyond = {
        "tenant": tenant,
        "expires": expires,
        "signature": sign(secret, SceneGrant(tenant, file_id, 3, expires)),
    }
    assert (
        await api.client.get(f"/ui/scenes/{file_id}/3", params=beyond, headers=ANONYMOUS)
    ).status_code == 404

    assert (await api.client.delete(f"/api/v2/files/{file_id}")).status_code == 204
    assert (await api.client.get(link, headers=ANONYMOUS)).status_code == 404
