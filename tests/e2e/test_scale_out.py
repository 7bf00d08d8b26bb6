"""The scale-out profile under load and crashes, with real processes and real services: two API
replicas (`scopix serve --no-worker`) and two Celery workers (`scopix worker`) on one
PostgreSQL database, one S3 bucket (moto's server) and a private Redis broker. The VLM is the
fake OpenAI-compatible server (tests/vlmserver.py), so a description costs milliseconds."""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from imagefactory import jpeg_bytes
from s3server import S3Storage
from scopix.server.testing import (
    RedisProcess,
    ServerProcess,
    WorkerProcess,
    create_key,
    start_server,
    start_worker,
)
from vlmserver import FakeVLMServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LEASE_S = 4
DESCRIBED_TIMEOUT_S = 240


@dataclass
class Cluster:
    """Everything of one scale-out deployment, and how to look inside it."""

    tmp: Path
    env: dict[str, str]
    database: str  # a libpq URL, for the checks
    s3: S3Storage
    redis: RedisProcess
    vlm: FakeVLMServer
    apis: list[ServerProcess] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)
    key: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def start_api(self, name: str, **env: str) -> ServerProcess:
        api = start_server(self.tmp / name, env={**self.env, **env}, args=("--no-worker",))
        self.apis.append(api)
        return api

    def start_worker(self, name: str) -> WorkerProcess:
        worker = start_worker(self.tmp / name, self.env, concurrency=2)
        self.workers.append(worker)
        return worker

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database) as conn:
            return conn.execute(sql, params).fetchall()

    def upload(self, api: ServerProcess, name: str, data: bytes) -> httpx.Response:
        return httpx.post(
            f"{api.base_url}/api/v2/files/upload",
            files={"file": (name, data)},
            headers=self.headers,
            timeout=60,
        )

    def wait_until(self, done: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                logs = "\n".join(line for w in self.workers for line in w.lines[-30:])
                raise TimeoutError(f"{what} did not happen in {timeout} s; workers said:\n{logs}")
            time.sleep(0.25)

    def wait_described(self, count: int, timeout: float = DESCRIBED_TIMEOUT_S) -> None:
        def described() -> bool:
            [(completed,)] = self.query(
                "SELECT count(*) FROM files WHERE description_status = 'completed'"
            )
            return int(completed) >= count

        self.wait_until(described, f"{count} descriptions", timeout)

    def wait_jobs_finished(self, timeout: float = DESCRIBED_TIMEOUT_S) -> None:
        """Until no job is queued or running: a file's variants job may outlast its description."""

        def finished() -> bool:
            [(active,)] = self.query(
                "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')"
            )
            return int(active) == 0

        self.wait_until(finished, "every job finishing", timeout)

    def descriptions_per_file(self) -> dict[str, tuple[int, int]]:
        """Per file: succeeded describe jobs, and `description_succeeded` events."""
        rows = self.query(
            """
            SELECT f.id,
                   (SELECT count(*) FROM jobs j WHERE j.file_id = f.id AND j.kind = 'describe'
                      AND j.state = 'succeeded'),
                   (SELECT count(*) FROM file_events e WHERE e.file_id = f.id
                      AND e.event = 'description_succeeded')
            FROM files f
            """
        )
        return {file_id: (int(jobs), int(events)) for file_id, jobs, events in rows}

    def server_errors(self) -> list[str]:
        """What the API processes logged at ERROR, with the traceback lines after it."""
        lines = [line for api in self.apis for line in api.lines]
        return [line for n, line in enumerate(lines) if "ERROR" in line or "Error" in line][:40]

    def bucket_keys(self) -> list[str]:
        client = boto3.client("s3", endpoint_url=self.s3.endpoint, region_name="us-east-1")
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.s3.bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]


