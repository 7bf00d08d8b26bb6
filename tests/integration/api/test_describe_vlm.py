"""Descriptions from a VLM over the real OpenAI protocol, merged with the on-device models.

The VLM is tests/vlmserver.py, a real HTTP server scripted to answer well, slowly, with 429,
with 500 or with garbage."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from apiclient import Api
from imagefactory import jpeg_bytes
from scopix.server.settings import Settings
from vlmserver import FakeVLMServer

PHOTOS = Path(__file__).parents[2] / "assets" / "photos"
UPLOAD = "/api/v2/files/upload"
ANSWER = {
    "description": "A tabby cat looks at the camera from a wooden floor.",
    "tags": ["cat", "tabby", "pet"],
    "key_elements": ["cat", "whiskers"],
    "visible_text": "",
}


@pytest.fixture
def vlm() -> Iterator[FakeVLMServer]:
    with FakeVLMServer(answer=ANSWER) as server:
        yield server


@pytest.fixture
def settings(settings: Settings, vlm: FakeVLMServer) -> Settings:
    return settings.model_copy(
        update={
            "vlm_base_url": vlm.base_url,
            "vlm_model": vlm.model,
            "vlm_timeout_seconds": 1.0,
            "describe_max_attempts": 2,
            "vlm_breaker_failures": 3,
        }
    )


async def upload(api: Api, data: bytes) -> str:
    response = await api.client.post(UPLOAD, files={"file": ("p.jpg", data)})
    assert response.status_code == 201, response.text
    file_id: str = response.json()["image_id"]
    return file_id


async def status(api: Api, file_id: str) -> dict:
    response = await api.client.get(f"/api/v2/files/{file_id}/status")
    assert response.status_code == 200
    body: dict = response.json()
    return body


async def test_the_vlm_writes_the_description_and_the_models_add_to_it(
    api: Api, vlm: FakeVLMServer
) -> None:
    file_id = await upload(api, (PHOTOS / "chelsea.png").read_bytes())
    await api.drain()
    details = (await api.client.get(f"/api/v2/files/{file_id}")).json()
    assert details["description_status"] == "completed"
    assert details["description"] == ANSWER["description"]
    assert details["provider_count"] == 2
    assert {"cat", "tabby", "pet"} <= set(details["tags"])
    assert details["key_elements"][:2] == ["cat", "whiskers"]
    [request] = vlm.requests
    assert request.model == "fake-vlm" and request.has_image


async def test_a_failed_attempt_is_retried_and_then_completes(api: Api, vlm: FakeVLMServer) -> None:
    vlm.script(["error"])
    file_id = await upload(api, jpeg_bytes(128, 96, seed=41))
    await api.drain()
    done = await status(api, file_id)
    assert (done["description_status"], done["description_attempts"]) == ("completed", 2)
    assert done["description_error"] is None
    events = (await api.client.get(f"/api/v2/files/{file_id}")).json()["processing_history"]
    assert [e["event"] for e in events].count("description_retry_scheduled") == 1


@pytest.mark.parametrize(
    ("mode", "opts", "error_type"),
    [
        ("error", {}, "vlm_error"),
        ("garbage", {}, "vlm_error"),
        ("empty", {}, "vlm_error"),
        ("invalid", {}, "vlm_error"),
        ("slow", {"delay": 3}, "timeout"),
        ("rate_limit", {"retry_after": "0"}, "rate_limit"),
    ],
)
async def test_each_vlm_fault_ends_failed_with_its_type(
    api: Api, vlm: FakeVLMServer, mode: str, opts: dict, error_type: str
) -> None:
    vlm.behave(mode, **opts)
    file_id = await upload(api, jpeg_bytes(128, 96, seed=42))
    await api.drain()
    failed = await status(api, file_id)
    assert failed["description_status"] == "failed"
    assert failed["description_error_type"] == error_type
    assert failed["description_is_retryable"] is True
    assert failed["description_attempts"] == 2
    details = (await api.client.get(f"/api/v2/files/{file_id}")).json()
    assert details["description"] is None
    quota = (await api.client.get("/api/v2/uploads/quota-check")).json()
    assert quota["current_usage"] == 0  # failures are not charged
    vlm.behave("ok")  # the next file flows again
    other = await upload(api, jpeg_bytes(128, 96, seed=43))
    await api.drain()
    assert (await status(api, other))["description_status"] == "completed"


async def test_a_rate_limit_waits_as_long_as_the_provider_asks(
    api: Api, vlm: FakeVLMServer
) -> None:
    vlm.behave("rate_limit", retry_after="45")
    file_id = await upload(api, jpeg_bytes(128, 96, seed=44))
    await api.drain()
    waiting = await status(api, file_id)
    assert waiting["description_status"] == "queued"
    assert waiting["description_error_type"] == "rate_limit"
    next_attempt = datetime.fromisoformat(waiting["next_attempt_at"])
    assert next_attempt > datetime.now(UTC) + timedelta(seconds=30)


async def test_a_provider_that_keeps_failing_is_left_alone(api: Api, vlm: FakeVLMServer) -> None:
    vlm.behave("error")
    for seed in (45, 46):  # two attempts each; the third failure in a row trips the breaker
        file_id = await upload(api, jpeg_bytes(128, 96, seed=seed))
        await api.drain()
        assert (await status(api, file_id))["description_status"] == "failed"
    assert vlm.request_count == 3  # the fourth attempt was refused without calling

    third = await upload(api, jpeg_bytes(128, 96, seed=47))
    await api.drain()
    waiting = await status(api, third)
    assert vlm.request_count == 3
    assert waiting["description_status"] == "queued"  # waits for the breaker's next trial
    assert waiting["description_error_type"] == "vlm_error"
    assert datetime.fromisoformat(waiting["next_attempt_at"]) > datetime.now(UTC)


async def test_the_same_bytes_in_two_files_ask_the_vlm_once(api: Api, vlm: FakeVLMServer) -> None:
    data = jpeg_bytes(160, 120, seed=47)
    first, second = await upload(api, data), await upload(api, data)
    await api.drain()
    assert vlm.request_count == 1
    for file_id in (first, second):
        done = await status(api, file_id)
        assert (done["description_status"], done["provider_count"]) == ("completed", 2)
