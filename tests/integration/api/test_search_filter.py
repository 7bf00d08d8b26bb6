"""`GET /files?search=...`: the plain, case-insensitive word filter, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from apiclient import Api
from imagefactory import jpeg_bytes
from scopix.server.catalog.models import File, FileTag

FILES = "/api/v2/files"


async def put(
    api: Api, seed: int, name: str | None = None, key: str | None = None, **fields: str
) -> str:
    data = jpeg_bytes(40 + seed % 50, 30 + seed // 50, seed=seed)
    response = await api.client.post(
        f"{FILES}/upload",
        files={"file": (name or f"f{seed}.jpg", data)},
        data={"auto_describe": "false", **fields},
        headers=api.auth(key),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["image_id"])


async def describe_as(
    api: Api,
    file_id: str,
    *,
    description: str | None = None,
    visible_text: str | None = None,
    ai_tags: tuple[str, ...] = (),
) -> None:
    """What a description would have stored, written straight into the catalog."""
    async with api.services.database.writer() as session:
        row = await session.get(File, file_id)
        assert row is not None
        row.description = description
        row.visible_text = visible_text
        for position, tag in enumerate(ai_tags):
            session.add(FileTag(file_id=file_id, tag=tag, position=position, source="ai"))
        await session.commit()


async def search(api: Api, text: str, key: str | None = None, **params: Any) -> list[str]:
    response = await api.client.get(FILES, params={"search": text, **params}, headers=api.auth(key))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def found(api: Api, text: str, **params: Any) -> set[str]:
    return set(await search(api, text, **params))


async def test_every_word_must_match_but_in_any_field(api: Api) -> None:
    one_field = await put(api, 1, title="A car that is red")
    two_fields = await put(api, 2, title="Red")
    await describe_as(api, two_fields, description="A parked CAR in the rain")
    name_and_tag = await put(api, 3, name="Car-Wash.jpg", tags="RED")
    text_and_name = await put(api, 4, name="redhead.png")
    await describe_as(api, text_and_name, visible_text="CARGO")
    only_red = await put(api, 5, title="Red barn")
    await put(api, 6, title="blue boat")

    both = {one_field, two_fields, name_and_tag, text_and_name}
    assert await found(api, "red car") == both
    assert await found(api, "CAR   Red") == both  # order, case and spacing do not matter
    assert await found(api, "red") == both | {only_red}
    assert await found(api, "red car barn") == set()
    assert await found(api, "that is red") == {one_field}  # words, not the phrase: still AND
    assert await found(api, "rain") == {two_fields}
    assert await found(api, "wash.jpg") == {name_and_tag}


async def test_each_mode_looks_where_it_says(api: Api) -> None:
    receipt = await put(api, 1, name="scan.jpg", title="Receipt")
    await describe_as(api, receipt, description="a paper receipt", visible_text="INVOICE 42 Total")
    poster = await put(api, 2, title="Invoice poster")

    assert await found(api, "invoice") == {receipt, poster}
    assert await found(api, "invoice", search_mode="all") == {receipt, poster}
    assert await found(api, "invoice", search_mode="metadata") == {poster}
    assert await found(api, "invoice", search_mode="visible_text") == {receipt}
    assert await found(api, "receipt", search_mode="visible_text") == set()
    assert await found(api, "paper", search_mode="metadata") == {receipt}
    assert await found(api, "scan", search_mode="metadata") == {receipt}
    # In `all`, one word may match the visible text and another the metadata.
    assert await found(api, "invoice receipt") == {receipt}
    assert await found(api, "invoice receipt", search_mode="metadata") == set()
    assert await found(api, "total 42", search_mode="visible_text") == {receipt}


async def test_user_and_ai_tags_are_searched(api: Api) -> None:
    file_id = await put(api, 1, title="Untitled")
    other = await put(api, 2, title="Other")
    await describe_as(api, other, ai_tags=("Lighthouse", "coast"))
    assert await found(api, "sunset") == set()

    response = await api.client.patch(f"{FILES}/{file_id}", json={"tags": ["Sunset-Beach"]})
    assert response.status_code == 200, response.text
    assert await found(api, "sunset") == {file_id}
    assert await found(api, "SUNSET beach", search_mode="metadata") == {file_id}
    assert await found(api, "sunset", search_mode="visible_text") == set()

    assert await found(api, "lighthouse") == {other}
    assert await found(api, "lighthouse coast", search_mode="metadata") == {other}
    assert await found(api, "lighthouse", search_mode="visible_text") == set()

    await api.client.patch(f"{FILES}/{file_id}", json={"tags": []})
    assert await found(api, "sunset") == set()


async def test_like_wildcards_and_the_escape_character_are_plain_characters(api: Api) -> None:
    percent = await put(api, 1, title="50% off")
    digits = await put(api, 2, title="500 off")
    underscore = await put(api, 3, title="a_b")
    letter = await put(api, 4, title="axb")
    backslash = await put(api, 5, title="back\\slash")
    slash = await put(api, 6, title="and/or")
    everything = {percent, digits, underscore, letter, backslash, slash}

    assert await found(api, "50%") == {percent}
    assert await found(api, "%") == {percent}
    assert await found(api, "%%") == set()
    assert await found(api, "a_b") == {underscore}
    assert await found(api, "_") == {underscore}
    assert await found(api, "\\") == {backslash}
    assert await found(api, "k\\s") == {backslash}
    assert await found(api, "/") == {slash}  # SQLAlchemy's autoescape escapes with "/"
    assert await found(api, "d/o") == {slash}
    assert await found(api, "off") == {percent, digits}
    assert await found(api, "'; DROP TABLE files; --") == set()
    assert set(await search(api, "")) == everything  # sanity: every file is still there


async def test_non_ascii_words(api: Api) -> None:
    german = await put(api, 1, title="Maße und Größe")
    french = await put(api, 2, name="café.jpg")
    assert await found(api, "größe") == {german}
    assert await found(api, "GRÖẞE") == {german}  # lowercased in Python: ẞ becomes ß
    assert await found(api, "MASSE") == set()  # ß is not "ss": no Unicode folding is promised
    assert await found(api, "café") == {french}
    assert await found(api, "CAF\u0065\u0301") == {french}  # NFD input, NFC storage
    # Capital non-ASCII letters in stored text fold on PostgreSQL (UTF-8 locale) but not with
    # SQLite's ASCII-only lower(); see repositories._matches_text. Nothing is promised there.


async def test_search_combines_with_tag_filter_sort_and_exact_paging(api: Api) -> None:
    # A tenant without a rate limit: this test makes more requests than a minute of `starter`.
    key = (await api.services.keys.create_key("bulk", tier="custom")).plaintext
    matches = [await put(api, i, key=key, title=f"Match {i:02d}", tags="keep") for i in range(25)]
    for i in range(25, 28):
        await put(api, i, key=key, title=f"Match {i}")  # not tagged `keep`
    for i in range(28, 31):
        await put(api, i, key=key, title=f"Other {i}", tags="keep")  # tagged, not matching

    async def listing(**params: Any) -> dict[str, Any]:
        response = await api.client.get(FILES, params=params, headers=api.auth(key))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    pages: list[str] = []
    for offset, size, more in [(0, 10, True), (10, 10, True), (20, 5, False)]:
        body = await listing(search="match", tags="keep", limit=10, offset=offset)
        assert body["total_count"] == 25
        assert body["has_more"] is more
        assert len(body["items"]) == size
        pages += [item["id"] for item in body["items"]]
    assert pages == list(reversed(matches))  # newest first, nothing lost or repeated

    by_title = await search(
        api, "match", key=key, tags="keep", sort_by="title", sort_order="asc", limit=5
    )
    assert by_title == matches[:5]
    body = await listing(search="match", limit=10, offset=30)
    assert (body["total_count"], body["has_more"], body["items"]) == (28, False, [])
    body = await listing(search="match", limit=10, offset=20)
    assert (body["total_count"], body["has_more"], len(body["items"])) == (28, False, 8)
    assert await search(api, "match 07", key=key, tags="keep") == [matches[7]]
    pair = f"{matches[0]},{matches[1]}"
    assert set(await search(api, "match", key=key, ids=pair)) == set(matches[:2])
    assert await search(api, "match", key=key, media_types="video") == []
    assert await search(api, "match") == []  # and nothing of it is the first tenant's


async def test_other_tenants_files_never_match(api: Api) -> None:
    mine = await put(api, 1, title="Secret red car")
    theirs = await put(api, 2, key=api.other_key, title="Secret red car")
    await describe_as(api, theirs, visible_text="SECRET", ai_tags=("secret",))
    assert await search(api, "secret") == [mine]
    assert await search(api, "secret", search_mode="visible_text") == []
    assert await search(api, "secret", key=api.other_key) == [theirs]


async def test_deleted_files_do_not_match(api: Api) -> None:
    kept = await put(api, 1, title="Harbour")
    gone = await put(api, 2, title="Harbour at night")
    assert (await api.client.delete(f"{FILES}/{gone}")).status_code == 204
    assert await search(api, "harbour") == [kept]


async def test_blank_search_lists_everything(api: Api) -> None:
    ids = {await put(api, 1), await put(api, 2)}
    for blank in ["", "   ", "\t"]:
        assert await found(api, blank) == ids
        assert await found(api, blank, search_mode="visible_text") == ids


async def test_semantic_is_refused_not_faked(api: Api) -> None:
    await put(api, 1, title="red car")
    for params in [{"search": "red car", "search_mode": "semantic"}, {"search_mode": "semantic"}]:
        response = await api.client.get(FILES, params=params)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"]["field"] == "search_mode"
        assert "semantic search is not available" in error["message"]


async def test_bad_search_parameters(api: Api) -> None:
    for params in [
        {"search": "x", "search_mode": "fuzzy"},
        {"search": "x", "search_mode": "ALL"},
        {"search": "x" * 201},
    ]:
        response = await api.client.get(FILES, params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert (await api.client.get(FILES, params={"search": "x" * 200})).status_code == 200


async def test_a_nul_character_matches_nothing_and_breaks_nothing(api: Api) -> None:
    await put(api, 1, title="plain")
    assert await search(api, "pla\x00in") == []
    assert await search(api, "plain \x00") == []
