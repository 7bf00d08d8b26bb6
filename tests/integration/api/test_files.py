"""Listing, editing, deleting, batches, quota and the service documents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apiclient import Api
from imagefactory import jpeg_bytes, png_bytes
from scopix.types.upload import QuotaInfo


async def put(api: Api, seed: int, **fields: str) -> str:
    data = jpeg_bytes(64 + seed, 48 + seed, seed=seed)
    response = await api.client.post(
        "/api/v2/files/upload", files={"file": (f"f{seed}.jpg", data)}, data=fields
    )
    assert response.status_code == 201, response.text
    return str(response.json()["image_id"])


async def list_ids(api: Api, **params: object) -> list[str]:
    response = await api.client.get("/api/v2/files", params=params)
    assert response.status_code == 200, response.text
    return [i["id"] for i in response.json()["items"]]


async def test_paging_is_exact(api: Api) -> None:
    ids = [await put(api, i) for i in range(7)]
    pages = []
    for offset in range(0, 7, 3):
        body = (await api.client.get("/api/v2/files", params={"limit": 3, "offset": offset})).json()
        assert body["total_count"] == 7
        assert body["has_more"] == (offset + 3 < 7)
        pages.extend(i["id"] for i in body["items"])
    assert pages == list(reversed(ids))  # newest first by default


async def test_filters_and_sorting(api: Api) -> None:
    a = await put(api, 1, tags="cat,garden", title="Beta")
    b = await put(api, 2, tags="cat", title="Alpha")
    c = await put(api, 3, tags="dog", title="Gamma")
    assert set(await list_ids(api, tags="cat")) == {a, b}
    assert await list_ids(api, tags=["cat", "garden"]) == [a]
    assert await list_ids(api, sort_by="title", sort_order="asc") == [b, a, c]
    assert await list_ids(api, sort_by="size_bytes", sort_order="asc") == [a, b, c]
    assert set(await list_ids(api, ids=f"{a},{c}")) == {a, c}
    assert set(await list_ids(api, media_types="image")) == {a, b, c}
    assert await list_ids(api, media_types="video") == []
    assert await list_ids(api, has_description="true") == []
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert await list_ids(api, date_from=future) == []
    assert len(await list_ids(api, date_to=future)) == 3


async def test_bad_listing_parameters(api: Api) -> None:
    for params in [
        {"limit": 0},
        {"limit": 101},
        {"offset": -1},
        {"sort_by": "colour"},
        {"sort_order": "up"},
        {"ids": ",".join(f"id{i}" for i in range(501))},
        {"date_from": "yesterday"},
    ]:
        response = await api.client.get("/api/v2/files", params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_patch_title_and_tags(api: Api) -> None:
    file_id = await put(api, 1, tags="old", title="Old")
    response = await api.client.patch(f"/api/v2/files/{file_id}", json={"tags": ["new", "more"]})
    assert response.json()["tags"] == ["new", "more"]
    assert response.json()["title"] == "Old"
    response = await api.client.patch(f"/api/v2/files/{file_id}", json={"title": None})
    assert response.json()["title"] is None
    response = await api.client.patch(f"/api/v2/files/{file_id}", json={"title": "x" * 256})
    assert response.status_code == 422
    response = await api.client.patch(f"/api/v2/files/{file_id}", json={"owner": "me"})
    assert response.status_code == 422
    details = (await api.client.get(f"/api/v2/files/{file_id}")).json()
    assert details["tags"] == ["new", "more"]
    assert "edited" in [e["event"] for e in details["processing_history"]]


async def test_delete_is_soft_and_hides_the_file(api: Api) -> None:
    keep, gone = await put(api, 1), await put(api, 2)
    assert (await api.client.delete(f"/api/v2/files/{gone}")).status_code == 204
    assert (await api.client.get(f"/api/v2/files/{gone}")).status_code == 404
    assert (await api.client.delete(f"/api/v2/files/{gone}")).status_code == 404
    assert await list_ids(api) == [keep]
    async with api.services.database.reader() as session:
        from scopix.server.catalog.models import File

        row = await session.get(File, gone)
        assert row is not None and row.deleted_at is not None


async def test_a_deleted_file_can_be_restored_once(api: Api) -> None:
    file_id = await put(api, 1, tags="kept")
    await api.client.delete(f"/api/v2/files/{file_id}")
    restored = await api.client.post(f"/api/v2/files/{file_id}/restore")
    assert restored.status_code == 200
    assert restored.json()["tags"] == ["kept"]
    assert [e["event"] for e in restored.json()["processing_history"]][-2:] == [
        "deleted",
        "restored",
    ]
    assert await list_ids(api) == [file_id]
    again = await api.client.post(f"/api/v2/files/{file_id}/restore")
    assert again.status_code == 404  # it is not deleted any more
    other = await api.client.post(
        f"/api/v2/files/{file_id}/restore", headers=api.auth(api.other_key)
    )
    assert other.status_code == 404


async def test_batch_delete(api: Api) -> None:
    ids = [await put(api, i) for i in range(3)]
    response = await api.client.post(
        "/api/v2/files/batch-delete", json={"file_ids": [ids[0], ids[1], "nope"]}
    )
    body = response.json()
    assert sorted(body["deleted"]) == sorted(ids[:2])
    assert body["skipped"] == ["nope"]
    assert body["deleted_count"] == 2
    assert await list_ids(api) == [ids[2]]
    too_many = await api.client.post(
        "/api/v2/files/batch-delete", json={"file_ids": [f"x{i}" for i in range(101)]}
    )
    assert too_many.status_code == 422


async def test_unknown_variant_is_404(api: Api) -> None:
    file_id = await put(api, 1)
    response = await api.client.get(f"/api/v2/files/{file_id}/variant/huge_9000")
    assert response.status_code == 404


async def test_batch_upload_records_a_session(api: Api) -> None:
    files = [
        ("files", ("a.jpg", jpeg_bytes(120, 90, seed=1))),
        ("files", ("b.png", png_bytes(100, 80))),
        ("files", ("c.jpg", b"\x00\x01 not an image at all")),
    ]
    response = await api.client.post("/api/v2/files/upload/batch", files=files, data={"tags": "x"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["total_files"], body["succeeded"], body["failed"]) == (3, 2, 1)
    outcomes = [(r["filename"], r["outcome"]) for r in body["results"]]
    assert outcomes == [("a.jpg", "uploaded"), ("b.png", "uploaded"), ("c.jpg", "failed")]
    assert body["results"][2]["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert body["results"][0]["result"]["session_id"] == body["session_id"]
    assert body["results"][0]["result"]["tags"] == ["x"]

    status = (await api.client.get(f"/api/v2/uploads/sessions/{body['session_id']}/status")).json()
    assert status["succeeded"] == 2 and status["results"] is None
    results = (
        await api.client.get(f"/api/v2/uploads/sessions/{body['session_id']}/results")
    ).json()
    assert [r["outcome"] for r in results["results"]] == ["uploaded", "uploaded", "failed"]
    other = await api.client.get(
        f"/api/v2/uploads/sessions/{body['session_id']}/status", headers=api.auth(api.other_key)
    )
    assert other.status_code == 404


async def test_batch_over_the_tier_size_stores_nothing(api: Api) -> None:
    files = [("files", (f"{i}.jpg", jpeg_bytes(32, 32, seed=i))) for i in range(51)]  # starter: 50
    response = await api.client.post("/api/v2/files/upload/batch", files=files)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["max_files"] == 50
    assert await list_ids(api) == []


async def test_streaming_limit_answers_413_with_a_suggestion(api: Api) -> None:
    api.services.settings.max_upload_bytes = 50_000
    big = jpeg_bytes(900, 900, quality=100, seed=9)
    assert len(big) > 50_000
    response = await api.client.post("/api/v2/files/upload", files={"file": ("big.jpg", big)})
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "FILE_TOO_LARGE"
    assert "direct-uploads" in error["details"]["suggestion"]
    staging = api.services.settings.resolved_storage_dir / ".staging"
    assert list(staging.iterdir()) == []


async def test_quota_check_returns_quota_info(api: Api) -> None:
    response = await api.client.get("/api/v2/uploads/quota-check", params={"file_count": 20})
    info = QuotaInfo.from_dict(response.json())
    assert info.monthly_limit == 500 and info.max_batch_size == 50
    assert info.max_concurrent_uploads == 20
    assert info.current_usage == 0 and info.available == 500
    assert info.can_proceed and info.requested == 20
    too_many = await api.client.get("/api/v2/uploads/quota-check", params={"file_count": 501})
    assert too_many.json()["can_proceed"] is False


async def test_openapi_and_health(api: Api) -> None:
    spec = (await api.client.get("/api/v2/openapi.json")).json()
    for path in [
        "/api/v2/files/upload",
        "/api/v2/files/upload/batch",
        "/api/v2/files/{file_id}",
        "/api/v2/files/batch-delete",
        "/api/v2/uploads/quota-check",
    ]:
        assert path in spec["paths"]
    health = await api.client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["checks"] == {"database": "ok", "storage": "ok"}


async def test_unknown_route_and_method_use_the_envelope(api: Api) -> None:
    missing = await api.client.get("/api/v2/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    wrong = await api.client.put("/api/v2/files/upload")
    assert wrong.status_code == 405 and wrong.json()["request_id"]


async def test_client_request_id_is_echoed(api: Api) -> None:
    response = await api.client.get("/api/v2/files", headers={"X-Request-ID": "trace-12345678"})
    assert response.headers["x-request-id"] == "trace-12345678"
    assert (
        response.headers["x-request-id"]
        != (await api.client.get("/api/v2/files")).headers["x-request-id"]
    )


async def test_a_file_deleted_over_30_days_ago_is_not_recoverable(api: Api) -> None:
    from scopix.server.catalog.models import File

    file_id = await put(api, 1)
    await api.client.delete(f"/api/v2/files/{file_id}")
    async with api.services.database.writer() as session:
        row = await session.get(File, file_id)
        assert row is not None
        row.deleted_at = datetime.now(UTC) - timedelta(days=31)
        await session.commit()
    response = await api.client.post(f"/api/v2/files/{file_id}/restore")
    assert response.status_code == 404
