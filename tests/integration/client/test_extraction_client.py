"""The SDK's custom extraction calls: what they send and how they read the answers over real
sockets (schemas, extractions waited for, uploads that name a schema), and the async SDK
against the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from apiclient import Api
from imagefactory import INVOICE_FIELDS, invoice_png
from scopix import (
    ResourceNotFoundError,
    Scopix,
    ScopixError,
    ScopixTimeoutError,
    SyncScopix,
    ValidationError,
)
from scopix.client import _direct
from scopix.types.extraction import (
    Box,
    ExtractedField,
    ExtractionResult,
    ExtractionSchema,
    ExtractionSchemaList,
    ExtractionStarted,
    FieldSource,
)
from scriptedhttp import Reply, ScriptedServer

STAMP = "2026-12-08T10:00:00Z"
INVOICE = {
    "type": "object",
    "properties": {
        "number": {"type": "string"},
        "total": {"type": "number"},
        "vendor": {"type": "object", "properties": {"name": {"type": "string"}}},
    },
}


def ok(body: Any, status: int = 200) -> Reply:
    return (status, {}, json.dumps(body).encode())


def envelope(status: int, code: str, **details: Any) -> Reply:
    body = {"error": {"code": code, "message": "no", "details": details}, "request_id": "r1"}
    return (status, {}, json.dumps(body).encode())


def schema(number: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"s{number}",
        "name": f"Schema {number}",
        "description": None,
        "schema": INVOICE,
        "prompt_hint": None,
        "created_at": STAMP,
        "updated_at": STAMP,
        **extra,
    }


def result(status: str, schema_id: str = "s1", **extra: Any) -> dict[str, Any]:
    return {
        "schema_id": schema_id,
        "status": status,
        "data": None,
        "fields": [],
        "confidence_score": None,
        "error": None,
        "error_type": None,
        "completed_at": None,
        **extra,
    }


DONE = result(
    "completed",
    data={"number": "2041", "total": 348.0, "vendor": {"name": None}},
    fields=[
        {
            "path": "number",
            "value": "2041",
            "confidence": 0.97,
            "source": {"page": None, "bbox": {"x": 0.08, "y": 0.09, "width": 0.2, "height": 0.05}},
            "extractor": "ocr+vlm",
        },
        {"path": "total", "value": 348.0, "confidence": 0.9, "source": None, "extractor": "vlm"},
        {"path": "vendor.name", "value": None, "confidence": None, "source": None},
    ],
    confidence_score=0.91,
    completed_at=STAMP,
)


def client(server: ScriptedServer) -> Scopix:
    return Scopix(api_key="k", base_url=server.url, retry_delay=0, polling_interval=0.01)


def sent(server: ScriptedServer) -> list[tuple[str, str]]:
    return [(s.method, s.path.removeprefix("/api/v2")) for s in server.seen]


def bodies(server: ScriptedServer) -> list[Any]:
    return [json.loads(s.body) if s.body else None for s in server.seen]


def form_field(body: bytes, name: str) -> str | None:
    """The value of a text field of a multipart body, None when it is not there."""
    marker = f'name="{name}"\r\n\r\n'.encode()
    if marker not in body:
        return None
    return body.split(marker, 1)[1].split(b"\r\n", 1)[0].decode()


def test_the_sync_client_creates_lists_reads_changes_and_deletes_schemas() -> None:
    replies = [
        ok(schema(1, description="Invoices", prompt_hint="Amounts in EUR"), status=201),
        ok({"items": [schema(2)], "total_count": 7, "has_more": True, "limit": 1, "offset": 3}),
        ok({"items": [schema(n) for n in range(100)], "total_count": 101, "has_more": True}),
        ok({"items": [schema(100)], "total_count": 101, "has_more": False}),
        ok(schema(1)),
        ok({**schema(1), "name": "Renamed", "future_field": 1}),
        ok(schema(1)),
        (204, {}, b""),
    ]
    with (
        ScriptedServer(replies) as server,
        SyncScopix(api_key="k", base_url=server.url, retry_delay=0) as scopix,
    ):
        made = scopix.extraction.create_schema(
            "Schema 1", INVOICE, description="Invoices", prompt_hint="Amounts in EUR"
        )
        page = scopix.extraction.list_schemas(limit=1, offset=3)
        every = list(scopix.extraction.list_all_schemas())
        shown = scopix.extraction.get_schema("s1")
        renamed = scopix.extraction.update_schema("s1", name="Renamed", schema=INVOICE)
        scopix.extraction.update_schema("s1", description=None, prompt_hint="Totals only")
        scopix.extraction.delete_schema("s1")
    assert made == ExtractionSchema.from_dict(
        schema(1, description="Invoices", prompt_hint="Amounts in EUR")
    )
    assert (made.description, made.prompt_hint, made.schema) == (
        "Invoices",
        "Amounts in EUR",
        INVOICE,
    )
    assert made.created_at is not None and made.created_at.tzinfo is not None
    assert [s.id for s in page.items] == ["s2"]
    assert (page.total_count, page.has_more, page.limit, page.offset) == (7, True, 1, 3)
    assert [s.id for s in every] == [f"s{n}" for n in range(101)]
    assert shown.name == "Schema 1" and renamed.name == "Renamed"
    assert sent(server) == [
        ("POST", "/custom-extraction-schemas"),
        ("GET", "/custom-extraction-schemas?limit=1&offset=3"),
        ("GET", "/custom-extraction-schemas?limit=100&offset=0"),
        ("GET", "/custom-extraction-schemas?limit=100&offset=100"),
        ("GET", "/custom-extraction-schemas/s1"),
        ("PATCH", "/custom-extraction-schemas/s1"),
        ("PATCH", "/custom-extraction-schemas/s1"),
        ("DELETE", "/custom-extraction-schemas/s1"),
    ]
    sent_bodies = bodies(server)
    assert sent_bodies[0] == {
        "name": "Schema 1",
        "schema": INVOICE,
        "description": "Invoices",
        "prompt_hint": "Amounts in EUR",
    }
    assert sent_bodies[5] == {"name": "Renamed", "schema": INVOICE}, "only what was given"
    assert sent_bodies[6] == {"description": None, "prompt_hint": "Totals only"}, "None clears"
    writes = [s for s in server.seen if s.method != "GET"]
    assert all("idempotency-key" in {k.lower() for k in s.headers} for s in writes)


async def test_a_schema_without_description_or_hint_sends_neither() -> None:
    with ScriptedServer([ok(schema(1), status=201)]) as server:
        async with client(server) as scopix:
            await scopix.extraction.create_schema("Schema 1", INVOICE)
    assert bodies(server) == [{"name": "Schema 1", "schema": INVOICE}]


async def test_a_refused_or_taken_schema_raises_with_the_servers_details() -> None:
    replies = [
        envelope(422, "VALIDATION_ERROR", rule="too_deep", path="/properties/a/properties/b"),
        envelope(409, "CONFLICT"),
        envelope(404, "NOT_FOUND"),
    ]
    with ScriptedServer(replies) as server:
        async with client(server) as scopix:
            with pytest.raises(ValidationError) as refused:
                await scopix.extraction.create_schema("Deep", {"type": "object"})
            with pytest.raises(ScopixError) as taken:
                await scopix.extraction.create_schema("Taken", INVOICE)
            with pytest.raises(ResourceNotFoundError):
                await scopix.extraction.get_schema("nope")
    assert refused.value.details == {"rule": "too_deep", "path": "/properties/a/properties/b"}
    assert taken.value.code == "CONFLICT"
    assert len(server.seen) == 3, "a name conflict is not retried"


async def test_extract_with_a_stored_schema_polls_until_it_completes() -> None:
    replies = [
        ok({"schema_id": "s1", "status": "queued"}, status=202),
        ok(result("queued")),
        ok(result("processing")),
        ok(DONE),
    ]
    with ScriptedServer(replies) as server:
        async with client(server) as scopix:
            done = await scopix.extraction.extract("f1", schema_id="s1", prompt="Page 1 only")
    assert sent(server) == [
        ("POST", "/files/f1/extract"),
        ("GET", "/files/f1/extractions/s1"),
        ("GET", "/files/f1/extractions/s1"),
        ("GET", "/files/f1/extractions/s1"),
    ]
    assert bodies(server)[0] == {"schema_id": "s1", "prompt": "Page 1 only"}
    assert "Idempotency-Key" in server.seen[0].headers
    assert done.is_completed and done.is_final and not done.is_failed
    assert done.data == {"number": "2041", "total": 348.0, "vendor": {"name": None}}
    assert done.confidence_score == 0.91 and done.completed_at is not None
    number = done.field_at("number")
    assert number == ExtractedField(
        path="number",
        value="2041",
        confidence=0.97,
        source=FieldSource(page=None, bbox=Box(0.08, 0.09, 0.2, 0.05)),
        extractor="ocr+vlm",
    )
    vendor = done.field_at("vendor.name")
    assert vendor is not None
    assert (vendor.value, vendor.confidence, vendor.source) == (None, None, None)
    assert done.field_at("nothing") is None


async def test_extract_with_an_inline_schema_and_no_wait_reads_the_result_once() -> None:
    inline_id = "inline_0123456789abcdef"
    replies = [
        ok({"schema_id": inline_id, "status": "queued"}, status=202),
        ok(result("queued", schema_id=inline_id)),
    ]
    with ScriptedServer(replies) as server:
        async with client(server) as scopix:
            queued = await scopix.files.extract("f1", schema=INVOICE, wait=False)
    assert bodies(server)[0] == {"schema": INVOICE}
    assert sent(server)[1] == ("GET", f"/files/f1/extractions/{inline_id}")
    assert (queued.schema_id, queued.status, queued.is_pending, queued.data) == (
        inline_id,
        "queued",
        True,
        {},
    )


@pytest.mark.parametrize(
    "choice", [{}, {"schema_id": "s1", "schema": INVOICE}], ids=["neither", "both"]
)
async def test_extract_takes_exactly_one_of_a_schema_id_and_a_schema(
    choice: dict[str, Any],
) -> None:
    with ScriptedServer([]) as server:
        async with client(server) as scopix:
            with pytest.raises(ValidationError):
                await scopix.extraction.extract("f1", **choice)
            with pytest.raises(ValidationError):
                await scopix.files.extract("f1", **choice)
    assert server.seen == []


async def test_a_failed_extraction_is_returned_and_a_slow_one_times_out() -> None:
    failed = result("failed", error="the model answered nonsense", error_type="vlm_error")
    replies = [ok({"schema_id": "s1", "status": "queued"}, status=202), ok(failed)]
    with ScriptedServer(replies) as server:
        async with client(server) as scopix:
            outcome = await scopix.extraction.extract("f1", schema_id="s1")
    assert outcome.is_failed and outcome.is_final
    assert (outcome.error, outcome.error_type) == ("the model answered nonsense", "vlm_error")

    with ScriptedServer([ok(result("processing"))]) as server:
        async with client(server) as scopix:
            with pytest.raises(ScopixTimeoutError) as late:
                await scopix.extraction.wait_for_result("f1", "s1", timeout=0.5)
    assert late.value.details == {"file_id": "f1", "schema_id": "s1"}
    assert len(server.seen) >= 2, "it polled"


def test_results_are_read_one_by_one_or_all_together() -> None:
    listed = {"items": [DONE, result("queued", schema_id="inline_ab")]}
    with (
        ScriptedServer([ok(DONE), ok(listed), ok(DONE)]) as server,
        SyncScopix(api_key="k", base_url=server.url, retry_delay=0) as scopix,
    ):
        one = scopix.extraction.get_result("f1", "s1")
        every = scopix.extraction.list_results("f1")
        waited = scopix.extraction.wait_for_result("f1", "s1")
    assert one == waited and one.confidence_score == 0.91
    assert [(r.schema_id, r.status) for r in every.items] == [
        ("s1", "completed"),
        ("inline_ab", "queued"),
    ]
    assert sent(server) == [
        ("GET", "/files/f1/extractions/s1"),
        ("GET", "/files/f1/extractions"),
        ("GET", "/files/f1/extractions/s1"),
    ]


def test_results_parse_tolerantly() -> None:
    sparse = ExtractionResult.from_dict({"schema_id": "s1", "status": "COMPLETED", "x": 1})
    assert sparse == ExtractionResult(schema_id="s1", status="completed")
    assert sparse.is_completed and sparse.fields == [] and sparse.data == {}
    assert ExtractionStarted.from_dict({"schema_id": "s1"}) == ExtractionStarted("s1", "queued")
    field = ExtractedField.from_dict({"path": "a", "value": [1, 2], "source": {"page": "2"}})
    assert field.source == FieldSource(page=2, bbox=None) and field.value == [1, 2]
    assert ExtractionSchemaList.from_dict({}) == ExtractionSchemaList()
    assert ExtractionSchema.from_dict({"id": 7, "name": "A"}) == ExtractionSchema(id="7", name="A")


QUOTA = {
    "can_proceed": True,
    "requested": 1,
    "available": 100,
    "monthly_limit": 100,
    "current_usage": 0,
    "max_batch_size": 100,
    "max_concurrent_uploads": 4,
}


async def test_every_upload_route_sends_the_schema_only_when_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    single = {"image_id": "i1", "filename": "a.jpg", "status": "processing"}
    batch = {"session_id": "s1", "results": [{"position": 0, "result": single}]}
    link = {"image_id": "l1", "filename": "https://example.com/", "media_type": "link"}
    links = {"results": [{"url": "https://example.com/", "file": link, "error": None}]}
    replies = [ok(single, 201), ok(QUOTA), ok(batch, 201), ok(single, 201)]
    replies += [ok(link, 201), ok(links, 201), ok(link, 201)]
    options: dict[str, Any] = {"auto_describe": False, "wait_for_descriptions": False}
    with ScriptedServer(replies) as server:
        async with client(server) as scopix:
            await scopix.files.upload(b"one", custom_schema_id="s1", **options)
            await scopix.files.upload_batch([b"two"], custom_schema_id="s2", **options)
            await scopix.files.upload(b"three", **options)
            await scopix.files.add_link("https://example.com/", custom_schema_id="s3")
            await scopix.files.add_links(["https://example.com/"], custom_schema_id="s4")
            await scopix.files.add_link("https://example.com/")
    one, _, many, plain, *saved = server.seen
    assert form_field(one.body, "custom_schema_id") == "s1"
    assert many.path.endswith("/files/upload/batch")
    assert form_field(many.body, "custom_schema_id") == "s2"
    assert form_field(plain.body, "custom_schema_id") is None
    linked, batched, bare = (json.loads(s.body) for s in saved)
    assert (linked["custom_schema_id"], batched["custom_schema_id"]) == ("s3", "s4")
    assert "custom_schema_id" not in bare

    monkeypatch.setattr(_direct, "STREAMING_LIMIT", 4)
    known = {"image_id": "i9", "filename": "upload", "status": "completed"}
    started = {"upload_id": None, "size_bytes": 9, "deduplicated": True, "result": known}
    with ScriptedServer([ok(started, 201)]) as server:
        async with client(server) as scopix:
            await scopix.files.upload(b"123456789", custom_schema_id="s5", **options)
    assert server.seen[0].path == "/api/v2/files/direct-uploads"
    assert json.loads(server.seen[0].body)["custom_schema_id"] == "s5"


def status(description: str) -> Reply:
    return ok({"image_id": "i1", "status": "completed", "description_status": description})


DESCRIBED = {"id": "i1", "filename": "a.png", "description_status": "completed"}


async def test_an_upload_waits_for_its_extraction_and_takes_its_confidence() -> None:
    replies = [
        ok({"image_id": "i1", "filename": "a.png", "status": "processing"}, 201),
        status("processing"),
        status("completed"),
        ok(DESCRIBED),
        ok(result("processing")),
        ok(DONE),
    ]
    with ScriptedServer(replies) as server:
        async with client(server) as scopix:
            uploaded = await scopix.files.upload(b"png", custom_schema_id="s1")
    assert uploaded.is_completed and uploaded.confidence_score == 0.91
    assert sent(server)[-3:] == [
        ("GET", "/files/i1"),
        ("GET", "/files/i1/extractions/s1"),
        ("GET", "/files/i1/extractions/s1"),
    ]


async def test_a_batch_waits_for_each_files_extraction() -> None:
    pending = {"image_id": "i1", "filename": "a.png", "description_status": "queued"}
    described = {**pending, "description_status": "completed"}
    failed: dict[str, Any] = {"image_id": "i2", "filename": "b.png", "description_status": "failed"}
    failed["confidence_score"] = 0.4  # the description's own, not an extraction's
    session = [{"position": 0, "result": described}, {"position": 1, "result": failed}]
    sent_back = {"session_id": "u1", "results": [{"position": 0, "result": pending}, session[1]]}
    replies = [
        ok(QUOTA),
        ok(sent_back, 201),
        ok({"results": session}),
        ok(DONE),
    ]
    with ScriptedServer(replies) as server:
        async with client(server) as scopix:
            results = await scopix.files.upload_batch([b"a", b"b"], custom_schema_id="s1")
    assert [r.confidence_score for r in results] == [0.91, None]
    assert sent(server)[-1] == ("GET", "/files/i1/extractions/s1"), "none after a failure"


async def test_an_extraction_that_outlasts_the_wait_leaves_no_confidence() -> None:
    described = {**DESCRIBED, "image_id": "i1", "confidence_score": 0.5}
    replies = [ok(described, 201)]
    replies.append(ok(result("processing")))
    with ScriptedServer(replies) as server:
        async with client(server) as scopix:
            uploaded = await scopix.files.upload(
                b"png", custom_schema_id="s1", description_timeout=0.3
            )
    assert uploaded.is_completed and uploaded.confidence_score is None
    assert all(path == "/files/i1/extractions/s1" for _, path in sent(server)[1:])


# The SDK against the app: SQLite and PostgreSQL.


@pytest.fixture
async def scopix(api: Api) -> AsyncIterator[Scopix]:
    """The async SDK on the app in this process, with a key without a rate limit; the app's
    jobs run as the SDK polls (there is no worker process here)."""
    key = (await api.services.keys.create_key("initech", tier="custom")).plaintext

    async def drained(request: httpx.Request) -> None:
        if request.method == "GET":
            await api.drain()

    http = httpx.AsyncClient(
        transport=api.transport,
        base_url="http://testserver/api/v2",
        event_hooks={"request": [drained]},
    )
    async with Scopix(api_key=key, retry_delay=0, polling_interval=0.01, http_client=http) as c:
        yield c


async def test_the_sdk_keeps_schemas_on_the_app(scopix: Scopix) -> None:
    made = await scopix.extraction.create_schema(
        "Invoice", INVOICE, description="Invoices", prompt_hint="Amounts in EUR"
    )
    assert (made.name, made.schema, made.description) == ("Invoice", INVOICE, "Invoices")
    with pytest.raises(ScopixError) as taken:
        await scopix.extraction.create_schema("INVOICE", INVOICE)
    assert taken.value.code == "CONFLICT"
    deep = {"type": "object", "properties": {"a": _nested(4)}}
    with pytest.raises(ValidationError) as refused:
        await scopix.extraction.create_schema("Deep", deep)
    assert refused.value.details["rule"] == "too_deep"
    assert refused.value.details["path"].startswith("/properties/a")

    other = await scopix.extraction.create_schema("Receipt", {"type": "object"})
    page = await scopix.extraction.list_schemas(limit=1)
    assert (page.total_count, page.has_more, len(page.items)) == (2, True, 1)
    assert {s.id async for s in scopix.extraction.list_all_schemas()} == {made.id, other.id}
    assert await scopix.extraction.get_schema(made.id) == made

    changed = await scopix.extraction.update_schema(made.id, name="Bill", description=None)
    assert (changed.name, changed.description, changed.prompt_hint) == (
        "Bill",
        None,
        "Amounts in EUR",
    )
    assert changed.schema == INVOICE and changed.created_at == made.created_at
    await scopix.extraction.delete_schema(other.id)
    with pytest.raises(ResourceNotFoundError):
        await scopix.extraction.get_schema(other.id)


#: A well-formed id no schema has.
UNKNOWN_ID = "0190c7a4-0000-7000-8000-000000000000"
#: Fields the generated invoice (imagefactory.invoice_png) holds, and one it does not.
BILL: dict[str, Any] = {
    "type": "object",
    "properties": {
        "invoice_number": {"type": "string", "description": "the invoice's number"},
        "date": {"type": "string", "format": "date"},
        "total": {"type": "number", "description": "the amount due"},
        "email": {"type": "string", "format": "email"},
        "po_number": {"type": "string", "description": "purchase order number"},
    },
}


async def test_the_sdk_extracts_a_schema_from_an_uploaded_invoice(scopix: Scopix) -> None:
    uploaded = await scopix.files.upload(invoice_png())
    assert uploaded.is_completed
    stored = await scopix.extraction.create_schema("Invoice", BILL)

    done = await scopix.extraction.extract(uploaded.image_id, schema_id=stored.id, timeout=60)
    assert done.is_completed, done
    assert {k: done.data[k] for k in INVOICE_FIELDS} == INVOICE_FIELDS
    assert done.data["po_number"] is None, "nothing supports it"
    total = done.field_at("total")
    assert total is not None and total.source is not None and total.source.bbox is not None
    assert total.value == INVOICE_FIELDS["total"] and 0 < (total.confidence or 0) <= 1
    assert total.source.text is not None and "1,234.56" in total.source.text
    assert 0 < (done.confidence_score or 0) <= 1
    assert done.requested_at is not None and done.completed_at is not None

    email_only = {"type": "object", "properties": {"email": BILL["properties"]["email"]}}
    inline = await scopix.files.extract(uploaded.image_id, schema=email_only, timeout=60)
    assert inline.schema_id.startswith("inline_")
    assert inline.data == {"email": INVOICE_FIELDS["email"]}
    again = await scopix.files.extract(
        uploaded.image_id, schema=email_only, prompt="the sender's", wait=False
    )
    assert again.schema_id == inline.schema_id, "the same inline schema, the same id"
    listed = await scopix.extraction.list_results(uploaded.image_id)
    assert {r.schema_id for r in listed.items} == {stored.id, inline.schema_id}
    assert await scopix.extraction.get_result(uploaded.image_id, stored.id) == done
    with pytest.raises(ResourceNotFoundError):
        await scopix.extraction.extract(uploaded.image_id, schema_id=UNKNOWN_ID)


async def test_an_upload_naming_a_schema_is_extracted_after_its_description(
    scopix: Scopix,
) -> None:
    stored = await scopix.extraction.create_schema("Invoice", BILL)
    uploaded = await scopix.files.upload(invoice_png(), custom_schema_id=stored.id)
    assert uploaded.is_completed
    extracted = await scopix.extraction.get_result(uploaded.image_id, stored.id)
    assert extracted.is_completed and extracted.data["total"] == INVOICE_FIELDS["total"]
    assert uploaded.confidence_score == extracted.confidence_score is not None

    batch = await scopix.files.upload_batch([invoice_png()], custom_schema_id=stored.id)
    assert [r.confidence_score for r in batch] == [extracted.confidence_score]
    with pytest.raises(ResourceNotFoundError):
        await scopix.files.upload(invoice_png(), custom_schema_id="no-such-schema")


def _nested(levels: int) -> dict[str, Any]:
    """An object schema ``levels`` objects deep."""
    node: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        node = {"type": "object", "properties": {"x": node}}
    return node
