"""Requests a minute and uploads at once per tenant, by tier: the headers, the 429, and what
does not count.

No test waits for the window to move on: the limiter's counts are cleared where a test needs a
fresh window, and no assertion depends on how long anything took. An upload is held open by a
body that waits for the test's word, so it keeps its slot exactly as long as the test needs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress

import httpx
import pytest

from apiclient import Api
from imagefactory import jpeg_bytes, truncated
from scopix.server.domain.tiers import TIERS
from scopix.server.services.upload_slots import RedisUploadSlots

FILES = "/api/v2/files"
UPLOAD = f"{FILES}/upload"
STARTER_UPLOADS = TIERS["starter"].max_concurrent_uploads  # the fixture's tenants are starters
LIMIT_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


async def free_key(api: Api, tenant: str = "tiny") -> dict[str, str]:
    created = await api.services.keys.create_key(tenant, tier="free")
    return api.auth(created.plaintext)


async def use_up(api: Api, headers: dict[str, str], n: int = 10) -> list[httpx.Response]:
    answers = [await api.client.get(FILES, headers=headers) for _ in range(n)]
    assert [a.status_code for a in answers] == [200] * n
    return answers


def assert_no_limit_headers(response: httpx.Response) -> None:
    assert not any(name in response.headers for name in (*LIMIT_HEADERS, "retry-after"))


async def test_free_tier_gets_ten_a_minute_then_429(api: Api) -> None:
    headers = await free_key(api)
    answers = await use_up(api, headers)
    assert [a.headers["x-ratelimit-limit"] for a in answers] == ["10"] * 10
    assert [int(a.headers["x-ratelimit-remaining"]) for a in answers] == list(range(9, -1, -1))
    for answer in answers:
        assert 1 <= int(answer.headers["x-ratelimit-reset"]) <= 60
        assert "retry-after" not in answer.headers

    refused = await api.client.get(FILES, headers=headers)
    assert refused.status_code == 429
    body = refused.json()
    assert body["error"]["code"] == "RATE_LIMITED"
    assert body["request_id"] == refused.headers["x-request-id"]
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert body["error"]["details"] == {"limit": 10, "retry_after": retry_after}
    assert refused.headers["x-ratelimit-limit"] == "10"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert int(refused.headers["x-ratelimit-reset"]) == retry_after


async def test_writes_and_errors_count_and_carry_the_headers(api: Api) -> None:
    headers = await free_key(api)
    missing = await api.client.get(f"{FILES}/nope", headers=headers)
    assert missing.status_code == 404
    assert missing.headers["x-ratelimit-remaining"] == "9"
    invalid = await api.client.get(FILES, params={"limit": 0}, headers=headers)
    assert invalid.status_code == 422
    assert invalid.headers["x-ratelimit-remaining"] == "8"
    deleted = await api.client.post(
        f"{FILES}/batch-delete", json={"file_ids": ["nope"]}, headers=headers
    )
    assert deleted.status_code == 200
    assert deleted.headers["x-ratelimit-remaining"] == "7"


async def test_one_bucket_per_tenant_for_all_its_keys(api: Api) -> None:
    first = await free_key(api)
    second = await free_key(api)  # another key of the same tenant
    await use_up(api, first, 6)
    await use_up(api, second, 4)
    assert (await api.client.get(FILES, headers=first)).status_code == 429
    assert (await api.client.get(FILES, headers=second)).status_code == 429


async def test_other_tenants_are_unaffected(api: Api) -> None:
    spent = await free_key(api)
    await use_up(api, spent)
    assert (await api.client.get(FILES, headers=spent)).status_code == 429

    fresh = await free_key(api, "other-free")
    answer = await api.client.get(FILES, headers=fresh)
    assert answer.status_code == 200
    assert answer.headers["x-ratelimit-remaining"] == "9"
    starter = await api.client.get(FILES)  # the fixture's key: a starter tenant
    assert starter.status_code == 200
    assert starter.headers["x-ratelimit-limit"] == "30"
    assert starter.headers["x-ratelimit-remaining"] == "29"


async def test_concurrent_requests_get_exactly_the_limit(api: Api) -> None:
    headers = await free_key(api)
    answers = await asyncio.gather(*(api.client.get(FILES, headers=headers) for _ in range(14)))
    assert sorted(a.status_code for a in answers) == [200] * 10 + [429] * 4


async def test_refused_requests_do_not_count(api: Api) -> None:
    headers = await free_key(api)
    await use_up(api, headers)
    for _ in range(3):
        assert (await api.client.get(FILES, headers=headers)).status_code == 429
    await api.services.rate_limiter.reset()  # a new window, without waiting a minute
    await use_up(api, headers)


async def test_the_custom_tier_is_never_limited_and_has_no_headers(api: Api) -> None:
    created = await api.services.keys.create_key("big", tier="custom")
    headers = api.auth(created.plaintext)
    answers = await asyncio.gather(*(api.client.get(FILES, headers=headers) for _ in range(15)))
    assert [a.status_code for a in answers] == [200] * 15
    for answer in answers:
        assert_no_limit_headers(answer)


async def test_unauthenticated_requests_do_not_count(api: Api) -> None:
    created = await api.services.keys.create_key("tiny", tier="free")
    del api.client.headers["Authorization"]
    forged = created.plaintext[:15] + "_" + "B" * 43  # the tenant's real prefix, a wrong secret
    for headers in ({}, {"Authorization": "Bearer nonsense"}, api.auth(forged)):
        for _ in range(5):
            answer = await api.client.get(FILES, headers=headers)
            assert answer.status_code == 401
            assert_no_limit_headers(answer)
    await use_up(api, api.auth(created.plaintext))


async def test_health_and_documents_are_never_limited(api: Api) -> None:
    headers = await free_key(api)
    await use_up(api, headers)
    assert (await api.client.get(FILES, headers=headers)).status_code == 429
    for path in ("/healthz", "/api/v2/openapi.json", "/api/v2/docs"):
        for _ in range(3):
            answer = await api.client.get(path, headers=headers)
            assert answer.status_code == 200, path
            assert_no_limit_headers(answer)


async def test_429_is_documented(api: Api) -> None:
    schema = (await api.client.get("/api/v2/openapi.json")).json()
    listing = schema["paths"]["/api/v2/files"]["get"]["responses"]
    assert "429" in listing or "default" in listing


async def test_keyed_writes_count_once_and_their_replays_count_too(api: Api) -> None:
    headers = {**await free_key(api), "Idempotency-Key": "rename-1"}
    listed = await api.client.get(FILES, headers=headers)
    assert listed.headers["x-ratelimit-remaining"] == "9"
    first = await api.client.post(
        f"{FILES}/batch-delete", json={"file_ids": ["x"]}, headers=headers
    )
    assert first.status_code == 200
    assert first.headers["x-ratelimit-remaining"] == "8", "a keyed write counts once"
    replay = await api.client.post(
        f"{FILES}/batch-delete", json={"file_ids": ["x"]}, headers=headers
    )
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.headers["x-ratelimit-remaining"] == "7"
    for _ in range(7):
        await api.client.post(f"{FILES}/batch-delete", json={"file_ids": ["x"]}, headers=headers)
    refused = await api.client.post(
        f"{FILES}/batch-delete", json={"file_ids": ["x"]}, headers=headers
    )
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "RATE_LIMITED"


# Uploads at once


@pytest.fixture(params=["memory", "redis"])
async def slots_api(request: pytest.FixtureRequest, api: Api) -> AsyncIterator[Api]:
    """The app counting upload slots in its memory, or in Redis under keys of this test's own."""
    if request.param == "memory":
        yield api
        return
    url: str = request.getfixturevalue("redis_url")
    prefix: str = request.getfixturevalue("redis_namespace")
    await api.services.upload_slots.aclose()
    api.services.upload_slots = RedisUploadSlots(url, key_prefix=prefix)
    yield api  # closing the app closes the Redis client


