"""Search that understands the query, over the labeled library of tests/assets/quality (photos,
a second cat, a generated invoice and screenshot) described once by the real on-device models,
and over part of it described with a VLM (the scripted server, answering each file with the
words written beside it in library.json): a relevance floor keeps unrelated files out, and
queries in other languages find their file."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
import pytest_asyncio

from apiclient import Api, running_api
from scopix.server.settings import Settings
from vlmserver import FakeVLMServer

pytestmark = pytest.mark.asyncio(loop_scope="module")

ASSETS = Path(__file__).resolve().parents[2] / "assets"
FILES = "/api/v2/files"
CATS = {"chelsea", "chelsea_mirror"}
#: What the on-device models do not recognise (coins, galaxies, a horse they take for a dog, a
#: book page they call a document, handwriting), and a cat and an invoice beside them.
VLM_DESCRIBED = ("chelsea", "coins", "hubble", "horse", "page", "text", "invoice")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def library(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Api, dict[str, str]]]:
    """The library uploaded and described once on-device; file names by id."""
    root = tmp_path_factory.mktemp("relevance")
    async with running_api(_settings(root)) as api:
        names = await _describe(api, _entries(), None)
        yield api, names


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def vlm_library(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Api, dict[str, str]]]:
    """`VLM_DESCRIBED` uploaded and described with a VLM too; file names by id."""
    root = tmp_path_factory.mktemp("relevance-vlm")
    entries = [e for e in _entries() if e["name"] in VLM_DESCRIBED]
    with FakeVLMServer() as vlm:
        settings = _settings(root).model_copy(
            update={"vlm_base_url": vlm.base_url, "vlm_model": vlm.model}
        )
        async with running_api(settings) as api:
            names = await _describe(api, entries, vlm)
            yield api, names


def _settings(root: Path) -> Settings:
    return Settings(
        data_dir=root / "data",
        database_url=f"sqlite+aiosqlite:///{root / 'catalog.db'}",
        workers=0,
        retry_base_seconds=0,
    )


def _entries() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((ASSETS / "quality" / "library.json").read_text())[
        "files"
    ]
    return entries


async def _describe(
    api: Api, entries: list[dict[str, Any]], vlm: FakeVLMServer | None
) -> dict[str, str]:
    """Upload and describe each file in turn (the VLM answers it with its own words); names by
    id once the tag bridge is ready."""
    names = {}
    for entry in entries:
        if vlm is not None:
            vlm.behave("ok", key_elements=[], visible_text="", **entry["vlm"])
        path = ASSETS / entry["path"]
        response = await api.client.post(
            f"{FILES}/upload", files={"file": (path.name, path.read_bytes())}
        )
        assert response.status_code == 201, response.text
        names[str(response.json()["image_id"])] = entry["name"]
        await api.drain()
    semantic = api.services.files.semantic
    assert semantic is not None
    assert await anyio.to_thread.run_sync(semantic.wait_for_bridge, 600)
    return names


async def search(
    library: tuple[Api, dict[str, str]], text: str, **params: Any
) -> tuple[list[str], int]:
    api, names = library
    response = await api.client.get(FILES, params={"search": text, "limit": 100, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    return [names[item["id"]] for item in body["items"]], body["total_count"]


async def test_semantic_kitty_lists_only_the_cat_photos(
    library: tuple[Api, dict[str, str]],
) -> None:
    found, total = await search(library, "kitty", search_mode="semantic")
    assert set(found) == CATS
    assert total == len(found)


async def test_all_mode_cat_leaves_out_text_pages_and_screenshots(
    library: tuple[Api, dict[str, str]],
) -> None:
    found, total = await search(library, "cat")
    assert set(found[:2]) == CATS
    assert not {"page", "text", "screenshot", "invoice"} & set(found)
    assert total == len(found) < len(library[1])


@pytest.mark.parametrize(
    ("query", "wanted"),
    [("Katze", CATS), ("Rechnung", {"invoice"}), ("facture", {"invoice"})],
)
async def test_other_languages_find_their_file_in_the_top_two(
    library: tuple[Api, dict[str, str]], query: str, wanted: set[str]
) -> None:
    found, _ = await search(library, query, search_mode="semantic")
    assert wanted & set(found[:2]), found


@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        ("Münzen", "coins"),
        ("galaxias", "hubble"),
        ("cheval", "horse"),
        ("Buchseite", "page"),
        ("formules manuscrites", "text"),
        ("factura", "invoice"),
    ],
)
async def test_with_a_vlm_other_languages_find_what_on_device_models_miss(
    vlm_library: tuple[Api, dict[str, str]], query: str, wanted: str
) -> None:
    found, _ = await search(vlm_library, query, search_mode="semantic")
    assert wanted in found[:2], found


async def test_with_a_vlm_kitty_still_lists_only_the_cat(
    vlm_library: tuple[Api, dict[str, str]],
) -> None:
    found, total = await search(vlm_library, "kitty", search_mode="semantic")
    assert found == ["chelsea"]
    assert total == 1
