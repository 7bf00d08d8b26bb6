"""The SDK's and CLI's document calls over real sockets: what they send and how they read
the answers (the server's side is tested in tests/e2e/test_sdk.py and test_cli.py)."""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from scopix import Scopix, ScopixError, SyncScopix, ValidationError, WrongMediaTypeError
from scopix.cli.app import app
from scriptedhttp import Reply, ScriptedServer

WHOLE = "First page.\n\nSecond page."
TEXT = {
    "text": WHOLE,
    "pages": [{"page": 1, "text": "First page."}, {"page": 2, "text": "Second page."}],
}
HIT = {
    "chunk_id": "c7",
    "document_id": "d1",
    "document_filename": "manual.pdf",
    "content": "Torque the bolts to 40 Nm before the first run.",
    "score": 0.93,
    "chunk_index": 7,
    "page_numbers": [3, 4],
}


def ok(body: Any) -> Reply:
    return (200, {}, json.dumps(body).encode())


def chunk(index: int) -> dict[str, Any]:
    return {
        "chunk_id": f"c{index}",
        "chunk_index": index,
        "content": f"part {index}",
        "page_numbers": [index + 1],
    }


def envelope(status: int, code: str, **details: Any) -> Reply:
    body = {"error": {"code": code, "message": "no", "details": details}, "request_id": "r1"}
    return (status, {}, json.dumps(body).encode())


def query_of(path: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(path).query)


def client(server: ScriptedServer) -> Scopix:
    return Scopix(api_key="scopix_abcdefgh_secret", base_url=server.url, retry_delay=0)


async def test_text_chunks_and_search_send_what_the_api_names() -> None:
    replies = [ok(TEXT), ok({"items": [chunk(0)], "total_count": 3, "has_more": True}), ok({})]
    with ScriptedServer(replies) as server:
        async with client(server) as scopix:
            text = await scopix.files.get_text("d1")
            chunks = await scopix.files.list_chunks("d1", limit=1, offset=2)
            await scopix.documents.search("bolts", limit=5, search_mode="text", file_ids=["d1"])
    assert text.page(2).text == "Second page." and text.text.startswith("First")
    assert (chunks.items[0].page_numbers, chunks.total_count, chunks.has_more) == ([1], 3, True)
    get_text, list_chunks, search = server.seen
    assert (get_text.method, get_text.path) == ("GET", "/api/v2/files/d1/text")
    assert urlsplit(list_chunks.path).path == "/api/v2/files/d1/chunks"
    assert query_of(list_chunks.path) == {"limit": ["1"], "offset": ["2"]}
    assert (search.method, search.path) == ("POST", "/api/v2/documents/search")
    assert json.loads(search.body) == {
        "query": "bolts",
        "limit": 5,
        "search_mode": "text",
        "file_ids": ["d1"],
    }
    assert "Idempotency-Key" not in search.headers  # a search changes nothing


async def test_a_search_reads_its_hits_and_leaves_out_file_ids_unless_given() -> None:
    with ScriptedServer([ok({"items": [HIT], "total_count": 1, "has_more": False})]) as server:
        async with client(server) as scopix:
            results = await scopix.documents.search("torque")
    assert json.loads(server.seen[0].body) == {
        "query": "torque",
        "limit": 10,
        "search_mode": "hybrid",
    }
    (hit,) = results.items
    assert (hit.document_filename, hit.page_numbers, hit.score) == ("manual.pdf", [3, 4], 0.93)
    assert (results.total_count, results.has_more) == (1, False)


async def test_iter_chunks_pages_through_every_chunk_in_order() -> None:
    pages = [
        ok({"items": [chunk(i) for i in range(100)], "total_count": 130, "has_more": True}),
        ok({"items": [chunk(i) for i in range(100, 130)], "total_count": 130, "has_more": False}),
    ]
    with ScriptedServer(pages) as server:
        async with client(server) as scopix:
            indexes = [c.chunk_index async for c in scopix.files.iter_chunks("d1")]
    assert indexes == list(range(130))
    assert [query_of(s.path)["offset"] for s in server.seen] == [["0"], ["100"]]


async def test_document_routes_on_an_image_raise_wrong_media_type() -> None:
    with ScriptedServer([envelope(400, "WRONG_MEDIA_TYPE", media_type="image")]) as server:
        async with client(server) as scopix:
            with pytest.raises(WrongMediaTypeError) as caught:
                await scopix.files.get_text("img1")
    assert isinstance(caught.value, ValidationError)
    assert (caught.value.status_code, caught.value.details) == (400, {"media_type": "image"})


