"""A saved link on the web page, in Chromium: added through its field, its card shows the site
with its favicon and the page's title, its detail the source and the page's text, and a URL
the server will not fetch says why."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from browsertools import PageProblems, Screenshots, Site, sign_in, start_site
from linkserver import ARTICLE_PARAGRAPHS, FAVICON, FOOTER_TEXT, SITE_NAME, LinkSite

#: The page fetched, read and pictured on two busy cores.
READ = 120_000  # ms


@pytest.fixture(scope="module")
def web() -> Iterator[LinkSite]:
    with LinkSite() as site:
        yield site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`scopix serve` that may fetch from 127.0.0.1, where the test's web site runs."""
    running = start_site(
        tmp_path_factory.mktemp("link-web-data"), env={"SCOPIX_LINKS_ALLOW_PRIVATE": "true"}
    )
    yield running
    running.server.stop()


def test_a_link_added_in_the_page_shows_its_site_title_and_text(
    page: Page,
    site: Site,
    key: str,
    web: LinkSite,
    screenshots: Screenshots,
    problems: PageProblems,
) -> None:
    url = web.url("/article")
    sign_in(page, site, key)
    page.get_by_label("Add a link").fill(url)
    page.get_by_role("button", name="Add link").click()
    card = page.locator("#gallery .card")
    expect(card).to_have_count(1)
    expect(page.locator("#link-url")).to_have_value("")

    expect(card).to_have_attribute("data-extraction", "completed", timeout=READ)
    expect(card.locator(".site")).to_have_text(SITE_NAME)
    expect(card.locator(".name")).to_have_text(re.compile("otters", re.IGNORECASE))
    favicon = card.locator("img.favicon")
    expect(favicon).to_have_attribute("src", web.url(FAVICON))
    expect(favicon).to_have_attribute("referrerpolicy", "no-referrer")
    expect(favicon).to_have_js_property("complete", True)
    assert favicon.evaluate("i => i.naturalWidth") == 32
    thumbnail = card.locator(".thumb img")
    expect(thumbnail).to_have_js_property("complete", True, timeout=READ)
    assert thumbnail.evaluate("i => i.naturalWidth") > 0
    screenshots.take(page, "link-gallery")

    card.locator("a.open").click()
    detail = page.locator("#detail")
    source = detail.locator("a.source-url")
    expect(source).to_have_attribute("href", url)
    expect(source).to_have_attribute("target", "_blank")
    expect(source).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(detail.locator("#d-link")).to_contain_text("completed")
    text = detail.locator(".page-text")
    expect(text).to_contain_text(ARTICLE_PARAGRAPHS[0][:60])
    expect(text).not_to_contain_text(FOOTER_TEXT)
    screenshots.take(page, "link-detail", full_page=False)
    page.locator("#detail-close").click()

    # A URL the server will not fetch is refused where it was typed, and nothing is saved.
    page.get_by_label("Add a link").fill("ftp://files.example.com/otters.txt")
    page.get_by_role("button", name="Add link").click()
    expect(page.locator("#link-error")).to_contain_text("INVALID_URL")
    expect(page.locator("#link-url")).to_have_value("ftp://files.example.com/otters.txt")
    expect(card).to_have_count(1)
    screenshots.take(page, "link-refused", full_page=False)
    assert [m for m in problems.messages if "status of 422" not in m] == []  # the refused URL
