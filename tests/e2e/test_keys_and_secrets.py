"""`scopix keys` and the data folder as an operator meets them, against one real `scopix serve`:
keys made, listed and revoked from the command line take effect on the running server at once,
the data folder and everything in it is the server user's alone, and a short signing secret
stops the server before it serves."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from imagefactory import jpeg_bytes
from scopix.server.testing import KEY_LINE, SCOPIX, ServerProcess, start_server, wait_for_status

pytestmark = pytest.mark.slow
#: a port `scopix serve` never gets to bind in the test that uses it
SERVE = [*SCOPIX, "serve", "--port", "9"]


@dataclass
class Served:
    """A server started on a fresh data folder, and the environment its commands run with."""

    server: ServerProcess
    data_dir: Path
    env: dict[str, str]

    def keys(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*SCOPIX, "keys", *args], capture_output=True, text=True, env=self.env, timeout=120
        )

    def status(self, key: str) -> int:
        response = httpx.get(
            f"{self.server.base_url}/api/v2/files", headers={"Authorization": f"Bearer {key}"}
        )
        return response.status_code


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("keys") / "data"
    # The usual umask of a shell: the modes checked below must come from the server itself.
    before = os.umask(0o022)
    try:
        server = start_server(data_dir)
    finally:
        os.umask(before)
    yield Served(server, data_dir, {**os.environ, "SCOPIX_DATA_DIR": str(data_dir)})
    server.stop()


def test_the_data_folder_and_every_file_in_it_are_private(served: Served) -> None:
    key = served.server.keys()[0]
    headers = {"Authorization": f"Bearer {key}"}
    uploaded = httpx.post(
        f"{served.server.base_url}/api/v2/files/upload",
        files={"file": ("p.jpg", jpeg_bytes(640, 480, seed=3))},
        data={"auto_describe": "false"},
        headers=headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    file_id = uploaded.json()["image_id"]
    wait_for_status(served.server.base_url, headers, file_id, lambda s: s["status"] == "completed")

    data = served.data_dir
    assert _mode(data) == 0o700
    names = {path.name for path in data.iterdir()}
    assert {"scopix.db", "scopix.db-wal", "scopix.db-shm", "signing.key", "blobs"} <= names
    folders = [data, *(p for p in data.rglob("*") if p.is_dir())]
    files = [p for p in data.rglob("*") if p.is_file()]
    stored = [p for p in files if "blobs" in p.parts]
    assert len(stored) >= 2  # the upload and its variants at least
    assert {str(p): oct(_mode(p)) for p in folders if _mode(p) != 0o700} == {}
    assert {str(p): oct(_mode(p)) for p in files if _mode(p) != 0o600} == {}


def test_keys_made_listed_and_revoked_from_the_command_line(served: Served) -> None:
    made = served.keys(
        "create", "--tenant", "ops", "--scopes", "read,write", "--expires", "30d", "--name", "ci"
    )
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert KEY_LINE.match(key) and "until" in made.stderr
    prefix = key[:15]
    assert served.status(key) == 200

    listed = _listed(served, "--tenant", "ops")
    assert [(k["prefix"], k["name"], k["scopes"], k["state"]) for k in listed] == [
        (prefix, "ci", ["read", "write"], "active")
    ]
    assert listed[0]["expires_at"] is not None
    table = served.keys("list")
    assert table.returncode == 0 and prefix in table.stdout and "default" in table.stdout
    for shown in (json.dumps(listed), table.stdout):
        assert key[16:] not in shown  # the secret, never

    revoked = served.keys("revoke", prefix)
    assert revoked.returncode == 0, revoked.stderr
    assert served.status(key) == 401  # at once, on the server that was running all along
    assert [k["state"] for k in _listed(served, "--tenant", "ops")] == ["revoked"]
    assert served.status(served.server.keys()[0]) == 200

    unknown = served.keys("revoke", "scopix_NoSuchK1")
    assert unknown.returncode == 2 and "no API key has the prefix" in unknown.stderr
    past = served.keys("create", "--tenant", "ops", "--expires", "2020-01-31")
    assert past.returncode == 2 and "not in the future" in past.stderr and past.stdout == ""


def test_a_short_signing_secret_stops_serve_and_worker(tmp_path: Path) -> None:
    env = {**os.environ, "SCOPIX_DATA_DIR": str(tmp_path / "data")}
    short = {**env, "SCOPIX_SIGNING_SECRET": "only-20-bytes-secret"}
    for command in (SERVE, [*SCOPIX, "worker"]):
        done = subprocess.run(command, capture_output=True, text=True, env=short)
        assert done.returncode != 0
        assert "SCOPIX_SIGNING_SECRET must be at least 32 bytes" in done.stderr
        assert "only-20-bytes-secret" not in done.stderr + done.stdout

    # A kept key cut short (or an empty file) is refused too, not used, not replaced.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "signing.key").write_text("3f9a\n")
    done = subprocess.run(SERVE, capture_output=True, text=True, env=env)
    assert done.returncode == 1
    assert "signing.key holds 4 bytes" in done.stderr and "SCOPIX_SIGNING_SECRET" in done.stderr
    assert (tmp_path / "data" / "signing.key").read_text() == "3f9a\n"


def _listed(served: Served, *args: str) -> list[dict[str, Any]]:
    done = served.keys("list", "--json", *args)
    assert done.returncode == 0, done.stderr
    listed: list[dict[str, Any]] = json.loads(done.stdout)
    return listed


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)
