"""Direct uploads on S3 (moto's standalone server): parts go to S3's own presigned URLs."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import httpx
import pytest

from apiclient import Api, running_api
from imagefactory import jpeg_bytes, mp4_bytes
from s3server import S3Storage
from scopix.server.domain import direct_uploads as rules
from scopix.server.settings import Settings

MiB = 1 << 20
BASE = "/api/v2/files/direct-uploads"


@pytest.fixture
async def s3_api(
    s3_storage: S3Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Api]:
    monkeypatch.setattr(rules, "PREFERRED_PART_SIZE", 5 * MiB)  # S3's floor for a part
    # moto dates every multipart upload 2010-11-10, so the sweep the app starts with would take
    # an upload whose row is not yet committed for one abandoned long ago, and abort it.
    monkeypatch.setattr(rules, "UNRECORDED_GRACE", timedelta(days=365 * 100))
    settings = Settings(
        data_dir=tmp_path / "data", storage_url=s3_storage.url, workers=0, retry_base_seconds=0
    )
    async with running_api(settings) as api:
        yield api


def bucket_keys(s3: S3Storage) -> list[str]:
    client = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1")
    listed = client.list_objects_v2(Bucket=s3.bucket)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def multipart_uploads(s3: S3Storage) -> list[dict[str, Any]]:
    client = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1")
    return list(client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", []))


async def start(api: Api, data: bytes, **options: Any) -> dict[str, Any]:
    body = {"filename": "clip.mp4", "size_bytes": len(data), **options}
    body.setdefault("sha256", hashlib.sha256(data).hexdigest())
    answer = await api.client.post(BASE, json=body)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def put(upload: dict[str, Any], number: int, data: bytes) -> httpx.Response:
    url = next(u["url"] for u in upload["part_urls"] if u["part_number"] == number)
    async with httpx.AsyncClient() as s3:  # straight to S3, with no Scopix key
        return await s3.put(url, content=data)


def part(upload: dict[str, Any], number: int, data: bytes) -> bytes:
    offset = (number - 1) * upload["part_size"]
    return data[offset : offset + upload["part_size"]]


async def test_parts_go_to_s3_and_the_file_lands_at_its_content_address(
    s3_api: Api, s3_storage: S3Storage
) -> None:
    data = mp4_bytes(11 * MiB + 7, seed=20)
    upload = await start(s3_api, data)
    assert upload["method"] == "multipart" and upload["part_count"] == 3
    assert upload["part_urls"][0]["url"].startswith(s3_storage.endpoint)
    for number in (3, 1, 2):
        assert (await put(upload, number, part(upload, number, data))).status_code == 200
    status = (await s3_api.client.get(f"{BASE}/{upload['upload_id']}")).json()
    assert [p["part_number"] for p in status["parts"]] == [1, 2, 3]

    done = await s3_api.client.post(f"{BASE}/{upload['upload_id']}/complete")
    assert done.status_code == 201, done.text
    result = done.json()
    sha = hashlib.sha256(data).hexdigest()
    assert result["object_key"].endswith(f"{sha}/original")
    download = await s3_api.client.get(f"/api/v2/files/{result['image_id']}/download")
    assert hashlib.sha256(download.content).hexdigest() == sha
    assert [k for k in bucket_keys(s3_storage) if "/uploads/" in k] == []
    assert multipart_uploads(s3_storage) == []

    again = await start(s3_api, data)
    assert again["deduplicated"] is True and again["upload_id"] is None


async def test_an_image_goes_as_one_presigned_put_and_is_described(s3_api: Api) -> None:
    data = jpeg_bytes(800, 600)
    upload = await start(s3_api, data, filename="photo.jpg")
    assert upload["method"] == "single"
    assert (await put(upload, 1, data)).status_code == 200
    result = (await s3_api.client.post(f"{BASE}/{upload['upload_id']}/complete")).json()
    assert result["media_type"] == "image"
    assert await s3_api.drain() >= 2
    details = (await s3_api.client.get(f"/api/v2/files/{result['image_id']}")).json()
    assert details["description_status"] == "completed"
    thumb = await s3_api.client.get(f"/api/v2/files/{result['image_id']}/variant/small_256")
    assert thumb.status_code == 200 and thumb.content[:4] == b"RIFF"


async def test_a_resumed_upload_with_wrong_bytes_fails_and_frees_everything(
    s3_api: Api, s3_storage: S3Storage
) -> None:
    data = mp4_bytes(11 * MiB, seed=21)
    upload = await start(s3_api, data)
    assert (await put(upload, 1, part(upload, 1, data))).status_code == 200
    resumed = await start(s3_api, data)
    assert resumed["resumed"] is True
    assert [u["part_number"] for u in resumed["part_urls"]] == [2, 3]
    await put(resumed, 2, part(upload, 1, data))  # the right size, the wrong bytes
    await put(resumed, 3, part(upload, 3, data))
    refused = await s3_api.client.post(f"{BASE}/{upload['upload_id']}/complete")
    assert refused.json()["error"]["code"] == "CHECKSUM_MISMATCH"
    assert bucket_keys(s3_storage) == []
    assert multipart_uploads(s3_storage) == []
    assert (await s3_api.client.get("/api/v2/files")).json()["total_count"] == 0


async def test_a_part_of_the_wrong_size_keeps_the_upload_open(s3_api: Api) -> None:
    data = mp4_bytes(11 * MiB, seed=22)
    upload = await start(s3_api, data)
    await put(upload, 1, part(upload, 1, data)[:-1])
    for number in (2, 3):
        await put(upload, number, part(upload, number, data))
    early = await s3_api.client.post(f"{BASE}/{upload['upload_id']}/complete")
    error = early.json()["error"]
    assert (error["code"], error["details"]["wrong_size_parts"]) == ("UPLOAD_INCOMPLETE", [1])
    fresh = (await s3_api.client.get(f"{BASE}/{upload['upload_id']}")).json()
    assert [u["part_number"] for u in fresh["part_urls"]] == [1]  # offered again
    again = await put(fresh, 1, part(upload, 1, data))
    assert again.status_code == 200
    done = await s3_api.client.post(f"{BASE}/{upload['upload_id']}/complete")
    assert done.status_code == 201


async def test_after_abort_s3_refuses_the_parts(s3_api: Api, s3_storage: S3Storage) -> None:
    data = mp4_bytes(11 * MiB, seed=23)
    upload = await start(s3_api, data)
    await put(upload, 1, part(upload, 1, data))
    assert (await s3_api.client.delete(f"{BASE}/{upload['upload_id']}")).status_code == 204
    late = await put(upload, 2, part(upload, 2, data))
    assert late.status_code in (404, 500)  # S3 answers 404 NoSuchUpload; moto, a bare 500
    assert multipart_uploads(s3_storage) == []
    assert bucket_keys(s3_storage) == []


async def test_an_object_swapped_between_hashing_and_moving_is_not_what_is_stored(
    s3_api: Api, s3_storage: S3Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, swap = mp4_bytes(3 * MiB, seed=24), mp4_bytes(3 * MiB, seed=25)
    upload = await start(s3_api, data)
    assert upload["method"] == "single"
    await put(upload, 1, data)
    ingest = s3_api.services.direct_uploads.ingest
    verified_ingest = ingest.ingest

    async def swap_then_ingest(*args: Any, **kwargs: Any) -> Any:
        # The single PUT's presigned URL is still valid: the client sends other bytes to it
        # after the server hashed the upload and before it moves it to its content address.
        assert (await put(upload, 1, swap)).status_code == 200
        return await verified_ingest(*args, **kwargs)

    monkeypatch.setattr(ingest, "ingest", swap_then_ingest)
    done = await s3_api.client.post(f"{BASE}/{upload['upload_id']}/complete")
    assert done.status_code == 201, done.text
    file_id = done.json()["image_id"]
    details = (await s3_api.client.get(f"/api/v2/files/{file_id}")).json()
    download = await s3_api.client.get(f"/api/v2/files/{file_id}/download")
    assert hashlib.sha256(download.content).hexdigest() == details["content_hash"]
    assert download.content == data
    assert [k for k in bucket_keys(s3_storage) if "/uploads/" in k] == []


async def test_a_put_late_to_a_presigned_url_changes_nothing_and_is_swept(
    s3_api: Api, s3_storage: S3Storage
) -> None:
    data = jpeg_bytes(800, 600)
    upload = await start(s3_api, data, filename="photo.jpg")
    await put(upload, 1, data)
    done = (await s3_api.client.post(f"{BASE}/{upload['upload_id']}/complete")).json()
    assert [k for k in bucket_keys(s3_storage) if "/uploads/" in k] == []

    assert (await put(upload, 1, jpeg_bytes(640, 480))).status_code == 200  # S3 takes it...
    download = await s3_api.client.get(f"/api/v2/files/{done['image_id']}/download")
    assert download.content == data  # ...where nothing reads it
    assert [k for k in bucket_keys(s3_storage) if "/uploads/" in k] != []
    report = await s3_api.services.maintenance.sweep()
    assert report.direct_uploads == 1
    assert [k for k in bucket_keys(s3_storage) if "/uploads/" in k] == []


async def test_parts_of_an_aborted_upload_that_s3_still_holds_are_swept(
    s3_api: Api, s3_storage: S3Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = mp4_bytes(11 * MiB, seed=26)
    upload = await start(s3_api, data)
    await put(upload, 1, part(upload, 1, data))
    with monkeypatch.context() as patched:
        # As S3 may after an abort: a part upload still in flight kept the upload's parts.
        patched.setattr(s3_api.services.store, "abort_parts", _keep_everything)
        assert (await s3_api.client.delete(f"{BASE}/{upload['upload_id']}")).status_code == 204
    assert len(multipart_uploads(s3_storage)) == 1
    report = await s3_api.services.maintenance.sweep()
    assert report.direct_uploads == 1
    assert multipart_uploads(s3_storage) == []
    assert bucket_keys(s3_storage) == []


async def _keep_everything(key: str, store_upload_id: str) -> None:
    return None
