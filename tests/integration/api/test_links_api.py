"""Links through the API, on SQLite and PostgreSQL: saving one URL or a batch, the URLs refused
before anything is recorded, the link fields on details, listings and status, deduplication by
normalized URL, Idempotency-Key replays, and recrawls (queued, busy, not a link, not yours).

No worker runs here: a saved link stays `crawl_status="pending"` unless a test drains its crawl.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from apiclient import Api, running_api
from imagefactory import png_bytes
from linkserver import (
    ARTICLE_IMAGES,
    ARTICLE_TITLE,
    FAVICON,
    OG_DESCRIPTION,
    OG_TITLE,
    OG_TYPE,
    SITE_NAME,
    LinkSite,
)
from scopix.server.jobs.records import CRAWL
from scopix.server.settings import Settings

FILES = "/api/v2/files"
LINKS = f"{FILES}/links"
URL = "https://example.com/articles/tides"
LINK_FIELDS = (
    "source_url",
    "domain",
    "page_title",
    "og_metadata",
    "favicon_url",
    "crawl_status",
    "crawl_error",
    "crawled_at",
    "extracted_images",
    "extracted_images_count",
)
#: URLs refused before anything is recorded, with the code each gets.
REFUSED = [
    ("file:///etc/passwd", "INVALID_URL"),
    ("gopher://example.com/1", "INVALID_URL"),
    ("ftp://example.com/file.txt", "INVALID_URL"),
    ("javascript:alert(1)", "INVALID_URL"),
    ("http://", "INVALID_URL"),
    ("http://user:secret@example.com/", "INVALID_URL"),
    ("http://127.1/", "URL_REFUSED"),
    ("http://2130706433/", "URL_REFUSED"),
    ("http://0x7f.1/", "URL_REFUSED"),
    ("http://[::1]/", "URL_REFUSED"),
    ("http://[::ffff:127.0.0.1]/", "URL_REFUSED"),
    ("http://10.0.0.1/", "URL_REFUSED"),
    ("http://169.254.169.254/latest/meta-data/", "URL_REFUSED"),
]


async def post(api: Api, path: str, body: Any, status: int = 201, **kwargs: Any) -> Any:
    response = await api.client.post(path, json=body, **kwargs)
    assert response.status_code == status, (path, body, response.text)
    return response.json()


async def get(api: Api, path: str, status: int = 200) -> Any:
    response = await api.client.get(path)
    assert response.status_code == status, (path, response.text)
    return response.json()


async def listed(api: Api) -> list[str]:
    return [item["id"] for item in (await get(api, FILES))["items"]]


@pytest.fixture
async def open_api(settings: Settings) -> AsyncIterator[Api]:
    """The app with private addresses allowed, so a crawl can reach the local LinkSite."""
    async with running_api(settings.model_copy(update={"links_allow_private": True})) as api:
        yield api


async def test_a_link_is_saved_at_once_and_its_fetch_queued(api: Api) -> None:
    saved = await post(api, LINKS, {"url": "HTTPS://Example.COM:443/articles/tides#part-2"})
    assert saved["filename"] == URL, "the normalized URL names the file"
    assert (saved["media_type"], saved["status"]) == ("link", "processing")
    assert saved["description_status"] == "queued"
    assert saved["deduplicated"] is False
    assert saved["thumbnail_url"] is None

    details = await get(api, f"{FILES}/{saved['image_id']}")
    assert (details["source_url"], details["domain"]) == (URL, "example.com")
    assert (details["crawl_status"], details["crawl_error"], details["crawled_at"]) == (
        "pending",
        None,
        None,
    )
    for name in ("page_title", "og_metadata", "favicon_url", "extracted_images"):
        assert details[name] is None, name
    assert details["media_type"] == "link" and details["mime_type"] == "text/uri-list"
    status = await get(api, f"{FILES}/{saved['image_id']}/status")
    assert (status["crawl_status"], status["crawl_error_type"]) == ("pending", None)
    assert status["description_status"] == "queued"
    (item,) = (await get(api, FILES))["items"]
    assert (item["id"], item["source_url"], item["crawl_status"]) == (
        saved["image_id"],
        URL,
        "pending",
    )


async def test_a_links_title_tags_and_options_are_kept(api: Api) -> None:
    body = {"url": URL, "title": "Tides", "tags": "sea, tide", "auto_describe": False}
    saved = await post(api, LINKS, body)
    assert saved["description_status"] == "pending"
    details = await get(api, f"{FILES}/{saved['image_id']}")
    assert (details["title"], details["tags"], details["auto_describe"]) == (
        "Tides",
        ["sea", "tide"],
        False,
    )
    listed_tags = await post(api, LINKS, {"url": URL + "/2", "tags": ["a", "b"]})
    assert (await get(api, f"{FILES}/{listed_tags['image_id']}"))["tags"] == ["a", "b"]


async def test_files_that_are_not_links_carry_null_link_fields(api: Api) -> None:
    uploaded = await api.client.post(
        f"{FILES}/upload", files={"file": ("a.png", png_bytes(32, 32))}, data={"auto_describe": "0"}
    )
    image_id = uploaded.json()["image_id"]
    details = await get(api, f"{FILES}/{image_id}")
    assert all(details[name] is None for name in LINK_FIELDS)
    status = await get(api, f"{FILES}/{image_id}/status")
    assert (status["crawl_status"], status["crawl_error"], status["crawl_error_type"]) == (
        None,
        None,
        None,
    )


@pytest.mark.parametrize(("url", "code"), REFUSED)
async def test_a_url_that_must_not_be_fetched_is_refused_and_nothing_is_recorded(
    api: Api, url: str, code: str
) -> None:
    refused = await post(api, LINKS, {"url": url}, status=422)
    assert refused["error"]["code"] == code, refused
    assert refused["error"]["message"]
    assert await listed(api) == []


async def test_a_malformed_body_is_a_validation_error(api: Api) -> None:
    bodies: list[Any] = [
        {},
        {"url": ""},
        {"url": None},
        {"url": 42},
        {"url": "https://example.com/" + "a" * 2029},  # 2049 characters
        {"url": URL, "title": "t" * 256},
        {"url": URL, "tags": ["x" * 51]},
        {"url": URL, "tags": [f"t{n}" for n in range(41)]},
        {"url": URL, "auto_describe": "maybe"},
        {"url": URL, "colour": "red"},
        [URL],
    ]
    for body in bodies:
        refused = await post(api, LINKS, body, status=422)
        assert refused["error"]["code"] == "VALIDATION_ERROR", body
    assert await listed(api) == []
    exactly = "https://example.com/" + "a" * 2028  # 2048 characters: the longest taken
    assert (await post(api, LINKS, {"url": exactly}))["filename"] == exactly[:255]


async def test_a_batch_keeps_its_order_and_refuses_bad_urls_one_by_one(api: Api) -> None:
    urls = [URL, "ftp://example.com/x", "https://example.org/", "http://10.0.0.1/", URL]
    answer = await post(
        api, f"{LINKS}/batch", {"urls": urls, "tags": ["reading"], "auto_describe": False}
    )
    results = answer["results"]
    assert [r["url"] for r in results] == urls
    assert [r["error"]["code"] if r["error"] else None for r in results] == [
        None,
        "INVALID_URL",
        None,
        "URL_REFUSED",
        None,
    ]
    saved = [r["file"] for r in results if r["file"]]
    assert [f["filename"] for f in saved] == [URL, "https://example.org/", URL]
    assert all(f["media_type"] == "link" and f["description_status"] == "pending" for f in saved)
    assert all(r["file"] is None for r in results if r["error"])
    assert len(set(await listed(api))) == 3
    details = await get(api, f"{FILES}/{saved[1]['image_id']}")
    assert details["tags"] == ["reading"]


async def test_a_batch_holds_1_to_100_urls(api: Api) -> None:
    for urls in ([], [f"https://example.com/{n}" for n in range(101)]):
        refused = await post(api, f"{LINKS}/batch", {"urls": urls}, status=422)
        assert refused["error"]["code"] == "VALIDATION_ERROR"
    assert await listed(api) == []
    full = [f"https://example.com/{n}" for n in range(100)]
    answer = await post(api, f"{LINKS}/batch", {"urls": full, "auto_describe": False})
    assert [r["file"]["filename"] for r in answer["results"]] == full


async def test_skip_duplicates_finds_the_same_page_however_its_url_is_spelled(api: Api) -> None:
    first = await post(api, LINKS, {"url": URL, "auto_describe": False})
    again = await post(
        api,
        LINKS,
        {"url": "https://EXAMPLE.com:443/articles/tides#top", "skip_duplicates": True},
    )
    assert again["image_id"] == first["image_id"]
    assert (again["deduplicated"], again["status"]) == (True, "skipped")
    second = await post(api, LINKS, {"url": URL, "auto_describe": False})
    assert second["image_id"] != first["image_id"], "without skip_duplicates: a new link"
    assert len(await listed(api)) == 2


async def test_an_idempotency_key_saves_the_link_once(api: Api) -> None:
    headers = {"Idempotency-Key": "link-once"}
    first = await api.client.post(LINKS, json={"url": URL}, headers=headers)
    replay = await api.client.post(LINKS, json={"url": URL}, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json() == first.json()
    other = await api.client.post(LINKS, json={"url": URL + "/b"}, headers=headers)
    assert other.status_code == 422 and other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await listed(api) == [first.json()["image_id"]]


async def test_saving_links_needs_the_write_scope(api: Api) -> None:
    made = await api.services.keys.create_key("acme", scopes=("read",))
    reader = {"Authorization": f"Bearer {made.plaintext}"}
    saved = await post(api, LINKS, {"url": URL})
    for path, body in (
        (LINKS, {"url": URL}),
        (f"{LINKS}/batch", {"urls": [URL]}),
        (f"{FILES}/{saved['image_id']}/recrawl", None),
    ):
        refused = await post(api, path, body, status=403, headers=reader)
        assert refused["error"]["code"] == "PERMISSION_DENIED"
    anonymous = await api.client.post(LINKS, json={"url": URL}, headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert await listed(api) == [saved["image_id"]]


async def test_recrawl_is_refused_while_a_crawl_is_queued_and_for_files_not_links(
    api: Api,
) -> None:
    saved = await post(api, LINKS, {"url": URL})
    busy = await post(api, f"{FILES}/{saved['image_id']}/recrawl", None, status=409)
    assert busy["error"]["code"] == "CONFLICT"
    assert busy["error"]["details"]["crawl_status"] == "pending"

    uploaded = await api.client.post(f"{FILES}/upload", files={"file": ("a.png", png_bytes(8, 8))})
    image = await post(api, f"{FILES}/{uploaded.json()['image_id']}/recrawl", None, status=400)
    assert image["error"]["code"] == "WRONG_MEDIA_TYPE"

    for missing in ("0190a0a0-0000-7000-8000-000000000000", "not-an-id"):
        gone = await post(api, f"{FILES}/{missing}/recrawl", None, status=404)
        assert gone["error"]["code"] == "NOT_FOUND"
    theirs = await api.client.post(
        f"{FILES}/{saved['image_id']}/recrawl", headers=api.auth(api.other_key)
    )
    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "NOT_FOUND"
    assert (
        await api.client.get(f"{FILES}/{saved['image_id']}", headers=api.auth(api.other_key))
    ).status_code == 404


async def test_a_finished_crawl_can_be_queued_again(open_api: Api) -> None:
    api = open_api
    with LinkSite() as site:
        saved = await post(api, LINKS, {"url": site.url("/404"), "auto_describe": False})
        file_id = saved["image_id"]
        await api.drain(CRAWL)
        crawled = await get(api, f"{FILES}/{file_id}/status")
        assert crawled["crawl_status"] == "failed" and crawled["crawl_error"]

        queued = await post(api, f"{FILES}/{file_id}/recrawl", None, status=202)
        assert queued == {"file_id": file_id, "crawl_status": "pending"}
        assert (await get(api, f"{FILES}/{file_id}/status"))["crawl_status"] == "pending"
        await post(api, f"{FILES}/{file_id}/recrawl", None, status=409)
        await api.drain(CRAWL)
    assert [r.path for r in site.requests].count("/404") == 2
    assert (await get(api, f"{FILES}/{file_id}"))["crawl_status"] == "failed"


async def test_a_fetched_article_shows_its_page_fields_on_details_listings_and_status(
    open_api: Api,
) -> None:
    api = open_api
    with LinkSite() as site:
        url = site.url("/article")
        saved = await post(api, LINKS, {"url": url, "auto_describe": False})
        await api.drain()
    file_id = saved["image_id"]
    details = await get(api, f"{FILES}/{file_id}")
    assert (details["crawl_status"], details["crawl_error"]) == ("completed", None)
    assert details["crawled_at"] is not None
    assert (details["source_url"], details["domain"]) == (url, "127.0.0.1")
    assert details["page_title"].startswith(ARTICLE_TITLE)
    assert details["og_metadata"] == {
        "title": OG_TITLE,
        "description": OG_DESCRIPTION,
        "image": site.url("/og.png"),
        "site_name": SITE_NAME,
        "type": OG_TYPE,
    }
    assert details["favicon_url"] == site.url(FAVICON)
    assert details["extracted_images"] == [site.url(path) for path in ARTICLE_IMAGES]
    assert details["extracted_images_count"] == len(ARTICLE_IMAGES)
    assert (details["media_type"], details["mime_type"]) == ("link", "multipart/related")
    assert details["thumbnail_url"] is not None
    (item,) = (await get(api, FILES))["items"]
    assert {name: item[name] for name in LINK_FIELDS} == {
        name: details[name] for name in LINK_FIELDS
    }
    status = await get(api, f"{FILES}/{file_id}/status")
    assert (status["crawl_status"], status["crawl_error_type"]) == ("completed", None)
    assert status["crawled_at"] == details["crawled_at"]


async def test_the_link_routes_are_documented(api: Api) -> None:
    paths = (await get(api, "/api/v2/openapi.json"))["paths"]
    assert {"post"} <= set(paths[f"{LINKS}"]) and "post" in paths[f"{LINKS}/batch"]
    assert "202" in paths[f"{FILES}/{{file_id}}/recrawl"]["post"]["responses"]
    assert "422" in paths[LINKS]["post"]["responses"]
