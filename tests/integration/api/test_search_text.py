"""`GET /files?search=...`: ranked full-text search, on SQLite (FTS5) and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import bindparam, text

from apiclient import Api
from imagefactory import jpeg_bytes
from scopix.server.catalog.models import File
from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.domain import listing

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
    """What a description would have stored, written as the describe job writes it: the row,
    its AI tags and its full-text entry in one transaction."""
    async with UnitOfWorkFactory(api.services.database).write() as uow:
        row = await uow.session.get(File, file_id)
        assert row is not None
        row.description = description
        row.visible_text = visible_text
        await uow.files.replace_ai_tags(file_id, ai_tags)
        await uow.files.reindex(row)
        await uow.commit()


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

    both = {one_field, two_fields, name_and_tag}
    assert await found(api, "red car") == both  # whole words: "redhead" and "CARGO" are not
    assert await found(api, "CAR   Red") == both  # order, case and spacing do not matter
    assert await found(api, "red") == both | {only_red}
    assert await found(api, "red car barn") == set()
    assert await found(api, "that is red") == {one_field}  # words, not the phrase: still AND
    assert await found(api, "rain") == {two_fields}
    assert await found(api, "wash.jpg") == {name_and_tag}
    assert await found(api, "cargo") == {text_and_name}


async def test_words_match_by_their_stem(api: Api) -> None:
    cars = await put(api, 1, title="Two cars parked")
    running = await put(api, 2, title="A running dog")
    assert await found(api, "car") == {cars}
    assert await found(api, "park") == {cars}
    assert await found(api, "runs") == {running}


async def test_better_matches_come_first(api: Api) -> None:
    in_text = await put(api, 1, title="Scan")
    await describe_as(api, in_text, visible_text="lighthouse opening hours and prices")
    in_title = await put(api, 2, title="Lighthouse")
    twice = await put(api, 3, title="Lighthouse at the lighthouse point")
    unrelated = await put(api, 4, title="Harbour")
    ranked = await search(api, "lighthouse")
    assert set(ranked) == {in_text, in_title, twice}
    assert ranked[-1] == in_text  # a title outweighs a mention in the visible text
    assert unrelated not in ranked
    newest_first = await search(api, "lighthouse", sort_by="created_at")
    assert newest_first == [twice, in_title, in_text]


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


async def test_query_syntax_is_plain_text(api: Api) -> None:
    percent = await put(api, 1, title="50% off")
    underscore = await put(api, 2, title="a_b")
    slash = await put(api, 3, title="and/or")
    everything = {percent, underscore, slash}

    assert await found(api, "50%") == {percent}  # punctuation separates words
    assert await found(api, "a_b") == {underscore}
    assert await found(api, "and/or") == {slash}
    for hostile in ['"', "NEAR(a b)", "a*", "^off", "-off", "off OR x", "{title}:off", "%", "\\"]:
        response = await api.client.get(FILES, params={"search": hostile})
        assert response.status_code == 200, (hostile, response.text)
    assert await found(api, "%") == set()  # no word at all: nothing matches
    assert await found(api, "off OR x") == set()  # OR is a word here, not an operator
    assert await found(api, "'; DROP TABLE files; --") == set()
    assert set(await search(api, "")) == everything  # sanity: every file is still there


async def test_accents_and_case_fold_both_ways(api: Api) -> None:
    german = await put(api, 1, title="Maße und Größe")
    french = await put(api, 2, name="café.jpg")
    await describe_as(api, french, visible_text="CRÈME BRÛLÉE")
    assert await found(api, "größe") == {german}
    assert await found(api, "GROSSE") == {german}  # ß folds to ss, as casefold does
    assert await found(api, "GRÖẞE") == {german}
    assert await found(api, "cafe") == {french}
    assert await found(api, "CAF\u0065\u0301") == {french}  # NFD input
    assert await found(api, "creme brulee", search_mode="visible_text") == {french}


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
    assert pages == list(reversed(matches))  # equal matches: newest first; none lost or repeated

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


async def test_deleted_files_leave_the_index_and_restored_ones_return(api: Api) -> None:
    kept = await put(api, 1, title="Harbour", tags="boats")
    gone = await put(api, 2, title="Harbour at night", tags="boats")
    assert (await api.client.delete(f"{FILES}/{gone}")).status_code == 204
    for filters in ({}, {"tags": "boats"}):  # counted from the index, and joined to files
        response = await api.client.get(FILES, params={"search": "harbour", **filters})
        body = response.json()
        assert ([i["id"] for i in body["items"]], body["total_count"]) == ([kept], 1)
    assert (await api.client.post(f"{FILES}/{gone}/restore")).status_code == 200
    assert await found(api, "harbour") == {kept, gone}
    assert await found(api, "night") == {gone}


async def test_searches_past_the_ranking_limit_list_newest_first(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relevance orders up to MAX_RANKED_MATCHES matches; more come newest first, with or
    without filters, and oldest first when asked."""
    best = await put(api, 1, title="Lighthouse lighthouse", tags="coast")
    others = [
        await put(
            api,
            n,
            title=f"Lighthouse, seen from the long road to the far village {n}",
            tags="coast",
        )
        for n in (2, 3, 4)
    ]
    newest_first = [*reversed(others), best]
    for filters in ({}, {"tags": "coast"}):
        monkeypatch.setattr(listing, "MAX_RANKED_MATCHES", 4)
        assert (await search(api, "lighthouse", **filters))[0] == best
        monkeypatch.setattr(listing, "MAX_RANKED_MATCHES", 3)
        assert await search(api, "lighthouse", **filters) == newest_first
        oldest_first = await search(api, "lighthouse", sort_order="asc", **filters)
        assert oldest_first == newest_first[::-1]
        body = (await api.client.get(FILES, params={"search": "lighthouse", **filters})).json()
        assert body["total_count"] == 4


