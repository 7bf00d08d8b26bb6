"""Semantic, hybrid and similar-image search over real photos, described by the real on-device
models, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pyvips

from apiclient import Api

FILES = "/api/v2/files"
PHOTOS = Path(__file__).resolve().parents[2] / "assets" / "photos"
NAMES = ["chelsea.png", "coffee.png", "rocket.jpg", "astronaut.png", "page.png", "text.png"]


async def upload(api: Api, name: str, data: bytes, key: str | None = None, **fields: str) -> str:
    response = await api.client.post(
        f"{FILES}/upload", files={"file": (name, data)}, data=fields, headers=api.auth(key)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["image_id"])


async def search(api: Api, text: str, key: str | None = None, **params: Any) -> list[str]:
    response = await api.client.get(FILES, params={"search": text, **params}, headers=api.auth(key))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def half_size(name: str) -> bytes:
    image = pyvips.Image.new_from_file(str(PHOTOS / name)).resize(0.5)
    return bytes(image.write_to_buffer(".jpg", Q=85))


async def test_photos_are_found_by_meaning_and_look(api: Api) -> None:
    ids = {name: await upload(api, name, (PHOTOS / name).read_bytes()) for name in NAMES}
    small_cat = await upload(api, "kitten-small.jpg", half_size("chelsea.png"), tags="copy")
    theirs = await upload(api, "cat.png", (PHOTOS / "chelsea.png").read_bytes(), api.other_key)
    assert await api.drain() >= 2 * (len(NAMES) + 2)
    semantic = api.services.files.semantic
    assert semantic is not None
    assert await anyio.to_thread.run_sync(semantic.wait_for_bridge, 600)

    # Words its text does not hold find a photo through its ImageNet classes, in any language.
    expected = {
        "kitty": {ids["chelsea.png"], small_cat},
        "Katze": {ids["chelsea.png"], small_cat},
        "hot drink": {ids["coffee.png"]},
        "spaceship": {ids["rocket.jpg"]},
    }
    for query, right in expected.items():
        found = await search(api, query, search_mode="semantic")
        assert found[0] in right, query
        assert theirs not in found  # another tenant's cat never answers

    # Filters combine with meaning: only the tagged copy of the cat is left.
    assert (await search(api, "kitty", search_mode="semantic", tags="copy")) == [small_cat]
    assert (await search(api, "kitty", search_mode="semantic", media_types="video")) == []

    # Hybrid: a file that holds the word comes first, and meaning adds the rest.
    hybrid = await search(api, "kitten", limit=100)
    assert hybrid[0] == small_cat  # its filename says "kitten"
    assert ids["chelsea.png"] in hybrid
    by_words = await search(api, "kitten", search_mode="metadata")
    assert by_words == [small_cat]

    # Similar images: the half-size copy is the cat's nearest neighbour.
    similar = await api.client.get(f"{FILES}/{ids['chelsea.png']}/similar", params={"limit": 3})
    assert similar.status_code == 200, similar.text
    alike = [item["id"] for item in similar.json()["items"]]
    assert alike[0] == small_cat and ids["chelsea.png"] not in alike and theirs not in alike
    hidden = await api.client.get(
        f"{FILES}/{ids['chelsea.png']}/similar", headers=api.auth(api.other_key)
    )
    assert hidden.status_code == 404

    # A deleted file never answers, by words or by meaning.
    assert (await api.client.delete(f"{FILES}/{small_cat}")).status_code == 204
    assert small_cat not in await search(api, "kitty", search_mode="semantic")
    assert small_cat not in await search(api, "kitten")
    alike = await api.client.get(f"{FILES}/{ids['chelsea.png']}/similar")
    assert small_cat not in [item["id"] for item in alike.json()["items"]]


async def test_similar_needs_a_described_image(api: Api) -> None:
    file_id = await upload(
        api, "cat.png", (PHOTOS / "chelsea.png").read_bytes(), auto_describe="false"
    )
    response = await api.client.get(f"{FILES}/{file_id}/similar")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "CONFLICT")
    missing = await api.client.get(f"{FILES}/01234567-89ab-7def-8123-456789abcdef/similar")
    assert missing.status_code == 404
