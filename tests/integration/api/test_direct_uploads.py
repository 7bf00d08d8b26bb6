"""Direct uploads on local storage, through the API: plans, parts, resume, completion, faults."""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest

from apiclient import Api
from imagefactory import jpeg_bytes, mp4_bytes, png_bytes
from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.domain import direct_uploads as rules
from scopix.server.domain.signing import PartGrant, sign

MiB = 1 << 20
BASE = "/api/v2/files/direct-uploads"


@pytest.fixture(autouse=True)
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """1 MiB parts, so a test moves a few MiB instead of a few hundred."""
    monkeypatch.setattr(rules, "PREFERRED_PART_SIZE", MiB)


async def start(
    api: Api, data: bytes, *, declare: bool = True, key: str | None = None, **options: Any
) -> httpx.Response:
    body = {"filename": "clip.mp4", "size_bytes": len(data), **options}
    if declare:
        body["sha256"] = hashlib.sha256(data).hexdigest()
    return await api.client.post(BASE, json=body, headers=api.auth(key))


async def put_part(api: Api, upload: dict[str, Any], number: int, data: bytes) -> httpx.Response:
    url = next(u["url"] for u in upload["part_urls"] if u["part_number"] == number)
    offset = (number - 1) * upload["part_size"]
    chunk = data[offset : offset + upload["part_size"]]
    return await api.client.put(url, content=chunk, headers={"Authorization": ""})


async def send_all(api: Api, upload: dict[str, Any], data: bytes) -> None:
    for target in reversed(upload["part_urls"]):  # order does not matter
        assert (await put_part(api, upload, target["part_number"], data)).status_code == 200


async def file_count(api: Api) -> int:
    listing = await api.client.get("/api/v2/files")
    return int(listing.json()["total_count"])


async def test_a_multipart_upload_stores_exactly_the_bytes_sent(api: Api) -> None:
    data = mp4_bytes(3 * MiB + 123)
    started = await start(api, data, title="Drone pass", tags=["site", "survey"])
    assert started.status_code == 201
    upload = started.json()
    assert (upload["method"], upload["part_count"], upload["part_size"]) == ("multipart", 4, MiB)
    assert [u["part_number"] for u in upload["part_urls"]] == [1, 2, 3, 4]
    await send_all(api, upload, data)

    status = (await api.client.get(f"{BASE}/{upload['upload_id']}")).json()
    assert [p["size"] for p in status["parts"]] == [MiB, MiB, MiB, 123]
    assert status["part_urls"] == []

    done = await api.client.post(f"{BASE}/{upload['upload_id']}/complete")
    assert done.status_code == 201, done.text
    result = done.json()
    sha = hashlib.sha256(data).hexdigest()
    assert result["media_type"] == "video"
    # Probed from storage at completion: its thumbnails, scenes and description are to come.
    assert (result["status"], result["description_status"]) == ("processing", "queued")
    assert result["deduplicated"] is False
    assert result["object_key"].endswith(f"/{sha[:2]}/{sha}/original")
    download = await api.client.get(f"/api/v2/files/{result['image_id']}/download")
    assert hashlib.sha256(download.content).hexdigest() == sha
    details = (await api.client.get(f"/api/v2/files/{result['image_id']}")).json()
    assert (details["title"], details["tags"]) == ("Drone pass", ["site", "survey"])
    processing = (await api.client.get(f"/api/v2/files/{result['image_id']}/status")).json()
    assert (processing["variant_status"], processing["video_analysis_status"]) == (
        "processing",
        "pending",
    )
    again = (await api.client.get(f"{BASE}/{upload['upload_id']}")).json()
    assert again["state"] == "completed"


async def test_a_small_image_goes_as_one_put_and_is_described_like_any_upload(api: Api) -> None:
    data = jpeg_bytes(640, 480)
    upload = (await start(api, data)).json()
    assert (upload["method"], upload["part_count"]) == ("single", 1)
    await send_all(api, upload, data)
    result = (await api.client.post(f"{BASE}/{upload['upload_id']}/complete")).json()
    assert (result["media_type"], result["description_status"]) == ("image", "queued")
    assert await api.drain() >= 2  # variants and the description
    details = (await api.client.get(f"/api/v2/files/{result['image_id']}")).json()
    assert details["description_status"] == "completed"
    assert "small_256" in details["variants"]


