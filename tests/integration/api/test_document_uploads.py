"""Documents arriving through the API's ways in: typed by their bytes (Markdown by its name),
checked at upload through their handler, and stored unchecked when they are too large to read
(a direct upload past the extract limit), where their extraction fails at once and nothing
waits on them."""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Any

import pytest

from apiclient import Api
from scopix.server.domain import direct_uploads as rules
from scopix.server.settings import Settings

MiB = 1 << 20
FILES = "/api/v2/files"
DIRECT = f"{FILES}/direct-uploads"
#: Bytes a PDF reader cannot open: PDF by their magic, nothing after it.
BROKEN_PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"this is no PDF body\n" * 60_000


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"document_max_extract_bytes": MiB})


@pytest.fixture(autouse=True)
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "PREFERRED_PART_SIZE", MiB)


async def direct_upload(api: Api, filename: str, data: bytes) -> Any:
    body = {"filename": filename, "size_bytes": len(data), "auto_describe": True}
    body["sha256"] = hashlib.sha256(data).hexdigest()
    upload = (await api.client.post(DIRECT, json=body)).json()
    for target in upload["part_urls"]:
        offset = (target["part_number"] - 1) * upload["part_size"]
        part = data[offset : offset + upload["part_size"]]
        sent = await api.client.put(target["url"], content=part, headers={"Authorization": ""})
        assert sent.status_code == 200, sent.text
    return await api.client.post(f"{DIRECT}/{upload['upload_id']}/complete")


async def upload(api: Api, filename: str, data: bytes) -> Any:
    return await api.client.post(
        f"{FILES}/upload", files={"file": (filename, data)}, data={"auto_describe": "false"}
    )


async def test_a_document_past_the_extract_limit_is_stored_unread_and_fails_its_extraction(
    api: Api,
) -> None:
    assert len(BROKEN_PDF) > MiB
    done = await direct_upload(api, "scan-archive.pdf", BROKEN_PDF)
    assert done.status_code == 201, done.text  # not probed: its header is never read
    file_id = done.json()["image_id"]
    assert done.json()["media_type"] == "document"

    await api.drain()
    status = (await api.client.get(f"{FILES}/{file_id}/status")).json()
    assert (status["text_extraction_status"], status["text_extraction_error_type"]) == (
        "failed",
        "resource_limit",
    )
    assert "not extracted" in status["text_extraction_error"]
    # Nothing is left waiting: the thumbnails and the description end too, one way or another.
    assert status["status"] == "completed" and status["variant_status"] == "failed"
    assert status["description_status"] in ("completed", "failed")
    download = await api.client.get(f"{FILES}/{file_id}/download")
    assert download.status_code == 200 and download.content == BROKEN_PDF


async def test_a_document_under_the_limit_is_checked_at_upload(api: Api) -> None:
    small = BROKEN_PDF[: MiB // 2]
    refused = await direct_upload(api, "report.pdf", small)
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "CORRUPT_FILE")
    refused = await upload(api, "report.pdf", small)
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "CORRUPT_FILE")


async def test_text_is_markdown_by_its_name_and_binary_text_is_refused(api: Api) -> None:
    note = b"# Harbour notes\n\nThe *tide* turns at dawn.\n"
    for name, mime, document_type in [
        ("notes.md", "text/markdown", "md"),
        ("notes.txt", "text/plain", "txt"),
    ]:
        stored = await upload(api, name, note)
        assert stored.status_code == 201, stored.text
        details = (await api.client.get(f"{FILES}/{stored.json()['image_id']}")).json()
        assert (details["media_type"], details["mime_type"]) == ("document", mime)
        assert details["document_type"] == document_type

    refused = await upload(api, "notes.txt", b"\x00\x01\x02 binary after all")
    assert refused.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as plain:
        plain.writestr("notes.txt", "a plain zip is not a Word file\n")
    refused = await upload(api, "notes.docx", archive.getvalue())
    assert refused.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
