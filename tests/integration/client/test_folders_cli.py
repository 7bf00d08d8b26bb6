"""`scopix folders ...` and `scopix upload --folder`: what the commands send and print, over real
sockets to a scripted server, then against the real app on SQLite and PostgreSQL (served by
uvicorn in the test's event loop, the command run in a thread)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from apiclient import Api, on_socket
from imagefactory import jpeg_bytes
from scopix.cli.app import app
from scriptedhttp import Reply, ScriptedServer

STAMP = "2026-12-08T10:00:00Z"


def ok(body: Any, status: int = 200) -> Reply:
    return (status, {}, json.dumps(body).encode())


def envelope(status: int, code: str, message: str = "no") -> Reply:
    body = {"error": {"code": code, "message": message, "details": {}}, "request_id": "r1"}
    return (status, {}, json.dumps(body).encode())


def folder(
    ident: str, name: str, parent: str | None = None, depth: int = 0, **extra: Any
) -> dict[str, Any]:
    return {
        "id": ident,
        "name": name,
        "parent_id": parent,
        "project_id": None,
        "depth": depth,
        "file_count": 0,
        "subfolder_count": 0,
        "created_at": STAMP,
        "updated_at": STAMP,
        **extra,
    }


def run_cli(base_url: str, *args: str) -> Result:
    env = {"SCOPIX_API_KEY": "k", "SCOPIX_BASE_URL": base_url, "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


def body_of(server: ScriptedServer, index: int = 0) -> Any:
    return json.loads(server.seen[index].body)


TREE = [
    folder("a", "Alpha", file_count=2, subfolder_count=1),
    folder("b", "beta"),
    folder("a1", "Trips", parent="a", depth=1, file_count=5),
]


def test_folders_list_prints_the_tree_indented_with_file_counts() -> None:
    with ScriptedServer([ok({"items": TREE, "total_count": 3, "has_more": False})]) as server:
        done = run_cli(server.url, "folders", "list", "--project", "p1")
    assert done.exit_code == 0, done.output
    assert server.seen[0].path == "/api/v2/folders?project_id=p1&limit=1000&offset=0"
    lines = done.stdout.splitlines()
    alpha = next(line for line in lines if "Alpha" in line)
    trips = next(line for line in lines if "Trips" in line)
    beta = next(line for line in lines if "beta" in line)
    assert lines.index(alpha) < lines.index(trips) < lines.index(beta), "children under parents"
    assert trips.index("Trips") == alpha.index("Alpha") + 2, "a level is two spaces"
    assert alpha.split() == ["Alpha", "2", "1", "a"]
    assert trips.split() == ["Trips", "5", "0", "a1"]
    assert "3 folders" in done.stdout


def test_folders_list_as_json_is_the_tree_in_reading_order() -> None:
    with ScriptedServer([ok({"items": TREE, "total_count": 3, "has_more": False})]) as server:
        done = run_cli(server.url, "folders", "list", "--json")
    assert done.exit_code == 0, done.output
    assert [f["id"] for f in json.loads(done.stdout)] == ["a", "a1", "b"]
    with ScriptedServer([ok({"items": [], "total_count": 0, "has_more": False})]) as server:
        empty = run_cli(server.url, "folders", "list")
    assert empty.exit_code == 0 and "0 folders" in empty.stdout


def test_folders_create_sends_the_parent_and_project_and_shows_the_folder() -> None:
    made = folder("a1", "Trips", parent="a", depth=1, project_id="p1")
    with ScriptedServer([ok(made, 201)]) as server:
        done = run_cli(server.url, "folders", "create", "Trips", "--parent", "a", "--project", "p1")
    assert done.exit_code == 0, done.output
    assert body_of(server) == {"name": "Trips", "parent_id": "a", "project_id": "p1"}
    for expected in ("Trips", "a1", "p1", "depth"):
        assert expected in done.stdout


def test_a_taken_name_is_one_error_line_and_exit_1() -> None:
    with ScriptedServer([envelope(409, "CONFLICT", "a sibling is named Trips")]) as server:
        done = run_cli(server.url, "folders", "create", "trips")
    assert done.exit_code == 1
    assert done.stderr.strip() == "error: CONFLICT: a sibling is named Trips (request r1)"


def test_folders_show_prints_the_path_subfolders_and_files() -> None:
    contents = {
        "folder": folder("a", "Alpha", file_count=1, subfolder_count=1),
        "breadcrumbs": [{"id": "a", "name": "Alpha", "depth": 0}],
        "subfolders": [folder("a1", "Trips", parent="a", depth=1)],
        "files": [{"id": "i1", "filename": "rome.jpg", "size_bytes": 2048}],
        "total_files": 3,
        "has_more_files": True,
    }
    with ScriptedServer([ok(contents)]) as server:
        done = run_cli(server.url, "folders", "show", "a", "--limit", "1", "--offset", "1")
        as_json = run_cli(server.url, "folders", "show", "a", "--json")
    assert done.exit_code == 0, done.output
    assert server.seen[0].path == "/api/v2/folders/a?limit=1&offset=1"
    for expected in ("Alpha", "Trips", "rome.jpg", "i1", "showing 2-2 of 3 files"):
        assert expected in done.stdout
    shown = json.loads(as_json.stdout)
    assert shown["folder"]["id"] == "a" and shown["files"][0]["filename"] == "rome.jpg"


def test_folders_rename_and_move() -> None:
    replies = [ok(folder("a", "Renamed")), ok(folder("a", "Renamed")), ok(folder("a", "R"))]
    with ScriptedServer(replies) as server:
        renamed = run_cli(server.url, "folders", "rename", "a", "Renamed")
        into = run_cli(server.url, "folders", "move", "a", "--parent", "b")
        top = run_cli(server.url, "folders", "move", "a", "--top", "--json")
    assert renamed.exit_code == into.exit_code == top.exit_code == 0, top.output
    assert [(s.method, s.path) for s in server.seen] == [
        ("PATCH", "/api/v2/folders/a"),
        ("POST", "/api/v2/folders/a/move"),
        ("POST", "/api/v2/folders/a/move"),
    ]
    assert [body_of(server, n) for n in range(3)] == [
        {"name": "Renamed"},
        {"parent_id": "b"},
        {"parent_id": None},
    ]
    assert "Renamed" in renamed.stdout and json.loads(top.stdout)["name"] == "R"


@pytest.mark.parametrize(
    "args",
    [
        ("folders", "move", "a"),
        ("folders", "move", "a", "--parent", "b", "--top"),
        ("folders", "move-files", "i1"),
        ("folders", "move-files", "i1", "--folder", "a", "--top"),
        ("folders", "delete", "a", "--delete-files"),
    ],
)
def test_contradictory_or_missing_targets_are_usage_errors(args: tuple[str, ...]) -> None:
    with ScriptedServer([]) as server:
        done = run_cli(server.url, *args)
    assert done.exit_code == 2 and server.seen == []


def test_folders_delete_sends_its_flags() -> None:
    replies: list[Reply] = [(204, {}, b""), (204, {}, b""), envelope(409, "CONFLICT")]
    with ScriptedServer(replies) as server:
        plain = run_cli(server.url, "folders", "delete", "a")
        deep = run_cli(server.url, "folders", "delete", "a", "--recursive", "--delete-files")
        busy = run_cli(server.url, "folders", "delete", "b", "--json")
    assert plain.exit_code == deep.exit_code == 0, deep.output
    assert "deleted folder a" in plain.stdout
    assert [s.path for s in server.seen] == [
        "/api/v2/folders/a",
        "/api/v2/folders/a?recursive=true&delete_files=true",
        "/api/v2/folders/b",
    ]
    assert busy.exit_code == 1 and busy.stdout == "" and "CONFLICT" in busy.stderr


def test_folders_move_files_reports_what_was_skipped() -> None:
    replies = [ok({"moved": ["i1"], "skipped": []}), ok({"moved": ["i1"], "skipped": ["zz"]})]
    with ScriptedServer(replies) as server:
        moved = run_cli(server.url, "folders", "move-files", "i1", "--folder", "a")
        skipped = run_cli(
            server.url, "folders", "move-files", "i1", "zz", "--top", "--project", "p1", "--json"
        )
    assert moved.exit_code == 0, moved.output
    assert "moved 1 file" in moved.stdout
    assert body_of(server, 0) == {"file_ids": ["i1"], "folder_id": "a"}
    assert body_of(server, 1) == {"file_ids": ["i1", "zz"], "folder_id": None, "project_id": "p1"}
    assert skipped.exit_code == 1
    assert json.loads(skipped.stdout) == {"moved": ["i1"], "skipped": ["zz"]}


def test_upload_puts_the_files_in_the_folder_and_project(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"not really a jpeg")
    quota = {
        "can_proceed": True,
        "requested": 1,
        "available": 9,
        "monthly_limit": 9,
        "current_usage": 0,
        "max_batch_size": 10,
        "max_concurrent_uploads": 2,
    }
    result = {"image_id": "i1", "filename": "a.jpg", "status": "processing"}
    batch = {"session_id": "s1", "results": [{"position": 0, "result": result}]}
    with ScriptedServer([ok(quota), ok(batch, 201)]) as server:
        done = run_cli(
            server.url, "upload", str(photo), "--folder", "f1", "--project", "p1", "--no-wait"
        )
    assert done.exit_code == 0, done.output
    body = server.seen[1].body
    assert b'name="folder_id"\r\n\r\nf1\r\n' in body
    assert b'name="project_id"\r\n\r\np1\r\n' in body


# Against the app: the commands as a person runs them, on SQLite and PostgreSQL.


@pytest.fixture
async def served(api: Api) -> AsyncIterator[str]:
    """The app of `api` on a real socket (its lifespan already run by the fixture): the base
    URL, /api/v2 included."""
    async with on_socket(api) as base_url:
        yield base_url


async def cli(api: Api, base_url: str, *args: str) -> Result:
    """Run a command in a thread, so the app keeps serving in this one's event loop."""
    env = {"SCOPIX_API_KEY": api.key, "SCOPIX_BASE_URL": base_url, "COLUMNS": "200"}
    runner = CliRunner()
    return await asyncio.to_thread(lambda: runner.invoke(app, list(args), env=env))


