"""`Idempotency-Key` on writes, on SQLite and on PostgreSQL: the same key and body get the first
answer and the work is done once, also when the first attempt died half-way."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from apiclient import Api
from imagefactory import elf_bytes, jpeg_bytes
from scopix.server.api import idempotency as middleware
from scopix.server.catalog.models import File, IdempotencyKey, Job
from scopix.server.domain.errors import IdempotencyKeyReused
from scopix.server.domain.fields import upload_options
from scopix.server.domain.keys import parse_key
from scopix.server.domain.media import SNIFF_BYTES
from scopix.server.services.ingest import Ingested, StagedUpload

UPLOAD = "/api/v2/files/upload"
BATCH = "/api/v2/files/upload/batch"
BOUNDARY = "scopix-test-boundary-0123456789"


def multipart(files: list[tuple[str, str, bytes]], **fields: str) -> tuple[bytes, str]:
    """A multipart body with a fixed boundary, as the SDK sends it: retries are byte-identical."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    for field, filename, data in files:
        head = (
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; "
            f'name="{field}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={BOUNDARY}"


async def send(
    api: Api,
    method: str,
    path: str,
    key: str | bytes,
    body: bytes = b"",
    content_type: str | None = None,
    api_key: str | None = None,
) -> httpx.Response:
    headers: dict[str, Any] = {"Idempotency-Key": key, **api.auth(api_key)}
    if content_type:
        headers["Content-Type"] = content_type
    return await api.client.request(method, path, content=body, headers=headers)


def images(count: int, seed: int = 0) -> list[tuple[str, str, bytes]]:
    return [("files", f"{i}.jpg", jpeg_bytes(64, 48, seed=seed + i)) for i in range(count)]


async def count(api: Api, model: type[Any], *where: Any) -> int:
    async with api.services.idempotency.uows.read() as uow:
        total = await uow.session.scalar(select(func.count()).select_from(model).where(*where))
    return int(total or 0)


async def records(api: Api) -> list[IdempotencyKey]:
    async with api.services.idempotency.uows.read() as uow:
        return list(await uow.session.scalars(select(IdempotencyKey)))


async def set_record(api: Api, **values: Any) -> None:
    async with api.services.idempotency.uows.write() as uow:
        await uow.session.execute(update(IdempotencyKey).values(**values))
        await uow.commit()


async def tenant_of(api: Api, key: str) -> str:
    return (await api.services.keys.authenticate(parse_key(key))).tenant_id


def assert_replay_of(replay: httpx.Response, first: httpx.Response) -> None:
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.status_code == first.status_code
    assert replay.content == first.content
    assert replay.headers["content-type"] == first.headers["content-type"]
    assert replay.headers["x-request-id"] != first.headers["x-request-id"]


async def test_the_same_key_and_body_store_one_file_and_replay_the_first_answer(api: Api) -> None:
    body, ctype = multipart([("file", "p.jpg", jpeg_bytes(320, 240, seed=1))], title="Desk")
    first = await send(api, "POST", UPLOAD, "upload-1", body, ctype)
    second = await send(api, "POST", UPLOAD, "upload-1", body, ctype)

    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    assert_replay_of(second, first)
    assert await count(api, File) == 1
    assert await count(api, Job, Job.kind == "describe") == 1
    [record] = await records(api)
    assert record.state == "done" and record.response_status == 201
    assert record.body_sha256 == hashlib.sha256(body).hexdigest()
    assert record.expires_at - record.created_at == timedelta(hours=24)


async def test_the_same_key_with_another_body_or_route_is_refused(api: Api) -> None:
    body, ctype = multipart([("file", "p.jpg", jpeg_bytes(320, 240, seed=2))])
    other, _ = multipart([("file", "p.jpg", jpeg_bytes(320, 240, seed=3))])
    assert (await send(api, "POST", UPLOAD, "k", body, ctype)).status_code == 201

    for method, path, content in [("POST", UPLOAD, other), ("POST", BATCH, body)]:
        refused = await send(api, method, path, "k", content, ctype)
        assert refused.status_code == 422
        error = refused.json()["error"]
        assert error["code"] == "IDEMPOTENCY_KEY_REUSED"
        assert error["details"]["field"] == "Idempotency-Key"
        assert refused.json()["request_id"] == refused.headers["x-request-id"]
    assert await count(api, File) == 1


def hold_ingest(api: Api, monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """Make ingest wait: the first event is set when a request reaches it, and it goes on once
    the second is set."""
    entered, proceed = asyncio.Event(), asyncio.Event()
    real = api.services.ingest.ingest

    async def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        await proceed.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(api.services.ingest, "ingest", held)
    return entered, proceed


async def test_a_duplicate_sent_while_the_first_runs_is_told_when_to_retry(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, proceed = hold_ingest(api, monkeypatch)
    body, ctype = multipart([("file", "p.jpg", jpeg_bytes(200, 100, seed=4))])
    first = asyncio.create_task(send(api, "POST", UPLOAD, "busy", body, ctype))
    await asyncio.wait_for(entered.wait(), 30)

    duplicate = await send(api, "POST", UPLOAD, "busy", body, ctype)
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "CONFLICT"
    assert duplicate.json()["error"]["details"] == {"reason": "idempotency_key_in_use"}
    assert 1 <= int(duplicate.headers["retry-after"]) <= 30
    assert duplicate.headers["x-request-id"]

    proceed.set()
    done = await first
    assert done.status_code == 201
    assert_replay_of(await send(api, "POST", UPLOAD, "busy", body, ctype), done)
    assert await count(api, File) == 1


async def test_the_lease_is_renewed_while_the_request_runs(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api.services.idempotency, "heartbeat_every", timedelta(seconds=0.05))
    entered, proceed = hold_ingest(api, monkeypatch)
    body, ctype = multipart([("file", "p.jpg", jpeg_bytes(200, 100, seed=5))])
    first = asyncio.create_task(send(api, "POST", UPLOAD, "beat", body, ctype))
    await asyncio.wait_for(entered.wait(), 30)
    [claimed] = await records(api)
    for _ in range(200):
        await asyncio.sleep(0.05)
        [now] = await records(api)
        if now.locked_until > claimed.locked_until:
            break
    else:
        pytest.fail("the lease was never renewed")
    proceed.set()
    assert (await first).status_code == 201


async def test_a_server_error_is_not_kept_and_the_retry_runs(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the catalog went away")

    monkeypatch.setattr(api.services.ingest, "ingest", broken)
    body, ctype = multipart([("file", "p.jpg", jpeg_bytes(200, 100, seed=6))])
    failed = await send(api, "POST", UPLOAD, "flaky", body, ctype)
    monkeypatch.undo()
    assert failed.status_code == 500
    [record] = await records(api)
    assert record.state == "running" and record.locked_until <= datetime.now(UTC)

    retried = await send(api, "POST", UPLOAD, "flaky", body, ctype)
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert_replay_of(await send(api, "POST", UPLOAD, "flaky", body, ctype), retried)
    assert await count(api, File) == 1


async def test_a_refusal_of_bad_input_is_kept_and_replayed(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    body, ctype = multipart([("file", "p.jpg", elf_bytes())])
    first = await send(api, "POST", UPLOAD, "bad", body, ctype)
    assert first.status_code == 422
    assert first.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"

    async def must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a replay ran the route")

    monkeypatch.setattr(api.services.ingest, "ingest", must_not_run)
    assert_replay_of(await send(api, "POST", UPLOAD, "bad", body, ctype), first)


async def test_tenants_keys_are_independent(api: Api) -> None:
    body, ctype = multipart([("file", "p.jpg", jpeg_bytes(200, 100, seed=7))])
    mine = await send(api, "POST", UPLOAD, "shared-key", body, ctype)
    theirs = await send(api, "POST", UPLOAD, "shared-key", body, ctype, api_key=api.other_key)
    assert mine.status_code == theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["image_id"] != theirs.json()["image_id"]
    mine_tenant = await tenant_of(api, api.key)
    theirs_tenant = await tenant_of(api, api.other_key)
    assert await count(api, File, File.tenant_id == mine_tenant) == 1
    assert await count(api, File, File.tenant_id == theirs_tenant) == 1


async def test_keys_of_one_tenant_keep_their_records_apart(api: Api) -> None:
    second = (await api.services.keys.create_key("acme")).plaintext
    body, ctype = multipart([("file", "p.jpg", jpeg_bytes(200, 100, seed=17))])
    first = await send(api, "POST", UPLOAD, "per-key", body, ctype)
    other = await send(api, "POST", UPLOAD, "per-key", body, ctype, api_key=second)

    assert first.status_code == other.status_code == 201
    assert "idempotent-replayed" not in other.headers
    assert other.json()["deduplicated"] is True  # the same bytes, found by content, not replayed
    first_key, second_key = parse_key(api.key), parse_key(second)
    by_key = {r.api_key_id for r in await records(api)}
    principals = [
        await api.services.keys.authenticate(first_key),
        await api.services.keys.authenticate(second_key),
    ]
    assert by_key == {p.key_id for p in principals}


async def test_a_read_only_key_is_refused_and_never_replayed_a_writers_answer(api: Api) -> None:
    read_only = (await api.services.keys.create_key("acme", scopes=("read",))).plaintext
    file_id = await _file(api, 18, auto_describe="false")
    route = f"/api/v2/files/{file_id}"
    patch = b'{"title": "By the writer"}'
    written = await send(api, "PATCH", route, "edit-1", patch, "application/json")
    assert written.status_code == 200

    for _ in range(2):  # a retry is refused the same way: nothing was kept for it
        refused = await send(
            api, "PATCH", route, "edit-1", patch, "application/json", api_key=read_only
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "PERMISSION_DENIED"
        assert "idempotent-replayed" not in refused.headers
    [record] = await records(api)
    assert record.response_status == 200
    assert record.api_key_id == (await api.services.keys.authenticate(parse_key(api.key))).key_id


@pytest.mark.parametrize(
    "key", [b"", b" leading", b"trailing ", b"k" * 256, b"caf\xc3\xa9", b"tab\there"]
)
async def test_an_invalid_key_is_refused_before_anything_runs(api: Api, key: bytes) -> None:
    body, ctype = multipart([("file", "p.jpg", jpeg_bytes(64, 64, seed=8))])
    refused = await send(api, "POST", UPLOAD, key, body, ctype)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "VALIDATION_ERROR"
    assert refused.json()["error"]["details"]["field"] == "Idempotency-Key"
    assert refused.headers["x-request-id"]
    assert await count(api, File) == 0


async def test_an_unknown_api_key_is_refused_before_any_record(api: Api) -> None:
    body, ctype = multipart([("file", "p.jpg", jpeg_bytes(64, 64, seed=9))])
    bad_key = "scopix_AbCd1234_" + "s" * 43
    refused = await send(api, "POST", UPLOAD, "k", body, ctype, api_key=bad_key)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "INVALID_API_KEY"
    assert await records(api) == []


async def test_reads_and_unkeyed_writes_are_untouched(api: Api) -> None:
    listed = await api.client.get("/api/v2/files", headers={"Idempotency-Key": " bad "})
    assert listed.status_code == 200
    body, ctype = multipart([("file", "p.jpg", jpeg_bytes(64, 64, seed=10))])
    for _ in range(2):
        plain = await api.client.post(UPLOAD, content=body, headers={"Content-Type": ctype})
        assert plain.status_code == 201 and "idempotent-replayed" not in plain.headers
    assert await count(api, File) == 2
    assert await records(api) == []


async def _file(api: Api, seed: int, **fields: str) -> str:
    response = await api.client.post(
        UPLOAD, files={"file": ("p.jpg", jpeg_bytes(64, 64, seed=seed))}, data=fields
    )
    assert response.status_code == 201, response.text
    image_id: str = response.json()["image_id"]
    return image_id


async def test_patch_delete_and_describe_are_done_once(api: Api) -> None:
    file_id = await _file(api, 11, auto_describe="false")
    route = f"/api/v2/files/{file_id}"

    patch = b'{"title": "Renamed"}'
    edited = await send(api, "PATCH", route, "edit", patch, "application/json")
    assert edited.status_code == 200
    assert_replay_of(await send(api, "PATCH", route, "edit", patch, "application/json"), edited)
    history = (await api.client.get(route)).json()["processing_history"]
    assert [e["event"] for e in history].count("edited") == 1

    described = await send(api, "POST", f"{route}/describe", "describe")
    assert described.status_code == 202
    assert_replay_of(await send(api, "POST", f"{route}/describe", "describe"), described)
    assert await count(api, Job, Job.kind == "describe") == 1

    deleted = await send(api, "DELETE", route, "delete")
    assert deleted.status_code == 204
    again = await send(api, "DELETE", route, "delete")
    assert again.status_code == 204 and again.headers["idempotent-replayed"] == "true"
    assert (await api.client.delete(route)).status_code == 404  # without the key: done already


async def test_a_json_batch_delete_is_replayed(api: Api) -> None:
    ids = [await _file(api, 12), await _file(api, 13)]
    payload = json.dumps({"file_ids": ids}).encode()
    route = "/api/v2/files/batch-delete"
    first = await send(api, "POST", route, "bd", payload, "application/json")
    assert first.json()["deleted_count"] == 2
    assert_replay_of(await send(api, "POST", route, "bd", payload, "application/json"), first)


async def _crash_after(api: Api, monkeypatch: pytest.MonkeyPatch, stored: int) -> None:
    """Make the next request die like a killed server once `stored` files are stored: nothing
    after that point runs (no release, no response kept)."""
    real = api.services.ingest.ingest
    calls = 0

    async def dying(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls > stored:
            raise RuntimeError("SIGKILL")
        return await real(*args, **kwargs)

    async def gone(*args: Any, **kwargs: Any) -> Any:
        return None

    monkeypatch.setattr(api.services.ingest, "ingest", dying)
    monkeypatch.setattr(api.services.idempotency, "release", gone)
    monkeypatch.setattr(api.services.idempotency, "finish", gone)


async def test_a_batch_retried_after_a_crash_finishes_without_storing_twice(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = images(4, seed=20)
    body, ctype = multipart(files, tags="site")
    await _crash_after(api, monkeypatch, stored=2)
    await send(api, "POST", BATCH, "batch-1", body, ctype)
    monkeypatch.undo()
    [record] = await records(api)
    assert record.state == "running"
    async with api.services.idempotency.uows.read() as uow:
        stored = list(await uow.session.scalars(select(File).order_by(File.upload_ref)))
    assert [f.upload_ref for f in stored] == [f"{record.id}:0", f"{record.id}:1"]

    # Restarted at once: the dead attempt's lease still runs, so the retry is told to wait.
    busy = await send(api, "POST", BATCH, "batch-1", body, ctype)
    assert busy.status_code == 409 and int(busy.headers["retry-after"]) >= 1

    await set_record(api, locked_until=datetime.now(UTC) - timedelta(seconds=1))
    swapped, _ = multipart([*files[:2], files[3], files[2]], tags="site")  # same length
    refused = await send(api, "POST", BATCH, "batch-1", swapped, ctype)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"

    retried = await send(api, "POST", BATCH, "batch-1", body, ctype)
    assert retried.status_code == 201, retried.text
    session = retried.json()
    assert session["session_id"] == record.id
    assert [r["outcome"] for r in session["results"]] == ["uploaded"] * 4
    ids = [r["result"]["image_id"] for r in session["results"]]
    assert ids[:2] == [f.id for f in stored]
    assert await count(api, File) == 4
    assert await count(api, Job, Job.kind == "describe") == 4
    assert_replay_of(await send(api, "POST", BATCH, "batch-1", body, ctype), retried)
    results = await api.client.get(f"/api/v2/uploads/sessions/{record.id}/results")
    assert [r["result"]["image_id"] for r in results.json()["results"]] == ids


async def test_a_retry_after_the_session_was_recorded_records_it_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    body, ctype = multipart(images(2, seed=30))
    await _crash_after(api, monkeypatch, stored=2)  # all stored, answered, never kept
    first = await send(api, "POST", BATCH, "batch-2", body, ctype)
    assert first.status_code == 201
    monkeypatch.undo()
    await set_record(api, locked_until=datetime.now(UTC) - timedelta(seconds=1))

    retried = await send(api, "POST", BATCH, "batch-2", body, ctype)
    assert retried.status_code == 201
    assert retried.json()["session_id"] == first.json()["session_id"]
    assert [r["result"]["image_id"] for r in retried.json()["results"]] == [
        r["result"]["image_id"] for r in first.json()["results"]
    ]
    assert await count(api, File) == 2


async def test_a_streamed_body_is_checked_against_the_crashed_attempts(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = jpeg_bytes(2000, 1500, quality=95, seed=40)
    assert len(big) > middleware.READ_AHEAD_BYTES
    body, ctype = multipart([("file", "big.jpg", big)])
    await _crash_after(api, monkeypatch, stored=0)
    await send(api, "POST", UPLOAD, "big", body, ctype)
    monkeypatch.undo()
    [record] = await records(api)
    assert record.body_sha256 == hashlib.sha256(body).hexdigest()  # noted as it streamed in
    await set_record(api, locked_until=datetime.now(UTC) - timedelta(seconds=1))

    tampered = bytearray(body)
    tampered[len(body) // 2] ^= 0xFF
    refused = await send(api, "POST", UPLOAD, "big", bytes(tampered), ctype)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await count(api, File) == 0

    retried = await send(api, "POST", UPLOAD, "big", body, ctype)
    assert retried.status_code == 201, retried.text
    assert_replay_of(await send(api, "POST", UPLOAD, "big", body, ctype), retried)
    assert await count(api, File) == 1


async def test_keys_past_retention_are_purged_and_start_afresh(api: Api) -> None:
    body, ctype = multipart([("file", "p.jpg", jpeg_bytes(64, 64, seed=50))])
    first = await send(api, "POST", UPLOAD, "old", body, ctype)
    assert first.status_code == 201
    await send(api, "POST", UPLOAD, "recent", *multipart(images(1, seed=51)))
    async with api.services.idempotency.uows.write() as uow:
        await uow.session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == "old")
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await uow.commit()

    report = await api.services.maintenance.sweep()
    assert report.idempotency_keys == 1
    assert [r.key for r in await records(api)] == ["recent"]

    again = await send(api, "POST", UPLOAD, "old", body, ctype)
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert again.json()["image_id"] != first.json()["image_id"]


def staged(api: Api, data: bytes) -> StagedUpload:
    path = api.services.store.new_staging_path()
    path.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    return StagedUpload(path, "p.jpg", len(data), sha, data[:SNIFF_BYTES])


async def test_attempts_racing_on_one_upload_ref_end_as_one_file(api: Api) -> None:
    tenant_id = await tenant_of(api, api.key)
    options = upload_options({})
    data = jpeg_bytes(300, 200, seed=60)

    async def attempt(payload: bytes) -> Ingested | Exception:
        try:
            return await api.services.ingest.ingest(
                tenant_id, staged(api, payload), options, upload_ref="rec:0"
            )
        except IdempotencyKeyReused as exc:
            return exc

    same = await asyncio.gather(attempt(data), attempt(data))
    assert all(isinstance(r, Ingested) for r in same)
    assert len({r.file.id for r in same if isinstance(r, Ingested)}) == 1
    assert await count(api, File) == 1
    assert await count(api, Job, Job.kind == "describe") == 1

    other = await asyncio.gather(
        attempt(jpeg_bytes(300, 200, seed=61)), attempt(jpeg_bytes(300, 200, seed=62))
    )
    assert all(isinstance(r, IdempotencyKeyReused) for r in other)  # "rec:0" holds other bytes

    fresh = await asyncio.gather(
        *(
            api.services.ingest.ingest(
                tenant_id, staged(api, jpeg_bytes(300, 200, seed=s)), options, upload_ref="rec:1"
            )
            for s in (63, 64)
        ),
        return_exceptions=True,
    )
    winners = [r for r in fresh if isinstance(r, Ingested)]
    assert len(winners) == 1, fresh
    losers = [r for r in fresh if not isinstance(r, Ingested)]
    assert [type(r) for r in losers] == [IdempotencyKeyReused], losers
    assert await count(api, File) == 2
