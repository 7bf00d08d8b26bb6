"""`scopix extract`, `scopix schemas ...` and `scopix upload --schema`: what the commands send and
print, over real sockets to a scripted server, then against the real app on SQLite and PostgreSQL
(served by uvicorn in the test's event loop, the command run in a thread)."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from rich.console import Console, RenderableType
from typer.testing import CliRunner, Result

from apiclient import Api, on_socket
from imagefactory import INVOICE_FIELDS, invoice_png
from scopix.cli import render
from scopix.cli.app import app
from scopix.types.extraction import Box, ExtractedField, ExtractionResult, FieldSource
from scriptedhttp import Reply, ScriptedServer

STAMP = "2026-12-08T10:00:00Z"
INVOICE = {
    "type": "object",
    "properties": {"number": {"type": "string"}, "total": {"type": "number"}},
}
STORED: dict[str, Any] = {
    "id": "0197a2c4-0000-7000-8000-000000000001",
    "name": "Invoice",
    "description": "Supplier invoices",
    "schema": INVOICE,
    "prompt_hint": "Amounts in EUR",
    "created_at": STAMP,
    "updated_at": STAMP,
}
DONE = {
    "schema_id": STORED["id"],
    "status": "completed",
    "data": {"number": "2041", "total": 348.0},
    "fields": [
        {
            "path": "number",
            "value": "2041",
            "confidence": 0.97,
            "source": {"page": 1, "bbox": {"x": 0.12, "y": 0.34, "width": 0.2, "height": 0.05}},
            "extractor": "ocr",
        },
        {"path": "total", "value": 348.0, "confidence": 0.8, "source": None, "extractor": "vlm"},
    ],
    "confidence_score": 0.88,
    "error": None,
    "error_type": None,
    "completed_at": STAMP,
}
#: Fields the generated invoice (imagefactory.invoice_png) holds, and one it does not.
BILL = {
    "type": "object",
    "properties": {
        "invoice_number": {"type": "string", "description": "the invoice's number"},
        "total": {"type": "number", "description": "the amount due"},
        "po_number": {"type": "string", "description": "purchase order number"},
    },
}
FAILED = {
    **DONE,
    "status": "failed",
    "data": None,
    "fields": [],
    "confidence_score": None,
    "error": "the model answered nonsense",
    "error_type": "vlm_error",
}


def ok(body: Any, status: int = 200) -> Reply:
    return (status, {}, json.dumps(body).encode())


def envelope(status: int, code: str, message: str = "no", **details: Any) -> Reply:
    body = {"error": {"code": code, "message": message, "details": details}, "request_id": "r1"}
    return (status, {}, json.dumps(body).encode())


def listing(*items: dict[str, Any]) -> Reply:
    return ok({"items": list(items), "total_count": len(items), "has_more": False})


def started(schema_id: str = STORED["id"]) -> Reply:
    return ok({"schema_id": schema_id, "status": "queued"}, 202)


def run_cli(base_url: str, *args: str, columns: int = 200) -> Result:
    env = {
        "SCOPIX_API_KEY": "k",
        "SCOPIX_BASE_URL": base_url,
        "SCOPIX_POLLING_INTERVAL": "0.01",
        "COLUMNS": str(columns),
    }
    return CliRunner().invoke(app, list(args), env=env)


def body_of(server: ScriptedServer, index: int) -> Any:
    return json.loads(server.seen[index].body)


def test_extract_by_name_shows_each_field_in_80_columns() -> None:
    replies = [listing(STORED), started(), ok({**DONE, "status": "processing"}), ok(DONE)]
    with ScriptedServer(replies) as server:
        done = run_cli(server.url, "extract", "f1", "--schema", "invoice", columns=80)
    assert done.exit_code == 0, done.output
    assert [(s.method, s.path.removeprefix("/api/v2")) for s in server.seen] == [
        ("GET", "/custom-extraction-schemas?limit=100&offset=0"),
        ("POST", "/files/f1/extract"),
        ("GET", f"/files/f1/extractions/{STORED['id']}"),
        ("GET", f"/files/f1/extractions/{STORED['id']}"),
    ]
    assert body_of(server, 1) == {"schema_id": STORED["id"]}, "the name looked up, case aside"
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "extraction status: completed" in lines and "confidence: 0.88" in lines
    number = next(line for line in lines if "2041" in line)
    assert number.split() == ["number", "2041", "0.97", "p.1", "(0.12,", "0.34)"]
    total = next(line for line in lines if "348" in line)
    assert total.split() == ["total", "348.0", "0.80", "—"]


def test_extract_by_id_with_a_prompt_and_no_wait() -> None:
    queued = {**DONE, "status": "queued", "data": None, "fields": [], "confidence_score": None}
    with ScriptedServer([listing(STORED), started(), ok(queued)]) as server:
        done = run_cli(
            server.url,
            "extract",
            "f1",
            "--schema",
            STORED["id"],
            "--prompt",
            "EUR",
            "--no-wait",
        )
    assert done.exit_code == 0, done.output
    assert body_of(server, 1) == {"schema_id": STORED["id"], "prompt": "EUR"}
    assert len(server.seen) == 3, "one read, no polling"
    assert "extraction status: queued" in done.stdout and "confidence: —" in done.stdout


def test_extract_with_a_schema_file_sends_it_inline(tmp_path: Path) -> None:
    schema_file = tmp_path / "invoice.json"
    schema_file.write_text(json.dumps(INVOICE))
    inline = {**DONE, "schema_id": "inline_ab12"}
    with ScriptedServer([started("inline_ab12"), ok(inline)]) as server:
        done = run_cli(server.url, "extract", "f1", "--schema", str(schema_file), "--json")
    assert done.exit_code == 0, done.output
    assert body_of(server, 0) == {"schema": INVOICE}, "no lookup for a file"
    shown = json.loads(done.stdout)
    assert shown["schema_id"] == "inline_ab12" and shown["data"] == DONE["data"]
    assert shown["fields"][0]["source"]["bbox"] == {
        "x": 0.12,
        "y": 0.34,
        "width": 0.2,
        "height": 0.05,
    }


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", "\xff"])
def test_a_schema_file_that_holds_no_json_object_is_a_usage_error(
    tmp_path: Path, content: str
) -> None:
    schema_file = tmp_path / "bad.json"
    schema_file.write_bytes(content.encode("latin-1"))
    with ScriptedServer([]) as server:
        done = run_cli(server.url, "extract", "f1", "--schema", str(schema_file))
        made = run_cli(server.url, "schemas", "create", "Bad", str(schema_file))
    assert (done.exit_code, made.exit_code) == (2, 2)
    assert server.seen == []


def test_a_failed_extraction_shows_why_and_exits_1() -> None:
    replies = [listing(STORED), started(), ok(FAILED)] * 2
    with ScriptedServer(replies) as server:
        done = run_cli(server.url, "extract", "f1", "--schema", "Invoice")
        as_json = run_cli(server.url, "extract", "f1", "--schema", "Invoice", "--json")
    assert done.exit_code == 1
    assert "extraction status: failed" in done.stdout
    assert "error: vlm_error: the model answered nonsense" in done.stdout
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["status"] == "failed"


def test_an_unknown_schema_is_one_error_line_and_exit_1() -> None:
    with ScriptedServer([listing(STORED)]) as server:
        done = run_cli(server.url, "extract", "f1", "--schema", "receipt")
    assert done.exit_code == 1 and done.stdout == ""
    assert done.stderr.startswith("error: NOT_FOUND: no stored schema has the id or name 'receipt'")
    assert len(server.seen) == 1, "nothing extracted"


def test_schemas_list_create_show_and_delete(tmp_path: Path) -> None:
    schema_file = tmp_path / "invoice.json"
    schema_file.write_text(json.dumps(INVOICE))
    page = {"items": [STORED], "total_count": 3, "has_more": True, "limit": 1, "offset": 1}
    replies = [ok(page), ok(STORED, 201), ok(STORED), ok(STORED), (204, {}, b"")]
    with ScriptedServer(replies) as server:
        listed = run_cli(server.url, "schemas", "list", "--limit", "1", "--offset", "1")
        made = run_cli(
            server.url,
            "schemas",
            "create",
            "Invoice",
            str(schema_file),
            "--description",
            "Supplier invoices",
            "--prompt-hint",
            "Amounts in EUR",
        )
        shown = run_cli(server.url, "schemas", "show", STORED["id"])
        as_json = run_cli(server.url, "schemas", "show", STORED["id"], "--json")
        gone = run_cli(server.url, "schemas", "delete", STORED["id"])
    for done in (listed, made, shown, as_json, gone):
        assert done.exit_code == 0, done.output
    assert [(s.method, s.path.removeprefix("/api/v2")) for s in server.seen] == [
        ("GET", "/custom-extraction-schemas?limit=1&offset=1"),
        ("POST", "/custom-extraction-schemas"),
        ("GET", f"/custom-extraction-schemas/{STORED['id']}"),
        ("GET", f"/custom-extraction-schemas/{STORED['id']}"),
        ("DELETE", f"/custom-extraction-schemas/{STORED['id']}"),
    ]
    row = next(line for line in listed.stdout.splitlines() if "Invoice" in line)
    assert row.split() == [
        "Invoice",
        STORED["id"],
        "Supplier",
        "invoices",
        "2026-12-08",
        "10:00",
    ]
    assert "showing 2-2 of 3 schemas" in listed.stdout
    assert body_of(server, 1) == {
        "name": "Invoice",
        "schema": INVOICE,
        "description": "Supplier invoices",
        "prompt_hint": "Amounts in EUR",
    }
    for expected in ("Invoice", STORED["id"], "Amounts in EUR", '"total": {'):
        assert expected in shown.stdout
    utc = "2026-12-08T10:00:00+00:00"
    assert json.loads(as_json.stdout) == STORED | {"created_at": utc, "updated_at": utc}
    assert f"deleted schema {STORED['id']}" in gone.stdout


def test_a_taken_or_refused_schema_is_one_error_line(tmp_path: Path) -> None:
    schema_file = tmp_path / "invoice.json"
    schema_file.write_text(json.dumps(INVOICE))
    replies = [
        envelope(409, "CONFLICT", "a schema is named Invoice"),
        envelope(422, "VALIDATION_ERROR", "too deep", rule="too_deep", path="/properties/a"),
        envelope(422, "VALIDATION_ERROR", "a date", rule="unsupported_type", path=""),
    ]
    with ScriptedServer(replies) as server:
        taken = run_cli(server.url, "schemas", "create", "invoice", str(schema_file))
        refused = run_cli(server.url, "schemas", "create", "Deep", str(schema_file))
        inline = run_cli(server.url, "extract", "f1", "--schema", str(schema_file))
    assert taken.exit_code == refused.exit_code == inline.exit_code == 1
    assert inline.stderr == "error: VALIDATION_ERROR: a date (unsupported_type) (request r1)\n"
    assert taken.stderr == "error: CONFLICT: a schema is named Invoice (request r1)\n"
    assert refused.stderr == (
        "error: VALIDATION_ERROR: too deep (too_deep at /properties/a) (request r1)\n"
    )


def test_upload_names_the_schema_to_extract(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"not really a jpeg")
    quota = {
        "can_proceed": True,
        "requested": 1,
        "available": 9,
        "monthly_limit": 9,
        "current_usage": 0,
        "max_batch_size": 10,
        "max_concurrent_uploads": 2,
    }
    result = {"image_id": "i1", "filename": "a.jpg", "status": "processing"}
    batch = {"session_id": "s1", "results": [{"position": 0, "result": result}]}
    with ScriptedServer([ok(quota), ok(batch, 201)]) as server:
        done = run_cli(server.url, "upload", str(photo), "--schema", "sch1", "--no-wait")
    assert done.exit_code == 0, done.output
    assert b'name="custom_schema_id"\r\n\r\nsch1\r\n' in server.seen[1].body


def text_of(renderable: RenderableType, width: int = 80) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()


def test_sources_values_and_confidences_read_briefly() -> None:
    box = Box(0.123, 0.456, 0.1, 0.1)
    assert render.source_text(FieldSource(2, box)) == "p.2 (0.12, 0.46)"
    assert render.source_text(FieldSource(None, box)) == "(0.12, 0.46)"
    assert render.source_text(FieldSource(3, None)) == "p.3"
    assert render.source_text(FieldSource()) == render.source_text(None) == "—"
    assert render.value_text("a [b]") == "a [b]"
    assert render.value_text({"a": [1, True, None]}) == '{"a": [1, true, null]}'
    assert (render.confidence(0.5), render.confidence(None)) == ("0.50", "—")


def test_long_values_wrap_inside_80_columns() -> None:
    fields = [
        ExtractedField(
            path="vendor.address.street_and_number_of_the_building",
            value="A very long street name " * 20,
            confidence=0.5,
            source=FieldSource(12, Box(0.5, 0.5, 0.1, 0.1)),
        ),
        ExtractedField(path="items", value=[{"sku": "X-1", "qty": 2}], confidence=None),
    ]
    text = text_of(render.extraction_view(ExtractionResult("s1", "completed", fields=fields)))
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "p.12 (0.50, 0.50)" in text and '"sku": "X-1"' in text
    assert "…" in text, "a long value is cut"


# Against the app: the commands as a person runs them, on SQLite and PostgreSQL.


@pytest.fixture
async def served(api: Api) -> AsyncIterator[str]:
    """The app of `api` on a real socket (its lifespan already run by the fixture), its jobs
    run as requests come: the base URL, /api/v2 included."""
    inner = cast(httpx.ASGITransport, api.transport).app

    async def draining(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            await api.drain()
        await inner(scope, receive, send)

    async with on_socket(api, draining) as base_url:
        yield base_url


async def cli(api: Api, base_url: str, *args: str) -> Result:
    """Run a command in a thread, so the app keeps serving in this one's event loop."""
    env = {
        "SCOPIX_API_KEY": api.key,
        "SCOPIX_BASE_URL": base_url,
        "SCOPIX_POLLING_INTERVAL": "0.05",
        "COLUMNS": "80",
    }
    runner = CliRunner()
    return await asyncio.to_thread(lambda: runner.invoke(app, list(args), env=env))