async def cli_json(api: Api, base_url: str, *args: str) -> Any:
    done = await cli(api, base_url, *args, "--json")
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


async def test_the_folder_commands_against_the_app(api: Api, served: str, tmp_path: Path) -> None:
    photos = await cli_json(api, served, "folders", "create", "Photos")
    trips = await cli_json(api, served, "folders", "create", "Trips", "--parent", photos["id"])
    assert (trips["parent_id"], trips["depth"]) == (photos["id"], 1)
    picture = tmp_path / "rome.jpg"
    picture.write_bytes(jpeg_bytes(32, 24, seed=1))
    uploaded = await cli_json(
        api, served, "upload", str(picture), "--folder", trips["id"], "--no-wait", "--no-describe"
    )
    (file_id,) = [r["image_id"] for r in uploaded]

    listed = await cli(api, served, "folders", "list")
    assert listed.exit_code == 0, listed.output
    trips_line = next(line for line in listed.stdout.splitlines() if "Trips" in line)
    assert trips_line.split() == ["Trips", "1", "0", trips["id"]]
    shown = await cli(api, served, "folders", "show", trips["id"])
    assert shown.exit_code == 0, shown.output
    assert "Photos / Trips" in shown.stdout and "rome.jpg" in shown.stdout

    into_itself = await cli(api, served, "folders", "move", photos["id"], "--parent", trips["id"])
    assert into_itself.exit_code == 1 and "VALIDATION_ERROR" in into_itself.stderr
    moved = await cli_json(api, served, "folders", "move", trips["id"], "--top")
    assert (moved["parent_id"], moved["depth"]) == (None, 0)
    out = await cli_json(api, served, "folders", "move-files", file_id, "--folder", photos["id"])
    assert out == {"moved": [file_id], "skipped": []}

    busy = await cli(api, served, "folders", "delete", photos["id"])
    assert busy.exit_code == 1 and "CONFLICT" in busy.stderr
    gone = await cli(api, served, "folders", "delete", photos["id"], "--recursive")
    assert gone.exit_code == 0, gone.output
    left = await cli_json(api, served, "folders", "list")
    assert [f["name"] for f in left] == ["Trips"]
