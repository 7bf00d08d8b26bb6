"""The SDK's and CLI's link calls over real sockets: what they send and how they read the
answers (the server's side is tested in tests/integration/api/test_links_api.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from apiclient import Api
from linkserver import LinkSite
from scopix import Scopix, ScopixError, SyncScopix, ValidationError, WrongMediaTypeError
from scopix.cli.app import app
from scopix.server.app import create_app
from scopix.server.jobs.records import CRAWL
from scopix.server.services.container import Services
from scopix.server.settings import Settings
from scopix.types.files import FileDetails, ProcessingStatus
from scopix.types.links import LinkResult, OpenGraph, RecrawlResult
from scriptedhttp import Reply, ScriptedServer

URL = "https://example.com/article"
SAVED = {
    "image_id": "l1",
    "filename": URL,
    "media_type": "link",
    "status": "processing",
    "description_status": "queued",
    "deduplicated": False,
}
CARD = {
    "title": "Tides of the North Sea",
    "description": "Why the tide turns.",
    "image": "https://example.com/og.png",
    "site_name": "Harbour Notes",
    "type": "article",
}
LINK = {
    "id": "l1",
    "filename": URL,
    "media_type": "link",
    "mime_type": "multipart/related",
    "status": "completed",
    "description_status": "completed",
    "description": "A web page on Harbour Notes.",
    "source_url": URL,
    "domain": "example.com",
    "page_title": "Tides of the North Sea",
    "og_metadata": CARD,
    "favicon_url": "https://example.com/favicon.ico",
    "crawl_status": "completed",
    "crawl_error": None,
    "crawled_at": "2026-12-05T13:00:00Z",
    "extracted_images": ["https://example.com/img/1.jpg", "https://example.com/img/2.jpg"],
    "extracted_images_count": 2,
}


def ok(body: Any, status: int = 200) -> Reply:
    return (status, {}, json.dumps(body).encode())


def envelope(status: int, code: str, **details: Any) -> Reply:
    body = {"error": {"code": code, "message": "no", "details": details}, "request_id": "r1"}
    return (status, {}, json.dumps(body).encode())


def batch_answer(urls: list[str]) -> Reply:
    results = [
        {"url": u, "file": {**SAVED, "image_id": f"id-{u}", "filename": u}, "error": None}
        for u in urls
    ]
    return ok({"results": results}, 201)


def client(server: ScriptedServer, **options: Any) -> Scopix:
    return Scopix(api_key="scopix_abcdefgh_secret", base_url=server.url, retry_delay=0, **options)


async def test_add_link_sends_the_url_and_options_as_json_with_an_idempotency_key() -> None:
    with ScriptedServer([ok(SAVED, 201)]) as server:
        async with client(server) as scopix:
            saved = await scopix.files.add_link(
                URL, title="Tides", tags=["sea", "tide"], auto_describe=False
            )
    (seen,) = server.seen
    assert (seen.method, seen.path) == ("POST", "/api/v2/files/links")
    assert json.loads(seen.body) == {
        "url": URL,
        "title": "Tides",
        "tags": ["sea", "tide"],
        "auto_describe": False,
        "skip_duplicates": False,
    }
    assert seen.headers["Idempotency-Key"].startswith("sdk-")
    assert (saved.image_id, saved.media_type, saved.status) == ("l1", "link", "processing")


async def test_a_retried_add_link_sends_the_same_idempotency_key() -> None:
    with ScriptedServer([(503, {}, b"busy"), ok(SAVED, 201)]) as server:
        async with client(server) as scopix:
            await scopix.files.add_link(URL)
    first, second = server.seen
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.body == second.body


async def test_a_refused_url_raises_a_validation_error_with_its_code() -> None:
    with ScriptedServer([envelope(422, "URL_REFUSED", reason="loopback")]) as server:
        async with client(server) as scopix:
            with pytest.raises(ValidationError) as caught:
                await scopix.files.add_link("http://127.1/")
    assert (caught.value.code, caught.value.details) == ("URL_REFUSED", {"reason": "loopback"})
    assert len(server.seen) == 1, "a refusal is not retried"


async def test_add_links_sends_100_urls_a_request_and_keeps_their_order() -> None:
    urls = [f"https://example.com/{n}" for n in range(230)]
    replies = [batch_answer(urls[s : s + 100]) for s in range(0, 230, 100)]
    with ScriptedServer(replies) as server:
        async with client(server) as scopix:
            results = await scopix.files.add_links(urls, tags=["reading"], skip_duplicates=True)
    bodies = [json.loads(seen.body) for seen in server.seen]
    assert [len(b["urls"]) for b in bodies] == [100, 100, 30]
    assert [u for b in bodies for u in b["urls"]] == urls
    assert all(b["tags"] == ["reading"] and b["skip_duplicates"] is True for b in bodies)
    assert len({seen.headers["Idempotency-Key"] for seen in server.seen}) == 3
    assert [r.url for r in results] == urls
    assert all(r.ok and r.file and r.file.image_id == f"id-{r.url}" for r in results)


async def test_add_links_reads_refused_urls_as_results_not_exceptions() -> None:
    answer = {
        "results": [
            {"url": URL, "file": SAVED, "error": None},
            {"url": "ftp://x/", "file": None, "error": {"code": "INVALID_URL", "message": "no"}},
        ]
    }
    with ScriptedServer([ok(answer, 201)]) as server:
        async with client(server) as scopix:
            good, bad = await scopix.files.add_links([URL, "ftp://x/"])
    assert good.ok and good.file is not None and good.file.media_type == "link"
    assert (bad.ok, bad.file, bad.error_code, bad.error_message) == (
        False,
        None,
        "INVALID_URL",
        "no",
    )


async def test_recrawl_queues_a_fetch_and_says_so() -> None:
    with ScriptedServer([ok({"file_id": "l1", "crawl_status": "pending"}, 202)]) as server:
        async with client(server) as scopix:
            queued = await scopix.files.recrawl("l1")
    (seen,) = server.seen
    assert (seen.method, seen.path) == ("POST", "/api/v2/files/l1/recrawl")
    assert "Idempotency-Key" in seen.headers
    assert queued == RecrawlResult("l1", "pending")


async def test_a_recrawl_already_queued_is_a_conflict_and_not_retried() -> None:
    with ScriptedServer([envelope(409, "CONFLICT", crawl_status="processing")]) as server:
        async with client(server) as scopix:
            with pytest.raises(ScopixError) as caught:
                await scopix.files.recrawl("l1")
    assert caught.value.code == "CONFLICT" and len(server.seen) == 1


async def test_recrawl_of_an_image_raises_wrong_media_type() -> None:
    with ScriptedServer([envelope(400, "WRONG_MEDIA_TYPE", media_type="image")]) as server:
        async with client(server) as scopix:
            with pytest.raises(WrongMediaTypeError):
                await scopix.files.recrawl("i1")


async def test_waiting_for_a_link_waits_for_its_crawl_too() -> None:
    def status(crawl: str) -> Reply:
        body = {"image_id": "l1", "status": "processing", "description_status": "pending"}
        return ok({**body, "crawl_status": crawl})

    replies = [status("pending"), status("processing"), status("completed"), ok(LINK)]
    with ScriptedServer(replies) as server:
        async with client(server, polling_interval=0.01) as scopix:
            result = await scopix.files.wait_for_description("l1")
    assert [s.path.rsplit("/", 1)[-1] for s in server.seen] == ["status"] * 3 + ["l1"]
    assert result.media_type == "link"


def test_file_details_read_every_link_field() -> None:
    details = FileDetails.from_dict(LINK)
    assert details.og_metadata == OpenGraph(**CARD)
    assert (details.source_url, details.domain, details.crawl_status) == (
        URL,
        "example.com",
        "completed",
    )
    assert details.crawled_at is not None and details.crawled_at.tzinfo is not None
    assert details.extracted_images == LINK["extracted_images"]
    assert details.extracted_images_count == 2
    image = FileDetails.from_dict({"id": "i1", "filename": "a.png", "og_metadata": None})
    assert (image.og_metadata, image.source_url, image.extracted_images) == (None, None, None)


def test_a_status_without_a_crawl_is_final_for_the_crawl() -> None:
    image = ProcessingStatus.from_dict({"image_id": "i1", "description_status": "completed"})
    assert image.is_crawl_final
    for state, final in (("pending", False), ("processing", False), ("failed", True)):
        link = ProcessingStatus.from_dict(
            {"image_id": "l1", "description_status": "pending", "crawl_status": state}
        )
        assert link.is_crawl_final is final


@given(
    st.dictionaries(
        st.sampled_from([*CARD, "locale", "url"]), st.none() | st.text(max_size=20) | st.integers()
    )
)
def test_any_open_graph_record_parses_to_text_or_none(record: dict[str, Any]) -> None:
    card = OpenGraph.from_dict(record)
    for name in CARD:
        value = getattr(card, name)
        assert value is None or isinstance(value, str)


@given(st.dictionaries(st.sampled_from(["url", "file", "error"]), st.none()))
def test_a_sparse_batch_entry_parses_as_a_failed_result(entry: dict[str, Any]) -> None:
    result = LinkResult.from_dict(entry)
    assert not result.ok and result.error_code is None


def test_the_sync_client_saves_links_and_recrawls() -> None:
    replies = [ok(SAVED, 201), batch_answer([URL]), ok({"file_id": "l1"}, 202)]
    with (
        ScriptedServer(replies) as server,
        SyncScopix(api_key="k", base_url=server.url, retry_delay=0) as scopix,
    ):
        assert scopix.files.add_link(URL).image_id == "l1"
        assert [r.url for r in scopix.files.add_links([URL])] == [URL]
        assert scopix.files.recrawl("l1").crawl_status == "pending"


def run_cli(server: ScriptedServer, *args: str) -> Any:
    env = {"SCOPIX_API_KEY": "k", "SCOPIX_BASE_URL": server.url, "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


def test_scopix_link_saves_one_url_with_its_title_and_tags() -> None:
    with ScriptedServer([ok(SAVED, 201)]) as server:
        done = run_cli(server, "link", URL, "--title", "Tides", "--tag", "sea", "--no-describe")
    assert done.exit_code == 0, done.output
    body = json.loads(server.seen[0].body)
    assert (body["title"], body["tags"], body["auto_describe"]) == ("Tides", ["sea"], False)
    assert URL in done.stdout and "l1" in done.stdout and "processing" in done.stdout


def test_scopix_link_of_several_urls_shows_a_row_each_and_fails_on_a_refusal() -> None:
    answer = {
        "results": [
            {"url": URL, "file": SAVED, "error": None},
            {
                "url": "http://10.0.0.1/",
                "file": None,
                "error": {"code": "URL_REFUSED", "message": "a private address"},
            },
        ]
    }
    with ScriptedServer([ok(answer, 201)]) as server:
        done = run_cli(server, "link", URL, "http://10.0.0.1/", "--skip-duplicates")
    assert server.seen[0].path == "/api/v2/files/links/batch"
    assert json.loads(server.seen[0].body)["skip_duplicates"] is True
    assert done.exit_code == 1
    assert "URL_REFUSED: a private address" in done.stdout and "l1" in done.stdout


def test_scopix_link_with_a_title_takes_one_url() -> None:
    with ScriptedServer([]) as server:
        done = run_cli(server, "link", URL, "https://example.org/", "--title", "T")
    assert done.exit_code == 2 and server.seen == []


def test_scopix_link_wait_shows_the_fetched_pages_title() -> None:
    status = {"image_id": "l1", "status": "completed", "description_status": "completed"}
    replies = [ok(SAVED, 201), ok({**status, "crawl_status": "completed"}), ok(LINK)]
    with ScriptedServer(replies) as server:
        done = run_cli(server, "link", URL, "--wait")
    with ScriptedServer(replies) as server:
        as_json = run_cli(server, "link", URL, "--wait", "--json")
    assert done.exit_code == 0, done.output
    assert "Tides of the North Sea" in done.stdout and "completed" in done.stdout
    (record,) = json.loads(as_json.stdout)
    assert record["file"]["page_title"] == "Tides of the North Sea"
    assert record["error_code"] is None


def test_scopix_link_wait_fails_when_the_page_could_not_be_fetched() -> None:
    failed = {**LINK, "crawl_status": "failed", "crawl_error": "the server answered 404"}
    status = {"image_id": "l1", "status": "completed", "description_status": "failed"}
    replies = [ok(SAVED, 201), ok({**status, "crawl_status": "failed"}), ok(failed)]
    with ScriptedServer(replies) as server:
        done = run_cli(server, "link", URL, "--wait")
    assert done.exit_code == 1
    assert "the server answered 404" in done.stdout


def test_scopix_recrawl_queues_a_fetch() -> None:
    with ScriptedServer([ok({"file_id": "l1", "crawl_status": "pending"}, 202)]) as server:
        done = run_cli(server, "recrawl", "l1")
    assert done.exit_code == 0, done.output
    assert "crawl status: pending" in done.stdout


def test_scopix_get_and_ls_show_a_links_site_and_title() -> None:
    page = {"items": [LINK], "total_count": 1, "has_more": False, "limit": 20, "offset": 0}
    with ScriptedServer([ok(LINK), ok(page)]) as server:
        shown = run_cli(server, "get", "l1")
        listed = run_cli(server, "ls")
    assert shown.exit_code == 0, shown.output
    for expected in (URL, "Harbour Notes", "Tides of the North Sea", "crawl", "2"):
        assert expected in shown.stdout
    assert listed.exit_code == 0, listed.output
    assert "Harbour Notes" in listed.stdout and "Tides of the North Sea" in listed.stdout


@pytest.fixture
async def app_client(tmp_path: Path) -> AsyncIterator[tuple[Scopix, Api]]:
    """The SDK talking to the real app in this process (SQLite, no workers, private
    addresses allowed so a crawl may reach the local LinkSite)."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}",
        workers=0,
        retry_base_seconds=0,
        links_allow_private=True,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        key = (await services.keys.create_key("acme", tier="starter")).plaintext
        transport = httpx.ASGITransport(app=app)
        http = httpx.AsyncClient(transport=transport, base_url="http://testserver/api/v2")
        async with Scopix(api_key=key, retry_delay=0, http_client=http) as scopix:
            yield scopix, Api(http, services, key, key, transport)