async def test_text_still_being_extracted_is_a_conflict_with_its_state() -> None:
    busy = envelope(409, "CONFLICT", text_extraction_status="processing")
    with ScriptedServer([busy]) as server:
        async with client(server) as scopix:
            with pytest.raises(ScopixError) as caught:
                await scopix.files.get_text("d1")
    assert caught.value.code == "CONFLICT"
    assert caught.value.details == {"text_extraction_status": "processing"}


async def test_an_upload_waits_for_the_text_as_well_as_the_description() -> None:
    def status(description: str, extraction: str) -> Reply:
        body = {"image_id": "d1", "status": "completed", "page_count": 2}
        return ok({**body, "description_status": description, "text_extraction_status": extraction})

    replies = [
        (201, {}, json.dumps({"image_id": "d1", "filename": "a.pdf"}).encode()),
        status("queued", "processing"),
        status("completed", "processing"),  # described from page 1, text not yet all read
        status("completed", "completed"),
        ok({"id": "d1", "filename": "a.pdf", "description_status": "completed"}),
    ]
    with ScriptedServer(replies) as server:
        async with Scopix(
            api_key="k", base_url=server.url, retry_delay=0, polling_interval=0.01
        ) as scopix:
            result = await scopix.files.upload(io.BytesIO(b"%PDF-1.7 fake"))
    assert result.is_completed
    paths = [s.path.rsplit("/", 1)[-1] for s in server.seen]
    assert paths == ["upload", "status", "status", "status", "d1"]


def test_the_sync_client_reads_text_chunks_and_searches() -> None:
    replies = [
        ok(TEXT),
        ok({"items": [chunk(0)], "total_count": 1, "has_more": False}),
        ok({"items": [chunk(0)], "total_count": 1, "has_more": False}),
        ok({"items": [HIT], "total_count": 1, "has_more": False}),
    ]
    with (
        ScriptedServer(replies) as server,
        SyncScopix(api_key="k", base_url=server.url, retry_delay=0) as scopix,
    ):
        assert [p.page for p in scopix.files.get_text("d1").pages] == [1, 2]
        assert scopix.files.list_chunks("d1").items[0].content == "part 0"
        assert [c.chunk_id for c in scopix.files.iter_chunks("d1")] == ["c0"]
        assert scopix.documents.search("torque").items[0].chunk_id == "c7"


def run_cli(server: ScriptedServer, *args: str) -> Any:
    env = {"SCOPIX_API_KEY": "k", "SCOPIX_BASE_URL": server.url, "COLUMNS": "160"}
    return CliRunner().invoke(app, list(args), env=env)


def test_scopix_text_prints_the_text_or_one_page() -> None:
    with ScriptedServer([ok(TEXT)]) as server:
        assert run_cli(server, "text", "d1").stdout == WHOLE + "\n"
        assert run_cli(server, "text", "d1", "--page", "2").stdout == "Second page.\n"
        page = json.loads(run_cli(server, "text", "d1", "--page", "1", "--json").stdout)
        assert page == {"page": 1, "text": "First page."}
        missing = run_cli(server, "text", "d1", "--page", "3")
    assert missing.exit_code == 1
    assert missing.stderr == "error: NOT_FOUND: the document has no page 3 (it has 2)\n"


def test_scopix_text_of_an_image_is_one_error_line() -> None:
    with ScriptedServer([envelope(400, "WRONG_MEDIA_TYPE")]) as server:
        done = run_cli(server, "text", "img1")
    assert (done.exit_code, done.stderr) == (1, "error: WRONG_MEDIA_TYPE: no (request r1)\n")


def test_scopix_search_chunks_shows_each_passage_with_its_document_and_pages() -> None:
    with ScriptedServer([ok({"items": [HIT], "total_count": 1, "has_more": False})]) as server:
        done = run_cli(server, "search", "torque", "--chunks", "--mode", "semantic")
        as_json = json.loads(run_cli(server, "search", "torque", "--chunks", "--json").stdout)
    assert done.exit_code == 0, done.output
    for shown in ("manual.pdf", "d1", "3-4", "0.93", "Torque the bolts", "showing 1 of 1"):
        assert shown in done.stdout
    assert json.loads(server.seen[0].body)["search_mode"] == "semantic"
    assert as_json["items"][0]["page_numbers"] == [3, 4]


@pytest.mark.parametrize(
    "args",
    [
        ["--chunks", "--mode", "all"],
        ["--mode", "hybrid"],
        ["--chunks", "--limit", "51"],
        ["--chunks", "--offset", "10"],
    ],
)
def test_search_options_that_do_not_fit_are_usage_errors(args: list[str]) -> None:
    with ScriptedServer([ok({})]) as server:
        done = run_cli(server, "search", "torque", *args)
    assert done.exit_code == 2
    assert server.seen == []
