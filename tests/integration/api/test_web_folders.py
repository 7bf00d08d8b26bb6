"""The web page's folders: the tree fragment (nested by parent, with counts, escaped), the path
to the open folder, the gallery of one folder, cards that can be moved, and uploads and links
that go into the open folder."""

from __future__ import annotations

import re

from apiclient import Api
from imagefactory import jpeg_bytes

BASE = "/api/v2"
HOSTILE = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


async def folder(api: Api, name: str, parent: str | None = None, key: str | None = None) -> str:
    body = {"name": name, "parent_id": parent, "project_id": None}
    response = await api.client.post(f"{BASE}/folders", json=body, headers=api.auth(key))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def put(api: Api, seed: int, key: str | None = None, **fields: str) -> str:
    response = await api.client.post(
        f"{BASE}/files/upload",
        files={"file": (f"f{seed}.jpg", jpeg_bytes(40 + seed, 30 + seed, seed=seed))},
        data={"auto_describe": "false", **fields},
        headers=api.auth(key),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["image_id"])


async def tree(api: Api, key: str | None = None, **params: str) -> str:
    response = await api.client.get("/ui/folders", params=params, headers=api.auth(key))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "private, no-store"
    return response.text


def card_ids(html: str) -> list[str]:
    return re.findall(r'<li class="card" data-id="([^"]+)"', html)


def tree_items(html: str) -> list[tuple[str, str, str]]:
    """(id, name, file count) of each folder of the tree, in document order."""
    found = re.findall(
        r'data-folder="([^"]+)" data-name="[^"]*"[^>]*>\s*<span class="folder-name">([^<]*)</span>'
        r'\s*<span class="count">(\d+)<',
        html,
    )
    return [(i, n, c) for i, n, c in found]


def nesting(html: str) -> dict[str, str | None]:
    """Each folder's id by the id of the folder whose list holds it (None at the top)."""
    parents: dict[str, str | None] = {}
    stack: list[str | None] = [None]
    for token in re.finditer(r'<li data-id="([^"]+)">|<ul id="sub-([^"]+)"|</ul>', html):
        item, sublist = token.group(1), token.group(2)
        if item:
            parents[item] = stack[-1]
        elif sublist:
            stack.append(sublist)
        elif len(stack) > 1:
            stack.pop()
    return parents


def choices(html: str) -> list[tuple[str, str]]:
    select = html[html.index('<select id="folder-choices"') :]
    return re.findall(r'<option value="([^"]*)">([^<]*)</option>', select)


async def test_the_tree_nests_folders_by_parent_with_their_counts(api: Api) -> None:
    trips = await folder(api, "Trips")
    rome = await folder(api, "Rome", trips)
    paris = await folder(api, "Paris", trips)
    forum = await folder(api, "Forum", rome)
    archive = await folder(api, "Archive")
    await put(api, 1, folder_id=rome)
    await put(api, 2, folder_id=rome)
    await put(api, 3, folder_id=trips)
    await put(api, 4)

    html = await tree(api)
    assert tree_items(html) == [
        (archive, "Archive", "0"),
        (trips, "Trips", "1"),
        (paris, "Paris", "0"),
        (rome, "Rome", "2"),
        (forum, "Forum", "0"),
    ]
    assert nesting(html) == {archive: None, trips: None, paris: trips, rome: trips, forum: rome}
    # Only a folder with subfolders can be expanded; every sublist starts collapsed.
    assert re.findall(r'aria-controls="sub-([^"]+)"', html) == [trips, rome]
    assert html.count('class="tree" hidden') == 2
    assert 'data-folder="" data-name="All files" aria-current="true"' in html
    assert '<span class="crumb-here" aria-current="page">All files</span>' in html
    assert 'data-open=""' in html
    assert 'data-write="yes"' in html
    # The "Move to…" choices: every folder, indented by its level, and the top level first.
    pad = "\u00a0" * 3
    assert choices(html) == [
        ("", "No folder (top level)"),
        (archive, "Archive"),
        (trips, "Trips"),
        (paris, f"{pad}Paris"),
        (rome, f"{pad}Rome"),
        (forum, f"{pad * 2}Forum"),
    ]


async def test_the_open_folder_is_marked_and_its_path_leads_back(api: Api) -> None:
    trips = await folder(api, "Trips")
    rome = await folder(api, "Rome", trips)
    forum = await folder(api, "Forum", rome)

    html = await tree(api, folder_id=rome)
    assert f'data-open="{rome}"' in html
    assert f'data-folder="{rome}" data-name="Rome" aria-current="true"' in html
    assert html.count('aria-current="true"') == 1
    crumbs = html[: html.index("</nav>")]
    assert re.findall(r'data-folder="([^"]*)">([^<]*)</button>', crumbs) == [
        ("", "All files"),
        (trips, "Trips"),
    ]
    assert '<span class="crumb-here" aria-current="page">Rome</span>' in crumbs
    assert forum not in crumbs

    gone = await tree(api, folder_id="0" * 26)  # deleted since the page opened it
    assert 'data-open=""' in gone
    assert 'data-folder="" data-name="All files" aria-current="true"' in gone