class HeldUploads:
    """Uploads whose bodies wait for `finish`: each holds one of its tenant's slots till then."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.release = asyncio.Event()
        self.tasks: list[asyncio.Task[httpx.Response]] = []
        self.sent = 0

    async def hold(self, n: int, headers: dict[str, str] | None = None) -> None:
        """Start `n` uploads and return once each has its slot: the route is reading its body."""
        for _ in range(n):
            reading = asyncio.Event()
            task = asyncio.create_task(self._upload(reading, headers or {}))
            waiting = asyncio.create_task(reading.wait())
            await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            assert not task.done(), (await task).text
            self.tasks.append(task)

    async def finish(self) -> list[int]:
        """Let every held upload send its file; their statuses."""
        self.release.set()
        answers = await asyncio.gather(*(t for t in self.tasks if not t.cancelled()))
        return [a.status_code for a in answers]

    async def _upload(self, reading: asyncio.Event, headers: dict[str, str]) -> httpx.Response:
        self.sent += 1
        encoded = httpx.Request(
            "POST", UPLOAD, files={"file": ("held.jpg", jpeg_bytes(64, 48, seed=self.sent))}
        )

        async def body() -> AsyncIterator[bytes]:
            reading.set()
            await self.release.wait()
            yield encoded.read()

        headers = {**headers, "content-type": encoded.headers["content-type"]}
        return await self.api.client.post(UPLOAD, content=body(), headers=headers)


@pytest.fixture
def held(slots_api: Api) -> Iterator[HeldUploads]:
    uploads = HeldUploads(slots_api)
    yield uploads
    uploads.release.set()  # a test that failed midway leaves no upload waiting


async def upload(api: Api, data: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    files = {"file": ("photo.jpg", data, "image/jpeg")}
    return await api.client.post(UPLOAD, files=files, headers=headers)


def assert_too_many_uploads(answer: httpx.Response) -> None:
    assert answer.status_code == 429, answer.text
    error = answer.json()["error"]
    assert error["code"] == "RATE_LIMITED"
    assert error["details"] == {
        "limit": STARTER_UPLOADS,
        "reason": "concurrent_uploads",
        "retry_after": 1,
    }
    assert answer.headers["retry-after"] == "1"
    assert answer.headers["x-ratelimit-limit"] == "30"  # the request itself was counted


async def test_one_upload_more_than_the_tier_allows_at_once_gets_429(
    slots_api: Api, held: HeldUploads
) -> None:
    api = slots_api
    await held.hold(STARTER_UPLOADS)

    assert_too_many_uploads(await upload(api, jpeg_bytes(64, 48, seed=100)))
    batch = await api.client.post(
        f"{UPLOAD}/batch", files=[("files", ("a.jpg", jpeg_bytes(64, 48), "image/jpeg"))]
    )
    assert_too_many_uploads(batch)
    assert_too_many_uploads(await api.client.post(f"{FILES}/direct-uploads/nope/complete"))
    assert (await api.client.get(FILES)).status_code == 200  # only uploads hold slots
    other = await upload(api, jpeg_bytes(64, 48, seed=101), api.auth(api.other_key))
    assert other.status_code == 201, "another tenant's uploads are its own"

    assert await held.finish() == [201] * STARTER_UPLOADS
    assert (await upload(api, jpeg_bytes(64, 48, seed=102))).status_code == 201


async def test_a_failed_upload_gives_its_slot_back(slots_api: Api, held: HeldUploads) -> None:
    api = slots_api
    await held.hold(STARTER_UPLOADS - 1)
    corrupt = await upload(api, truncated(jpeg_bytes(800, 600)))
    assert corrupt.status_code == 422
    assert corrupt.json()["error"]["code"] == "CORRUPT_FILE"
    await held.hold(1)  # the last slot, free again
    assert_too_many_uploads(await upload(api, jpeg_bytes(64, 48, seed=100)))
    assert await held.finish() == [201] * STARTER_UPLOADS


async def test_an_upload_whose_client_went_away_gives_its_slot_back(
    slots_api: Api, held: HeldUploads
) -> None:
    await held.hold(STARTER_UPLOADS)
    gone = held.tasks[0]
    gone.cancel()  # in-process, the app runs in the client's task: it is cancelled too
    with suppress(asyncio.CancelledError):
        await gone
    await held.hold(1)
    assert_too_many_uploads(await upload(slots_api, jpeg_bytes(64, 48, seed=100)))
    assert await held.finish() == [201] * STARTER_UPLOADS
