"""Custom extraction through the API, on SQLite and PostgreSQL: schemas (rules, names, tenant
walls), extraction after the description on-device from a generated invoice, inline schemas,
and a VLM over the real OpenAI protocol whose answers are held to the schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from apiclient import Api
from imagefactory import INVOICE_FIELDS, invoice_png
from scopix.server.settings import Settings
from vlmserver import FakeVLMServer

BASE = "/api/v2"
SCHEMAS = f"{BASE}/custom-extraction-schemas"
INVOICE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "invoice_number": {"type": "string", "description": "the invoice's number"},
        "date": {"type": "string", "format": "date"},
        "total": {"type": "number", "description": "the amount due"},
        "email": {"type": "string", "format": "email"},
        "po_number": {"type": "string", "description": "purchase order number"},
    },
}


def ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else None


async def upload(web: httpx.AsyncClient, **fields: str) -> dict[str, Any]:
    files = {"file": ("invoice.png", invoice_png(), "image/png")}
    made: dict[str, Any] = ok(await web.post(f"{BASE}/files/upload", files=files, data=fields), 201)
    return made


async def test_schemas_are_named_per_tenant_and_edited_in_place(api: Api, web: httpx.AsyncClient):
    body = {"name": "Invoice", "schema": INVOICE, "description": "bills", "prompt_hint": "EUR"}
    made = ok(await web.post(SCHEMAS, json=body), 201)
    assert made["schema"] == INVOICE and made["description"] == "bills"
    taken = await web.post(SCHEMAS, json={"name": " invoice ", "schema": INVOICE})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "CONFLICT"

    path = f"{SCHEMAS}/{made['id']}"
    patched = ok(await web.patch(path, json={"name": "Bill", "description": None}))
    assert (patched["name"], patched["description"], patched["prompt_hint"]) == (
        "Bill",
        None,
        "EUR",
    )
    listed = ok(await web.get(SCHEMAS))
    assert [s["name"] for s in listed["items"]] == ["Bill"] and listed["total_count"] == 1

    # Another tenant neither sees nor uses it.
    other = api.auth(api.other_key)
    assert (await api.client.get(path, headers=other)).status_code == 404
    assert ok(await api.client.get(SCHEMAS, headers=other))["items"] == []
    assert (await api.client.delete(path, headers=other)).status_code == 404

    assert (await web.delete(path)).status_code == 204
    assert (await web.get(path)).status_code == 404


@pytest.mark.parametrize(
    ("schema", "rule", "path"),
    [
        ({"type": "array", "items": {"type": "string"}}, "root_not_object", ""),
        ({"type": "object", "properties": {"a": {"$ref": "#/x"}}}, "unsupported_keyword", None),
        (
            {"type": "object", "properties": {"a": {"type": "string", "oneOf": []}}},
            "unsupported_keyword",
            None,
        ),
        ({"type": "object", "properties": {"a": {"type": "date"}}}, "unsupported_type", None),
    ],
)
async def test_a_schema_breaking_a_rule_is_refused_naming_it(
    web: httpx.AsyncClient, schema: dict[str, Any], rule: str, path: str | None
):
    answer = await web.post(SCHEMAS, json={"name": "bad", "schema": schema})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["rule"] == rule
    if path is not None:
        assert error["details"]["path"] == path
    assert ok(await web.get(SCHEMAS))["total_count"] == 0


async def test_an_upload_with_a_schema_is_extracted_on_device_after_its_description(
    api: Api, web: httpx.AsyncClient
):
    schema = ok(await web.post(SCHEMAS, json={"name": "invoice", "schema": INVOICE}), 201)
    file = await upload(web, custom_schema_id=schema["id"])
    path = f"{BASE}/files/{file['image_id']}/extractions/{schema['id']}"
    assert ok(await web.get(path))["status"] == "queued"

    await api.drain()

    result = ok(await web.get(path))
    assert result["status"] == "completed", result
    assert ok(await web.get(f"{BASE}/files/{file['image_id']}"))["description_status"] == (
        "completed"
    )
    data = result["data"]
    assert {k: data[k] for k in INVOICE_FIELDS} == INVOICE_FIELDS
    assert data["po_number"] is None  # nothing on the page supports it: never invented
    by_path = {f["path"]: f for f in result["fields"]}
    assert set(by_path) == set(INVOICE_FIELDS)
    total = by_path["total"]
    assert total["extractor"] == "ondevice-fields"
    assert "1,234.56" in total["source"]["text"]
    box = total["source"]["bbox"]
    assert 0 < box["x"] < 0.2 and 0.6 < box["y"] < 0.75  # the Total line, not Subtotal's
    assert 0 < result["confidence_score"] <= 1
    listed = ok(await web.get(f"{BASE}/files/{file['image_id']}/extractions"))
    assert [e["schema_id"] for e in listed["items"]] == [schema["id"]]


async def test_an_inline_schema_gets_a_stable_id_and_asking_again_replaces_its_result(
    api: Api, web: httpx.AsyncClient
):
    file = await upload(web)
    await api.drain()
    extract = f"{BASE}/files/{file['image_id']}/extract"
    inline = {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}}
    started = ok(await web.post(extract, json={"schema": inline}), 202)
    assert started["status"] == "queued" and started["schema_id"].startswith("inline_")
    await api.drain()
    path = f"{BASE}/files/{file['image_id']}/extractions/{started['schema_id']}"
    assert ok(await web.get(path))["data"] == {"email": INVOICE_FIELDS["email"]}

    again = ok(await web.post(extract, json={"schema": dict(reversed(inline.items()))}), 202)
    assert again["schema_id"] == started["schema_id"]
    assert ok(await web.get(path))["status"] == "queued"
    await api.drain()
    assert ok(await web.get(path))["status"] == "completed"
    assert len(ok(await web.get(f"{BASE}/files/{file['image_id']}/extractions"))["items"]) == 1


async def test_refusals_name_the_field_and_store_nothing(api: Api, web: httpx.AsyncClient):
    missing = await web.post(
        f"{BASE}/files/upload",
        files={"file": ("invoice.png", invoice_png(), "image/png")},
        data={"custom_schema_id": "0190c7a4-0000-7000-8000-000000000000"},
    )
    assert missing.status_code == 404, missing.text
    assert missing.json()["error"]["details"]["field"] == "custom_schema_id"
    assert ok(await web.get(f"{BASE}/files"))["total_count"] == 0

    file = await upload(web)
    extract = f"{BASE}/files/{file['image_id']}/extract"
    both = await web.post(extract, json={"schema_id": "x", "schema": INVOICE})
    assert both.status_code == 422
    # Another tenant's file, and its schemas, are not found.
    other = api.auth(api.other_key)
    foreign = await api.client.post(extract, json={"schema": INVOICE}, headers=other)
    assert foreign.status_code == 404
    listed = await api.client.get(f"{BASE}/files/{file['image_id']}/extractions", headers=other)
    assert listed.status_code == 404


@pytest.fixture
def vlm() -> Iterator[FakeVLMServer]:
    answer = {**INVOICE_FIELDS, "po_number": None}
    with FakeVLMServer(answer=answer) as server:
        yield server


@pytest.fixture
def vlm_settings(settings: Settings, vlm: FakeVLMServer) -> Settings:
    return settings.model_copy(
        update={"vlm_base_url": vlm.base_url, "vlm_model": vlm.model, "ondevice": True}
    )


async def test_a_vlm_fills_the_schema_through_its_json_schema_answer(
    vlm_settings: Settings, vlm: FakeVLMServer
):
    from apiclient import running_api

    async with running_api(vlm_settings) as api:
        file = await upload(api.client, auto_describe="false")
        extract = f"{BASE}/files/{file['image_id']}/extract"
        started = ok(await api.client.post(extract, json={"schema": INVOICE, "prompt": "EUR"}), 202)
        await api.drain()
        path = f"{BASE}/files/{file['image_id']}/extractions/{started['schema_id']}"
        result = ok(await api.client.get(path))

        assert result["status"] == "completed", result
        assert result["extractor"] == f"vlm-fields:{vlm.model}"
        assert result["data"] == {**INVOICE_FIELDS, "po_number": None}
        sent = vlm.requests[-1]
        assert sent.has_image
        assert sent.body["response_format"]["type"] == "json_schema"
        strict = sent.body["response_format"]["json_schema"]["schema"]
        assert set(strict["required"]) == set(INVOICE["properties"])

        # An answer off the schema is a vlm_error, retried, then failed: never stored.
        vlm.behave("ok", answer={**INVOICE_FIELDS, "total": "a lot"})
        ok(await api.client.post(extract, json={"schema": INVOICE}), 202)
        await api.drain()
        failed = ok(await api.client.get(path))
        assert failed["status"] == "failed" and failed["error_type"] == "vlm_error"
        assert "total" in failed["error"] and failed["data"] is None