async def test_folder_names_are_shown_as_text(api: Api) -> None:
    hostile = await folder(api, HOSTILE)
    await folder(api, '"><script>alert(1)</script>', hostile)
    html = await tree(api, folder_id=hostile)
    assert "<img src=x" not in html
    assert "<script>" not in html
    assert f'data-name="{ESCAPED}"' in html
    assert f'<span class="folder-name">{ESCAPED}</span>' in html
    assert f'<span class="crumb-here" aria-current="page">{ESCAPED}</span>' in html
    assert f'aria-label="Subfolders of {ESCAPED}"' in html
    assert f'<option value="{hostile}">{ESCAPED}</option>' in html
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_a_tenant_sees_only_its_own_folders(api: Api) -> None:
    await folder(api, "Mine")
    theirs = await folder(api, "Theirs", key=api.other_key)
    html = await tree(api)
    assert [name for _, name, _ in tree_items(html)] == ["Mine"]
    assert 'data-open=""' in await tree(api, folder_id=theirs)
    response = await api.client.get("/ui/gallery", params={"folder_id": theirs})
    assert response.status_code == 404
    refused = await api.client.get("/ui/folders", headers={"Authorization": "Bearer scopix_bad"})
    assert refused.status_code == 401


async def test_no_folders_yet_says_so(api: Api) -> None:
    html = await tree(api)
    assert "No folders yet." in html
    assert choices(html) == [("", "No folder (top level)")]


async def test_the_gallery_of_a_folder_lists_only_its_own_files(api: Api) -> None:
    trips = await folder(api, "Trips")
    rome = await folder(api, "Rome", trips)
    in_trips = await put(api, 1, folder_id=trips)
    in_rome = await put(api, 2, folder_id=rome)
    loose = await put(api, 3)

    everything = await api.client.get("/ui/gallery")
    assert card_ids(everything.text) == [loose, in_rome, in_trips]
    opened = await api.client.get("/ui/gallery", params={"folder_id": trips})
    assert card_ids(opened.text) == [in_trips]
    assert opened.headers["x-total-count"] == "1"
    blank = await api.client.get("/ui/gallery", params={"folder_id": "", "search": ""})
    assert len(card_ids(blank.text)) == 3
    narrowed = await api.client.get("/ui/gallery", params={"folder_id": rome, "tags": ""})
    assert card_ids(narrowed.text) == [in_rome]


async def test_cards_say_their_folder_and_can_be_moved_by_a_key_that_writes(api: Api) -> None:
    trips = await folder(api, "Trips")
    file_id = await put(api, 1, folder_id=trips, title=HOSTILE)
    html = (await api.client.get("/ui/gallery")).text
    assert f'data-folder="{trips}" draggable="true">' in html
    assert f'class="move" data-id="{file_id}" data-name="{ESCAPED}"' in html
    assert f'Move to…<span class="visually-hidden"> {ESCAPED}</span>' in html
    assert "<img src=x" not in html
    followed = (await api.client.get("/ui/cards", params={"ids": file_id})).text
    assert 'class="move"' in followed

    reader = await api.services.keys.create_key("acme", scopes=("read",))
    read_only = (await api.client.get("/ui/gallery", headers=api.auth(reader.plaintext))).text
    assert card_ids(read_only) == [file_id]
    assert 'class="move"' not in read_only
    assert "draggable" not in read_only
    assert 'data-write="no"' in await tree(api, key=reader.plaintext)


async def test_a_link_added_in_an_open_folder_goes_into_it(api: Api) -> None:
    trips = await folder(api, "Trips")
    response = await api.client.post(
        "/ui/links", json={"url": "https://news.example.com/otters", "folder_id": trips}
    )
    assert response.status_code == 201, response.text
    assert f'data-folder="{trips}"' in response.text
    listed = await api.client.get(f"{BASE}/files", params={"folder_id": trips})
    assert listed.json()["total_count"] == 1
    missing = await api.client.post(
        "/ui/links", json={"url": "https://news.example.com/badgers", "folder_id": "0" * 26}
    )
    assert missing.status_code == 404


async def test_the_open_folder_in_the_address_fills_the_form_escaped(api: Api) -> None:
    response = await api.client.get("/", params={"folder_id": '"><script>alert(1)</script>'})
    assert "<script>alert(1)" not in response.text
    assert (
        'name="folder_id" value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in response.text
    )
    assert 'href="/?folder_id=%22%3E%3Cscript%3Ealert%281%29%3C/script%3E"' in response.text
    plain = (await api.client.get("/")).text
    assert 'name="folder_id" value=""' in plain
    assert 'href="/" id="clear-filters"' in plain