async def test_known_bytes_answer_deduplicated_at_once(api: Api) -> None:
    data = mp4_bytes(2 * MiB, seed=1)
    first = (await start(api, data)).json()
    await send_all(api, first, data)
    stored = (await api.client.post(f"{BASE}/{first['upload_id']}/complete")).json()

    again = await start(api, data)
    assert again.status_code == 201
    body = again.json()
    assert (body["deduplicated"], body["upload_id"], body["part_urls"]) == (True, None, [])
    assert body["result"]["deduplicated"] is True
    assert body["result"]["image_id"] != stored["image_id"]  # a new file sharing the bytes

    skipped = (await start(api, data, skip_duplicates=True)).json()
    assert skipped["result"]["status"] == "skipped"
    assert skipped["result"]["image_id"] == stored["image_id"]
    assert await file_count(api) == 2


async def test_starting_the_same_bytes_again_resumes_with_only_the_missing_parts(
    api: Api,
) -> None:
    data = mp4_bytes(4 * MiB, seed=2)
    upload = (await start(api, data)).json()
    for number in (1, 3):
        assert (await put_part(api, upload, number, data)).status_code == 200

    resumed = (await start(api, data)).json()
    assert resumed["resumed"] is True and resumed["upload_id"] == upload["upload_id"]
    assert [p["part_number"] for p in resumed["parts"]] == [1, 3]
    assert [u["part_number"] for u in resumed["part_urls"]] == [2, 4]
    await send_all(api, resumed, data)
    done = await api.client.post(f"{BASE}/{upload['upload_id']}/complete")
    assert done.status_code == 201

    other_options = (await start(api, mp4_bytes(4 * MiB, seed=3), title="x")).json()
    assert other_options["resumed"] is False


async def test_part_urls_page_past_the_first_answer(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules, "URLS_PER_ANSWER", 2)
    monkeypatch.setattr("scopix.server.services.direct_uploads.URLS_PER_ANSWER", 2)
    data = mp4_bytes(5 * MiB, seed=4)
    upload = (await start(api, data)).json()
    assert [u["part_number"] for u in upload["part_urls"]] == [1, 2]
    assert upload["next_part"] == 3
    page = (await api.client.get(f"{BASE}/{upload['upload_id']}?first_part=3")).json()
    assert [u["part_number"] for u in page["part_urls"]] == [3, 4]
    assert page["next_part"] == 5


# --- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize("delta", [-1, +1])
async def test_a_part_of_the_wrong_length_is_refused_and_not_kept(api: Api, delta: int) -> None:
    data = mp4_bytes(2 * MiB + 10, seed=5)
    upload = (await start(api, data)).json()
    url = upload["part_urls"][0]["url"]
    wrong = await api.client.put(url, content=data[: MiB + delta])
    assert wrong.status_code == 422
    assert wrong.json()["error"]["code"] == "PART_SIZE_MISMATCH"
    status = (await api.client.get(f"{BASE}/{upload['upload_id']}")).json()
    assert status["parts"] == []


async def test_a_streamed_part_that_is_too_long_is_refused(api: Api) -> None:
    data = mp4_bytes(2 * MiB, seed=6)
    upload = (await start(api, data)).json()

    async def body() -> Any:
        yield data[:MiB]
        yield b"more"

    wrong = await api.client.put(upload["part_urls"][0]["url"], content=body())
    assert wrong.json()["error"]["code"] == "PART_SIZE_MISMATCH"
    assert (await api.client.get(f"{BASE}/{upload['upload_id']}")).json()["parts"] == []


