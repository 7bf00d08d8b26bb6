"""Links through the SDK against real `scopix serve` processes and a real local web site.

One server lets links reach 127.0.0.1 (`SCOPIX_LINKS_ALLOW_PRIVATE=true`, as an intranet would)
and saves an article, a PDF, a compression bomb and a slow drip; a second one keeps the default
and refuses the same site in every spelling, while the site's request log stays empty.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from ipaddress import ip_address
from pathlib import Path

import pytest
import pyvips

from linkserver import (
    ARTICLE_IMAGES,
    ARTICLE_PARAGRAPHS,
    ARTICLE_TITLE,
    COOKIE_TEXT,
    FAVICON,
    FOOTER_TEXT,
    NAV_TEXT,
    OG_COLOUR,
    OG_DESCRIPTION,
    OG_TITLE,
    OG_TYPE,
    SITE_NAME,
    LinkSite,
)
from scopix import Scopix, ValidationError
from scopix.server.domain.addresses import refusal
from scopix.server.testing import ServerProcess, create_key, start_server

README = Path(__file__).parents[2] / "README.md"
#: The examples' placeholder pages, and the test site's pages that stand in for them.
EXAMPLE_PAGES = {
    "https://example.com/otters": "/article",
    "https://example.com/a": "/no-image-article",
}
#: Short enough that a slow drip's three attempts end in seconds; a local page takes far less.
DEADLINE_SECONDS = "2"
#: The article is described by the on-device models, on two busy cores.
SETTLED = 300.0


@pytest.fixture(scope="module")
def web() -> Iterator[LinkSite]:
    with LinkSite() as site:
        yield site


@pytest.fixture(scope="module")
def intranet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    """A server that may fetch from 127.0.0.1, and a key of it."""
    data = tmp_path_factory.mktemp("links-allowed")
    env = {"SCOPIX_LINKS_ALLOW_PRIVATE": "true", "SCOPIX_LINKS_DEADLINE_SECONDS": DEADLINE_SECONDS}
    server = start_server(data, env=env)
    yield server, create_key(data, env, tenant="reader")
    server.stop()


@pytest.fixture
async def client(intranet: tuple[ServerProcess, str]) -> AsyncIterator[Scopix]:
    server, key = intranet
    async with Scopix(api_key=key, base_url=f"{server.base_url}/api/v2") as scopix:
        yield scopix


async def test_an_article_is_read_without_its_chrome_pictured_by_its_og_image_and_found(
    client: Scopix, web: LinkSite
) -> None:
    url = web.url("/article")
    added = await client.files.add_link(url, tags=["rivers"])
    assert (added.media_type, added.status) == ("link", "processing")
    await client.files.wait_for_description(added.image_id, timeout=SETTLED)

    link = await client.files.get(added.image_id)
    assert (link.media_type, link.crawl_status, link.crawl_error) == ("link", "completed", None)
    assert (link.source_url, link.domain) == (url, "127.0.0.1")
    assert link.page_title is not None
    assert ARTICLE_TITLE in link.page_title or link.page_title == OG_TITLE
    og = link.og_metadata
    assert og is not None
    assert (og.title, og.description, og.site_name, og.type) == (
        OG_TITLE,
        OG_DESCRIPTION,
        SITE_NAME,
        OG_TYPE,
    )
    assert og.image == web.url("/og.png")
    assert link.favicon_url == web.url(FAVICON)
    assert link.extracted_images == [web.url(path) for path in ARTICLE_IMAGES]
    assert link.extracted_images_count == len(ARTICLE_IMAGES)
    assert link.crawled_at is not None
    assert link.description_status == "completed"

    text = (await client.files.get_text(added.image_id)).text
    for paragraph in ARTICLE_PARAGRAPHS:
        assert paragraph[:60] in text
    for chrome in (*NAV_TEXT.split(), COOKIE_TEXT, FOOTER_TEXT):
        assert chrome not in text

    thumbnail = pyvips.Image.new_from_buffer(
        await client.files.get_variant(added.image_id, "small_256"), ""
    )
    mean = [thumbnail.extract_band(band).avg() for band in range(3)]
    assert all(abs(got - want) < 12 for got, want in zip(mean, OG_COLOUR, strict=True)), mean

    found = await client.files.list(search="otters hunt at dusk among the reeds")
    assert added.image_id in [item.id for item in found.items]
    hits = await client.documents.search("electric fences around the fish ponds", limit=5)
    assert hits.items and hits.items[0].document_id == added.image_id

    again = await client.files.add_link(url + "#comments", skip_duplicates=True)
    assert (again.image_id, again.deduplicated) == (added.image_id, True)


async def test_a_pdf_url_becomes_a_document_with_its_pages(client: Scopix, web: LinkSite) -> None:
    added = await client.files.add_link(web.url("/doc.pdf"), auto_describe=False)
    await client.files.wait_for_description(added.image_id, timeout=SETTLED)

    document = await client.files.get(added.image_id)
    assert (document.media_type, document.document_type) == ("document", "pdf")
    assert (document.crawl_status, document.source_url) == ("completed", web.url("/doc.pdf"))
    assert document.page_count == 2
    text = await client.files.get_text(added.image_id)
    assert [page.page for page in text.pages] == [1, 2]
    assert "Otter census 2026" in text.pages[0].text


@pytest.mark.parametrize(
    ("path", "error_type"), [("/gzip-bomb", "resource_limit"), ("/slow-drip", "timeout")]
)
async def test_a_bomb_and_a_slow_drip_end_as_failed_crawls(
    client: Scopix, web: LinkSite, path: str, error_type: str
) -> None:
    added = await client.files.add_link(web.url(path), auto_describe=False)
    await client.files.wait_for_description(added.image_id, timeout=SETTLED)

    status = await client.files.get_processing_status(added.image_id)
    assert (status.crawl_status, status.crawl_error_type) == ("failed", error_type)
    assert status.crawl_error
    link = await client.files.get(added.image_id)
    assert (link.media_type, link.status) == ("link", "completed")


@pytest.fixture(scope="module")
def inside() -> Iterator[LinkSite]:
    """A site on the server's own machine, which a server with the flag off must never reach."""
    with LinkSite() as site:
        yield site
        assert site.requests == []


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    """A server with the default rules, and a key of it."""
    data = tmp_path_factory.mktemp("links-default")
    server = start_server(data)
    yield server, create_key(data, {}, tenant="outsider")
    server.stop()


