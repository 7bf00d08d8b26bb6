"""Uploading through the REST API, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import pyvips

from apiclient import Api
from imagefactory import jpeg_bytes, pattern, png_bytes, truncated
from scopix.server.services.ingest import SETTLE_AHEAD_BYTES
from scopix.types.upload import UploadResult


async def upload(api: Api, data: bytes, name: str = "photo.jpg", **fields: str) -> dict:
    response = await api.client.post(
        "/api/v2/files/upload", files={"file": (name, data, "image/jpeg")}, data=fields
    )
    assert response.status_code == 201, response.text
    return response.json()


def stored_blobs(api: Api) -> list[str]:
    root = api.services.settings.resolved_storage_dir
    return sorted(p.parent.name for p in root.glob("*/*/*/original"))


async def test_jpeg_upload_returns_the_seed_upload_result(api: Api) -> None:
    body = await upload(api, jpeg_bytes(1600, 1200), title="Office", tags="desk, window")

    seed_fields = {f.name for f in dataclasses.fields(UploadResult)}
    assert seed_fields <= body.keys()
    result = UploadResult.from_dict(body)
    assert result.filename == "photo.jpg"
    assert result.description_status.value == "queued"
    assert result.status == "processing"  # until the variants job has run
    assert result.media_type == "image"
    assert result.deduplicated is False
    assert result.tags == ["desk", "window"]
    assert result.thumbnail_url is None
    assert result.created_at is not None and result.created_at.tzinfo is not None
    await api.drain("variants")
    details = (await api.client.get(f"/api/v2/files/{result.image_id}")).json()
    assert details["status"] == "completed"
    assert details["thumbnail_url"].endswith("/variant/small_256")


async def test_auto_describe_false_leaves_the_description_pending(api: Api) -> None:
    body = await upload(api, jpeg_bytes(320, 240, seed=8), auto_describe="false")
    assert body["description_status"] == "pending"
    assert await api.drain("describe") == 0


async def test_details_show_dimensions_variants_and_history(api: Api) -> None:
    body = await upload(api, jpeg_bytes(1600, 1200))
    await api.drain("variants")
    details = (await api.client.get(f"/api/v2/files/{body['image_id']}")).json()

    assert (details["width"], details["height"]) == (1600, 1200)
    assert set(details["variants"]) == {
        "tiny_64",
        "small_256",
        "medium_750",
        "large_1024",
        "original",
    }
    assert details["blur_hash"]
    assert len(details["content_hash"]) == 64
    assert [e["event"] for e in details["processing_history"]] == [
        "uploaded",
        "description_queued",
        "variants_ready",
    ]


async def test_variant_routes_serve_webp_of_the_right_size(api: Api) -> None:
    body = await upload(api, jpeg_bytes(1600, 1200))
    await api.drain("variants")
    for name, side in [
        ("tiny_64", 64),
        ("small_256", 256),
        ("medium_750", 750),
        ("large_1024", 1024),
    ]:
        response = await api.client.get(f"/api/v2/files/{body['image_id']}/variant/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/webp"
        image = pyvips.Image.new_from_buffer(response.content, "")
        assert image.get("vips-loader") == "webpload_buffer"
        assert max(image.width, image.height) == side
        assert image.width / image.height == pytest_approx(1600 / 1200)


def pytest_approx(value: float) -> object:
    import pytest

    return pytest.approx(value, rel=0.02)


async def test_original_and_download_return_the_exact_bytes(api: Api) -> None:
    data = png_bytes(300, 200)
    body = await upload(api, data, name="chart.png")
    original = await api.client.get(f"/api/v2/files/{body['image_id']}/variant/original")
    download = await api.client.get(f"/api/v2/files/{body['image_id']}/download")
    assert original.content == data == download.content
    assert original.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"].startswith("attachment;")


async def test_exif_orientation_and_date_taken(api: Api) -> None:
    taken = datetime(2021, 6, 5, 14, 30, 0, tzinfo=UTC)
    body = await upload(api, jpeg_bytes(300, 200, orientation=6, date_taken=taken))
    await api.drain("variants")
    details = (await api.client.get(f"/api/v2/files/{body['image_id']}")).json()
    assert (details["width"], details["height"]) == (200, 300)
    assert datetime.fromisoformat(details["content_created_at"]) == taken
    large = await api.client.get(f"/api/v2/files/{body['image_id']}/variant/large_1024")
    image = pyvips.Image.new_from_buffer(large.content, "")
    assert (image.width, image.height) == (200, 300)


async def test_same_bytes_twice_share_one_blob(api: Api) -> None:
    data = jpeg_bytes(640, 480, seed=3)
    first = await upload(api, data)
    second = await upload(api, data, name="copy.jpg")
    assert first["deduplicated"] is False
    assert second["deduplicated"] is True
    assert second["image_id"] != first["image_id"]
    assert second["status"] == "processing"  # the first upload's variants job serves both
    assert await api.drain("variants") == 1
    for body in (first, second):
        details = (await api.client.get(f"/api/v2/files/{body['image_id']}")).json()
        assert details["status"] == "completed"
    assert len(stored_blobs(api)) == 1


async def test_skip_duplicates_answers_with_the_existing_file(api: Api) -> None:
    data = jpeg_bytes(640, 480, seed=4)
    first = await upload(api, data)
    again = await upload(api, data, name="again.jpg", skip_duplicates="true")
    assert again["image_id"] == first["image_id"]
    assert again["status"] == "skipped"
    assert again["deduplicated"] is True
    listing = (await api.client.get("/api/v2/files")).json()
    assert listing["total_count"] == 1


async def test_concurrent_identical_uploads_store_one_blob(api: Api) -> None:
    data = jpeg_bytes(800, 600, seed=5)
    results = await asyncio.gather(*(upload(api, data, name=f"{i}.jpg") for i in range(4)))
    assert len({r["image_id"] for r in results}) == 4
    assert sorted(r["deduplicated"] for r in results) == [False, True, True, True]
    assert len(stored_blobs(api)) == 1


async def test_concurrent_uploads_of_different_bytes_all_succeed(api: Api) -> None:
    # Each inserts rows that refer to the tenant, then locks the tenant for the quota: on
    # PostgreSQL that order deadlocked two uploads of one tenant.
    for round_ in range(3):
        datas = [jpeg_bytes(300, 200, seed=200 + 10 * round_ + i) for i in range(3)]
        results = await asyncio.gather(
            *(upload(api, d, name=f"{i}.jpg") for i, d in enumerate(datas))
        )
        assert len({r["image_id"] for r in results}) == 3
    assert (await api.client.get("/api/v2/files")).json()["total_count"] == 9


async def test_concurrent_identical_uploads_with_skip_make_one_file(api: Api) -> None:
    data = jpeg_bytes(800, 600, seed=6)
    results = await asyncio.gather(
        *(upload(api, data, name=f"{i}.jpg", skip_duplicates="true") for i in range(4))
    )
    assert len({r["image_id"] for r in results}) == 1
    assert sorted(r["status"] for r in results) == ["processing", "skipped", "skipped", "skipped"]
    assert (await api.client.get("/api/v2/files")).json()["total_count"] == 1


async def test_same_bytes_in_two_tenants_are_stored_apart(api: Api) -> None:
    data = jpeg_bytes(320, 240, seed=7)
    mine = await upload(api, data)
    response = await api.client.post(
        "/api/v2/files/upload", files={"file": ("x.jpg", data)}, headers=api.auth(api.other_key)
    )
    theirs = response.json()
    assert theirs["deduplicated"] is False
    assert theirs["image_id"] != mine["image_id"]
    assert len(stored_blobs(api)) == 2


def _large_tiff() -> bytes:
    """An uncompressed TIFF past SETTLE_AHEAD_BYTES: its bytes head for the disk while probed."""
    data = pattern(1800, 1700).tiffsave_buffer(compression="none")
    assert len(data) >= SETTLE_AHEAD_BYTES
    return data


async def test_a_large_file_is_stored_whole_while_it_was_probed(api: Api) -> None:
    data = _large_tiff()
    body = await upload(api, data, name="scan.tiff")
    download = await api.client.get(f"/api/v2/files/{body['image_id']}/download")
    assert download.content == data
    details = (await api.client.get(f"/api/v2/files/{body['image_id']}")).json()
    assert (details["width"], details["height"]) == (1800, 1700)


async def test_a_large_corrupt_file_is_refused_as_itself_and_nothing_is_kept(api: Api) -> None:
    data = _large_tiff()
    response = await api.client.post(
        "/api/v2/files/upload", files={"file": ("scan.tiff", truncated(data, 0.9), "image/tiff")}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "CORRUPT_FILE"
    assert stored_blobs(api) == []
    staging = api.services.settings.resolved_storage_dir / ".staging"
    assert list(staging.iterdir()) == []
