"""Requests a minute per tenant, by tier: the headers, the 429, and what does not count.

No test waits for the window to move on: the limiter's counts are cleared where a test needs a
fresh window, and no assertion depends on how long anything took."""

from __future__ import annotations

import asyncio

import httpx

from apiclient import Api

FILES = "/api/v2/files"
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