@pytest.fixture
async def outside_client(outside: tuple[ServerProcess, str]) -> AsyncIterator[Scopix]:
    server, key = outside
    async with Scopix(api_key=key, base_url=f"{server.base_url}/api/v2") as scopix:
        yield scopix


async def test_with_the_flag_off_an_inside_address_is_refused_in_every_spelling(
    outside_client: Scopix, inside: LinkSite
) -> None:
    port = inside.port
    for literal in (
        inside.url("/article"),
        f"http://127.1:{port}/article",
        f"http://2130706433:{port}/article",
        f"http://0x7f.0.0.1:{port}/article",
        f"http://[::1]:{port}/article",
        f"http://[::ffff:127.0.0.1]:{port}/article",
        f"http://localhost:{port}/article",
    ):
        with pytest.raises(ValidationError) as refused:
            await outside_client.files.add_link(literal)
        assert refused.value.status_code == 422
        assert refused.value.code == "URL_REFUSED", literal
    assert (await outside_client.files.list()).total_count == 0
    assert inside.requests == []


async def test_with_the_flag_off_a_name_resolving_inside_fails_its_crawl(
    outside_client: Scopix, inside: LinkSite
) -> None:
    name = socket.gethostname()  # the machine's own name: its hosts file or DNS points inside
    try:
        answers = {info[4][0] for info in socket.getaddrinfo(name, inside.port)}
    except socket.gaierror:
        pytest.skip(f"this machine's name {name} does not resolve")
    if not answers or any(refusal(ip_address(a.split("%")[0])) is None for a in answers):
        pytest.skip(f"this machine's name {name} resolves to a public address: {answers}")

    named = await outside_client.files.add_link(
        f"http://{name}:{inside.port}/article", auto_describe=False
    )
    await outside_client.files.wait_for_description(named.image_id, timeout=SETTLED)
    status = await outside_client.files.get_processing_status(named.image_id)
    assert (status.crawl_status, status.crawl_error_type) == ("failed", "validation")
    assert status.crawl_error
    assert inside.requests == []


def readme_links_example() -> tuple[str, str]:
    """The Python example and the `scopix link` command of the README's Links section."""
    section = README.read_text().split("\n## Links\n", 1)[1].split("\n## ", 1)[0]
    python = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    command = re.search(r"`(scopix link \S+ --wait)`", section)
    assert python is not None and command is not None
    return python.group(1), command.group(1)


def on_the_test_site(text: str, web: LinkSite) -> str:
    for example, path in EXAMPLE_PAGES.items():
        text = text.replace(example, web.url(path))
    return text


def test_the_readme_examples_run_as_written(
    intranet: tuple[ServerProcess, str], web: LinkSite
) -> None:
    server, key = intranet
    env = {**os.environ, "SCOPIX_API_KEY": key, "SCOPIX_BASE_URL": f"{server.base_url}/api/v2"}
    python, command = (on_the_test_site(part, web) for part in readme_links_example())

    ran = subprocess.run(
        [sys.executable, "-c", python], env=env, capture_output=True, text=True, timeout=SETTLED
    )
    assert ran.returncode == 0, ran.stderr
    assert "completed" in ran.stdout and ARTICLE_PARAGRAPHS[0][:40] in ran.stdout
    assert SITE_NAME in ran.stdout
    assert "INVALID_URL" in ran.stdout

    cli = subprocess.run(
        [sys.executable, "-m", "scopix", *command.split()[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=SETTLED,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "otters" in cli.stdout.lower()
