"""Browser tests: Playwright drives Debian's Chromium against a real `scopix serve` process.

No browser is downloaded: the tests use `SCOPIX_CHROMIUM` (default `/usr/bin/chromium`), skip
with a clear message where it is absent, and fail instead with `SCOPIX_REQUIRE_CHROMIUM=1`
(`.ci/run` sets it). Screenshots of every page go to `SCOPIX_ARTIFACTS` (default
`build/artifacts`) under `browser/`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from browsertools import PageProblems, Screenshots, Site, start_site

CHROMIUM = Path(os.environ.get("SCOPIX_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("SCOPIX_ARTIFACTS", "build/artifacts")) / "browser"
#: As the machine's probe runs it: as root, with no network to phone home to.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}


# Module scope, not session: Playwright's sync API holds an event loop while it runs, and the
# asyncio tests that follow need the thread free of it.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        message = (
            f"no Chromium at {CHROMIUM}: install Debian's `chromium` package "
            "(or set SCOPIX_CHROMIUM) to run the browser tests"
        )
        if os.environ.get("SCOPIX_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"SCOPIX_REQUIRE_CHROMIUM=1 but {message}")
        pytest.skip(message)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`scopix serve` on the embedded default: SQLite, local disk, the on-device models."""
    running = start_site(tmp_path_factory.mktemp("web-data"))
    yield running
    running.server.stop()


@pytest.fixture
def key(site: Site, request: pytest.FixtureRequest) -> str:
    """A key of a tenant of this test's own, so tests never see each other's files."""
    return site.new_key(request.node.name[:60])


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def page(browser: Browser, problems: PageProblems) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.on("console", problems.console)
    page.on("pageerror", problems.error)
    yield page
    context.close()


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(ARTIFACTS / request.node.name)
