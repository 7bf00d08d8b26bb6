"""Events and webhooks through the API, on SQLite and on PostgreSQL: every change of a file's
life is an event in the outbox, delivered to a real HTTP endpoint signed as the Standard
Webhooks spec says (verified with its reference package), in order, retried after a 500 with
the same id, the endpoint disabled after repeated failure and enabled again by a good test;
`GET /events` long-polls the same events; another tenant sees none of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from apiclient import Api, running_api
from imagefactory import jpeg_bytes
from linkserver import LinkSite
from scopix import Scopix
from scopix.server.domain.events import EVENT_TYPES
from scopix.server.settings import Settings
from webhookreceiver import Receiver

BASE = "/api/v2"


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    """The app with quick retries and looks, allowed to reach the receiver on 127.0.0.1."""
    tuned = settings.model_copy(
        update={
            "links_allow_private": True,
            "webhook_retry_seconds": [0.05, 0.05],
            "webhook_poll_seconds": 0.02,
            "events_poll_seconds": 0.02,
        }
    )
    async with running_api(tuned) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


async def hook(api: Api, receiver: Receiver, events: list[str] | None = None) -> dict[str, Any]:
    body = {"url": receiver.url, "events": events or list(EVENT_TYPES)}
    answer = await api.client.post(f"{BASE}/webhooks", json=body)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def upload(api: Api, seed: int, **fields: str) -> str:
    data = jpeg_bytes(48 + seed, 40, seed=seed)
    answer = await api.client.post(
        f"{BASE}/files/upload", files={"file": (f"{seed}.jpg", data)}, data=fields
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["image_id"])


async def received(receiver: Receiver, count: int) -> list[dict[str, Any]]:
    await asyncio.to_thread(receiver.wait_for, lambda r: len(r.accepted()) >= count)
    return receiver.accepted()


async def test_a_files_life_reaches_the_endpoint_signed_and_in_order(
    api: Api, receiver: Receiver
) -> None:
    webhook = await hook(api, receiver)
    assert webhook["secret"].startswith("whsec_") and webhook["enabled"] is True
    file_id = await upload(api, 1)
    await api.drain()  # its variants and its description
    assert (await api.client.delete(f"{BASE}/files/{file_id}")).status_code == 204
    assert (await api.client.post(f"{BASE}/files/{file_id}/restore")).status_code == 200

    payloads = await received(receiver, 5)
    assert [p["type"] for p in payloads] == [
        "file.uploaded",
        "file.variants_ready",
        "file.described",
        "file.deleted",
        "file.restored",
    ]
    assert {p["data"]["file_id"] for p in payloads} == {file_id}
    verifier = Verifier(webhook["secret"])
    for delivery in receiver.received:
        assert verifier.verify(delivery.body, delivery.headers) == delivery.payload
        assert delivery.headers["webhook-id"] == delivery.payload["id"]
    tampered = dict(receiver.received[0].headers, **{"webhook-id": "another"})
    with pytest.raises(Exception, match="signature"):
        verifier.verify(receiver.received[0].body, tampered)

    streamed = (await api.client.get(f"{BASE}/events", params={"timeout": 0})).json()
    assert [e["id"] for e in streamed["items"]] == [p["id"] for p in payloads]
    assert streamed["items"][2]["data"]["description_status"] == "completed"
    log = (await api.client.get(f"{BASE}/webhooks/{webhook['id']}/deliveries")).json()
    assert log["total_count"] == 5 and all(d["succeeded"] for d in log["items"])
    listed = (await api.client.get(f"{BASE}/webhooks")).json()["items"]
    assert [w["id"] for w in listed] == [webhook["id"]] and "secret" not in listed[0]


async def test_an_endpoint_gets_only_the_types_it_asked_for(api: Api, receiver: Receiver) -> None:
    await hook(api, receiver, ["file.deleted"])
    kept, dropped = (
        await upload(api, 1, auto_describe="false"),
        await upload(api, 2, auto_describe="false"),
    )
    assert (await api.client.delete(f"{BASE}/files/{dropped}")).status_code == 204
    payloads = await received(receiver, 1)
    await asyncio.sleep(0.2)  # time for anything else to (wrongly) arrive
    assert [(p["type"], p["data"]["file_id"]) for p in receiver.accepted()] == [
        ("file.deleted", dropped)
    ]
    assert kept not in {p["data"]["file_id"] for p in payloads}


async def test_a_failing_endpoint_is_retried_with_the_same_id_then_disabled(
    api: Api, receiver: Receiver
) -> None:
    webhook = await hook(api, receiver)
    receiver.answers.extend([500, 500])
    first = await upload(api, 1, auto_describe="false")
    payloads = await received(receiver, 1)
    ids = [d.headers["webhook-id"] for d in receiver.received]
    assert [d.status for d in receiver.received] == [500, 500, 200]
    assert len(set(ids)) == 1 and payloads[0]["data"]["file_id"] == first

    receiver.answers.extend([500] * 3)  # the first try and both retries
    second = await upload(api, 2, auto_describe="false")

    async def disabled() -> dict[str, Any]:
        while True:
            listed = (await api.client.get(f"{BASE}/webhooks")).json()["items"][0]
            if not listed["enabled"]:
                return dict(listed)
            await asyncio.sleep(0.02)

    endpoint = await asyncio.wait_for(disabled(), 30)
    assert "3 attempts" in endpoint["disabled_reason"]
    assert "HTTP 500" in endpoint["disabled_reason"]
    log = (await api.client.get(f"{BASE}/webhooks/{webhook['id']}/deliveries")).json()
    assert [d["succeeded"] for d in log["items"]] == [False, False, False, True, False, False]
    assert [d["attempt"] for d in log["items"][:3]] == [3, 2, 1]

    tested = await api.client.post(f"{BASE}/webhooks/{webhook['id']}/test")
    assert tested.status_code == 200 and tested.json()["succeeded"] is True
    assert tested.json()["event_type"] == "webhook.test"
    payloads = await received(receiver, 3)  # the test, then the event it stopped at
    assert [p["type"] for p in payloads[1:]] == ["webhook.test", "file.uploaded"]
    assert payloads[2]["data"]["file_id"] == second


async def test_an_inside_address_is_refused_unless_allowed(api: Api, settings: Settings) -> None:
    async with running_api(settings) as strict:
        answer = await strict.client.post(
            f"{BASE}/webhooks",
            json={"url": "http://127.0.0.1:9/hook", "events": ["file.uploaded"]},
        )
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "URL_REFUSED"
    unknown = await api.client.post(
        f"{BASE}/webhooks", json={"url": "https://example.com/h", "events": ["file.eaten"]}
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"]["field"] == "events"


async def test_events_long_poll_from_a_cursor(api: Api) -> None:
    empty = (await api.client.get(f"{BASE}/events", params={"timeout": 0.1})).json()
    assert empty["items"] == []
    cursor = empty["next_cursor"]

    async def upload_soon() -> str:
        await asyncio.sleep(0.2)
        return await upload(api, 1, auto_describe="false")

    waiting = api.client.get(f"{BASE}/events", params={"after": cursor, "timeout": 10})
    answer, file_id = await asyncio.gather(waiting, upload_soon())
    page = answer.json()
    assert [(e["type"], e["data"]["file_id"]) for e in page["items"]] == [
        ("file.uploaded", file_id)
    ]
    after = (
        await api.client.get(f"{BASE}/events", params={"after": page["next_cursor"], "timeout": 0})
    ).json()
    assert after["items"] == [] and after["next_cursor"] == page["next_cursor"]
    now = (await api.client.get(f"{BASE}/events", params={"after": "now", "timeout": 0})).json()
    assert now["items"] == []
    later = await upload(api, 2, auto_describe="false")
    from_now = (
        await api.client.get(f"{BASE}/events", params={"after": now["next_cursor"], "timeout": 5})
    ).json()
    assert [e["data"]["file_id"] for e in from_now["items"]] == [later]
    bad = await api.client.get(f"{BASE}/events", params={"after": "yesterday"})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["error"]["details"]["errors"]] == ["after"]


async def test_another_tenant_sees_no_event_and_no_endpoint(api: Api, receiver: Receiver) -> None:
    webhook = await hook(api, receiver)
    theirs = api.auth(api.other_key)
    await upload(api, 1, auto_describe="false")
    await received(receiver, 1)
    events = await api.client.get(f"{BASE}/events", params={"timeout": 0}, headers=theirs)
    assert events.json()["items"] == []
    assert (await api.client.get(f"{BASE}/webhooks", headers=theirs)).json()["items"] == []
    for method, path in [
        ("DELETE", f"/webhooks/{webhook['id']}"),
        ("POST", f"/webhooks/{webhook['id']}/test"),
        ("GET", f"/webhooks/{webhook['id']}/deliveries"),
    ]:
        answer = await api.client.request(method, BASE + path, headers=theirs)
        assert answer.status_code == 404, (path, answer.text)
    assert (await api.client.delete(f"{BASE}/webhooks/{webhook['id']}")).status_code == 204


async def test_the_sdk_registers_endpoints_and_streams_a_files_description(
    api: Api, receiver: Receiver
) -> None:
    http = httpx.AsyncClient(transport=api.transport, base_url="http://testserver/api/v2")
    async with Scopix(api_key=api.key, retry_delay=0, http_client=http) as scopix:
        webhook = await scopix.webhooks.create(receiver.url, ["file.described"])
        assert webhook.secret is not None and webhook.events == ["file.described"]
        stream = scopix.events.stream(after="now", wait=5)
        uploaded = await upload(api, 5)  # (the SDK's uploads are tested on real sockets)

        async def described() -> str:  # an event of another tenant's would never come
            async for event in stream:
                if event.type == "file.described":
                    return str(event.data["file_id"])
            raise AssertionError("the stream ended")

        async def describe() -> None:
            await asyncio.sleep(0.1)
            await api.drain()

        seen, _ = await asyncio.gather(described(), describe())
        assert seen == uploaded
        resumed = await scopix.events.list(after=stream.cursor)
        assert resumed.items == [] and resumed.next_cursor == stream.cursor
        await asyncio.to_thread(receiver.wait_for, lambda r: len(r.accepted()) == 1)
        log = await scopix.webhooks.deliveries(webhook.id)
        assert [d.event_type for d in log.items] == ["file.described"]
        assert [w.id for w in await scopix.webhooks.list()] == [webhook.id]
        await scopix.webhooks.delete(webhook.id)
        assert await scopix.webhooks.list() == []


async def test_events_and_delivery_logs_are_forgotten_after_their_time(
    api: Api, receiver: Receiver
) -> None:
    webhook = await hook(api, receiver)
    await upload(api, 1, auto_describe="false")
    await received(receiver, 1)
    api.services.maintenance.keep_events = timedelta(0)
    report = await api.services.maintenance.sweep()
    assert report.expired_events == 1
    assert (await api.client.get(f"{BASE}/events", params={"timeout": 0})).json()["items"] == []
    log = await api.client.get(f"{BASE}/webhooks/{webhook['id']}/deliveries")
    assert log.json()["total_count"] == 0


async def test_documents_links_and_batches_have_their_events(api: Api) -> None:
    notes = await api.client.post(
        f"{BASE}/files/upload",
        files={"file": ("notes.txt", b"Otters are back in the Elbe.\n")},
        data={"auto_describe": "false"},
    )
    assert notes.status_code == 201, notes.text
    batch = await api.client.post(
        f"{BASE}/files/upload/batch",
        files=[("files", ("a.jpg", jpeg_bytes(40, 30, seed=1)))],
        data={"auto_describe": "false"},
    )
    assert batch.status_code == 201, batch.text
    with LinkSite() as site:
        link = await api.client.post(
            f"{BASE}/files/links", json={"url": site.url("/article"), "auto_describe": False}
        )
        assert link.status_code == 201, link.text
        await api.drain()
    events = (await api.client.get(f"{BASE}/events", params={"timeout": 0})).json()["items"]
    happened = {(e["type"], e["data"].get("file_id")) for e in events}
    assert ("document.extracted", notes.json()["image_id"]) in happened
    assert ("link.crawled", link.json()["image_id"]) in happened
    finished = [e["data"] for e in events if e["type"] == "batch.completed"]
    assert finished == [
        {"session_id": batch.json()["session_id"], "total_files": 1, "succeeded": 1, "failed": 0}
    ]
    assert [e["type"] for e in events].count("file.uploaded") == 3
