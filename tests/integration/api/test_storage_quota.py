"""Storage quotas and the free-disk guard through the API, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, update

from apiclient import Api, running_api, stored_files
from imagefactory import jpeg_bytes, mp4_bytes
from s3server import S3Storage
from scopix.server.catalog.models import Blob, StorageReservation
from scopix.server.domain.blobkeys import original_key
from scopix.server.domain.errors import QuotaExceeded
from scopix.server.services.storage_quota import Reservation
from scopix.server.settings import Settings

UPLOAD = "/api/v2/files/upload"
BATCH = "/api/v2/files/upload/batch"
DIRECT = "/api/v2/files/direct-uploads"
QUOTA = "/api/v2/uploads/quota-check"


@asynccontextmanager
async def api_with(settings: Settings, **changes: Any) -> AsyncIterator[Api]:
    async with running_api(settings.model_copy(update=changes)) as api:
        yield api


def starter_quota(nbytes: int | None) -> dict[str, Any]:
    """Settings giving the test tenants' tier (starter) a storage quota of `nbytes`."""
    return {"storage_quota_bytes": {"starter": nbytes}}


async def upload(api: Api, data: bytes, name: str = "clip.mp4", **kw: Any) -> httpx.Response:
    return await api.client.post(UPLOAD, files={"file": (name, data, "video/mp4")}, **kw)


async def storage(api: Api) -> dict[str, Any]:
    answer = await api.client.get(QUOTA)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def catalog_state(api: Api) -> tuple[int, int, int]:
    """Blob rows, the bytes they hold, and live files: what a refused upload leaves alone."""
    async with api.services.ingest.uows.read() as uow:
        rows, size = (
            await uow.session.execute(select(func.count(), func.sum(Blob.size_bytes)))
        ).one()
    listing = (await api.client.get("/api/v2/files")).json()
    return int(rows), int(size or 0), int(listing["total_count"])


async def test_an_upload_over_the_quota_is_refused_and_nothing_is_stored(
    settings: Settings,
) -> None:
    first, second = mp4_bytes(60_000, seed=1), mp4_bytes(50_000, seed=2)
    async with api_with(settings, **starter_quota(100_000)) as api:
        assert (await upload(api, first)).status_code == 201
        before, files_before = await catalog_state(api), stored_files(api)

        refused = await upload(api, second)

        assert refused.status_code == 403, refused.text
        error = refused.json()["error"]
        assert error["code"] == "QUOTA_EXCEEDED"
        assert (error["details"]["available"], error["details"]["limit"]) == (40_000, 100_000)
        assert await catalog_state(api) == before == (1, 60_000, 1)
        assert stored_files(api) == files_before
        assert (await storage(api))["storage_used_bytes"] == 60_000


async def test_the_quota_counts_bytes_once_however_many_files_share_them(
    settings: Settings,
) -> None:
    data = mp4_bytes(80_000, seed=3)
    async with api_with(settings, **starter_quota(80_000)) as api:
        assert (await upload(api, data)).status_code == 201
        again = await upload(api, data, name="copy.mp4")
        assert again.status_code == 201, again.text
        assert again.json()["deduplicated"] is True
        assert await catalog_state(api) == (1, 80_000, 2)
        assert (await storage(api))["storage_available_bytes"] == 0


async def test_a_corrupt_image_costs_nothing(settings: Settings) -> None:
    corrupt = bytearray(jpeg_bytes(400, 300, seed=12))
    corrupt[600:4000] = bytes(range(256)) * 13 + bytes(72)
    async with api_with(settings, **starter_quota(len(corrupt))) as api:
        refused = await api.client.post(
            UPLOAD, files={"file": ("bad.jpg", bytes(corrupt), "image/jpeg")}
        )
        assert refused.json()["error"]["code"] == "CORRUPT_FILE", refused.text
        assert (await storage(api))["storage_used_bytes"] == 0
        assert (await upload(api, mp4_bytes(len(corrupt), seed=4))).status_code == 201