async def test_tampered_and_expired_part_urls_are_refused(api: Api) -> None:
    data = mp4_bytes(2 * MiB, seed=7)
    upload = (await start(api, data)).json()
    url = upload["part_urls"][0]["url"]
    forged = url.replace("/parts/1?", "/parts/2?")
    assert (await api.client.put(forged, content=data[:MiB])).json()["error"][
        "code"
    ] == "INVALID_SIGNATURE"
    bad_sig = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    refused = await api.client.put(bad_sig, content=data[:MiB])
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "INVALID_SIGNATURE")

    secret = api.services.direct_uploads.settings.signing_secret
    grant = PartGrant(upload["upload_id"], 1, int(time.time()) - 5)
    expired = (
        f"{BASE}/{upload['upload_id']}/parts/1?expires={grant.expires}"
        f"&signature={sign(secret, grant)}"
    )
    refused = await api.client.put(expired, content=data[:MiB])
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "URL_EXPIRED")
    assert (await api.client.get(f"{BASE}/{upload['upload_id']}")).json()["parts"] == []


async def test_completing_with_a_missing_part_says_which_and_keeps_the_upload(api: Api) -> None:
    data = mp4_bytes(3 * MiB, seed=8)
    upload = (await start(api, data)).json()
    for number in (1, 3):
        await put_part(api, upload, number, data)
    early = await api.client.post(f"{BASE}/{upload['upload_id']}/complete")
    assert early.status_code == 422
    error = early.json()["error"]
    assert (error["code"], error["details"]["missing_parts"]) == ("UPLOAD_INCOMPLETE", [2])
    assert await file_count(api) == 0

    await put_part(api, upload, 2, data)
    assert (await api.client.post(f"{BASE}/{upload['upload_id']}/complete")).status_code == 201


async def test_a_part_sent_twice_counts_once_and_wrong_bytes_fail_the_checksum(api: Api) -> None:
    data = mp4_bytes(2 * MiB, seed=9)
    upload = (await start(api, data)).json()
    await put_part(api, upload, 1, data)
    await put_part(api, upload, 1, data)
    url2 = upload["part_urls"][1]["url"]
    await api.client.put(url2, content=data[:MiB])  # part 1's bytes sent as part 2
    refused = await api.client.post(f"{BASE}/{upload['upload_id']}/complete")
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "CHECKSUM_MISMATCH"
    assert await file_count(api) == 0
    status = (await api.client.get(f"{BASE}/{upload['upload_id']}")).json()
    assert status["state"] == "failed"
    blobs = api.services.settings.resolved_storage_dir
    assert not (blobs / "uploads").exists() or not any((blobs / "uploads").rglob("*.*"))
    late = await api.client.put(url2, content=data[MiB:])
    assert late.json()["error"]["code"] == "UPLOAD_NOT_ACTIVE"


async def test_completing_twice_registers_one_file(api: Api) -> None:
    data = mp4_bytes(MiB, seed=10)
    upload = (await start(api, data)).json()
    await send_all(api, upload, data)
    first = (await api.client.post(f"{BASE}/{upload['upload_id']}/complete")).json()
    second = await api.client.post(f"{BASE}/{upload['upload_id']}/complete")
    assert second.status_code == 409
    error = second.json()["error"]
    assert (error["code"], error["details"]["state"]) == ("UPLOAD_NOT_ACTIVE", "completed")
    assert error["details"]["image_id"] == first["image_id"]
    assert await file_count(api) == 1


async def test_another_tenants_upload_does_not_exist_for_them(api: Api) -> None:
    data = mp4_bytes(MiB, seed=11)
    upload = (await start(api, data)).json()
    await send_all(api, upload, data)
    other = api.auth(api.other_key)
    path = f"{BASE}/{upload['upload_id']}"
    assert (await api.client.get(path, headers=other)).status_code == 404
    assert (await api.client.post(f"{path}/complete", headers=other)).status_code == 404
    assert (await api.client.delete(path, headers=other)).status_code == 404
    assert (await start(api, data, key=api.other_key)).json()["deduplicated"] is False
    assert (await api.client.post(f"{path}/complete")).status_code == 201


