"""Where each part of a description came from, end to end: a VLM and the on-device models
describe one page, and `GET /files/{id}`, the SDK's `FileDetails` and the web page all say
which analyzer gave the description, each tag and the text, and the pipeline's fingerprint."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from apiclient import Api
from imagefactory import document_png
from scopix import Scopix
from scopix.server.app import create_app
from scopix.server.services.container import Services
from scopix.server.settings import Settings
from vlmserver import FakeVLMServer

pytestmark = pytest.mark.asyncio(loop_scope="module")

ANSWER = {
    "description": "An invoice <from> Harbour & Sons.",
    "tags": ["invoice", "paper"],
    "key_elements": ["table"],
    "visible_text": "INVOICE",
}
VLM = "vlm:fake-vlm"


@dataclass
class Described:
    api: Api
    transport: httpx.ASGITransport
    file_id: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def described(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Described]:
    """One app (SQLite, the on-device models and a VLM) and one page it described."""
    folder: Path = tmp_path_factory.mktemp("provenance")
    with FakeVLMServer(answer=ANSWER) as vlm:
        settings = Settings(
            data_dir=folder / "data",
            database_url=f"sqlite+aiosqlite:///{folder / 'catalog.db'}",
            workers=0,
            retry_base_seconds=0,
            vlm_base_url=vlm.base_url,
            vlm_model=vlm.model,
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            services: Services = app.state.services
            key = (await services.keys.create_key("acme", tier="starter")).plaintext
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                http.headers["Authorization"] = f"Bearer {key}"
                api = Api(http, services, key, key, transport)
                page, _ = document_png()
                uploaded = await http.post("/api/v2/files/upload", files={"file": ("i.png", page)})
                assert uploaded.status_code == 201, uploaded.text
                await api.drain()
                yield Described(api, transport, uploaded.json()["image_id"])


async def test_the_details_say_which_analyzer_gave_each_part(described: Described) -> None:
    api, file_id = described.api, described.file_id
    details = (await api.client.get(f"/api/v2/files/{file_id}")).json()
    provenance = details["provenance"]
    assert provenance["pipeline"] == api.services.pipeline.fingerprint
    assert provenance["description"] == {"analyzer": VLM, "confidence": None}
    analyzers = {t["tag"]: t["analyzer"] for t in provenance["tags"]}
    assert [t["tag"] for t in provenance["tags"]] == details["tags"]
    assert analyzers["invoice"] == VLM and analyzers["paper"] == VLM
    on_device = [t for t in provenance["tags"] if t["analyzer"].startswith("ondevice:")]
    assert on_device and all(0 < t["confidence"] <= 1 for t in on_device)
    # The OCR located the text; the VLM only read it.
    assert provenance["visible_text"]["analyzer"].startswith("ondevice:ocr/")
    assert 0 < provenance["visible_text"]["confidence"] <= 1
    assert provenance["embedding"]["analyzer"].startswith("ondevice:embedder/")
    assert details["faces"] == []
    listed = (await api.client.get("/api/v2/files")).json()["items"]
    assert [(f["provenance"], f["faces"]) for f in listed] == [(None, None)]


async def test_the_sdk_reads_the_provenance(described: Described) -> None:
    api, file_id = described.api, described.file_id
    raw = (await api.client.get(f"/api/v2/files/{file_id}")).json()
    http = httpx.AsyncClient(transport=described.transport, base_url="http://testserver/api/v2")
    async with Scopix(api_key=api.key, retry_delay=0, http_client=http) as scopix:
        details = await scopix.files.get(file_id)
    assert details.provenance == raw["provenance"]
    assert details.provenance is not None and details.provenance["description"]["analyzer"] == VLM
    assert details.faces == []


async def test_the_page_shows_where_each_part_came_from(described: Described) -> None:
    api, file_id = described.api, described.file_id
    details = (await api.client.get(f"/api/v2/files/{file_id}")).json()
    html = (await api.client.get(f"/ui/files/{file_id}")).text
    description = re.search(r'<p class="description" title="([^"]*)">([^<]*)</p>', html)
    assert description is not None
    assert unescape(description.group(1)) == VLM
    assert unescape(description.group(2)) == ANSWER["description"]  # escaped in the page
    chips = re.findall(r'<li class="described" title="([^"]*)">([^<]*)</li>', html)
    titles = {unescape(tag): unescape(title) for title, tag in chips}
    tags = details["provenance"]["tags"]
    local = next(t for t in tags if t["analyzer"].startswith("ondevice:"))
    assert titles[local["tag"]] == f"{local['analyzer']} · {local['confidence'] * 100:.0f} %"
    assert titles["invoice"] == VLM
    text = details["provenance"]["visible_text"]
    said = f"{text['analyzer']} · {text['confidence'] * 100:.0f} %"
    assert f'<pre class="visible-text" title="{said}">' in unescape(html)
    pipeline = details["provenance"]["pipeline"]
    assert re.search(rf"<summary>Provenance</summary>.*{pipeline}", html, re.DOTALL)
