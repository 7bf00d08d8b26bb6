"""The web page's links: the "Add a link" route, and what a saved page said shown as text.

No page is fetched here (the crawl job is never run): what a crawl would have written is set on
the file, hostile where a hostile page could make it so.
"""

from __future__ import annotations

import re
from typing import Any

from apiclient import Api
from scopix.server.catalog.models import File

URL = "https://news.example.com/otters"
HOSTILE = '<img src=x onerror="alert(1)">'
ESCAPED = "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"


async def add(api: Api, url: str, key: str | None = None) -> tuple[int, str]:
    response = await api.client.post("/ui/links", json={"url": url}, headers=api.auth(key))
    return response.status_code, response.text


async def added_id(api: Api, url: str = URL) -> str:
    status, html = await add(api, url)
    assert status == 201, html
    found = re.search(r'<li class="card link-card" data-id="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


async def crawled(api: Api, file_id: str, **columns: Any) -> None:
    """Sets what a crawl of the page would have written."""
    async with api.services.keys.uows.write() as uow:
        file = await uow.session.get(File, file_id)
        assert file is not None
        for name, value in columns.items():
            setattr(file, name, value)
        await uow.commit()


async def test_a_link_added_in_the_page_answers_with_its_card(api: Api) -> None:
    status, html = await add(api, URL)
    assert status == 201, html
    assert 'class="card link-card"' in html
    assert 'data-extraction="pending"' in html
    assert 'data-moving="yes"' in html
    assert "news.example.com" in html
    gallery = (await api.client.get("/ui/gallery")).text
    assert "news.example.com" in gallery


async def test_a_url_the_server_will_not_fetch_is_refused_with_its_code(api: Api) -> None:
    for url, code in (
        ("ftp://news.example.com/otters.txt", "INVALID_URL"),
        ("file:///etc/passwd", "INVALID_URL"),
        ("http://127.0.0.1:8080/", "URL_REFUSED"),
        ("http://169.254.169.254/latest/meta-data/", "URL_REFUSED"),
    ):
        response = await api.client.post("/ui/links", json={"url": url})
        assert response.status_code == 422, url
        assert response.json()["error"]["code"] == code, url
    assert (await api.client.get("/api/v2/files")).json()["total_count"] == 0


async def test_a_read_only_key_cannot_add_a_link(api: Api) -> None:
    reader = await api.services.keys.create_key("acme", scopes=("read",))
    status, _ = await add(api, URL, key=reader.plaintext)
    assert status == 403


async def test_what_a_page_said_is_shown_as_text(api: Api) -> None:
    file_id = await added_id(api)
    await crawled(
        api,
        file_id,
        page_title=HOSTILE,
        og_metadata={"site_name": HOSTILE, "title": HOSTILE},
        favicon_url="javascript:alert(1)",
        crawl_status="failed",
        crawl_error=f"the page said {HOSTILE}",
        crawl_error_type="validation",
    )
    for html in (
        (await api.client.get("/ui/gallery")).text,
        (await api.client.get(f"/ui/files/{file_id}")).text,
    ):
        assert "<img src=x" not in html
        assert ESCAPED in html
        assert "javascript:" not in html
        assert 'class="favicon"' not in html
    detail = (await api.client.get(f"/ui/files/{file_id}")).text
    assert "Not fetched: validation" in detail
    assert f"the page said {ESCAPED}" in detail


async def test_a_fetched_link_shows_its_site_favicon_and_source(api: Api) -> None:
    file_id = await added_id(api)
    await crawled(
        api,
        file_id,
        page_title="Otters return to the Elbe",
        og_metadata={"site_name": "Riverside Journal"},
        favicon_url="https://news.example.com/favicon.ico",
    )
    card = (await api.client.get(f"/ui/cards?ids={file_id}")).text
    assert "Otters return to the Elbe" in card
    assert "Riverside Journal" in card
    favicon = re.search(r'<img class="favicon"[^>]*>', card)
    assert favicon is not None
    assert 'src="https://news.example.com/favicon.ico"' in favicon.group(0)
    assert 'referrerpolicy="no-referrer"' in favicon.group(0)
    detail = (await api.client.get(f"/ui/files/{file_id}")).text
    source = re.search(r'<a class="source-url"[^>]*>', detail)
    assert source is not None
    assert f'href="{URL}"' in source.group(0)
    assert 'target="_blank"' in source.group(0)
    assert 'rel="noopener noreferrer nofollow"' in source.group(0)


async def test_the_page_may_show_favicons_from_other_sites_and_nothing_else(api: Api) -> None:
    policy = (await api.client.get("/", headers={"Authorization": ""})).headers[
        "content-security-policy"
    ]
    assert "img-src 'self' https: http:;" in policy
    assert "default-src 'none';" in policy
    assert "connect-src 'self';" in policy
