"""Helpers of the browser tests: a server to browse, what went wrong in a page, screenshots."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Page, expect

from scopix.server.testing import ServerProcess, create_key, start_server


@dataclass
class Site:
    """A running server and where it keeps its data."""

    server: ServerProcess
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.server.base_url}/"

    def new_key(self, tenant: str) -> str:
        return create_key(self.data_dir, self.env, tenant=tenant)


def start_site(data_dir: Path, env: dict[str, str] | None = None) -> Site:
    return Site(start_server(data_dir, env=env), data_dir, env or {})


@dataclass
class PageProblems:
    """What went wrong inside the page: script errors and console errors (a refused request,
    a Content-Security-Policy violation)."""

    messages: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.messages.append(f"console: {message.text}")

    def error(self, error: Exception) -> None:
        self.messages.append(f"script error: {error}")


class Screenshots:
    """Saves full-page screenshots under the artifacts folder, one file per name."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def take(self, page: Page, name: str, *, full_page: bool = True) -> Path:
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path


def sign_in(page: Page, site: Site, key: str) -> None:
    """Sign the page in with `key` and wait until the gallery has loaded."""
    page.goto(site.url)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#summary")).not_to_be_empty()
