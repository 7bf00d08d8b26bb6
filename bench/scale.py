"""Scale-out throughput on one machine: uploads/s through 1 and 2 API processes, descriptions/s
with 1 and 2 Celery workers, in the same run, and the scaling ratios.

Everything is a real process: `scopix serve --no-worker` replicas and `scopix worker`s on a
scratch PostgreSQL database, a private `redis-server` as the broker, and blobs in one local
folder that every process shares (an S3 bucket in production; moto's server would be the
bottleneck here). Descriptions go to a fake OpenAI-compatible VLM that answers after
`--vlm-latency` seconds (a remote model's latency, spent waiting, not computing); pass
`--ondevice` to describe with the on-device models instead (CPU-bound: two workers on two
cores then share the same cores).

1. One API: `--uploads` distinct JPEGs from 8 concurrent clients; no worker runs yet, so their
   jobs wait in the queue.
2. A second API joins; as many uploads again, spread over both.
3. One worker starts on that backlog: descriptions/s over `--window` completed descriptions.
4. A second worker joins: descriptions/s over the next window.

    .venv/bin/python bench/scale.py [--uploads 300] [--window 150] [--vlm-latency 0.3]
        [--ondevice] [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.engine import make_url

from scopix.server.testing import (
    RedisProcess,
    ServerProcess,
    WorkerProcess,
    create_key,
    start_server,
    start_worker,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from imagefactory import jpeg_bytes
from vlmserver import FakeVLMServer

CLIENTS = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=300, help="per API phase")
    parser.add_argument("--window", type=int, default=150, help="descriptions timed per phase")
    parser.add_argument("--vlm-latency", type=float, default=0.3)
    parser.add_argument("--ondevice", action="store_true", help="on-device models, no VLM")
    parser.add_argument(
        "--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    if args.uploads < args.window:  # the two timed windows need a backlog of 2 x window
        raise SystemExit("--window may be at most --uploads")
    with (
        scratch_database(args.database_url) as database_url,
        tempfile.TemporaryDirectory(prefix="scopix-bench-scale-") as tmp,
        FakeVLMServer() as vlm,
    ):
        vlm.behave("slow", delay=args.vlm_latency)
        redis = RedisProcess().start()
        try:
            run(Path(tmp), environment(args, database_url, redis, vlm, Path(tmp)), args)
        finally:
            redis.kill()


def environment(
    args: argparse.Namespace, database_url: str, redis: RedisProcess, vlm: FakeVLMServer, tmp: Path
) -> dict[str, str]:
    env = {
        "SCOPIX_DATABASE_URL": database_url,
        "SCOPIX_QUEUE_URL": redis.url,
        "SCOPIX_STORAGE_DIR": str(tmp / "blobs"),
        "SCOPIX_SIGNING_SECRET": "bench-" + "0" * 32,
        "SCOPIX_LOG_LEVEL": "warning",
    }
    if not args.ondevice:
        env |= {
            "SCOPIX_ONDEVICE": "false",
            "SCOPIX_VLM_BASE_URL": vlm.base_url,
            "SCOPIX_VLM_MODEL": vlm.model,
        }
    return env


def run(tmp: Path, env: dict[str, str], args: argparse.Namespace) -> None:
    apis: list[ServerProcess] = []
    workers: list[WorkerProcess] = []
    try:
        apis.append(start_server(tmp / "api1", env=env, args=("--no-worker",)))
        key = create_key(tmp / "keys", env, "bench")
        one_api = upload_rate(apis, key, range(args.uploads))
        apis.append(start_server(tmp / "api2", env=env, args=("--no-worker",)))
        two_apis = upload_rate(apis, key, range(args.uploads, 2 * args.uploads))
        database = libpq(env["SCOPIX_DATABASE_URL"])
        workers.append(start_worker(tmp / "worker1", env))
        one_worker = describe_rate(database, args.window)
        workers.append(start_worker(tmp / "worker2", env))
        two_workers = describe_rate(database, args.window)
    finally:
        for process in [*workers, *apis]:
            process.stop()
    analyzer = "on-device models" if args.ondevice else f"a VLM answering in {args.vlm_latency} s"
    print(f"{os.cpu_count()} cores; blobs on local disk; descriptions by {analyzer}")
    print(f"uploads ({args.uploads} per phase, {CLIENTS} clients, ~8 KB JPEGs):")
    print(f"  1 API process    {one_api:7.1f} uploads/s")
    print(f"  2 API processes  {two_apis:7.1f} uploads/s   ratio {two_apis / one_api:.2f}")
    print(f"descriptions ({args.window} timed per phase, each worker runs 2 jobs at once):")
    print(f"  1 worker         {one_worker:7.2f} descriptions/s")
    ratio = two_workers / one_worker
    print(f"  2 workers        {two_workers:7.2f} descriptions/s   ratio {ratio:.2f}")


def upload_rate(apis: list[ServerProcess], key: str, numbers: range) -> float:
    """Uploads/s of distinct JPEGs, spread over `apis` round-robin, CLIENTS at a time."""
    targets = itertools.cycle(apis)
    work = [
        (next(targets).base_url, n, jpeg_bytes(64 + n // 256, 48, seed=n % 256)) for n in numbers
    ]
    headers = {"Authorization": f"Bearer {key}"}

    def upload(item: tuple[str, int, bytes]) -> None:
        base_url, n, data = item
        response = httpx.post(
            f"{base_url}/api/v2/files/upload",
            files={"file": (f"b{n}.jpg", data)},
            headers=headers,
            timeout=60,
        )
        response.raise_for_status()

    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as clients:
        list(clients.map(upload, work))
    return len(work) / (time.perf_counter() - start)


def describe_rate(database: str, window: int) -> float:
    """Descriptions/s while the next `window` descriptions complete."""
    start_count, start = described(database), time.perf_counter()
    while described(database) < start_count + window:
        time.sleep(0.2)
    return (described(database) - start_count) / (time.perf_counter() - start)


def described(database: str) -> int:
    with psycopg.connect(database) as conn:
        row = conn.execute(
            "SELECT count(*) FROM files WHERE description_status = 'completed'"
        ).fetchone()
    return int(row[0]) if row else 0


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A new database on the server `url` names, dropped afterwards."""
    name = f"scopix_bench_{uuid.uuid4().hex[:12]}"
    admin = libpq(make_url(url).set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


if __name__ == "__main__":
    main()
