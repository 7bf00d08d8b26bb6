"""Folders through the API, on SQLite and on PostgreSQL: a tree per tenant with sibling names
unique in any case, at most 20 levels, moves that never make a cycle, deletes that lose no
file, files placed by uploads, links, direct uploads, edits and moves, counts that stay right
under concurrent work, and another tenant's folders never seen."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import httpx
import pytest

from apiclient import Api
from imagefactory import jpeg_bytes

BASE = "/api/v2"


def ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else None


def refused(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == code
    return error


async def folder(
    web: httpx.AsyncClient,
    name: str,
    parent: dict[str, Any] | None = None,
    project: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body = {
        "name": name,
        "parent_id": parent["id"] if parent else None,
        "project_id": project["id"] if project else None,
    }
    made: dict[str, Any] = ok(await web.post(f"{BASE}/folders", json=body), 201)
    return made


async def project(web: httpx.AsyncClient, name: str) -> dict[str, Any]:
    made: dict[str, Any] = ok(await web.post(f"{BASE}/projects", json={"name": name}), 201)
    return made


async def upload(web: httpx.AsyncClient, seed: int, **fields: str) -> httpx.Response:
    data = jpeg_bytes(40 + seed % 50, 30 + seed // 50, seed=seed)
    fields.setdefault("auto_describe", "false")
    return await web.post(
        f"{BASE}/files/upload", files={"file": (f"f{seed}.jpg", data)}, data=fields
    )


async def uploaded(web: httpx.AsyncClient, seed: int, **fields: str) -> dict[str, Any]:
    file: dict[str, Any] = ok(await upload(web, seed, **fields), 201)
    return file


async def listed(web: httpx.AsyncClient, **params: Any) -> list[str]:
    page = ok(await web.get(f"{BASE}/files", params={"limit": 100, **params}))
    return sorted(item["id"] for item in page["items"])


async def every_folder(web: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    page = ok(await web.get(f"{BASE}/folders"))
    return {item["id"]: item for item in page["items"]}


async def assert_consistent(web: httpx.AsyncClient) -> None:
    """Every folder's breadcrumbs lead from a top-level folder to it by its parents, its depth
    is theirs, and its counts are what listing its files and its folders finds."""
    folders = await every_folder(web)
    for folder_id, item in folders.items():
        crumbs = ok(await web.get(f"{BASE}/folders/{folder_id}/breadcrumbs"))["breadcrumbs"]
        assert [c["id"] for c in crumbs][-1] == folder_id
        assert item["depth"] == len(crumbs) - 1
        chain = [folder_id]
        while folders[chain[-1]]["parent_id"] is not None:
            chain.append(folders[chain[-1]]["parent_id"])
            assert len(chain) <= len(folders), "a cycle"
        assert [c["id"] for c in crumbs] == chain[::-1]
        assert item["file_count"] == len(await listed(web, folder_id=folder_id))
        children = [f for f in folders.values() if f["parent_id"] == folder_id]
        assert item["subfolder_count"] == len(children)
        assert all(child["project_id"] == item["project_id"] for child in children)


async def test_a_tree_is_built_listed_read_and_renamed(web: httpx.AsyncClient) -> None:
    photos = await folder(web, " Photos ")
    assert photos["name"] == "Photos" and photos["depth"] == 0 and photos["parent_id"] is None
    assert set(photos) == {
        "id",
        "name",
        "parent_id",
        "project_id",
        "depth",
        "file_count",
        "subfolder_count",
        "created_at",
        "updated_at",
    }
    trips = await folder(web, "Trips", photos)
    rome = await folder(web, "Rome", trips)
    assert (trips["depth"], rome["depth"], rome["parent_id"]) == (1, 2, trips["id"])
    await uploaded(web, 1, folder_id=rome["id"])

    listing = ok(await web.get(f"{BASE}/folders"))
    assert [f["name"] for f in listing["items"]] == ["Photos", "Trips", "Rome"]
    assert listing["total_count"] == 3 and listing["has_more"] is False
    counts = {f["name"]: (f["file_count"], f["subfolder_count"]) for f in listing["items"]}
    assert counts == {"Photos": (0, 1), "Trips": (0, 1), "Rome": (1, 0)}

    detail = ok(await web.get(f"{BASE}/folders/{trips['id']}"))
    assert set(detail) == {
        "folder",
        "breadcrumbs",
        "subfolders",
        "files",
        "total_files",
        "has_more_files",
    }
    assert [c["name"] for c in detail["breadcrumbs"]] == ["Photos", "Trips"]
    assert [c["depth"] for c in detail["breadcrumbs"]] == [0, 1]
    assert [s["name"] for s in detail["subfolders"]] == ["Rome"]
    assert detail["files"] == [] and detail["total_files"] == 0
    inside = ok(await web.get(f"{BASE}/folders/{rome['id']}", params={"limit": 1}))
    assert inside["total_files"] == 1 and inside["has_more_files"] is False
    assert inside["files"][0]["folder_id"] == rome["id"]

    renamed = ok(await web.patch(f"{BASE}/folders/{rome['id']}", json={"name": "Roma"}))
    assert renamed["name"] == "Roma" and renamed["file_count"] == 1
    crumbs = ok(await web.get(f"{BASE}/folders/{rome['id']}/breadcrumbs"))["breadcrumbs"]
    assert [c["name"] for c in crumbs] == ["Photos", "Trips", "Roma"]


async def test_sibling_names_are_unique_in_any_case_and_only_among_siblings(
    web: httpx.AsyncClient,
) -> None:
    photos = await folder(web, "Photos")
    clash = await web.post(f"{BASE}/folders", json={"name": "PHOTOS"})
    assert refused(clash, 409, "CONFLICT")["details"]["field"] == "name"
    inner = await folder(web, "photos", photos)  # a child may share its parent's name
    work = await project(web, "Work")
    await folder(web, "Photos", project=work)  # another project's top level
    other = await folder(web, "Other")
    rename = await web.patch(f"{BASE}/folders/{other['id']}", json={"name": "photos"})
    refused(rename, 409, "CONFLICT")
    again = await web.patch(f"{BASE}/folders/{photos['id']}", json={"name": "PHOTOS"})
    assert ok(again)["name"] == "PHOTOS"  # its own name in another case
    move = await web.post(f"{BASE}/folders/{inner['id']}/move", json={"parent_id": None})
    refused(move, 409, "CONFLICT")


@pytest.mark.parametrize("name", ["", "   ", ".", "..", "a\u202eb", "x" * 256])
async def test_a_bad_name_is_refused(web: httpx.AsyncClient, name: str) -> None:
    answer = await web.post(f"{BASE}/folders", json={"name": name})
    assert refused(answer, 422, "VALIDATION_ERROR")["details"]["field"] == "name"


async def test_folders_nest_twenty_levels_and_no_deeper(web: httpx.AsyncClient) -> None:
    chain = [await folder(web, "level 0")]
    for level in range(1, 20):
        chain.append(await folder(web, f"level {level}", chain[-1]))
    assert chain[-1]["depth"] == 19
    deeper = await web.post(f"{BASE}/folders", json={"name": "too", "parent_id": chain[-1]["id"]})
    assert refused(deeper, 422, "VALIDATION_ERROR")["details"]["reason"] == "too_deep"

    # A folder with one level below it may go as deep as leaves that level at 20.
    pair = await folder(web, "pair")
    await folder(web, "pair child", pair)
    fits = await web.post(f"{BASE}/folders/{pair['id']}/move", json={"parent_id": chain[17]["id"]})
    assert ok(fits)["depth"] == 18
    too = await web.post(f"{BASE}/folders/{pair['id']}/move", json={"parent_id": chain[18]["id"]})
    assert refused(too, 422, "VALIDATION_ERROR")["details"]["reason"] == "too_deep"
    await assert_consistent(web)


async def test_a_move_carries_the_subtree_and_a_cycle_is_refused(web: httpx.AsyncClient) -> None:
    a = await folder(web, "a")
    b = await folder(web, "b", a)
    c = await folder(web, "c", b)
    other = await folder(web, "other")
    for target in (a, b, c):
        cycle = await web.post(f"{BASE}/folders/{a['id']}/move", json={"parent_id": target["id"]})
        assert refused(cycle, 422, "VALIDATION_ERROR")["details"]["reason"] == "cycle"

    moved = ok(await web.post(f"{BASE}/folders/{b['id']}/move", json={"parent_id": other["id"]}))
    assert (moved["parent_id"], moved["depth"]) == (other["id"], 1)
    crumbs = ok(await web.get(f"{BASE}/folders/{c['id']}/breadcrumbs"))["breadcrumbs"]
    assert [x["name"] for x in crumbs] == ["other", "b", "c"]
    top = ok(await web.post(f"{BASE}/folders/{c['id']}/move", json={"parent_id": None}))
    assert (top["parent_id"], top["depth"]) == (None, 0)
    await assert_consistent(web)


async def test_concurrent_moves_never_make_a_cycle(web: httpx.AsyncClient) -> None:
    a, b = await folder(web, "a"), await folder(web, "b")
    answers = await asyncio.gather(
        web.post(f"{BASE}/folders/{a['id']}/move", json={"parent_id": b["id"]}),
        web.post(f"{BASE}/folders/{b['id']}/move", json={"parent_id": a["id"]}),
    )
    assert sorted(r.status_code for r in answers) == [200, 422]
    await assert_consistent(web)


async def test_folders_keep_to_their_project(web: httpx.AsyncClient) -> None:
    work, home = await project(web, "Work"), await project(web, "Home")
    invoices = await folder(web, "Invoices", project=work)
    assert invoices["project_id"] == work["id"]
    child = await folder(web, "2026", invoices)
    assert child["project_id"] == work["id"]  # a child takes its parent's project
    mismatch = await web.post(
        f"{BASE}/folders",
        json={"name": "x", "parent_id": invoices["id"], "project_id": home["id"]},
    )
    refused(mismatch, 422, "VALIDATION_ERROR")
    elsewhere = await folder(web, "Garden", project=home)
    across = await web.post(
        f"{BASE}/folders/{child['id']}/move", json={"parent_id": elsewhere["id"]}
    )
    assert refused(across, 422, "VALIDATION_ERROR")["details"]["reason"] == "other_project"
    only_work = ok(await web.get(f"{BASE}/folders", params={"project_id": work["id"]}))
    assert [f["name"] for f in only_work["items"]] == ["Invoices", "2026"]
    unknown = await web.get(f"{BASE}/folders", params={"project_id": "0" * 36})
    refused(unknown, 404, "NOT_FOUND")


async def test_uploads_are_placed_and_listed_by_folder_and_project(
    web: httpx.AsyncClient,
) -> None:
    work = await project(web, "Work")
    invoices = await folder(web, "Invoices", project=work)
    paid = await folder(web, "Paid", invoices)
    loose = await folder(web, "Loose")
    in_paid = await uploaded(web, 1, folder_id=paid["id"])
    in_invoices = await uploaded(web, 2, folder_id=invoices["id"], project_id=work["id"])
    at_work = await uploaded(web, 3, project_id=work["id"])
    in_loose = await uploaded(web, 4, folder_id=loose["id"])
    nowhere = await uploaded(web, 5)

    paid_file = ok(await web.get(f"{BASE}/files/{in_paid['image_id']}"))
    assert (paid_file["folder_id"], paid_file["project_id"]) == (paid["id"], work["id"])
    assert await listed(web, folder_id=invoices["id"]) == [in_invoices["image_id"]]
    assert await listed(web, folder_id=invoices["id"], include_subfolders=True) == sorted(
        [in_invoices["image_id"], in_paid["image_id"]]
    )
    assert await listed(web, project_id=work["id"]) == sorted(
        [in_paid["image_id"], in_invoices["image_id"], at_work["image_id"]]
    )
    assert await listed(web, folder_id=loose["id"]) == [in_loose["image_id"]]
    assert nowhere["image_id"] in await listed(web)
    missing = await web.get(f"{BASE}/files", params={"folder_id": "0" * 36})
    refused(missing, 404, "NOT_FOUND")

    home = await project(web, "Home")
    wrong = await upload(web, 6, folder_id=invoices["id"], project_id=home["id"])
    assert refused(wrong, 422, "VALIDATION_ERROR")["details"]["field"] == "project_id"
    unknown = await upload(web, 7, folder_id="0" * 36)
    assert refused(unknown, 404, "NOT_FOUND")["details"]["field"] == "folder_id"
    unknown_project = await upload(web, 8, project_id="not-an-id")
    refused(unknown_project, 404, "NOT_FOUND")
    assert len(await listed(web)) == 5  # nothing recorded for the refused uploads


async def test_another_tenants_folders_are_not_found(api: Api, web: httpx.AsyncClient) -> None:
    mine = await folder(web, "Private")
    theirs = {"Authorization": f"Bearer {api.other_key}"}
    for method, path, body in [
        ("GET", f"/folders/{mine['id']}", None),
        ("GET", f"/folders/{mine['id']}/breadcrumbs", None),
        ("PATCH", f"/folders/{mine['id']}", {"name": "x"}),
        ("POST", f"/folders/{mine['id']}/move", {"parent_id": None}),
        ("DELETE", f"/folders/{mine['id']}", None),
        ("POST", "/folders", {"name": "x", "parent_id": mine["id"]}),
    ]:
        answer = await web.request(method, BASE + path, json=body, headers=theirs)
        refused(answer, 404, "NOT_FOUND")
    listing = ok(await web.get(f"{BASE}/folders", headers=theirs))
    assert listing["items"] == [] and listing["total_count"] == 0
    data = jpeg_bytes(30, 30, seed=3)
    into = await web.post(
        f"{BASE}/files/upload",
        files={"file": ("x.jpg", data)},
        data={"folder_id": mine["id"]},
        headers=theirs,
    )
    refused(into, 404, "NOT_FOUND")
    files = await web.get(f"{BASE}/files", params={"folder_id": mine["id"]}, headers=theirs)
    refused(files, 404, "NOT_FOUND")
    assert ok(await web.get(f"{BASE}/folders/{mine['id']}"))["folder"]["name"] == "Private"


async def test_files_move_by_edit_and_in_bulk(api: Api, web: httpx.AsyncClient) -> None:
    work = await project(web, "Work")
    a = await folder(web, "a", project=work)
    b = await folder(web, "b")
    first, second = await uploaded(web, 1), await uploaded(web, 2)
    f1, f2 = first["image_id"], second["image_id"]

    edited = ok(await web.patch(f"{BASE}/files/{f1}", json={"folder_id": a["id"]}))
    assert (edited["folder_id"], edited["project_id"]) == (a["id"], work["id"])
    top = ok(await web.patch(f"{BASE}/files/{f1}", json={"folder_id": None}))
    assert (top["folder_id"], top["project_id"]) == (None, work["id"])  # its project's top
    out = ok(await web.patch(f"{BASE}/files/{f1}", json={"project_id": None}))
    assert (out["folder_id"], out["project_id"]) == (None, None)
    wrong = await web.patch(f"{BASE}/files/{f1}", json={"folder_id": a["id"], "project_id": None})
    refused(wrong, 422, "VALIDATION_ERROR")
    titled = ok(await web.patch(f"{BASE}/files/{f1}", json={"title": "kept in place"}))
    assert titled["folder_id"] is None

    moved = ok(
        await web.post(
            f"{BASE}/folders/move-files",
            json={"file_ids": [f1, f2, "0" * 36, f1], "folder_id": b["id"]},
        )
    )
    assert moved == {"moved": [f1, f2], "skipped": ["0" * 36]}
    assert await listed(web, folder_id=b["id"]) == sorted([f1, f2])
    theirs = await web.post(
        f"{BASE}/folders/move-files",
        json={"file_ids": [f1], "folder_id": a["id"]},
        headers={"Authorization": f"Bearer {api.other_key}"},
    )
    refused(theirs, 404, "NOT_FOUND")  # the folder is not theirs
    to_project = ok(
        await web.post(
            f"{BASE}/folders/move-files",
            json={"file_ids": [f2], "folder_id": None, "project_id": work["id"]},
        )
    )
    assert to_project["moved"] == [f2]
    assert await listed(web, project_id=work["id"]) == [f2]
    history = ok(await web.get(f"{BASE}/files/{f2}"))
    assert history["folder_id"] is None and history["project_id"] == work["id"]


async def test_a_folder_deletes_only_when_empty_unless_recursive(web: httpx.AsyncClient) -> None:
    top = await folder(web, "top")
    mid = await folder(web, "mid", top)
    low = await folder(web, "low", mid)
    kept = await uploaded(web, 1, folder_id=low["id"])
    dropped = await uploaded(web, 2, folder_id=mid["id"])
    ok(await web.delete(f"{BASE}/files/{dropped['image_id']}"), 204)
    in_mid = await uploaded(web, 3, folder_id=mid["id"])

    busy = refused(await web.delete(f"{BASE}/folders/{mid['id']}"), 409, "CONFLICT")
    assert busy["details"] == {"file_count": 2, "subfolder_count": 1}
    ok(await web.delete(f"{BASE}/folders/{mid['id']}", params={"recursive": "true"}), 204)
    assert set(await every_folder(web)) == {top["id"]}
    assert await listed(web, folder_id=top["id"]) == sorted([kept["image_id"], in_mid["image_id"]])
    restored = ok(await web.post(f"{BASE}/files/{dropped['image_id']}/restore"))
    assert restored["folder_id"] == top["id"]  # back where its folder's files went

    gone = await web.delete(
        f"{BASE}/folders/{top['id']}", params={"recursive": "true", "delete_files": "true"}
    )
    ok(gone, 204)
    assert await listed(web) == []
    back = ok(await web.post(f"{BASE}/files/{kept['image_id']}/restore"))
    assert back["folder_id"] is None  # its folder is gone: the top level
    empty = await folder(web, "empty")
    ok(await web.delete(f"{BASE}/folders/{empty['id']}"), 204)


async def test_a_project_deletes_only_when_empty_unless_recursive(web: httpx.AsyncClient) -> None:
    work = await project(web, "Work")
    inside = await folder(web, "inside", project=work)
    file = await uploaded(web, 1, folder_id=inside["id"])
    busy = refused(await web.delete(f"{BASE}/projects/{work['id']}"), 409, "CONFLICT")
    assert busy["details"] == {"file_count": 1, "folder_count": 1}
    ok(await web.delete(f"{BASE}/projects/{work['id']}", params={"recursive": "true"}), 204)
    left = ok(await web.get(f"{BASE}/files/{file['image_id']}"))
    assert (left["folder_id"], left["project_id"]) == (None, None)
    assert await every_folder(web) == {}

    home = await project(web, "Home")
    doomed = await uploaded(web, 2, project_id=home["id"])
    ok(
        await web.delete(
            f"{BASE}/projects/{home['id']}", params={"recursive": "true", "delete_files": "true"}
        ),
        204,
    )
    assert await listed(web) == [file["image_id"]]
    refused(await web.get(f"{BASE}/files/{doomed['image_id']}"), 404, "NOT_FOUND")


async def test_counts_stay_right_under_concurrent_uploads_moves_and_deletes(
    web: httpx.AsyncClient,
) -> None:
    left, right = await folder(web, "left"), await folder(web, "right")
    doomed = await folder(web, "doomed")
    seeds = iter(range(100, 200))
    files = [(await uploaded(web, next(seeds), folder_id=left["id"]))["image_id"] for _ in range(6)]
    work = [upload(web, next(seeds), folder_id=left["id"]) for _ in range(4)]
    work += [upload(web, next(seeds), folder_id=doomed["id"]) for _ in range(4)]
    work += [
        web.post(f"{BASE}/folders/move-files", json={"file_ids": [f], "folder_id": right["id"]})
        for f in files[:3]
    ]
    work += [web.delete(f"{BASE}/files/{files[3]}")]
    work += [web.delete(f"{BASE}/folders/{doomed['id']}", params={"recursive": "true"})]
    answers = await asyncio.gather(*work)
    uploads_to_doomed = answers[4:8]
    assert all(a.status_code == 201 for a in answers[:4])
    # An upload into the deleted folder either landed before the delete (and its file went to
    # the top level with the folder's others) or found the folder gone.
    assert all(a.status_code in (201, 404) for a in uploads_to_doomed), [
        a.text for a in uploads_to_doomed
    ]
    assert all(a.status_code in (200, 204) for a in answers[8:])
    await assert_consistent(web)
    folders = await every_folder(web)
    assert folders[left["id"]]["file_count"] == 6 - 3 - 1 + 4
    assert folders[right["id"]]["file_count"] == 3
    landed = sum(a.status_code == 201 for a in uploads_to_doomed)
    everywhere = await listed(web)
    in_right = await listed(web, folder_id=right["id"])
    in_left = await listed(web, folder_id=left["id"])
    assert len(everywhere) - len(in_right) - len(in_left) == landed  # moved to the top level


async def test_links_and_direct_uploads_are_placed_too(web: httpx.AsyncClient) -> None:
    inbox = await folder(web, "Inbox")
    link = await web.post(
        f"{BASE}/files/links",
        json={"url": "https://example.com/page", "auto_describe": False, "folder_id": inbox["id"]},
    )
    link_id = ok(link, 201)["image_id"]
    assert ok(await web.get(f"{BASE}/files/{link_id}"))["folder_id"] == inbox["id"]
    refused(
        await web.post(
            f"{BASE}/files/links",
            json={"url": "https://example.com/other", "folder_id": "0" * 36},
        ),
        404,
        "NOT_FOUND",
    )
    data = jpeg_bytes(50, 40, seed=77)
    start = {
        "filename": "direct.jpg",
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "auto_describe": False,
    }
    refused(
        await web.post(f"{BASE}/files/direct-uploads", json={**start, "folder_id": "0" * 36}),
        404,
        "NOT_FOUND",
    )
    begun = ok(
        await web.post(f"{BASE}/files/direct-uploads", json={**start, "folder_id": inbox["id"]}),
        201,
    )
    for part in begun["part_urls"]:
        offset = (part["part_number"] - 1) * begun["part_size"]
        chunk = data[offset : offset + begun["part_size"]]
        ok(await web.put(part["url"], content=chunk, headers={"Authorization": ""}))
    done = ok(await web.post(f"{BASE}/files/direct-uploads/{begun['upload_id']}/complete"), 201)
    assert ok(await web.get(f"{BASE}/files/{done['image_id']}"))["folder_id"] == inbox["id"]
    assert await listed(web, folder_id=inbox["id"]) == sorted([link_id, done["image_id"]])
