"""The API's docs page: Swagger UI from an installed package, so it loads offline.

FastAPI's own page pulls Swagger UI from a CDN with an inline script and no CSP, on the origin
where the web page keeps the key in session storage. This one serves fastapi-offline's copy of
Swagger UI's files (only its static folder is used), starts it from a script file of ours, and
answers under a CSP that allows nothing inline and nothing from elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import fastapi_offline
from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from scopix.server.api.presenters import API_PREFIX

__all__ = ["DOCS_HEADERS", "DOCS_PATH", "SWAGGER_ASSETS_PATH", "router", "swagger_files"]

DOCS_PATH: Final = f"{API_PREFIX}/docs"
#: Under the docs page's path, which the gate serves without a key.
SWAGGER_ASSETS_PATH: Final = f"{DOCS_PATH}/assets"
INIT_SCRIPT_PATH: Final = f"{DOCS_PATH}/swagger-init.js"
_INIT_SCRIPT: Final = Path(__file__).parent / "docs_assets" / "swagger-init.js"

#: Swagger UI draws a few icons as data: images; scripts, styles and everything else come from
#: this server alone (tests/browser/test_api_docs_page.py watches for violations).
DOCS_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_PAGE: Final = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Scopix API</title>
<link rel="stylesheet" href="{SWAGGER_ASSETS_PATH}/swagger-ui.css">
<link rel="icon" href="{SWAGGER_ASSETS_PATH}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{API_PREFIX}/openapi.json"></div>
<script src="{SWAGGER_ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="{INIT_SCRIPT_PATH}"></script>
</body>
</html>
"""

router = APIRouter(include_in_schema=False)
swagger_files = StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static")


@router.get(DOCS_PATH)
async def docs_page() -> HTMLResponse:
    return HTMLResponse(_PAGE, headers=DOCS_HEADERS)


@router.get(INIT_SCRIPT_PATH)
async def init_script() -> FileResponse:
    return FileResponse(
        _INIT_SCRIPT, media_type="text/javascript", headers={"X-Content-Type-Options": "nosniff"}
    )
