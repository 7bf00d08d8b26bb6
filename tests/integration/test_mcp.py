"""The MCP server, driven by the `mcp` package's own client against a real server on a real
socket: over streamable HTTP at /api/v2/mcp (behind the API's keys) and over stdio
(`scopix mcp` as a subprocess). An agent uploads an image with text, waits for its
description, finds it by search and reads its text; a read-only key cannot upload."""

from __future__ import annotations

import base64
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal, cast

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextResourceContents

from apiclient import Api, on_socket
from imagefactory import document_png
from scopix.mcp import http as mcp_http
from scopix.server.settings import Settings

TOOLS = {
    "upload_file",
    "add_link",
    "search_files",
    "search_documents",
    "get_file",
    "get_file_text",
    "describe_file",
    "extract",
    "list_folders",
}
#: A line of `document_png`'s page, read back by OCR.
LINE = "INVOICE 2041"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: what is under test is the MCP layer, the same on either catalog."""
    return f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """One in-process worker, so descriptions happen while a tool waits for them."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        workers=1,
        job_poll_seconds=0.05,
        retry_base_seconds=0,
    )


@pytest.fixture
async def served(api: Api, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """The app of `api` on a real socket (its lifespan already run): the API's base URL.
    The tools poll fast for a quick test, so its tenant gets a tier with no rate limit."""
    monkeypatch.setattr(mcp_http, "POLLING_INTERVAL_S", 0.1)
    await api.services.keys.create_key("acme", tier="custom")
    async with on_socket(api) as base_url:
        yield base_url


@asynccontextmanager
async def over_http(
    base_url: str, key: str, mode: Literal["auto", "legacy"] = "auto"
) -> AsyncIterator[Client]:
    """An MCP client session on /api/v2/mcp, sending `key` as the API's clients do."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        transport = streamable_http_client(f"{base_url}/mcp", http_client=http)
        async with Client(transport, mode=mode, read_timeout_seconds=60) as client:
            yield client


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """A tool's structured answer; the call must succeed."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    answer: dict[str, Any] | None = result.structured_content
    assert answer is not None
    return answer


def text_of(result: CallToolResult) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


async def upload_find_and_read(client: Client, **source: Any) -> str:
    """The agent's round trip: upload and wait, find by search, read the text. The file's id."""
    stored = await call(client, "upload_file", **source)
    assert stored["description_status"] == "completed", stored
    assert stored["description"] and LINE in stored["visible_text"]

    found = await call(client, "search_files", query=LINE, mode="visible_text", limit=5)
    assert [hit["id"] for hit in found["items"]] == [stored["id"]]

    text = await call(client, "get_file_text", file_id=stored["id"])
    assert text["source"] == "visible_text" and LINE in text["text"]
    return str(stored["id"])


async def test_an_agent_uploads_waits_finds_and_reads_over_http(api: Api, served: str) -> None:
    page, _ = document_png()
    async with over_http(served, api.key) as agent:
        assert {tool.name for tool in (await agent.list_tools()).tools} == TOOLS

        file_id = await upload_find_and_read(
            agent, content_base64=base64.b64encode(page).decode(), filename="invoice.png"
        )

        details = await call(agent, "get_file", file_id=file_id)
        assert details["filename"] == "invoice.png" and details["text_regions"] >= 1
        assert details["statuses"]["description"] == "completed"
        assert "description" in details["provenance"]
        schema = {"type": "object", "properties": {"total_due": {"type": "string"}}}
        record = await call(agent, "extract", file_id=file_id, schema=schema)
        assert record["status"] == "completed" and "348" in record["data"]["total_due"]
        resource = await agent.read_resource(f"scopix://files/{file_id}/text")
        assert LINE in cast(TextResourceContents, resource.contents[0]).text
        # The server's own disk is not the agent's to read.
        by_path = await agent.call_tool("upload_file", {"path": "/etc/hostname"})
        assert by_path.is_error and "content_base64" in text_of(by_path)

        note = b"# Harbour log\n\nThe keeper counted seventeen ships in the March storm.\n"
        document = await call(
            agent,
            "upload_file",
            content_base64=base64.b64encode(note).decode(),
            filename="harbour.md",
        )
        passages = await call(agent, "search_documents", query="ships in the storm")
        assert passages["items"][0]["document_id"] == document["id"]
        text = await call(agent, "get_file_text", file_id=document["id"])
        assert text["source"] == "document" and "seventeen ships" in text["text"]

    async with over_http(served, api.other_key) as stranger:  # another tenant's key
        hidden = await stranger.call_tool("get_file", {"file_id": file_id})
        assert hidden.is_error and "NOT_FOUND" in text_of(hidden)


async def test_a_read_only_key_cannot_upload_and_a_bad_key_is_refused(
    api: Api, served: str
) -> None:
    reader = (await api.services.keys.create_key("acme", scopes=("read",))).plaintext
    page, _ = document_png()
    async with over_http(served, reader, mode="legacy") as agent:  # the 2025 handshake
        refused = await agent.call_tool(
            "upload_file", {"content_base64": base64.b64encode(page).decode(), "filename": "a.png"}
        )
        assert refused.is_error
        assert "PERMISSION_DENIED (HTTP 403)" in text_of(refused) and "write" in text_of(refused)
        assert (await call(agent, "search_files", query="invoice"))["total_count"] == 0
    assert (await api.client.get("/api/v2/files")).json()["total_count"] == 0

    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    async with httpx.AsyncClient() as raw:
        for headers in ({}, {"Authorization": "Bearer scopix_nope1234_" + "x" * 40}):
            answer = await raw.post(f"{served}/mcp", json=listing, headers=headers)
            assert answer.status_code == 401, answer.text
            assert answer.json()["error"]["code"] == "INVALID_API_KEY"


async def test_scopix_mcp_serves_the_tools_over_stdio(
    api: Api, served: str, tmp_path: Path
) -> None:
    page, _ = document_png()
    image = tmp_path / "invoice.png"
    image.write_bytes(page)
    made = await api.client.post("/api/v2/folders", json={"name": "Invoices"})
    folder_id = made.json()["id"]
    command = StdioServerParameters(
        command=sys.executable,
        args=["-m", "scopix", "mcp"],
        env={
            "SCOPIX_BASE_URL": served,
            "SCOPIX_API_KEY": api.key,
            "SCOPIX_POLLING_INTERVAL": "0.1",
        },
    )
    async with Client(command, read_timeout_seconds=60) as agent:
        file_id = await upload_find_and_read(agent, path=str(image), folder_id=folder_id)

        folder = await call(agent, "list_folders", parent_id=folder_id)
        assert folder["path"] == "Invoices"
        assert [f["id"] for f in folder["files"]] == [file_id]
        queued = await call(agent, "describe_file", file_id=file_id, wait_for_description=False)
        assert queued["description_status"] in {"queued", "processing"}  # a worker is quick
