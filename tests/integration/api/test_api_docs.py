"""The API docs page works offline: Swagger UI from this server, started by a script file,
under a CSP that allows no inline script and no other origin."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from apiclient import Api

DOCS = "/api/v2/docs"
ASSET = re.compile(r'(?:src|href)="([^"]+)"')


async def test_the_docs_page_references_only_this_server(api: Api) -> None:
    response = await api.client.get(DOCS, headers={"Authorization": ""})
    assert response.status_code == 200
    assets = ASSET.findall(response.text)
    assert len(assets) == 4  # stylesheet, icon, Swagger UI's bundle and our init script
    for asset in assets:
        parts = urlsplit(asset)
        assert not parts.scheme and not parts.netloc, f"{asset} is not same-origin"
        served = await api.client.get(asset, headers={"Authorization": ""})
        assert served.status_code == 200, asset
        assert served.content, asset
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", response.text, re.DOTALL)
    assert len(scripts) == 2
    assert all('src="' in attributes and not body.strip() for attributes, body in scripts)


async def test_the_docs_page_carries_a_strict_csp(api: Api) -> None:
    response = await api.client.get(DOCS)
    policy = response.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no CDN
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "http" not in policy
    assert response.headers["x-frame-options"] == "DENY"


async def test_the_init_script_points_swagger_at_our_openapi(api: Api) -> None:
    page = (await api.client.get(DOCS)).text
    [openapi] = re.findall(r'data-openapi-url="([^"]+)"', page)
    assert (await api.client.get(openapi)).json()["info"]["title"] == "Scopix"
    script = await api.client.get(f"{DOCS}/swagger-init.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle(" in script.text and "validatorUrl: null" in script.text
    bundle = await api.client.get(f"{DOCS}/assets/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith(("text/javascript", "application/javascript"))
