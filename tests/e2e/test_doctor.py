"""`scopix doctor` as an operator runs it: a process configured by SCOPIX_* variables only, on
the embedded profile, on the scale-out one (PostgreSQL, a moto S3 bucket, a private Redis and a
real worker), and on targets that do not answer."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory

from s3server import S3Storage
from scopix.server.catalog.migrate import upgrade
from scopix.server.doctor import CATALOG_TIMEOUT_S, MIGRATIONS, QUEUE_TIMEOUT_S, STORAGE_TIMEOUT_S
from scopix.server.testing import SCOPIX, RedisProcess, free_port, start_worker
from vlmserver import FakeVLMServer

PASSWORD = "s3cret-in-the-url"

Checks = dict[str, dict[str, Any]]


def doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`scopix doctor` configured by `env` alone: no SCOPIX_* variable of this process leaks in."""
    inherited = {name: value for name, value in os.environ.items() if "SCOPIX_" not in name}
    return subprocess.run(
        [*SCOPIX, "doctor", *args],
        capture_output=True,
        text=True,
        env={**inherited, "SCOPIX_ONDEVICE": "true", **env},
        timeout=120,
    )


def checks(env: dict[str, str]) -> tuple[int, Checks]:
    """`scopix doctor --json`'s exit status and checks, by name."""
    done = doctor(env, "--json")
    assert done.stderr == ""
    rows = json.loads(done.stdout)
    assert [row["check"] for row in rows] == ["catalog", "storage", "queue", "vision"]
    return done.returncode, {row.pop("check"): row for row in rows}


def line(output: str, check: str) -> str:
    """The table row of `check` in doctor's output."""
    (row,) = [text for text in output.splitlines() if text.strip().startswith(check)]
    return row


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def migrated(data_dir: Path) -> dict[str, str]:
    """The embedded profile, after `scopix serve` would have migrated its catalog."""
    data_dir.mkdir()
    upgrade(f"sqlite+aiosqlite:///{data_dir / 'scopix.db'}")
    return {"SCOPIX_DATA_DIR": str(data_dir)}


def test_a_fresh_embedded_setup_is_told_to_migrate(data_dir: Path) -> None:
    done = doctor({"SCOPIX_DATA_DIR": str(data_dir)})
    assert done.returncode == 1, done.stderr
    catalog = line(done.stdout, "catalog")
    assert "FAILED" in catalog
    assert str(data_dir / "scopix.db") in catalog
    assert "run `scopix serve` once to migrate" in catalog
    assert not (data_dir / "scopix.db").exists()  # doctor does not create the catalog
    assert " ok " in line(done.stdout, "storage")
    assert "in-process workers (embedded profile)" in line(done.stdout, "queue")
    assert "1 check(s) failed" in done.stdout


def test_a_migrated_embedded_setup_passes(migrated: dict[str, str], data_dir: Path) -> None:
    done = doctor(migrated)
    assert done.returncode == 0, done.stdout + done.stderr
    newest = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert f"schema at {newest} (newest)" in line(done.stdout, "catalog")
    assert "no check failed" in done.stdout

    code, found = checks(migrated)
    assert code == 0
    assert {name: row["status"] for name, row in found.items()} == {
        "catalog": "ok",
        "storage": "ok",
        "queue": "skipped",
        "vision": "ok",
    }
    assert all(row["ok"] for row in found.values())
    assert found["storage"]["target"] == str((data_dir / "blobs").resolve())
    assert "models not run" in found["vision"]["detail"]
    assert all(isinstance(row["ms"], int) for row in found.values())
    assert not any((data_dir / "blobs" / "doctor").iterdir())  # the probe is gone


@pytest.mark.parametrize(("path", "status"), [("/v1", "ok"), ("/v0", "warning")])
def test_a_vlm_without_models_route_is_a_warning(
    migrated: dict[str, str], path: str, status: str
) -> None:
    with FakeVLMServer() as vlm:
        env = {
            **migrated,
            "SCOPIX_VLM_BASE_URL": f"http://127.0.0.1:{vlm.port}{path}",
            "SCOPIX_VLM_MODEL": vlm.model,
            "SCOPIX_VLM_API_KEY": PASSWORD,
        }
        code, found = checks(env)
    assert code == 0
    assert found["vision"]["status"] == status
    if status == "ok":
        assert "listing fake-vlm" in found["vision"]["detail"]
    else:
        assert "HTTP 404" in found["vision"]["detail"]


@pytest.fixture
def private_redis() -> Iterator[RedisProcess]:
    """A broker of this test's own: no other test's workers answer its pings."""
    redis = RedisProcess().start()
    yield redis
    redis.kill()


@pytest.mark.slow  # starts a worker process
@pytest.mark.postgres
def test_the_scale_out_profile_passes_and_counts_its_workers(
    fresh_postgres_url: str, s3_storage: S3Storage, private_redis: RedisProcess, data_dir: Path
) -> None:
    env = {
        "SCOPIX_DATA_DIR": str(data_dir),
        "SCOPIX_DATABASE_URL": fresh_postgres_url,
        "SCOPIX_STORAGE_URL": s3_storage.url,
        "SCOPIX_QUEUE_URL": private_redis.url,
        **s3_storage.env,
    }
    worker = start_worker(data_dir, env, concurrency=1)  # it migrates the catalog
    try:
        code, found = checks(env)
    finally:
        worker.stop()
    assert code == 0, found
    assert {row["status"] for row in found.values()} == {"ok"}, found
    assert "PostgreSQL" in found["catalog"]["detail"]
    assert found["storage"]["target"] == s3_storage.url
    assert found["queue"]["detail"].endswith(
        "0 message(s) wait in scopix-jobs; 1 worker(s) answer a ping"
    )

    code, found = checks(env)
    assert code == 0
    assert found["queue"]["status"] == "warning"
    assert "no worker answers a ping" in found["queue"]["detail"]


def test_targets_that_do_not_answer_fail_within_their_deadlines(data_dir: Path) -> None:
    closed = free_port()
    env = {
        "SCOPIX_DATA_DIR": str(data_dir),
        "SCOPIX_DATABASE_URL": f"postgresql+asyncpg://scopix:{PASSWORD}@127.0.0.1:{closed}/db",
        "SCOPIX_QUEUE_URL": f"redis://:{PASSWORD}@127.0.0.1:{closed}/0",
        "SCOPIX_STORAGE_URL": f"s3://bucket/blobs?endpoint=http://127.0.0.1:{closed}&region=x",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    done = doctor(env)
    assert done.returncode == 1
    assert PASSWORD not in done.stdout + done.stderr
    for check in ("catalog", "storage", "queue"):
        assert "FAILED" in line(done.stdout, check)
    assert f"scopix:***@127.0.0.1:{closed}/db" in line(done.stdout, "catalog")

    code, found = checks(env)
    assert code == 1
    assert PASSWORD not in json.dumps(found)
    deadlines = {
        "catalog": CATALOG_TIMEOUT_S,
        "storage": STORAGE_TIMEOUT_S,
        "queue": QUEUE_TIMEOUT_S,
    }
    for check, deadline_s in deadlines.items():
        assert (found[check]["status"], found[check]["ok"]) == ("failed", False)
        assert found[check]["ms"] <= deadline_s * 1000
    assert found["queue"]["target"] == f"redis://:***@127.0.0.1:{closed}/0"
    assert found["vision"]["status"] == "ok"
