"""The page follows the server's events, in Chromium: a file uploaded through the API, not the
page, shows up, changes as it is described and leaves when deleted, and nothing asks the server
again and again whether anything changed; the key travels in headers only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

from browsertools import PageProblems, Screenshots, Site, sign_in, start_site
from vlmserver import FakeVLMServer

PHOTOS = Path(__file__).parent.parent / "assets" / "photos"
#: How long the fake model takes to describe: the old page would have asked four times.
DESCRIBING = 6.0  # s
DESCRIPTION = "A cup of coffee on a saucer."
MOVING = re.compile(r"^(queued|processing)$")

#: Chunks of a stream as the network may cut them: a line split across two, "\r\n" split
#: between its halves, a comment, a `retry:`, an event of two data lines, one never ended.
SSE_CHUNKS = [
    "retry: 1000\n\n: keep-alive\n\nid: 0-1\nevent: file.uploaded\nda",
    'ta: {"a":1}\r',
    "\n\r\nid: 0-2\ndata: x\ndata:y\n\n",
    "data: cut off",
]
READ_SSE = """async (chunks) => {
  const bytes = new TextEncoder();
  const body = new ReadableStream({
    start(stream) {
      for (const chunk of chunks) stream.enqueue(bytes.encode(chunk));
      stream.close();
    },
  });
  const events = [];
  const retries = [];
  await window.Scopix.readEvents(body, (event) => events.push(event), (ms) => retries.push(ms));
  return { events, retries };
}"""


@pytest.fixture(scope="module")
def vlm() -> Iterator[FakeVLMServer]:
    with FakeVLMServer() as server:
        server.behave("slow", delay=DESCRIBING, description=DESCRIPTION, tags=["coffee"])
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, vlm: FakeVLMServer) -> Iterator[Site]:
    """`scopix serve` describing with the fake model (no on-device models to wait for)."""
    env = {
        "SCOPIX_ONDEVICE": "false",
        "SCOPIX_VLM_BASE_URL": vlm.base_url,
        "SCOPIX_VLM_MODEL": vlm.model,
    }
    running = start_site(tmp_path_factory.mktemp("live-data"), env)
    yield running
    running.server.stop()


def api(site: Site, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{site.server.base_url}/api/v2", headers={"Authorization": f"Bearer {key}"}
    )


def folder_count(page: Page, name: str) -> Any:
    return page.locator("#folder-tree .folder", has_text=name).locator(".count")


def test_a_file_uploaded_elsewhere_shows_up_settles_and_leaves_by_events(
    page: Page, site: Site, key: str, screenshots: Screenshots, problems: PageProblems
) -> None:
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    with api(site, key) as client:
        body = {"name": "Trips", "parent_id": None, "project_id": None}
        trips = client.post("/folders", json=body).raise_for_status().json()["id"]

    def is_stream(request: Request) -> bool:
        return "/api/v2/events?after=" in request.url and "timeout=0" not in request.url

    with page.expect_request(is_stream) as streamed:
        sign_in(page, site, key)
    stream = streamed.value.all_headers()
    assert stream["accept"] == "text/event-stream"
    assert stream["authorization"] == f"Bearer {key}"
    expect(folder_count(page, "Trips")).to_have_text("0 files")

    # Uploaded elsewhere: its card comes, the folder counts it, and it is described later.
    with api(site, key) as client, (PHOTOS / "coffee.png").open("rb") as photo:
        answer = client.post(
            "/files/upload", files={"file": ("coffee.png", photo)}, data={"folder_id": trips}
        )
        file_id = answer.raise_for_status().json()["image_id"]
    card = page.locator(f"#gallery .card[data-id='{file_id}']")
    expect(card).to_have_attribute("data-status", MOVING)
    expect(page.locator("#summary")).to_have_text("1 file")
    expect(folder_count(page, "Trips")).to_have_text("1 file")
    card.locator("a.open").click()
    detail = page.locator("#detail")
    expect(detail.locator(".detail")).to_have_attribute("data-status", MOVING)
    expect(detail.locator(".description")).to_have_text(DESCRIPTION, timeout=30_000)
    expect(card).to_have_attribute("data-status", "completed")
    expect(card.locator("img")).to_have_js_property("complete", True)
    screenshots.take(page, "described-by-events", full_page=False)

    # One card answer when it came, one when it was described: none while it was described.
    cards = [r.url for r in requests if "/ui/cards" in r.url]
    assert len(cards) == 2, cards
    details = [r.url for r in requests if r.url.endswith(f"/ui/files/{file_id}")]
    assert len(details) == 2, details  # opened, then shown again once described

    # Deleted elsewhere: the detail view closes, the card and the count go.
    with api(site, key) as client:
        client.delete(f"/files/{file_id}").raise_for_status()
    expect(detail).to_be_hidden()
    expect(card).to_have_count(0)
    expect(page.locator("#summary")).to_have_text(re.compile("^No files yet"))
    expect(folder_count(page, "Trips")).to_have_text("0 files")

    # The stream as the page reads it, however the network cuts it.
    read = page.evaluate(READ_SSE, SSE_CHUNKS)
    assert read == {
        "events": [
            {"type": "file.uploaded", "data": '{"a":1}', "id": "0-1"},
            {"type": "message", "data": "x\ny", "id": "0-2"},
        ],
        "retries": [1000],
    }

    assert len([r for r in requests if is_stream(r)]) == 1  # never dropped: never opened again

    # A reload follows on from where the page was, without asking where the stream is now.
    reloaded = len(requests)
    with page.expect_request(is_stream):
        page.reload()
    assert [r.url for r in requests[reloaded:] if "after=now" in r.url] == []
    page.get_by_role("button", name="Sign out").click()
    assert page.evaluate("sessionStorage.length") == 0

    secret = key.split("_", 2)[2]
    assert [r.url for r in requests if secret in r.url] == []
    assert problems.messages == []
