"""The web page's file detail shows the file's custom extractions: each schema's name, status and
confidence, its fields as escaped text, and the box each value was read from drawn in the
overlay of the image (or of the document page it is on), keyed to its row. A file without any
shows no section; another tenant sees nothing of them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from apiclient import Api
from docfactory import text_pdf
from imagefactory import jpeg_bytes
from scopix.server.catalog.models import Extraction, File
from scopix.server.domain.ids import new_id

BASE = "/api/v2"
HOSTILE = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"
#: a source box drawn in the overlay: its key and its corners
BOX = re.compile(
    r'<g class="source" data-source="([^"]+)" aria-hidden="true"><polygon points="([^"]+)"'
)
#: a field's row: key (when it has a source), label, path, value, confidence, then the rest
ROW = re.compile(
    r'<tr(?: tabindex="0" data-source="([^"]+)" aria-label="([^"]*)")?>\s*'
    r'<th scope="row" class="field-path">([^<]*)</th>\s*'
    r'<td class="field-value">([^<]*)</td>\s*<td>([^<]*)</td>\s*(?:<td>([^<]*)</td>)?'
)


async def upload(api: Api, name: str, data: bytes, key: str | None = None) -> str:
    response = await api.client.post(
        f"{BASE}/files/upload",
        files={"file": (name, data)},
        data={"auto_describe": "false"},
        headers=api.auth(key),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["image_id"])


async def detail(api: Api, path: str, key: str | None = None) -> str:
    response = await api.client.get(path, headers=api.auth(key))
    assert response.status_code == 200, response.text
    return response.text


def field(
    path: str,
    value: Any,
    confidence: float | None,
    box: tuple[float, ...] | None = None,
    page: int | None = None,
) -> dict[str, Any]:
    """A field record as an extraction stores it; `box` is (x, y, width, height)."""
    source = None
    if box is not None:
        bbox = dict(zip(("x", "y", "width", "height"), box, strict=True))
        source = {"page": page, "bbox": bbox, "text": str(value)}
    return {
        "path": path,
        "value": value,
        "confidence": confidence,
        "source": source,
        "extractor": "t",
    }


async def give_extraction(
    api: Api, file_id: str, schema_id: str, status: str, **columns: Any
) -> str:
    """Store an extraction of the file as its job would leave it; its id."""
    now = datetime.now(UTC)
    async with api.services.extractions.uows.write() as uow:
        file = await uow.session.get(File, file_id)
        assert file is not None
        row = Extraction(
            id=new_id(), tenant_id=file.tenant_id, file_id=file_id, schema_id=schema_id
        )
        row.schema, row.prompt, row.status, row.job_id = {"type": "object"}, None, status, None
        row.requested_at = row.updated_at = now
        row.completed_at = now if status in ("completed", "failed") else None
        for name in ("data", "fields", "confidence_score", "extractor", "error", "error_type"):
            setattr(row, name, columns.get(name))
        uow.extractions.add(row)
        await uow.commit()
        return row.id


def boxes(html: str) -> dict[str, str]:
    return dict(BOX.findall(html))


def rows(html: str) -> list[tuple[str, ...]]:
    return [tuple(found) for found in ROW.findall(html)]


async def test_an_images_extractions_show_their_fields_and_the_boxes_they_were_read_from(
    api: Api,
) -> None:
    file_id = await upload(api, "bill.jpg", jpeg_bytes(80, 60, seed=1))
    plain_id = await upload(api, "plain.jpg", jpeg_bytes(80, 60, seed=2))
    made = await api.client.post(
        f"{BASE}/custom-extraction-schemas", json={"name": "Invoice", "schema": {"type": "object"}}
    )
    assert made.status_code == 201, made.text
    invoice = await give_extraction(
        api,
        file_id,
        made.json()["id"],
        "completed",
        fields=[
            field("invoice_number", "INV-7", 0.97, (0.1, 0.2, 0.3, 0.05)),
            field("note", HOSTILE, 0.5, (0.5, 0.6, 0.25, 0.1)),
            field("total", 1234.5, None),
        ],
        confidence_score=0.91,
    )
    await give_extraction(
        api, file_id, "inline_" + "0" * 32, "failed", error=HOSTILE, error_type="timeout"
    )
    deleted = new_id()  # a schema deleted since: its results stay, under its id
    await give_extraction(api, file_id, deleted, "queued")

    html = await detail(api, f"/ui/files/{file_id}")
    assert 'data-moving="yes"' in html  # the queued one will change: the page follows it
    assert '<h3 id="d-extractions">Extracted fields</h3>' in html
    assert re.search(r">Invoice <span class=\"badge state-completed\">completed</span>", html)
    assert "Confidence 91%" in html
    assert rows(html) == [
        (
            f"{invoice}-0",
            "invoice_number: INV-7, 97% confidence; its box is shown on the image",
            "invoice_number",
            "INV-7",
            "97%",
            "",
        ),
        (
            f"{invoice}-1",
            f"note: {ESCAPED}, 50% confidence; its box is shown on the image",
            "note",
            ESCAPED,
            "50%",
            "",
        ),
        ("", "", "total", "1234.5", "—", ""),  # no source: not focusable, nothing to light
    ]
    # Each box with a source is drawn in the image's overlay, keyed to its row.
    assert boxes(html) == {
        f"{invoice}-0": "0.10000,0.20000 0.40000,0.20000 0.40000,0.25000 0.10000,0.25000",
        f"{invoice}-1": "0.50000,0.60000 0.75000,0.60000 0.75000,0.70000 0.50000,0.70000",
    }
    assert 'id="detail-image"' in html and '<svg class="regions"' in html
    # The failed one says why; an inline schema and a deleted one have no name to show.
    assert '>inline schema <span class="badge state-failed">failed</span>' in html
    assert "<strong>Failed: timeout</strong>" in html
    assert f'>{deleted} <span class="badge state-queued">queued</span>' in html
    assert "Being extracted…" in html
    assert HOSTILE not in html and html.count(ESCAPED) == 3

    # A file without extractions has no section; another tenant sees none of these.
    assert "Extracted fields" not in await detail(api, f"/ui/files/{plain_id}")
    theirs = await api.client.get(f"/ui/files/{file_id}", headers=api.auth(api.other_key))
    assert theirs.status_code == 404
    assert "INV-7" not in theirs.text
    their_id = await upload(api, "theirs.jpg", jpeg_bytes(80, 60, seed=1), key=api.other_key)
    their_html = await detail(api, f"/ui/files/{their_id}", key=api.other_key)
    assert "Extracted fields" not in their_html and 'class="source"' not in their_html


async def test_a_documents_boxes_are_drawn_on_their_own_page(api: Api) -> None:
    pages = [["Invoice INV-9"], ["Total 12.00"]]
    file_id = await upload(api, "two.pdf", text_pdf(pages))
    await api.drain()
    found = await give_extraction(
        api,
        file_id,
        "inline_" + "1" * 32,
        "completed",
        fields=[
            field("number", "INV-9", 0.9, (0.1, 0.1, 0.2, 0.05), page=1),
            field("total", 12.0, 0.8, (0.1, 0.1, 0.2, 0.05), page=2),
        ],
        confidence_score=0.85,
    )

    html = await detail(api, f"/ui/files/{file_id}")
    assert [(key, label, page) for key, label, *_, page in rows(html)] == [
        (f"{found}-0", "number: INV-9, 90% confidence; read on page 1", "1"),
        (f"{found}-1", "total: 12.0, 80% confidence; read on page 2", "2"),
    ]
    assert list(boxes(html)) == [f"{found}-0"]  # page 1 is shown: its box only
    second = await detail(api, f"/ui/files/{file_id}/pages/2")
    assert list(boxes(second)) == [f"{found}-1"]
