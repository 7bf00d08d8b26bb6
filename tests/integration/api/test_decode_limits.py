"""Decode limits through the API: interlaced images get a lower pixel cap at upload, and the
header limits are checked again at every later decode (variants, describe), in the child."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apiclient import Api
from imagefactory import pattern
from scopix.server.settings import Settings
from vlmserver import FakeVLMServer

UPLOAD = "/api/v2/files/upload"
#: 600 x 500 = 300,000 pixels: over this cap when interlaced, far under every other limit.
INTERLACED_CAP = 250_000


@pytest.fixture
def vlm() -> Iterator[FakeVLMServer]:
    with FakeVLMServer() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, vlm: FakeVLMServer) -> Settings:
    return settings.model_copy(
        update={
            "vlm_base_url": vlm.base_url,
            "vlm_model": vlm.model,
            "ondevice": False,
            "max_interlaced_pixels": INTERLACED_CAP,
        }
    )


def image(width: int, height: int, save: str, **options: Any) -> bytes:
    return bytes(getattr(pattern(width, height), save)(**options))


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("interlaced.png", image(600, 500, "pngsave_buffer", interlace=True)),
        ("progressive.jpg", image(600, 500, "jpegsave_buffer", interlace=True)),
    ],
)
async def test_interlaced_images_over_their_cap_are_refused_at_upload(
    api: Api, name: str, data: bytes
) -> None:
    response = await api.client.post(UPLOAD, files={"file": (name, data)})

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "IMAGE_TOO_LARGE"
    assert error["details"]["max_pixels"] == INTERLACED_CAP


async def test_the_same_size_streamed_is_fine(api: Api) -> None:
    baseline = image(600, 500, "jpegsave_buffer")
    small_interlaced = image(400, 300, "pngsave_buffer", interlace=True)

    for name, data in (("baseline.jpg", baseline), ("small.png", small_interlaced)):
        response = await api.client.post(UPLOAD, files={"file": (name, data)})
        assert response.status_code == 201, response.text


async def test_later_decodes_check_the_header_again(api: Api) -> None:
    baseline = image(600, 500, "jpegsave_buffer")
    response = await api.client.post(UPLOAD, files={"file": ("swapped.jpg", baseline)})
    assert response.status_code == 201, response.text
    file_id = response.json()["image_id"]
    # The stored original now declares an interlaced frame over the cap, as bytes swapped
    # behind the catalog's back (or limits lowered since the upload) would.
    _stored_copy_of(api, baseline).write_bytes(image(600, 500, "pngsave_buffer", interlace=True))

    await api.drain()

    status = (await api.client.get(f"/api/v2/files/{file_id}/status")).json()
    assert status["description_status"] == "failed"
    assert status["description_error_type"] == "resource_limit"
    assert "interlaced" in status["description_error"]
    details = (await api.client.get(f"/api/v2/files/{file_id}")).json()
    failed = [e for e in details["processing_history"] if e["event"] == "variants_failed"]
    assert failed and "interlaced" in failed[0]["detail"], details["processing_history"]


def _stored_copy_of(api: Api, data: bytes) -> Path:
    root = api.services.settings.resolved_storage_dir
    (path,) = [p for p in root.rglob("*") if p.is_file() and p.read_bytes() == data]
    return path
