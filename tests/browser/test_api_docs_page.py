"""The API docs page in Chromium: Swagger UI renders the API from this server alone, with no
Content-Security-Policy violation and no request to any other origin."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Page, Request, expect

from browsertools import PageProblems, Screenshots, Site


def test_swagger_ui_renders_offline_under_the_csp(
    page: Page, site: Site, problems: PageProblems, screenshots: Screenshots
) -> None:
    requested: list[str] = []

    def record(request: Request) -> None:
        requested.append(request.url)

    page.on("request", record)
    page.goto(f"{site.server.base_url}/api/v2/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Scopix")
    # Try a call from the page: it runs in the page's origin, under its connect-src.
    health = page.locator("#operations-system-healthz_healthz_get")
    health.locator(".opblock-summary").click()
    health.get_by_role("button", name="Try it out").click()
    health.get_by_role("button", name="Execute").click()
    expect(health.locator(".live-responses-table tbody .response-col_status")).to_contain_text(
        "200"
    )
    page.locator(".models .json-schema-2020-12-expand-deep-button").first.click()  # a schema
    expect(page.locator(".models .json-schema-2020-12-property").first).to_be_visible()
    screenshots.take(page, "api-docs")
    ours = urlsplit(site.server.base_url).netloc
    elsewhere = [url for url in requested if urlsplit(url).netloc not in (ours, "")]
    assert not elsewhere, f"requests to other origins: {elsewhere}"
    assert any(url.endswith("/swagger-ui-bundle.js") for url in requested)
    assert not problems.messages, problems.messages
