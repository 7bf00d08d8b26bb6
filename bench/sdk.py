"""What the SDK costs: a 1,000-file batch through `upload_batch` against the same files sent as
raw concurrent HTTP requests of the same shape, in the same run, against one real server.

Each run gets a tenant of its own (deduplication is per tenant, so no run profits from another),
and the two kinds take turns going first, so that a growing catalog or drift in the machine hurts
both alike. Descriptions are off:
they cost the same whoever uploads, and would hide the client's share.

    .venv/bin/python bench/sdk.py [--files 1000] [--rounds 4] [--per-request 100] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx
import pyvips

from scopix import Scopix
from scopix.server.testing import SCOPIX, ServerProcess, start_server


def make_files(folder: Path, count: int) -> list[Path]:
    """Distinct small JPEGs (about 3-6 KB), like a folder of thumbnails or scans."""
    paths = []
    for n in range(count):
        xy = pyvips.Image.xyz(96 + n % 13, 64 + n % 11)
        image = ((xy[0] * 3 + xy[1] * 5 + n * 17) % 256).cast("uchar")
        path = folder / f"f{n:05}.jpg"
        image.bandjoin([image, (image + n) % 256]).copy(interpretation="srgb").write_to_file(
            str(path), Q=80
        )
        paths.append(path)
    return paths


def new_key(data_dir: Path) -> str:
    done = subprocess.run(
        [*SCOPIX, "keys", "create", "--tenant", f"bench-{uuid.uuid4().hex}", "--tier", "custom"],
        env={**os.environ, "SCOPIX_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


async def through_sdk(base_url: str, key: str, paths: list[Path], concurrency: int) -> int:
    async with Scopix(api_key=key, base_url=base_url) as client:
        results = await client.files.upload_batch(
            paths, auto_describe=False, wait_for_descriptions=False, max_concurrency=concurrency
        )
    return sum(1 for r in results if r.image_id)


async def through_raw_http(
    base_url: str, key: str, paths: list[Path], per_request: int, concurrency: int
) -> int:
    """What a careful hand-written client does: batch requests, a few in flight, no retries."""
    slots = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {key}"}

    async def send(client: httpx.AsyncClient, chunk: list[Path]) -> int:
        async with slots:
            files = [("files", (p.name, p.read_bytes(), "image/jpeg")) for p in chunk]
            answer = await client.post(
                "files/upload/batch", files=files, data={"auto_describe": "false"}, timeout=300
            )
            answer.raise_for_status()
            return sum(1 for item in answer.json()["results"] if item.get("result"))

    async with httpx.AsyncClient(base_url=base_url + "/", headers=headers) as client:
        chunks = [paths[i : i + per_request] for i in range(0, len(paths), per_request)]
        counts = await asyncio.gather(*(send(client, chunk) for chunk in chunks))
    return sum(counts)


def timed(run: Coroutine[Any, Any, int], expected: int) -> float:
    started = time.perf_counter()
    stored = asyncio.run(run)
    elapsed = time.perf_counter() - started
    if stored != expected:
        raise SystemExit(f"only {stored} of {expected} files were stored")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--per-request", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scopix-bench-sdk-") as scratch:
        root = Path(scratch)
        (root / "files").mkdir()
        paths = make_files(root / "files", args.files)
        size = sum(p.stat().st_size for p in paths)
        print(f"{len(paths)} files, {size / 1e6:.1f} MB; server with no workers, no descriptions")
        server: ServerProcess = start_server(root / "data", args=("--workers", "0"))
        base_url = f"{server.base_url}/api/v2"
        times: dict[str, list[float]] = {"raw HTTP": [], "SDK": []}
        try:
            for round_number in range(args.rounds):
                runs = {
                    "raw HTTP": lambda key: through_raw_http(
                        base_url, key, paths, args.per_request, args.concurrency
                    ),
                    "SDK": lambda key: through_sdk(base_url, key, paths, args.concurrency),
                }
                order = list(runs) if round_number % 2 == 0 else list(reversed(runs))
                for label in order:  # alternating: neither always meets the fuller catalog
                    key = new_key(root / "data")
                    times[label].append(timed(runs[label](key), len(paths)))
        finally:
            server.stop()
    report(times, len(paths))


def report(times: dict[str, list[float]], files: int) -> None:
    print(f"{'run':<10} {'median s':>9} {'files/s':>9}   rounds (s)")
    for label, runs in times.items():
        median = statistics.median(runs)
        rounds = " ".join(f"{t:.2f}" for t in runs)
        print(f"{label:<10} {median:>9.2f} {files / median:>9.1f}   {rounds}")
    ratio = statistics.median(times["SDK"]) / statistics.median(times["raw HTTP"])
    print(f"SDK / raw HTTP time: {ratio:.3f} ({(ratio - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    main()