async def test_blank_search_lists_everything(api: Api) -> None:
    ids = {await put(api, 1), await put(api, 2)}
    for blank in ["", "   ", "\t"]:
        assert await found(api, blank) == ids
        assert await found(api, blank, search_mode="visible_text") == ids


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
    assert await search(api, "\x00") == []
    assert len(await search(api, "plain \x00")) == 1  # a NUL separates, like punctuation


async def test_paging_over_hundreds_of_hits_is_exact(api: Api) -> None:
    """260 matching files and 40 others (their text written as the describe job writes it);
    pages of 100 neither lose nor repeat a hit."""
    key = await api.services.keys.create_key("archive", tier="custom")
    hits = await _catalogued(api, key.plaintext, 260, "Quay {n}: harbour crane unloading")
    await _catalogued(api, key.plaintext, 40, "Field {n}: wheat under a grey sky")
    seen: list[str] = []
    for offset in (0, 100, 200):
        response = await api.client.get(
            FILES,
            params={"search": "harbour cranes", "limit": 100, "offset": offset},
            headers=api.auth(key.plaintext),
        )
        body = response.json()
        assert body["total_count"] == 260
        assert body["has_more"] is (offset < 200)
        seen += [item["id"] for item in body["items"]]
    assert sorted(seen) == sorted(hits)
    exact = await search(api, "Quay 137: harbour crane unloading", key=key.plaintext)
    assert exact[0] == hits[137]  # the one holding every word of the phrase comes first


async def _catalogued(api: Api, key: str, count: int, text: str) -> list[str]:
    ids = [await put(api, n % 997, key=key, name=f"scan{n}.png") for n in range(count)]
    for n, file_id in enumerate(ids):
        await describe_as(api, file_id, visible_text=text.format(n=n))
    return ids


@pytest.mark.parametrize("ranked_limit", [10_000, 3], ids=["by relevance", "newest first"])
async def test_the_hybrid_words_half_agrees_with_every_match_listed(
    api: Api, monkeypatch: pytest.MonkeyPatch, ranked_limit: int
) -> None:
    """`words_ranking` (what a hybrid page reads of the full-text ranking) is the head of
    `ranked_ids`, its length, and the rank in it of each id asked about, in either order."""
    monkeypatch.setattr(listing, "MAX_RANKED_MATCHES", ranked_limit)
    ids = [
        await put(api, n, title=f"{' '.join(['harbour'] * (1 + n % 3))} crane {n}")
        for n in range(8)
    ]
    other = await put(api, 9, title="wheat field")
    async with UnitOfWorkFactory(api.services.database).read() as uow:
        row = await uow.session.get(File, other)
        assert row is not None
        query = listing.file_query(search="harbour crane", limit=3)
        every = await uow.files.ranked_ids(row.tenant_id, query)
        asked = [ids[5], other, ids[0]]
        for end in (0, 3, 8, 20):
            head, total, ranks = await uow.files.words_ranking(row.tenant_id, query, end, asked)
            assert (head, total) == (every[:end], 8)
            assert ranks == {i: every.index(i) + 1 for i in (ids[5], ids[0])}


@pytest.mark.parametrize("sort_order", ["desc", "asc"])
async def test_the_hybrid_words_half_orders_files_of_one_instant_by_id(
    api: Api, monkeypatch: pytest.MonkeyPatch, sort_order: str
) -> None:
    """Files indexed at the same microsecond follow `ranked_ids` by id in the hybrid's ranks
    too (PostgreSQL ranks newest-first matches from their instants), in either order; another
    tenant's matches of the same instant take no rank."""
    if api.services.database.is_sqlite:
        pytest.skip("SQLite orders matches by their index keys, which are never shared")
    monkeypatch.setattr(listing, "MAX_RANKED_MATCHES", 3)
    ids = [await put(api, n, title=f"quay {n}") for n in range(7)]
    theirs = await put(api, 20, key=api.other_key, title="quay")
    async with UnitOfWorkFactory(api.services.database).write() as uow:
        await uow.session.execute(
            text(
                "UPDATE file_search SET created_at = "
                "(SELECT created_at FROM file_search WHERE file_id = :first) "
                "WHERE file_id IN :tied"
            ).bindparams(bindparam("tied", expanding=True)),
            {"first": ids[0], "tied": [*ids[1:6], theirs]},
        )
        await uow.commit()
    async with UnitOfWorkFactory(api.services.database).read() as uow:
        query = listing.file_query(search="quay", sort_order=sort_order, limit=3)
        row = await uow.session.get(File, ids[0])
        assert row is not None
        tenant_id = row.tenant_id
        every = await uow.files.ranked_ids(tenant_id, query)
        tied = sorted(ids[:6], reverse=sort_order == "desc")
        assert every == ([ids[6], *tied] if sort_order == "desc" else [*tied, ids[6]])
        for end in (0, 2, 7):
            head, total, ranks = await uow.files.words_ranking(
                tenant_id, query, end, [*ids, theirs]
            )
            assert (head, total) == (every[:end], 7)
            assert ranks == {i: every.index(i) + 1 for i in ids}