@pytest.fixture
def cluster(tmp_path: Path, fresh_postgres_url: str, s3_storage: S3Storage) -> Iterator[Cluster]:
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        if os.environ.get("SCOPIX_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    redis = RedisProcess(redis_server).start()
    vlm = FakeVLMServer().start()
    env = {
        "SCOPIX_DATABASE_URL": fresh_postgres_url,
        "SCOPIX_STORAGE_URL": s3_storage.url,
        "SCOPIX_QUEUE_URL": redis.url,
        "SCOPIX_ONDEVICE": "false",
        "SCOPIX_VLM_BASE_URL": vlm.base_url,
        "SCOPIX_VLM_MODEL": vlm.model,
        "SCOPIX_JOB_LEASE_SECONDS": str(LEASE_S),
        "SCOPIX_JOB_REDISPATCH_SECONDS": "3",
        "SCOPIX_RETRY_BASE_SECONDS": "0.2",
        "SCOPIX_SIGNING_SECRET": "one secret for every replica, 32 bytes or more",
        **s3_storage.env,
    }
    libpq = make_url(fresh_postgres_url).set(drivername="postgresql")
    cluster = Cluster(
        tmp_path, env, libpq.render_as_string(hide_password=False), s3_storage, redis, vlm
    )
    try:
        cluster.start_api("api1")  # migrates; the second replica then finds the schema ready
        cluster.start_api("api2")
        cluster.key = create_key(tmp_path / "keys", env, "load")
        cluster.start_worker("worker1")
        cluster.start_worker("worker2")
        yield cluster
    finally:
        for worker in cluster.workers:
            worker.stop()
        for api in cluster.apis:
            api.stop()
        vlm.stop()
        redis.kill()


def test_500_uploads_over_two_apis_are_each_described_once(cluster: Cluster) -> None:
    apis = itertools.cycle(cluster.apis[:2])
    # The pattern repeats every 256 seeds: the width tells those apart.
    work = [(next(apis), f"p{n:03d}.jpg", _distinct_jpeg(n)) for n in range(500)]
    with ThreadPoolExecutor(max_workers=8) as clients:
        responses = list(clients.map(lambda w: cluster.upload(*w), work))
    failed = [r.text for r in responses if r.status_code != 201]
    assert not failed, (failed[:3], cluster.server_errors())
    cluster.wait_described(500)
    per_file = cluster.descriptions_per_file()
    assert len(per_file) == 500
    assert set(per_file.values()) == {(1, 1)}  # every file described exactly once
    assert cluster.vlm.request_count == 500
    cluster.wait_jobs_finished()
    [(owners,)] = cluster.query("SELECT count(DISTINCT lease_owner) FROM jobs")
    assert owners == 0  # every lease was given back


def test_a_killed_worker_s_jobs_finish_on_the_other_worker(cluster: Cluster) -> None:
    cluster.vlm.behave("slow", delay=2)
    doomed = cluster.workers[0]
    for n in range(8):
        assert cluster.upload(cluster.apis[n % 2], f"k{n}.jpg", _distinct_jpeg(n)).is_success

    def holds_jobs() -> bool:
        owner = f"%:{doomed.process.pid}"
        [(held,)] = cluster.query(
            "SELECT count(*) FROM jobs WHERE state = 'running' AND lease_owner LIKE %s", owner
        )
        return int(held) > 0

    cluster.wait_until(holds_jobs, "the first worker holding jobs", 60)
    doomed.kill()
    cluster.vlm.behave("ok")
    cluster.wait_described(8)
    per_file = cluster.descriptions_per_file()
    assert set(per_file.values()) == {(1, 1)}  # none ran to completion twice
    [(taken_over,)] = cluster.query(
        "SELECT count(*) FROM file_events WHERE event = 'description_lease_expired'"
    )
    assert taken_over >= 1


def test_a_killed_api_leaves_each_upload_whole_or_absent(cluster: Cluster) -> None:
    doomed, survivor = cluster.apis
    payloads = {f"big{n:02d}.jpg": jpeg_bytes(900, 700, seed=100 + n) for n in range(50)}
    results: dict[str, int | str] = {}
    first_stored = threading.Event()

    def send(name: str) -> None:
        try:
            results[name] = cluster.upload(doomed, name, payloads[name]).status_code
        except httpx.TransportError as exc:
            results[name] = type(exc).__name__
        if results[name] == 201:
            first_stored.set()

    threads = [threading.Thread(target=send, args=(name,)) for name in payloads]
    for thread in threads:
        thread.start()
    assert first_stored.wait(60)
    doomed.kill()
    for thread in threads:
        thread.join(60)
    assert any(r != 201 for r in results.values()), "the kill came after every upload"

    listed = httpx.get(
        f"{survivor.base_url}/api/v2/files", params={"limit": 100}, headers=cluster.headers
    ).json()["items"]
    names = {item["filename"]: item["id"] for item in listed}
    assert {n for n, r in results.items() if r == 201} <= set(names)
    for name, file_id in names.items():  # whole: every stored byte is the sent one
        original = httpx.get(
            f"{survivor.base_url}/api/v2/files/{file_id}/download",
            headers=cluster.headers,
            timeout=30,
        )
        assert hashlib.sha256(original.content).digest() == hashlib.sha256(payloads[name]).digest()

    # The dead host comes back; its first sweep removes what no row names.
    time.sleep(2)
    cluster.start_api("api1-again", SCOPIX_ORPHAN_GRACE_SECONDS="1")
    known = {sha for (sha,) in cluster.query("SELECT sha256 FROM blobs")}

    def no_orphans() -> bool:
        return _stored_hashes(cluster.bucket_keys()) <= known

    cluster.wait_until(no_orphans, "the orphan sweep", 60)


def test_identical_uploads_at_once_keep_one_blob(cluster: Cluster) -> None:
    data = jpeg_bytes(64, 48, seed=7)
    start = threading.Barrier(20)

    def send(n: int) -> httpx.Response:
        start.wait()
        return cluster.upload(cluster.apis[n % 2], f"same{n}.jpg", data)

    with ThreadPoolExecutor(max_workers=20) as clients:
        responses = list(clients.map(send, range(20)))
    assert [r.status_code for r in responses] == [201] * 20
    answers = sorted(r.json()["deduplicated"] for r in responses)
    assert answers == [False] + [True] * 19
    assert len({r.json()["image_id"] for r in responses}) == 20
    sha = hashlib.sha256(data).hexdigest()
    originals = [k for k in cluster.bucket_keys() if k.endswith(f"{sha}/original")]
    assert len(originals) == 1
    cluster.wait_described(20)
    assert cluster.vlm.request_count == 1  # identical bytes are analysed once


def test_a_redis_restart_loses_no_job(cluster: Cluster) -> None:
    for n in range(15):
        assert cluster.upload(cluster.apis[n % 2], f"r{n}.jpg", _distinct_jpeg(n)).is_success
    cluster.redis.restart()  # every message it held is gone
    for n in range(15, 30):
        assert cluster.upload(cluster.apis[n % 2], f"r{n}.jpg", _distinct_jpeg(n)).is_success
    cluster.wait_described(30)
    assert set(cluster.descriptions_per_file().values()) == {(1, 1)}
    for worker in cluster.workers:
        assert worker.process.poll() is None  # the workers rode it out


def _distinct_jpeg(n: int) -> bytes:
    """A small JPEG of its own for each n (the pattern repeats every 256 seeds)."""
    return jpeg_bytes(48 + n // 256, 36, seed=n % 256)


def _stored_hashes(keys: list[str]) -> set[str]:
    """The SHA-256 of every blob in the bucket (`<prefix>/<tenant>/<ab>/<sha256>/<name>`)."""
    return {part for key in keys for part in key.split("/") if len(part) == 64}