async def test_an_aborted_upload_takes_no_parts_and_frees_them(api: Api) -> None:
    data = mp4_bytes(2 * MiB, seed=12)
    upload = (await start(api, data)).json()
    await put_part(api, upload, 1, data)
    assert (await api.client.delete(f"{BASE}/{upload['upload_id']}")).status_code == 204
    late = await put_part(api, upload, 2, data)
    assert (late.status_code, late.json()["error"]["code"]) == (409, "UPLOAD_NOT_ACTIVE")
    done = await api.client.post(f"{BASE}/{upload['upload_id']}/complete")
    assert done.json()["error"]["details"]["state"] == "aborted"
    assert (await api.client.get(f"{BASE}/{upload['upload_id']}")).json()["parts"] == []
    assert await file_count(api) == 0


def declaring_huge(png: bytes) -> bytes:
    """The same PNG, its IHDR now declaring 65535 x 65535 (the bytes of the bug report)."""
    return png[:16] + struct.pack(">II", 65535, 65535) + png[24:]


async def test_a_part_put_racing_completion_cannot_change_the_stored_bytes(api: Api) -> None:
    data = png_bytes(64, 64)
    upload = (await start(api, data, filename="small.png")).json()
    url = upload["part_urls"][0]["url"]
    halfway, release = anyio.Event(), anyio.Event()

    async def stalled_body() -> AsyncIterator[bytes]:
        yield data[:8]
        halfway.set()
        await release.wait()
        yield declaring_huge(data)[8:]

    late: list[httpx.Response] = []

    async def stalled_put() -> None:
        late.append(await api.client.put(url, content=stalled_body()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(stalled_put)
        await halfway.wait()
        assert (await put_part(api, upload, 1, data)).status_code == 200
        done = await api.client.post(f"{BASE}/{upload['upload_id']}/complete")
        assert done.status_code == 201, done.text
        release.set()

    (refused,) = late
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["state"] == "completed"
    file_id = done.json()["image_id"]
    details = (await api.client.get(f"/api/v2/files/{file_id}")).json()
    download = await api.client.get(f"/api/v2/files/{file_id}/download")
    assert hashlib.sha256(download.content).hexdigest() == details["content_hash"]
    assert download.content == data
    assert (details["width"], details["height"]) == (64, 64)


async def test_a_put_after_completion_is_refused_and_changes_nothing(api: Api) -> None:
    data = mp4_bytes(2 * MiB, seed=16)
    upload = (await start(api, data)).json()
    await send_all(api, upload, data)
    done = (await api.client.post(f"{BASE}/{upload['upload_id']}/complete")).json()
    late = await put_part(api, upload, 2, mp4_bytes(2 * MiB, seed=17))
    assert (late.status_code, late.json()["error"]["code"]) == (409, "UPLOAD_NOT_ACTIVE")
    assert late.json()["error"]["details"]["image_id"] == done["image_id"]
    download = await api.client.get(f"/api/v2/files/{done['image_id']}/download")
    assert hashlib.sha256(download.content).hexdigest() == hashlib.sha256(data).hexdigest()


async def test_a_completion_in_progress_takes_no_parts(api: Api) -> None:
    data = mp4_bytes(2 * MiB, seed=18)
    upload = (await start(api, data)).json()
    await put_part(api, upload, 1, data)
    async with UnitOfWorkFactory(api.services.database).write() as uow:
        row = await uow.direct_uploads.get_any_tenant(upload["upload_id"])
        assert row is not None
        row.state, row.claimed_until = "completing", row.created_at + timedelta(hours=1)
        await uow.commit()
    refused = await put_part(api, upload, 2, data)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "CONFLICT")
    assert refused.headers["retry-after"] == "5"
    held = await api.services.store.list_parts(row.storage_key, row.store_upload_id)
    assert [p.number for p in held] == [1]


async def test_an_abandoned_upload_expires_and_its_parts_are_swept(api: Api) -> None:
    data = mp4_bytes(2 * MiB, seed=13)
    upload = (await start(api, data)).json()
    await put_part(api, upload, 1, data)
    store = api.services.store
    async with UnitOfWorkFactory(api.services.database).write() as uow:
        row = await uow.direct_uploads.get_any_tenant(upload["upload_id"])
        assert row is not None
        row.expires_at = row.created_at
        await uow.commit()
    report = await api.services.maintenance.sweep()
    assert report.direct_uploads == 1
    assert await store.list_parts(row.storage_key, row.store_upload_id) == []
    late = await put_part(api, upload, 2, data)
    assert late.json()["error"]["details"]["state"] == "expired"


async def test_bytes_of_an_unsupported_type_fail_the_upload_and_are_freed(api: Api) -> None:
    data = b"PK\x03\x04" + bytes(MiB)
    upload = (await start(api, data)).json()
    await send_all(api, upload, data)
    refused = await api.client.post(f"{BASE}/{upload['upload_id']}/complete")
    assert (refused.status_code, refused.json()["error"]["code"]) == (
        422,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    assert (await api.client.get(f"{BASE}/{upload['upload_id']}")).json()["state"] == "failed"
    assert await file_count(api) == 0


async def test_a_completion_that_died_after_recording_is_finished_by_the_next(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = mp4_bytes(2 * MiB, seed=14)
    upload = (await start(api, data)).json()
    await send_all(api, upload, data)
    service = api.services.direct_uploads
    mark_completed = service._mark_completed
    crashes = [ConnectionError("the server died before marking the upload completed")]

    async def crash_once(*args: Any) -> None:
        if crashes:
            raise crashes.pop()
        await mark_completed(*args)

    monkeypatch.setattr(service, "_mark_completed", crash_once)
    failed = await api.client.post(f"{BASE}/{upload['upload_id']}/complete")
    assert failed.status_code == 500
    assert await file_count(api) == 1  # recorded, though the upload was not marked completed
    done = await api.client.post(f"{BASE}/{upload['upload_id']}/complete")
    assert done.status_code == 201
    assert await file_count(api) == 1


async def test_a_completion_that_died_after_joining_the_parts_is_finished_by_the_next(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = mp4_bytes(2 * MiB, seed=19)
    upload = (await start(api, data)).json()
    await send_all(api, upload, data)
    store = api.services.store
    seal_parts = store.seal_parts

    async def seal_then_crash(*args: Any) -> None:
        await seal_parts(*args)
        monkeypatch.setattr(store, "seal_parts", seal_parts)
        raise ConnectionError("the server died before recording the seal")

    monkeypatch.setattr(store, "seal_parts", seal_then_crash)
    failed = await api.client.post(f"{BASE}/{upload['upload_id']}/complete")
    assert failed.status_code == 500
    done = await api.client.post(f"{BASE}/{upload['upload_id']}/complete")
    assert done.status_code == 201, done.text
    download = await api.client.get(f"/api/v2/files/{done.json()['image_id']}/download")
    assert download.content == data


async def test_bad_start_requests_are_refused(api: Api) -> None:
    cases = [
        ({"filename": "a.mp4", "size_bytes": 0}, "VALIDATION_ERROR"),
        ({"filename": "a.mp4", "size_bytes": 6 * (1 << 40)}, "FILE_TOO_LARGE"),
        ({"filename": "a.mp4", "size_bytes": 10, "sha256": "xyz"}, "VALIDATION_ERROR"),
        ({"filename": "a.mp4", "size_bytes": 10, "content_category": "nope"}, "VALIDATION_ERROR"),
        ({"filename": "", "size_bytes": 10}, "VALIDATION_ERROR"),
        ({"size_bytes": 10}, "VALIDATION_ERROR"),
    ]
    for body, code in cases:
        answer = await api.client.post(BASE, json=body)
        assert answer.status_code in (413, 422), body
        assert answer.json()["error"]["code"] == code, body


async def test_a_streaming_upload_of_a_video_is_probed_and_queued_for_a_description(
    api: Api,
) -> None:
    data = mp4_bytes(200_000, seed=15)
    answer = await api.client.post(
        "/api/v2/files/upload", files={"file": ("clip.mp4", data, "video/mp4")}
    )
    assert answer.status_code == 201, answer.text
    result = answer.json()
    assert (result["media_type"], result["description_status"]) == ("video", "queued")
    assert result["status"] == "processing"  # until its variants job made the larger ones
    usage = (await api.client.get("/api/v2/uploads/quota-check")).json()
    assert usage["current_usage"] == 0  # charged once described
