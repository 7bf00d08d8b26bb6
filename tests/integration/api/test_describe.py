"""Descriptions through the REST API with the on-device models, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from apiclient import Api
from imagefactory import DOCUMENT_LINES, document_png, jpeg_bytes, overlap
from scopix.server.catalog.models import Usage
from scopix.server.domain.quota import billing_period

PHOTOS = Path(__file__).parents[2] / "assets" / "photos"
UPLOAD = "/api/v2/files/upload"


async def upload(api: Api, data: bytes, name: str, **fields: str) -> dict:
    response = await api.client.post(UPLOAD, files={"file": (name, data)}, data=fields)
    assert response.status_code == 201, response.text
    return response.json()


async def details(api: Api, file_id: str) -> dict:
    response = await api.client.get(f"/api/v2/files/{file_id}")
    assert response.status_code == 200
    return response.json()


async def test_a_cat_a_coffee_and_a_document_are_described(api: Api) -> None:
    cat = await upload(api, (PHOTOS / "chelsea.png").read_bytes(), "chelsea.png")
    coffee = await upload(api, (PHOTOS / "coffee.png").read_bytes(), "coffee.png")
    page, boxes = document_png()
    doc = await upload(api, page, "invoice.png")
    assert {cat["description_status"], coffee["description_status"]} == {"queued"}

    await api.drain()

    cat_details = await details(api, cat["image_id"])
    assert cat_details["description_status"] == "completed"
    assert "cat" in cat_details["tags"]
    assert "cat" in cat_details["description"].lower()
    assert cat_details["provider_count"] == 1
    coffee_details = await details(api, coffee["image_id"])
    assert {"coffee", "cup"} & set(coffee_details["tags"])
    doc_details = await details(api, doc["image_id"])
    assert doc_details["description_status"] == "completed"
    for text, _, _ in DOCUMENT_LINES:
        assert text in doc_details["visible_text"]
    regions = {r["text"]: r for r in doc_details["text_regions"]}
    for text, expected in boxes.items():
        box = regions[text]["bbox"]
        found = (box["x"], box["y"], box["width"], box["height"])
        assert overlap(found, expected) > 0.5, (text, found, expected)
        assert all(0 <= v <= 1 for point in regions[text]["polygon"] for v in point)


async def test_the_upload_result_carries_the_description_once_done(api: Api) -> None:
    body = await upload(api, (PHOTOS / "chelsea.png").read_bytes(), "chelsea.png")
    await api.drain()
    history = [e["event"] for e in (await details(api, body["image_id"]))["processing_history"]]
    assert history[-1] == "description_succeeded"
    assert history.count("description_claimed") == 1
    status = (await api.client.get(f"/api/v2/files/{body['image_id']}/status")).json()
    assert status["description_status"] == "completed"
    assert status["variant_status"] == "completed"
    assert status["description_attempts"] == 1
    assert status["description_error"] is None


async def test_identical_bytes_are_analysed_once(api: Api) -> None:
    data = (PHOTOS / "coffee.png").read_bytes()
    first = await upload(api, data, "a.png")
    second = await upload(api, data, "b.png")
    await api.drain()
    one, two = await details(api, first["image_id"]), await details(api, second["image_id"])
    assert one["description"] == two["description"] and one["tags"] == two["tags"]
    notes = [
        e["detail"] for e in two["processing_history"] if e["event"] == "description_succeeded"
    ]
    assert notes == ["reused the analysis of identical bytes (ondevice)"]


async def test_describe_queues_a_new_attempt_and_refuses_a_second(api: Api) -> None:
    body = await upload(api, jpeg_bytes(320, 240, seed=31), "p.jpg", auto_describe="false")
    route = f"/api/v2/files/{body['image_id']}/describe"
    queued = await api.client.post(route)
    assert queued.status_code == 202
    assert queued.json()["description_status"] == "queued"
    again = await api.client.post(route)
    assert again.status_code == 409 and again.json()["error"]["code"] == "CONFLICT"
    await api.drain()
    assert (await api.client.post(route)).status_code == 202  # completed: may be redone


async def test_describe_and_status_of_another_tenants_file_are_404(api: Api) -> None:
    body = await upload(api, jpeg_bytes(100, 100, seed=32), "p.jpg", auto_describe="false")
    for method, route in [
        ("POST", f"/api/v2/files/{body['image_id']}/describe"),
        ("GET", f"/api/v2/files/{body['image_id']}/status"),
    ]:
        response = await api.client.request(method, route, headers=api.auth(api.other_key))
        assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"


async def test_a_stored_original_that_no_longer_decodes_fails_for_good(api: Api) -> None:
    body = await upload(api, jpeg_bytes(400, 300, seed=33), "p.jpg")
    await api.drain("variants")
    original = next(api.services.settings.resolved_storage_dir.glob("*/*/*/original"))
    original.write_bytes(original.read_bytes()[:600])  # bit rot: the file is cut short
    await api.drain()
    status = (await api.client.get(f"/api/v2/files/{body['image_id']}/status")).json()
    assert status["description_status"] == "failed"
    assert status["description_error_type"] == "validation"
    assert status["description_is_retryable"] is False
    assert status["description_attempts"] == 1


@pytest.mark.parametrize(("width", "height"), [(1, 1), (4000, 3), (3, 4000), (2, 2)])
async def test_degenerate_images_end_in_a_clear_state(api: Api, width: int, height: int) -> None:
    body = await upload(api, jpeg_bytes(width, height), "odd.jpg")
    await api.drain()
    status = (await api.client.get(f"/api/v2/files/{body['image_id']}/status")).json()
    assert status["description_status"] in {"completed", "failed"}
    if status["description_status"] == "failed":
        assert status["description_error_type"] == "validation"


async def test_descriptions_are_charged_and_reserved_against_the_quota(api: Api) -> None:
    created = await api.services.keys.create_key("tiny", tier="free")
    headers = api.auth(created.plaintext)
    # The free tier's 10 descriptions a month: nine in one batch and one alone, since the tier
    # also allows only 10 requests a minute.
    batch = [("files", (f"{i}.jpg", jpeg_bytes(64, 64, seed=100 + i))) for i in range(9)]
    response = await api.client.post(f"{UPLOAD}/batch", files=batch, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["succeeded"] == 9
    response = await api.client.post(
        UPLOAD, files={"file": ("p.jpg", jpeg_bytes(64, 64, seed=109))}, headers=headers
    )
    assert response.status_code == 201, response.text
    over = await api.client.post(
        UPLOAD, files={"file": ("p.jpg", jpeg_bytes(64, 64, seed=99))}, headers=headers
    )
    assert over.status_code == 403
    assert over.json()["error"]["code"] == "QUOTA_EXCEEDED"
    assert over.json()["error"]["details"]["available"] == 0
    listing = (await api.client.get("/api/v2/files", headers=headers)).json()
    assert listing["total_count"] == 10  # nothing stored for the refused upload
    without = await api.client.post(
        UPLOAD,
        files={"file": ("p.jpg", jpeg_bytes(64, 64, seed=98))},
        data={"auto_describe": "false"},
        headers=headers,
    )
    assert without.status_code == 201
    await api.drain()
    quota = (await api.client.get("/api/v2/uploads/quota-check", headers=headers)).json()
    assert (quota["current_usage"], quota["available"]) == (10, 0)


async def test_describe_beyond_the_quota_is_refused(api: Api) -> None:
    created = await api.services.keys.create_key("spent", tier="free")
    headers = api.auth(created.plaintext)
    response = await api.client.post(
        UPLOAD,
        files={"file": ("p.jpg", jpeg_bytes(64, 64, seed=97))},
        data={"auto_describe": "false"},
        headers=headers,
    )
    assert response.status_code == 201
    async with api.services.describe.uows.write() as uow:
        tenant = await uow.tenants.get_by_name("spent")
        assert tenant is not None
        uow.session.add(
            Usage(
                tenant_id=tenant.id,
                period=billing_period(datetime.now(UTC)),
                descriptions_used=10,
            )
        )
        await uow.commit()
    refused = await api.client.post(
        f"/api/v2/files/{response.json()['image_id']}/describe", headers=headers
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "QUOTA_EXCEEDED"


async def test_racing_describe_requests_queue_one_attempt(api: Api) -> None:
    body = await upload(api, jpeg_bytes(96, 96, seed=96), "p.jpg", auto_describe="false")
    route = f"/api/v2/files/{body['image_id']}/describe"
    answers = await asyncio.gather(*(api.client.post(route) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [202, 409, 409, 409]
