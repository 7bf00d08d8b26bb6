"""The SDK's folder calls: what they send and how they read the answers over real sockets, and
the async SDK against the real app on SQLite and PostgreSQL (folders, files placed in them by
upload, link and move, and deletes that take folders with them)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from apiclient import Api
from imagefactory import jpeg_bytes
from scopix import ResourceNotFoundError, Scopix, ScopixError, SyncScopix, ValidationError
from scopix.client import _direct
from scopix.types.folders import Breadcrumb, Folder, FolderContents, MovedFiles, tree_order
from scriptedhttp import Reply, ScriptedServer

STAMP = "2026-12-08T10:00:00Z"


def ok(body: Any, status: int = 200) -> Reply:
    return (status, {}, json.dumps(body).encode())


def folder(number: int, parent: int | None = None, depth: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"f{number}",
        "name": f"F{number}",
        "parent_id": None if parent is None else f"f{parent}",
        "project_id": None,
        "depth": depth,
        "file_count": 0,
        "subfolder_count": 0,
        "created_at": STAMP,
        "updated_at": STAMP,
        **extra,
    }


def client(server: ScriptedServer) -> Scopix:
    return Scopix(api_key="k", base_url=server.url, retry_delay=0)


def sent(server: ScriptedServer) -> list[tuple[str, str]]:
    return [(s.method, s.path.removeprefix("/api/v2")) for s in server.seen]


def form_field(body: bytes, name: str) -> str | None:
    """The value of a text field of a multipart body, None when it is not there."""
    marker = f'name="{name}"\r\n\r\n'.encode()
    if marker not in body:
        return None
    return body.split(marker, 1)[1].split(b"\r\n", 1)[0].decode()


def test_the_sync_client_creates_lists_reads_renames_moves_and_deletes_folders() -> None:
    contents = {
        "folder": folder(2, parent=1, depth=1, file_count=1),
        "breadcrumbs": [{"id": "f1", "name": "F1", "depth": 0}, {"id": "f2", "name": "F2"}],
        "subfolders": [folder(3, parent=2, depth=2)],
        "files": [{"id": "i1", "filename": "a.jpg", "folder_id": "f2"}],
        "total_files": 7,
        "has_more_files": True,
    }
    replies = [
        ok(folder(1, project_id="p1"), status=201),
        ok({"items": [folder(n) for n in range(1000)], "total_count": 1001, "has_more": True}),
        ok({"items": [folder(1000)], "total_count": 1001, "has_more": False}),
        ok(contents),
        ok({"breadcrumbs": contents["breadcrumbs"]}),
        ok({**folder(2), "name": "Renamed", "future_field": 1}),
        ok(folder(2)),
        (204, {}, b""),
        (204, {}, b""),
    ]
    with (
        ScriptedServer(replies) as server,
        SyncScopix(api_key="k", base_url=server.url, retry_delay=0) as scopix,
    ):
        made = scopix.folders.create("F1", parent_id="f0", project_id="p1")
        listed = scopix.folders.list(project_id="p1")
        shown = scopix.folders.get("f2", limit=5, offset=5)
        crumbs = scopix.folders.breadcrumbs("f2")
        renamed = scopix.folders.rename("f2", "Renamed")
        moved = scopix.folders.move("f2", parent_id=None)
        scopix.folders.delete("f2")
        scopix.folders.delete("f2", recursive=True, delete_files=True)
    assert made == Folder.from_dict(folder(1, project_id="p1"))
    assert made.project_id == "p1" and made.created_at is not None
    assert [f.id for f in listed] == [f"f{n}" for n in range(1001)]
    assert shown.folder.id == "f2" and shown.folder.file_count == 1
    assert shown.path == "F1 / F2" and [s.id for s in shown.subfolders] == ["f3"]
    assert [f.id for f in shown.files] == ["i1"] and shown.files[0].folder_id == "f2"
    assert (shown.total_files, shown.has_more_files) == (7, True)
    assert crumbs == [Breadcrumb("f1", "F1", 0), Breadcrumb("f2", "F2", 0)]
    assert renamed.name == "Renamed" and moved.parent_id is None
    assert sent(server) == [
        ("POST", "/folders"),
        ("GET", "/folders?project_id=p1&limit=1000&offset=0"),
        ("GET", "/folders?project_id=p1&limit=1000&offset=1000"),
        ("GET", "/folders/f2?limit=5&offset=5"),
        ("GET", "/folders/f2/breadcrumbs"),
        ("PATCH", "/folders/f2"),
        ("POST", "/folders/f2/move"),
        ("DELETE", "/folders/f2"),
        ("DELETE", "/folders/f2?recursive=true&delete_files=true"),
    ]
    bodies = [json.loads(s.body) if s.body else None for s in server.seen]
    assert bodies[0] == {"name": "F1", "parent_id": "f0", "project_id": "p1"}
    assert bodies[5] == {"name": "Renamed"}
    assert bodies[6] == {"parent_id": None}, "a move to the top level says so"
    writes = [s for s in server.seen if s.method != "GET"]
    assert all("idempotency-key" in {k.lower() for k in s.headers} for s in writes)


async def test_a_top_level_folder_outside_projects_sends_its_name_alone() -> None:
    with ScriptedServer([ok(folder(1), status=201), ok({"items": []})]) as server:
        async with client(server) as scopix:
            await scopix.folders.create("F1")
            assert await scopix.folders.list() == []
    assert json.loads(server.seen[0].body) == {"name": "F1"}
    assert sent(server)[1] == ("GET", "/folders?limit=1000&offset=0")


async def test_move_files_sends_100_ids_a_request_and_adds_up_the_answers() -> None:
    ids = [f"i{n}" for n in range(230)]
    replies = [
        ok({"moved": ids[s : s + 100][:-1], "skipped": ids[s : s + 100][-1:]})
        for s in range(0, 230, 100)
    ]
    with ScriptedServer(replies) as server:
        async with client(server) as scopix:
            result = await scopix.folders.move_files(ids, folder_id="f1")
            nothing = await scopix.folders.move_files([], folder_id=None)
    bodies = [json.loads(s.body) for s in server.seen]
    assert [len(b["file_ids"]) for b in bodies] == [100, 100, 30]
    assert all(b.keys() == {"file_ids", "folder_id"} and b["folder_id"] == "f1" for b in bodies)
    assert result.skipped == ["i99", "i199", "i229"]
    assert result.moved == [i for i in ids if i not in result.skipped]
    assert nothing == MovedFiles() and len(server.seen) == 3
    assert len({s.headers["Idempotency-Key"] for s in server.seen}) == 3


async def test_move_files_to_the_top_of_a_project_names_the_project() -> None:
    with ScriptedServer([ok({"moved": ["i1"], "skipped": []})]) as server:
        async with client(server) as scopix:
            await scopix.folders.move_files(["i1"], folder_id=None, project_id="p1")
    assert json.loads(server.seen[0].body) == {
        "file_ids": ["i1"],
        "folder_id": None,
        "project_id": "p1",
    }


async def test_uploads_send_the_folder_and_project_as_form_fields() -> None:
    single = {"image_id": "i1", "filename": "a.jpg", "status": "processing"}
    batch = {
        "session_id": "s1",
        "results": [{"position": 0, "filename": "b.jpg", "result": {**single, "image_id": "i2"}}],
    }
    quota = {
        "can_proceed": True,
        "requested": 1,
        "available": 100,
        "monthly_limit": 100,
        "current_usage": 0,
        "max_batch_size": 100,
        "max_concurrent_uploads": 4,
    }
    replies = [ok(single, 201), ok(quota), ok(batch, 201), ok(single, 201)]
    with ScriptedServer(replies) as server:
        async with client(server) as scopix:
            options: dict[str, Any] = {"auto_describe": False, "wait_for_descriptions": False}
            await scopix.files.upload(b"one", folder_id="f1", project_id="p1", **options)
            await scopix.files.upload_batch([b"two"], folder_id="f2", **options)
            await scopix.files.upload(b"three", **options)
    first, _, second, plain = server.seen
    assert (form_field(first.body, "folder_id"), form_field(first.body, "project_id")) == (
        "f1",
        "p1",
    )
    assert second.path.endswith("/files/upload/batch")
    assert (form_field(second.body, "folder_id"), form_field(second.body, "project_id")) == (
        "f2",
        None,
    )
    assert form_field(plain.body, "folder_id") is None
    assert form_field(plain.body, "project_id") is None


async def test_a_direct_upload_names_the_folder_and_project_when_it_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_direct, "STREAMING_LIMIT", 4)
    known = {"image_id": "i9", "filename": "upload", "status": "completed"}
    started = {"upload_id": None, "size_bytes": 9, "deduplicated": True, "result": known}
    with ScriptedServer([ok(started, 201)]) as server:
        async with client(server) as scopix:
            result = await scopix.files.upload(
                b"123456789", folder_id="f1", project_id="p1", wait_for_descriptions=False
            )
    (seen,) = server.seen
    assert seen.path == "/api/v2/files/direct-uploads"
    body = json.loads(seen.body)
    assert (body["folder_id"], body["project_id"], body["size_bytes"]) == ("f1", "p1", 9)
    assert result.image_id == "i9"


async def test_links_name_their_folder_and_project_only_when_given() -> None:
    saved = {"image_id": "l1", "filename": "https://example.com/", "media_type": "link"}
    batch = {"results": [{"url": "https://example.com/", "file": saved, "error": None}]}
    replies = [ok(saved, 201), ok(batch, 201), ok(saved, 201)]
    with ScriptedServer(replies) as server:
        async with client(server) as scopix:
            await scopix.files.add_link("https://example.com/", folder_id="f1")
            await scopix.files.add_links(["https://example.com/"], project_id="p1")
            await scopix.files.add_link("https://example.com/")
    one, many, plain = (json.loads(s.body) for s in server.seen)
    assert one["folder_id"] == "f1" and "project_id" not in one
    assert many["project_id"] == "p1" and "folder_id" not in many
    assert "folder_id" not in plain and "project_id" not in plain


async def test_files_are_listed_by_folder_and_moved_by_update() -> None:
    page = {"items": [], "total_count": 0, "has_more": False, "limit": 20, "offset": 0}
    details = {"id": "i1", "filename": "a.jpg", "folder_id": None, "project_id": "p1"}
    replies = [ok(page), ok(page), ok(details), ok(details), (204, {}, b"")]
    with ScriptedServer(replies) as server:
        async with client(server) as scopix:
            await scopix.files.list(folder_id="f1", include_subfolders=True, project_id="p1")
            await scopix.files.list()
            await scopix.files.update("i1", folder_id=None)
            await scopix.files.update("i1", title="T", folder_id="f2", project_id=None)
            await scopix.projects.delete("p1", recursive=True)
    listed, plain, *_ = server.seen
    assert "folder_id=f1&include_subfolders=true&project_id=p1" in listed.path
    assert "folder" not in plain.path and "project" not in plain.path
    assert json.loads(server.seen[2].body) == {"folder_id": None}
    assert json.loads(server.seen[3].body) == {"title": "T", "folder_id": "f2", "project_id": None}
    assert sent(server)[4] == ("DELETE", "/projects/p1?recursive=true")


def test_folders_parse_with_defaults_and_ignore_unknown_keys() -> None:
    sparse = Folder.from_dict({"id": 7, "name": "A", "colour": "red"})
    assert sparse == Folder(id="7", name="A")
    assert (sparse.depth, sparse.file_count, sparse.parent_id) == (0, 0, None)
    contents = FolderContents.from_dict({"folder": {"id": "f1", "name": "A"}})
    assert contents.path == "A" and contents.files == [] and contents.total_files == 0
    assert MovedFiles.from_dict({"moved": ["a"], "extra": 1}) == MovedFiles(["a"], [])


def test_tree_order_puts_each_folder_before_its_subfolders_by_name() -> None:
    flat = [
        Folder("b", "beta"),
        Folder("a", "Alpha"),
        Folder("b1", "x", parent_id="b", depth=1),
        Folder("a2", "Zed", parent_id="a", depth=1),
        Folder("a1", "ant", parent_id="a", depth=1),
        Folder("a11", "deep", parent_id="a1", depth=2),
    ]
    assert [f.id for f in tree_order(flat)] == ["a", "a1", "a11", "a2", "b", "b1"]
    part = [f for f in flat if f.id != "a"]
    assert [f.id for f in tree_order(part)] == ["a1", "a11", "b", "b1", "a2"]


@given(
    st.lists(
        st.tuples(st.integers(0, 9), st.integers(-1, 9)), max_size=10, unique_by=lambda t: t[0]
    )
)
def test_tree_order_keeps_every_folder_once(links: list[tuple[int, int]]) -> None:
    folders = [Folder(str(n), f"n{n}", parent_id=None if p < 0 else str(p)) for n, p in links]
    ordered = tree_order(folders)
    assert sorted(f.id for f in ordered) == sorted(f.id for f in folders)
    position = {f.id: i for i, f in enumerate(ordered)}
    for f in folders:
        parent = f.parent_id
        if parent in position and not _in_cycle(folders, f):
            assert position[parent] < position[f.id]


def _in_cycle(folders: list[Folder], start: Folder) -> bool:
    parents = {f.id: f.parent_id for f in folders}
    seen: set[str] = set()
    at: str | None = start.id
    while at is not None and at in parents:
        if at in seen:
            return True
        seen.add(at)
        at = parents[at]
    return False


# The SDK against the app: SQLite and PostgreSQL.


@pytest.fixture
async def scopix(api: Api) -> AsyncIterator[Scopix]:
    """The async SDK on the app in this process, with a key without a rate limit."""
    key = (await api.services.keys.create_key("initech", tier="custom")).plaintext
    http = httpx.AsyncClient(transport=api.transport, base_url="http://testserver/api/v2")
    async with Scopix(api_key=key, retry_delay=0, http_client=http) as client:
        yield client


async def upload(scopix: Scopix, seed: int, **placement: Any) -> str:
    result = await scopix.files.upload(
        jpeg_bytes(32, 24, seed=seed),
        auto_describe=False,
        wait_for_descriptions=False,
        **placement,
    )
    return result.image_id


async def test_the_sdk_builds_reads_and_renames_a_tree_of_folders(scopix: Scopix) -> None:
    photos = await scopix.folders.create("Photos")
    trips = await scopix.folders.create("Trips", parent_id=photos.id)
    rome = await scopix.folders.create("Rome", parent_id=trips.id)
    await scopix.folders.create("Archive")
    assert (photos.depth, trips.depth, rome.depth) == (0, 1, 2)
    assert (rome.parent_id, rome.project_id) == (trips.id, None)

    listed = await scopix.folders.list()
    assert [(f.name, f.depth) for f in listed] == [
        ("Archive", 0),
        ("Photos", 0),
        ("Trips", 1),
        ("Rome", 2),
    ]
    assert [f.name for f in tree_order(listed)] == ["Archive", "Photos", "Trips", "Rome"]
    assert next(f for f in listed if f.id == photos.id).subfolder_count == 1

    crumbs = await scopix.folders.breadcrumbs(rome.id)
    assert [(b.id, b.name, b.depth) for b in crumbs] == [
        (photos.id, "Photos", 0),
        (trips.id, "Trips", 1),
        (rome.id, "Rome", 2),
    ]
    contents = await scopix.folders.get(trips.id)
    assert contents.path == "Photos / Trips"
    assert [s.id for s in contents.subfolders] == [rome.id]
    assert (contents.files, contents.total_files, contents.has_more_files) == ([], 0, False)

    with pytest.raises(ScopixError) as taken:
        await scopix.folders.create("TRIPS", parent_id=photos.id)
    assert taken.value.code == "CONFLICT"
    assert (await scopix.folders.create("Trips")).depth == 0, "another level, another name"
    renamed = await scopix.folders.rename(rome.id, "Roma")
    assert (renamed.name, renamed.parent_id, renamed.created_at) == (
        "Roma",
        trips.id,
        rome.created_at,
    )
    with pytest.raises(ResourceNotFoundError):
        await scopix.folders.get("no-such-folder")


async def test_the_sdk_moves_folders_but_never_into_themselves(scopix: Scopix) -> None:
    photos = await scopix.folders.create("Photos")
    trips = await scopix.folders.create("Trips", parent_id=photos.id)
    rome = await scopix.folders.create("Rome", parent_id=trips.id)
    for target in (trips.id, rome.id):
        with pytest.raises(ValidationError):
            await scopix.folders.move(trips.id, parent_id=target)
    top = await scopix.folders.move(trips.id, parent_id=None)
    assert (top.parent_id, top.depth) == (None, 0)
    assert [b.name for b in await scopix.folders.breadcrumbs(rome.id)] == ["Trips", "Rome"]
    back = await scopix.folders.move(trips.id, parent_id=photos.id)
    assert (back.parent_id, back.depth) == (photos.id, 1)
    assert (await scopix.folders.get(rome.id)).folder.depth == 2


async def test_files_are_uploaded_into_folders_listed_and_moved(scopix: Scopix) -> None:
    photos = await scopix.folders.create("Photos")
    trips = await scopix.folders.create("Trips", parent_id=photos.id)
    first = await upload(scopix, 1, folder_id=photos.id)
    batch = await scopix.files.upload_batch(
        [jpeg_bytes(32, 24, seed=2), jpeg_bytes(32, 24, seed=3)],
        folder_id=trips.id,
        auto_describe=False,
        wait_for_descriptions=False,
    )
    deep = [r.image_id for r in batch]
    loose = await upload(scopix, 4)

    assert (await scopix.files.get(first)).folder_id == photos.id
    assert {(await scopix.files.get(i)).folder_id for i in deep} == {trips.id}
    assert (await scopix.files.get(loose)).folder_id is None
    direct = await scopix.files.list(folder_id=photos.id)
    assert [f.id for f in direct.items] == [first]
    below = await scopix.files.list(folder_id=photos.id, include_subfolders=True)
    assert sorted(f.id for f in below.items) == sorted([first, *deep])
    contents = await scopix.folders.get(trips.id, limit=1)
    assert (len(contents.files), contents.total_files, contents.has_more_files) == (1, 2, True)
    assert (await scopix.folders.get(trips.id)).folder.file_count == 2

    moved = await scopix.folders.move_files([loose, deep[0], "no-such-file"], folder_id=photos.id)
    assert sorted(moved.moved) == sorted([loose, deep[0]])
    assert moved.skipped == ["no-such-file"]
    assert (await scopix.folders.get(photos.id)).folder.file_count == 3
    out = await scopix.folders.move_files([first], folder_id=None)
    assert out.moved == [first]
    assert (await scopix.files.get(first)).folder_id is None
    updated = await scopix.files.update(first, folder_id=trips.id)
    assert updated.folder_id == trips.id
    kept = await scopix.files.update(first, title="Kept where it is")
    assert (kept.folder_id, kept.title) == (trips.id, "Kept where it is")
    with pytest.raises(ResourceNotFoundError):
        await upload(scopix, 5, folder_id="no-such-folder")


async def test_a_link_is_saved_into_a_folder(scopix: Scopix) -> None:
    reading = await scopix.folders.create("Reading")
    saved = await scopix.files.add_link(
        "https://example.com/otters", folder_id=reading.id, auto_describe=False
    )
    (many,) = await scopix.files.add_links(
        ["https://example.com/rivers"], folder_id=reading.id, auto_describe=False
    )
    assert many.file is not None
    for image_id in (saved.image_id, many.file.image_id):
        assert (await scopix.files.get(image_id)).folder_id == reading.id


async def test_folders_and_files_follow_their_project(scopix: Scopix) -> None:
    trips = await scopix.projects.create("Trips")
    work = await scopix.projects.create("Work")
    top = await scopix.folders.create("2026", project_id=trips.id)
    child = await scopix.folders.create("Rome", parent_id=top.id)
    assert (top.project_id, child.project_id) == (trips.id, trips.id)
    with pytest.raises(ValidationError):
        await scopix.folders.create("Bad", parent_id=top.id, project_id=work.id)
    elsewhere = await scopix.folders.create("Office", project_id=work.id)
    with pytest.raises(ValidationError):
        await scopix.folders.move(child.id, parent_id=elsewhere.id)
    assert [f.id for f in await scopix.folders.list(project_id=trips.id)] == [top.id, child.id]

    in_folder = await upload(scopix, 10, folder_id=child.id)
    assert (await scopix.files.get(in_folder)).project_id == trips.id
    at_top = await upload(scopix, 11, project_id=trips.id)
    details = await scopix.files.get(at_top)
    assert (details.folder_id, details.project_id) == (None, trips.id)
    with pytest.raises(ValidationError):
        await upload(scopix, 12, folder_id=child.id, project_id=work.id)
    listed = await scopix.files.list(project_id=trips.id)
    assert sorted(f.id for f in listed.items) == sorted([in_folder, at_top])

    moved = await scopix.folders.move_files([at_top], folder_id=None, project_id=work.id)
    assert moved.moved == [at_top]
    assert (await scopix.files.get(at_top)).project_id == work.id
    out = await scopix.files.update(at_top, project_id=None)
    assert (out.folder_id, out.project_id) == (None, None)

    with pytest.raises(ScopixError) as busy:
        await scopix.projects.delete(trips.id)
    assert busy.value.code == "CONFLICT"
    await scopix.projects.delete(trips.id, recursive=True)
    assert [f.id for f in await scopix.folders.list(project_id=None)] == [elsewhere.id]
    left = await scopix.files.get(in_folder)
    assert (left.folder_id, left.project_id) == (None, None)
    await scopix.projects.delete(work.id, recursive=True, delete_files=True)
    assert await scopix.folders.list() == []


async def test_a_folder_is_deleted_empty_or_with_everything_below_it(scopix: Scopix) -> None:
    photos = await scopix.folders.create("Photos")
    trips = await scopix.folders.create("Trips", parent_id=photos.id)
    rome = await scopix.folders.create("Rome", parent_id=trips.id)
    in_trips = await upload(scopix, 20, folder_id=trips.id)
    in_rome = await upload(scopix, 21, folder_id=rome.id)
    with pytest.raises(ScopixError) as busy:
        await scopix.folders.delete(trips.id)
    assert busy.value.code == "CONFLICT"

    await scopix.folders.delete(trips.id, recursive=True)
    assert [f.id for f in await scopix.folders.list()] == [photos.id]
    for image_id in (in_trips, in_rome):
        assert (await scopix.files.get(image_id)).folder_id == photos.id
    with pytest.raises(ResourceNotFoundError):
        await scopix.folders.get(rome.id)

    await scopix.folders.delete(photos.id, recursive=True, delete_files=True)
    assert await scopix.folders.list() == []
    with pytest.raises(ResourceNotFoundError):
        await scopix.files.get(in_trips)
    empty = await scopix.folders.create("Empty")
    await scopix.folders.delete(empty.id)
    assert await scopix.folders.list() == []


async def test_another_tenants_folders_are_not_found(scopix: Scopix, api: Api) -> None:
    http = httpx.AsyncClient(transport=api.transport, base_url="http://testserver/api/v2")
    async with Scopix(api_key=api.other_key, retry_delay=0, http_client=http) as other:
        theirs = await other.folders.create("Secret")
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: scopix.folders.get(theirs.id),
            lambda: scopix.folders.rename(theirs.id, "Mine"),
            lambda: scopix.folders.move(theirs.id, parent_id=None),
            lambda: scopix.folders.delete(theirs.id),
            lambda: scopix.folders.create("Inside", parent_id=theirs.id),
        ]
        for call in calls:
            with pytest.raises(ResourceNotFoundError):
                await call()
        assert await scopix.folders.list() == []
        assert [f.name for f in await other.folders.list()] == ["Secret"]