async def cli_json(api: Api, base_url: str, *args: str) -> Any:
    done = await cli(api, base_url, *args, "--json")
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


async def test_the_extraction_commands_against_the_app(
    api: Api, served: str, tmp_path: Path
) -> None:
    schema_file = tmp_path / "invoice.json"
    schema_file.write_text(json.dumps(BILL))
    made = await cli_json(api, served, "schemas", "create", "Invoice", str(schema_file))
    assert (made["name"], made["schema"]) == ("Invoice", BILL)
    taken = await cli(api, served, "schemas", "create", "INVOICE", str(schema_file))
    assert taken.exit_code == 1 and "CONFLICT" in taken.stderr
    listed = await cli(api, served, "schemas", "list")
    assert listed.exit_code == 0 and made["id"] in listed.stdout

    invoice = tmp_path / "invoice.png"
    invoice.write_bytes(invoice_png())
    (uploaded,) = await cli_json(api, served, "upload", str(invoice), "--schema", made["id"])
    assert uploaded["description_status"] == "completed"
    assert 0 < uploaded["confidence_score"] <= 1, "the extraction's"
    extracted = await cli(api, served, "extract", uploaded["image_id"], "--schema", "invoice")
    assert extracted.exit_code == 0, extracted.output
    lines = extracted.stdout.splitlines()
    assert "extraction status: completed" in lines
    assert max(len(line) for line in lines) <= 80
    total = next(line for line in lines if line.split()[:1] == ["total"])
    assert total.split()[1] == "1234.56" and total.split()[3].startswith("(0.")
    email_file = tmp_path / "email.json"
    email_file.write_text(
        json.dumps({"type": "object", "properties": {"email": {"type": "string"}}})
    )
    file_id = uploaded["image_id"]
    inline = await cli_json(api, served, "extract", file_id, "--schema", str(email_file))
    assert inline["schema_id"].startswith("inline_")
    assert inline["data"] == {"email": INVOICE_FIELDS["email"]}

    gone = await cli(api, served, "schemas", "delete", made["id"])
    assert gone.exit_code == 0, gone.output
    missing = await cli(api, served, "schemas", "show", made["id"])
    assert missing.exit_code == 1 and "NOT_FOUND" in missing.stderr