async def test_an_upload_that_fails_after_reserving_gives_the_room_back(
    settings: Settings,
) -> None:
    data = mp4_bytes(40_000, seed=13)
    async with api_with(settings, **starter_quota(len(data))) as api:
        # A directory where the original belongs: storing it fails once its room is reserved.
        sha256 = hashlib.sha256(data).hexdigest()
        key = original_key(await _tenant_id(api, "acme"), sha256)
        obstacle = api.services.settings.resolved_storage_dir / key
        obstacle.mkdir(parents=True)
        (obstacle / "in-the-way").write_bytes(b"x")

        failed = await upload(api, data)

        assert failed.status_code == 503, failed.text
        assert (await storage(api))["storage_used_bytes"] == 0
        assert await catalog_state(api) == (0, 0, 0)
        shutil.rmtree(obstacle)
        assert (await upload(api, data)).status_code == 201  # all of the quota is there
        assert (await storage(api))["storage_used_bytes"] == len(data)


async def test_concurrent_uploads_cannot_squeeze_past_the_limit(settings: Settings) -> None:
    clips = [mp4_bytes(30_000 + 1_000 * i, seed=10 + i) for i in range(8)]
    limit = 100_000
    async with api_with(settings, **starter_quota(limit)) as api:
        answers = await asyncio.gather(*(upload(api, clip) for clip in clips))

        kept = [len(c) for c, a in zip(clips, answers, strict=True) if a.status_code == 201]
        refused = [len(c) for c, a in zip(clips, answers, strict=True) if a.status_code == 403]
        assert len(kept) + len(refused) == len(clips), [a.text for a in answers]
        assert kept and refused
        used = (await storage(api))["storage_used_bytes"]
        assert used == sum(kept) <= limit
        # Each refusal saw no more than what is stored now, and even that left no room.
        assert all(used + size > limit for size in refused)
        assert await catalog_state(api) == (len(kept), sum(kept), len(kept))


async def test_racing_uploads_of_the_same_new_bytes_count_them_once(settings: Settings) -> None:
    data = mp4_bytes(20_000, seed=14)
    async with api_with(settings, **starter_quota(10 * len(data))) as api:
        answers = await asyncio.gather(*(upload(api, data, name=f"{i}.mp4") for i in range(5)))

        assert [a.status_code for a in answers] == [201] * 5, [a.text for a in answers]
        assert (await storage(api))["storage_used_bytes"] == len(data)
        assert await catalog_state(api) == (1, len(data), 5)


async def test_reservations_race_to_exactly_the_limit(settings: Settings) -> None:
    async with api_with(settings, **starter_quota(1_000)) as api:
        tenant_id = await _tenant_id(api, "acme")
        quota = api.services.ingest.room.quota

        async def reserve() -> Reservation | None:
            try:
                return await quota.reserve(tenant_id, 100)
            except QuotaExceeded:
                return None

        granted = [r for r in await asyncio.gather(*(reserve() for _ in range(25))) if r]
        assert len(granted) == 10
        assert (await quota.standing(tenant_id)).used == 1_000
        for reservation in granted:
            await quota.release(reservation)
        assert (await quota.standing(tenant_id)).used == 0
        async with api.services.ingest.uows.write() as uow:  # as a purge gives bytes back
            await uow.tenants.release_storage(tenant_id, 100)
            await uow.commit()
        assert (await quota.standing(tenant_id)).used == 0  # never below zero


async def test_room_held_by_a_dead_upload_is_reclaimed_after_its_lease(
    settings: Settings,
) -> None:
    async with api_with(settings, **starter_quota(100_000)) as api:
        tenant_id = await _tenant_id(api, "acme")
        quota = api.services.ingest.room.quota
        leaked = await quota.reserve(tenant_id, 90_000)  # its process "dies": never settled
        data = mp4_bytes(50_000, seed=15)
        assert (await upload(api, data)).status_code == 403

        await _expire(api, leaked)

        assert (await upload(api, data)).status_code == 201
        assert (await storage(api))["storage_used_bytes"] == 50_000


async def test_the_sweep_gives_back_expired_room_that_still_fit_the_quota(
    settings: Settings,
) -> None:
    async with api_with(settings, **starter_quota(100_000)) as api:
        tenant_id = await _tenant_id(api, "acme")
        quota = api.services.ingest.room.quota
        await _expire(api, await quota.reserve(tenant_id, 20_000))
        live = await quota.reserve(tenant_id, 5_000)  # fits: nothing is reclaimed on demand
        assert (await quota.standing(tenant_id)).used == 25_000

        await api.services.maintenance.sweep()  # (or the app's own sweep at start, if later)

        assert (await quota.standing(tenant_id)).used == 5_000  # the live reservation stays
        await quota.release(live)
        assert (await quota.standing(tenant_id)).used == 0


