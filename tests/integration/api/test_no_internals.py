"""Client-visible messages say what happened, never where: no data-folder path, no internal host
or port of the VLM or of S3, no model name. Each failure here is a real one: bytes that do not
decode, a VLM answering over HTTP (tests/vlmserver.py), an S3 server (moto) that goes away."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from pydantic import SecretStr

from apiclient import Api, running_api
from cutproxy import CutProxy
from imagefactory import jpeg_bytes, truncated
from s3server import S3Storage
from scopix.server.settings import Settings
from vlmserver import FakeVLMServer

UPLOAD = "/api/v2/files/upload"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MODEL = "internal-vlm-7b"


async def _everything_said_about(api: Api, file_id: str) -> str:
    """What a client can read about a file: its details and its status, as one text."""
    details = await api.client.get(f"/api/v2/files/{file_id}")
    status = await api.client.get(f"/api/v2/files/{file_id}/status")
    return details.text + status.text


def _assert_quiet(text: str, *internals: str) -> None:
    for internal in internals:
        assert internal not in text, f"{internal!r} reached a client: {text[:2000]}"


@pytest.mark.parametrize(
    "data",
    [
        PNG_SIGNATURE + b"\x00garbage, not a chunk" * 50,
        truncated(jpeg_bytes(640, 480, seed=5), 0.3),
        truncated(jpeg_bytes(640, 480, seed=6), 0.02),
        b"GIF89a" + b"\xff" * 200,
        b"II*\x00" + b"\x13" * 200,
        b"RIFF\x00\x01\x00\x00WEBPVP8 " + b"\x00" * 200,
        b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 200,
    ],
    ids=["png-then-garbage", "truncated-jpeg", "jpeg-header-only", "gif", "tiff", "webp", "avif"],
)
async def test_a_corrupt_upload_names_no_server_path(api: Api, tmp_path: Path, data: bytes) -> None:
    response = await api.client.post(UPLOAD, files={"file": ("p.png", data)})
    said = response.text
    if response.status_code == 201:  # the header passed: the decode fails in a job instead
        file_id = response.json()["image_id"]
        await api.drain()
        said += await _everything_said_about(api, file_id)
    else:
        assert response.status_code in (415, 422), response.text
    _assert_quiet(said, str(tmp_path), ".staging", ".part", "/blobs/")


# -- a VLM that fails ------------------------------------------------------------------------


@pytest.fixture
def vlm() -> Iterator[FakeVLMServer]:
    with FakeVLMServer(model=MODEL) as server:
        yield server


@pytest.fixture
def vlm_settings(settings: Settings, vlm: FakeVLMServer) -> Settings:
    return settings.model_copy(
        update={
            "ondevice": False,
            "vlm_base_url": vlm.base_url,
            "vlm_model": MODEL,
            "vlm_api_key": SecretStr("sk-internal-SECRET-0123456789"),
            "vlm_timeout_seconds": 0.5,
            "describe_max_attempts": 1,
        }
    )


@pytest.mark.parametrize(
    ("mode", "opts"),
    [
        # Providers echo the model and their own address in their errors.
        ("error", {"status": 404, "message": f"model '{MODEL}' not found at 127.0.0.1"}),
        ("error", {"status": 500, "message": "upstream 10.0.0.7:8000 failed"}),
        ("slow", {"delay": 3}),
        ("garbage", {}),
        ("drop", {}),
    ],
)
async def test_a_vlm_failure_names_no_host_model_or_key(
    vlm_settings: Settings, vlm: FakeVLMServer, mode: str, opts: dict[str, object]
) -> None:
    vlm.behave(mode, **opts)
    async with running_api(vlm_settings) as api:
        response = await api.client.post(UPLOAD, files={"file": ("p.jpg", jpeg_bytes(64, 48))})
        file_id = response.json()["image_id"]
        await api.drain()
        status = (await api.client.get(f"/api/v2/files/{file_id}/status")).json()
        said = await _everything_said_about(api, file_id)
    assert status["description_status"] == "failed"
    assert "vision model" in status["description_error"]
    _assert_quiet(said, MODEL, f":{vlm.port}", "127.0.0.1", "10.0.0.7", "sk-internal")


# -- storage that goes away ------------------------------------------------------------------


@pytest.fixture
def s3_proxy(s3_storage: S3Storage) -> Iterator[tuple[CutProxy, ExitStack]]:
    """A plain forwarder to moto (it never cuts), and what closes it: S3 going away."""
    with ExitStack() as running:
        target = int(s3_storage.endpoint.rsplit(":", 1)[1])
        yield running.enter_context(CutProxy(target, cut_after=2**62)), running


@pytest.fixture
async def s3_api(
    s3_storage: S3Storage, s3_proxy: tuple[CutProxy, ExitStack], tmp_path: Path
) -> AsyncIterator[Api]:
    endpoint = f"http://127.0.0.1:{s3_proxy[0].port}"
    url = s3_storage.url.replace(s3_storage.endpoint, endpoint)
    settings = Settings(data_dir=tmp_path / "data", storage_url=url, workers=0)
    async with running_api(settings) as api:
        yield api


async def test_a_storage_failure_names_no_endpoint_bucket_or_path(
    s3_api: Api, s3_storage: S3Storage, s3_proxy: tuple[CutProxy, ExitStack], tmp_path: Path
) -> None:
    proxy, s3_running = s3_proxy
    stored = await s3_api.client.post(
        UPLOAD, files={"file": ("p.jpg", jpeg_bytes(900, 700))}, data={"auto_describe": "false"}
    )
    assert stored.status_code == 201, stored.text
    file_id = stored.json()["image_id"]
    s3_running.close()  # S3 is gone from here on
    refused = await s3_api.client.post(UPLOAD, files={"file": ("q.jpg", jpeg_bytes(90, 70))})
    assert refused.status_code == 503
    assert await s3_api.drain("variants")
    said = refused.text + await _everything_said_about(s3_api, file_id)
    internals = (f":{proxy.port}", s3_storage.bucket, str(tmp_path))
    _assert_quiet(said, *internals)