async def test_the_sdk_saves_links_and_recrawls_against_the_app(
    app_client: tuple[Scopix, Api],
) -> None:
    scopix, _ = app_client
    saved = await scopix.files.add_link(
        "HTTPS://Example.com/a#b", title="A", tags=["x"], auto_describe=False
    )
    assert (saved.filename, saved.media_type, saved.status) == (
        "https://example.com/a",
        "link",
        "processing",
    )
    details = await scopix.files.get(saved.image_id)
    assert (details.source_url, details.domain, details.crawl_status) == (
        "https://example.com/a",
        "example.com",
        "pending",
    )
    assert (details.title, details.tags) == ("A", ["x"])
    assert not (await scopix.files.get_processing_status(saved.image_id)).is_crawl_final

    urls = [f"https://example.com/{n}" for n in range(120)] + ["gopher://x/", "ftp://x/"]
    results = await scopix.files.add_links(urls, auto_describe=False, skip_duplicates=True)
    assert [r.url for r in results] == urls
    assert all(r.ok for r in results[:120])
    assert [r.error_code for r in results[120:]] == ["INVALID_URL", "INVALID_URL"]
    (again,) = await scopix.files.add_links(["https://example.com/7"], skip_duplicates=True)
    seventh = results[7].file
    assert again.file is not None and seventh is not None
    assert (again.file.image_id, again.file.deduplicated) == (seventh.image_id, True)

    with pytest.raises(ScopixError) as busy:
        await scopix.files.recrawl(saved.image_id)
    assert busy.value.code == "CONFLICT"
    with pytest.raises(ValidationError) as refused:
        await scopix.files.add_link("file:///etc/passwd")
    assert refused.value.code == "INVALID_URL"


async def test_a_failed_crawl_is_fetched_again_on_request(app_client: tuple[Scopix, Api]) -> None:
    scopix, api = app_client
    with LinkSite() as site:
        missing = await scopix.files.add_link(site.url("/404"), auto_describe=False)
        await api.drain(CRAWL)
        failed = await scopix.files.get(missing.image_id)
        assert failed.crawl_status == "failed" and failed.crawl_error
        assert await scopix.files.recrawl(missing.image_id) == RecrawlResult(
            missing.image_id, "pending"
        )