async def test_an_upload_outliving_its_lease_is_still_counted(settings: Settings) -> None:
    async with api_with(settings, **starter_quota(100_000)) as api:
        tenant_id = await _tenant_id(api, "acme")
        quota = api.services.ingest.room.quota
        slow = await quota.reserve(tenant_id, 30_000)
        await _expire(api, slow)
        await api.services.maintenance.sweep()  # reclaims the expired room
        assert (await quota.standing(tenant_id)).used == 0

        async with api.services.ingest.uows.write() as uow:  # the slow upload keeps its bytes
            await slow.settle(uow, keep=True)
            await uow.commit()

        assert (await quota.standing(tenant_id)).used == 30_000


async def _expire(api: Api, reservation: Reservation) -> None:
    async with api.services.ingest.uows.write() as uow:
        await uow.session.execute(
            update(StorageReservation)
            .where(StorageReservation.id == reservation.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await uow.commit()


async def _tenant_id(api: Api, name: str) -> str:
    async with api.services.ingest.uows.read() as uow:
        tenant = await uow.tenants.get_by_name(name)
    assert tenant is not None
    return tenant.id


async def test_a_batch_stores_what_fits_and_refuses_the_rest(settings: Settings) -> None:
    clips = [mp4_bytes(40_000, seed=20 + i) for i in range(3)]
    async with api_with(settings, **starter_quota(100_000)) as api:
        answer = await api.client.post(
            BATCH, files=[("files", (f"{i}.mp4", c, "video/mp4")) for i, c in enumerate(clips)]
        )
        assert answer.status_code == 201, answer.text
        results = answer.json()["results"]
        assert [r["outcome"] for r in results] == ["uploaded", "uploaded", "failed"]
        assert results[2]["error"]["code"] == "QUOTA_EXCEEDED"
        assert await catalog_state(api) == (2, 80_000, 2)


async def test_quota_check_shows_the_stored_bytes(settings: Settings) -> None:
    async with api_with(settings, **starter_quota(500_000)) as api:
        assert (await upload(api, mp4_bytes(123_456, seed=5))).status_code == 201
        info = await storage(api)
        assert (
            info["storage_used_bytes"],
            info["storage_limit_bytes"],
            info["storage_available_bytes"],
        ) == (123_456, 500_000, 376_544)
        other = await api.client.get(QUOTA, headers=api.auth(api.other_key))
        assert other.json()["storage_used_bytes"] == 0  # tenants never share a count


async def test_tiers_have_their_own_quota_and_custom_has_none(api: Api) -> None:
    assert (await storage(api))["storage_limit_bytes"] == 50 * 1024**3  # starter
    custom = await api.services.keys.create_key("bigco", tier="custom")
    info = (await api.client.get(QUOTA, headers=api.auth(custom.plaintext))).json()
    assert (info["storage_limit_bytes"], info["storage_available_bytes"]) == (None, None)


async def test_a_direct_upload_over_the_quota_is_refused_at_start(settings: Settings) -> None:
    data = mp4_bytes(150_000, seed=6)
    async with api_with(settings, **starter_quota(100_000)) as api:
        body = {"filename": "clip.mp4", "size_bytes": len(data)}
        refused = await api.client.post(DIRECT, json=body)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["details"]["available"] == 100_000
        assert stored_files(api) == []


async def test_a_direct_upload_that_no_longer_fits_fails_at_completion(
    settings: Settings,
) -> None:
    first, second = mp4_bytes(70_000, seed=7), mp4_bytes(60_000, seed=8)
    async with api_with(settings, **starter_quota(100_000)) as api:
        uploads = [await _started(api, data) for data in (first, second)]  # each fits alone
        for upload_, data in zip(uploads, (first, second), strict=True):
            await _send_single_part(api, upload_, data)
        done = await api.client.post(f"{DIRECT}/{uploads[0]['upload_id']}/complete")
        assert done.status_code == 201, done.text

        late = await api.client.post(f"{DIRECT}/{uploads[1]['upload_id']}/complete")

        assert late.status_code == 403, late.text
        assert late.json()["error"]["code"] == "QUOTA_EXCEEDED"
        assert await catalog_state(api) == (1, 70_000, 1)
        assert (await storage(api))["storage_used_bytes"] == 70_000


async def _started(api: Api, data: bytes) -> dict[str, Any]:
    body = {
        "filename": "clip.mp4",
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    answer = await api.client.post(DIRECT, json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def _send_single_part(api: Api, upload_: dict[str, Any], data: bytes) -> None:
    assert upload_["method"] == "single"
    url = upload_["part_urls"][0]["url"]
    answer = await api.client.put(url, content=data, headers={"Authorization": ""})
    assert answer.status_code == 200, answer.text


# --- the free-disk guard ---------------------------------------------------------------------

#: More than any test machine's disk holds free: every upload would leave too little.
ALL_OF_THE_DISK = 1 << 60


async def test_the_disk_guard_refuses_a_declared_upload_with_507(settings: Settings) -> None:
    async with api_with(settings, min_free_disk_bytes=ALL_OF_THE_DISK) as api:
        refused = await upload(api, mp4_bytes(10_000, seed=9))
        assert refused.status_code == 507, refused.text
        error = refused.json()["error"]
        assert error["code"] == "INSUFFICIENT_STORAGE"
        assert str(api.services.settings.data_dir) not in error["message"]
        assert stored_files(api) == []
        assert (await storage(api))["storage_used_bytes"] == 0


async def test_the_disk_guard_checks_again_once_an_unsized_body_is_staged(
    settings: Settings,
) -> None:
    data = mp4_bytes(10_000, seed=10)
    boundary = "quota-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    async with api_with(settings, min_free_disk_bytes=ALL_OF_THE_DISK) as api:
        refused = await api.client.post(
            UPLOAD,
            content=chunks(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert refused.status_code == 507, refused.text
        assert stored_files(api) == []
        assert await catalog_state(api) == (0, 0, 0)
        assert (await storage(api))["storage_used_bytes"] == 0


async def test_the_disk_guard_refuses_a_direct_upload_at_start(settings: Settings) -> None:
    async with api_with(settings, min_free_disk_bytes=ALL_OF_THE_DISK) as api:
        refused = await api.client.post(DIRECT, json={"filename": "c.mp4", "size_bytes": 10_000})
        assert refused.status_code == 507, refused.text
        assert refused.json()["error"]["code"] == "INSUFFICIENT_STORAGE"


async def test_uploads_pass_while_the_disk_keeps_its_minimum(settings: Settings) -> None:
    async with api_with(settings, min_free_disk_bytes=0) as api:
        assert (await upload(api, mp4_bytes(10_000, seed=11))).status_code == 201


async def test_bytes_already_stored_need_no_room(settings: Settings) -> None:
    """A direct upload of bytes the tenant already stores is recorded with no quota and no disk
    left (a streaming upload still needs room to stage its body before it is known)."""
    data = mp4_bytes(10_000, seed=12)
    async with api_with(settings, **starter_quota(len(data))) as api:
        assert (await upload(api, data)).status_code == 201
        api.services.ingest.room.disk.min_free_override = ALL_OF_THE_DISK  # the disk fills up

        direct = await api.client.post(
            DIRECT,
            json={
                "filename": "again.mp4",
                "size_bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            },
        )
        assert direct.status_code == 201, direct.text
        assert direct.json()["deduplicated"] is True
        assert await catalog_state(api) == (1, len(data), 2)


async def test_on_s3_only_the_staging_disk_counts(s3_storage: S3Storage, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        storage_url=s3_storage.url,
        workers=0,
        retry_base_seconds=0,
        min_free_disk_bytes=ALL_OF_THE_DISK,
        video_max_bytes=20_000,  # the video below is too large to be probed
    )
    async with running_api(settings) as api:
        video, image = mp4_bytes(30_000, seed=31), jpeg_bytes(640, 480, seed=31)
        # Parts go to S3, not to this disk: both start, and the video is stored as it is.
        uploads = [await _started(api, data) for data in (video, image)]
        for upload_, data in zip(uploads, (video, image), strict=True):
            async with httpx.AsyncClient() as s3:
                put = await s3.put(upload_["part_urls"][0]["url"], content=data)
            assert put.status_code == 200
        stored = await api.client.post(f"{DIRECT}/{uploads[0]['upload_id']}/complete")
        assert stored.status_code == 201, stored.text

        # An image is copied here to be decoded: that copy needs room on the staging disk.
        refused = await api.client.post(f"{DIRECT}/{uploads[1]['upload_id']}/complete")
        assert refused.status_code == 507, refused.text
        assert (await storage(api))["storage_used_bytes"] == len(video)
