"""Ingest throughput: 300 real photos and one 1 GiB file through a real `scopix serve`.

Prints files/s, MB/s, the server's peak RSS, and the ratio of the server's time to the floor
measured in the same run: SHA-256 plus a copy (with fsync) of the same bytes on the same disk.
Then small-file uploads/s with decoding in-process and in isolated children (the default), in
the same run, rounds alternating, and what the isolation costs.

    .venv/bin/python bench/ingest.py [--photos 300] [--concurrency 4] [--big-mib 1030]
        [--small 200] [--rounds 3] [--only-isolation]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pyvips

from scopix.server.testing import ServerProcess, start_server

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "tests" / "assets" / "photos"
MB = 1_000_000
MiB = 1 << 20


@dataclass
class Measured:
    label: str
    files: int
    bytes: int
    server_s: float
    floor_s: float
    peak_rss: int

    def row(self) -> str:
        mb = self.bytes / MB
        cells = [
            f"{self.label:<26}",
            f"{self.files:>6}",
            f"{mb:>9.1f}",
            f"{self.files / self.server_s:>8.1f}",
            f"{mb / self.server_s:>8.1f}",
            f"{mb / self.floor_s:>10.1f}",
            f"{self.server_s / self.floor_s:>7.1f}x",
            f"{self.peak_rss / MiB:>12.0f}",
        ]
        return " ".join(cells)


HEADER = (
    f"{'run':<26} {'files':>6} {'MB':>9} {'files/s':>8} {'MB/s':>8} {'floor MB/s':>10}"
    f" {'vs floor':>8} {'peak RSS MiB':>12}"
)


def make_photos(out: Path, count: int, seed: int = 7) -> list[Path]:
    """Distinct phone-sized JPEGs cut, scaled and re-encoded from the real test photos."""
    sources = [p for p in sorted(PHOTOS.iterdir()) if p.suffix in (".png", ".jpg")]
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = out / f"photo_{i:04d}.jpg"
        if not path.exists():
            _photo(rng, sources[i % len(sources)], path)
        else:
            rng.random()
        paths.append(path)
    return paths


def _photo(rng: random.Random, source: Path, path: Path) -> None:
    image = pyvips.Image.new_from_file(str(source))
    if image.bands == 1:
        image = image.colourspace("srgb")
    image = image[:3] if image.bands > 3 else image
    w, h = image.width, image.height
    cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
    image = image.crop(rng.randint(0, w - cw), rng.randint(0, h - ch), cw, ch)
    longest = rng.choice([1600, 2400, 3000, 4000])
    image = image.resize(longest / max(cw, ch), kernel="lanczos3")
    noise = pyvips.Image.gaussnoise(image.width, image.height, sigma=4, mean=0)
    image = (image + noise).cast("uchar")
    image.jpegsave(str(path), Q=rng.choice([85, 90, 92]))


def make_small(out: Path, count: int) -> list[Path]:
    """Distinct small JPEGs (400 px at most, ~20 KB): what a chat or a web page uploads, where a
    fixed per-upload cost such as a round trip to a decoder child shows most."""
    out.mkdir(parents=True, exist_ok=True)
    sources = [p for p in sorted(PHOTOS.iterdir()) if p.suffix in (".png", ".jpg")]
    paths = []
    for i in range(count):
        path = out / f"small_{i:04d}.jpg"
        if not path.exists():
            image = pyvips.Image.thumbnail(str(sources[i % len(sources)]), 400 - i % 97)
            image = image[:3] if image.bands > 3 else image
            noise = pyvips.Image.gaussnoise(image.width, image.height, sigma=3, mean=0)
            (image + noise).cast("uchar").jpegsave(str(path), Q=85)
        paths.append(path)
    return paths


def make_big(path: Path, mib: int) -> Path:
    """An uncompressed 4-page RGB TIFF of about `mib` MiB (each page under 100 MP)."""
    if path.exists() and abs(path.stat().st_size - mib * MiB) < 64 * MiB:
        return path
    sys.path.insert(0, str(ROOT / "tests"))
    from imagefactory import multipage_tiff

    width = 9000
    height = (mib * MiB) // (4 * width * 3)
    return multipage_tiff(path, pages=4, width=width, height=height)


def floor_seconds(paths: list[Path], scratch: Path) -> float:
    """SHA-256 and an fsynced copy of every file, the least any ingest must do."""
    scratch.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for i, path in enumerate(paths):
        digest = hashlib.sha256()
        copy = scratch / f"{i}.copy"
        with path.open("rb") as src, copy.open("wb") as dst:
            while chunk := src.read(MiB):
                digest.update(chunk)
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        copy.unlink()
    return time.perf_counter() - start


class RssSampler:
    """Peak RSS of a process, sampled every 20 ms on a thread."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self._stop.wait(0.02)

    def __enter__(self) -> RssSampler:
        self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def upload_all(server: ServerProcess, key: str, paths: list[Path], concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=headers, limits=limits, timeout=600
    ) as client:

        async def one(path: Path) -> None:
            async with gate:
                with path.open("rb") as handle:
                    response = await client.post(
                        "/api/v2/files/upload", files={"file": (path.name, handle)}
                    )
                if response.status_code != 201:
                    raise RuntimeError(f"{path.name}: {response.status_code} {response.text}")

        start = time.perf_counter()
        await asyncio.gather(*(one(p) for p in paths))
        return time.perf_counter() - start


def measure(label: str, paths: list[Path], concurrency: int, work: Path) -> list[Measured]:
    """Floor first, then the same files twice through a fresh server on the same disk: new
    bytes (decode and variants) and again (deduplicated: streaming, hashing, catalog only)."""
    size = sum(p.stat().st_size for p in paths)
    rows = []
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        floor = floor_seconds(paths, Path(tmp) / "floor")
        server = start_server(
            Path(tmp) / "data", env={"SCOPIX_MAX_UPLOAD_BYTES": str(4 * 1024 * MiB)}
        )
        try:
            for run in ("new", "dedup"):
                with RssSampler(server.process.pid) as rss:
                    took = asyncio.run(upload_all(server, server.keys()[0], paths, concurrency))
                rows.append(Measured(f"{label} {run}", len(paths), size, took, floor, rss.peak))
        finally:
            server.stop()
    return rows


def isolation_rates(
    paths: list[Path], concurrency: int, rounds: int, work: Path
) -> dict[str, list[float]]:
    """Uploads/s of `paths` (new bytes each time: a fresh server per round) with decoding
    in-process and isolated, alternating so that drift of the machine hits both alike."""
    rates: dict[str, list[float]] = {"in-process": [], "isolated": []}
    for _ in range(rounds):
        for mode, in_process in (("in-process", "true"), ("isolated", "false")):
            with tempfile.TemporaryDirectory(dir=work) as tmp:
                server = start_server(
                    Path(tmp) / "data", env={"SCOPIX_DECODE_IN_PROCESS": in_process}
                )
                try:
                    key = server.keys()[0]
                    asyncio.run(upload_all(server, key, paths[:concurrency], concurrency))  # warm
                    took = asyncio.run(upload_all(server, key, paths[concurrency:], concurrency))
                finally:
                    server.stop()
            rates[mode].append((len(paths) - concurrency) / took)
    return rates


def print_isolation(rates: dict[str, list[float]], files: int, concurrency: int) -> None:
    """Best and median of each mode's rounds, and the cost of isolation by both."""
    best = {mode: max(values) for mode, values in rates.items()}
    median = {mode: statistics.median(values) for mode, values in rates.items()}
    print(f"small-file uploads/s ({files} JPEGs of ~20 KB, x{concurrency}):")
    print(f"  {'decoding':<11} {'best':>7} {'median':>7}   rounds")
    for mode, values in rates.items():
        rounds = " ".join(f"{v:.1f}" for v in values)
        print(f"  {mode:<11} {best[mode]:>7.1f} {median[mode]:>7.1f}   {rounds}")
    for name, rate in (("best", best), ("median", median)):
        cost = 1 - rate["isolated"] / rate["in-process"]
        print(f"  isolation costs {cost:+.1%} by {name} (isolated / in-process {1 - cost:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--big-mib", type=int, default=1030)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only-isolation", action="store_true")
    args = parser.parse_args()

    small = make_small(args.work / "small", args.small)
    rates = isolation_rates(small, args.concurrency, args.rounds, args.work)
    if args.only_isolation:
        print_isolation(rates, len(small), args.concurrency)
        return
    photos = make_photos(args.work / "photos", args.photos)
    big = make_big(args.work / "big.tiff", args.big_mib)
    rows = [
        *measure(f"{len(photos)} photos x{args.concurrency}", photos, args.concurrency, args.work),
        *measure("1 GiB TIFF", [big], 1, args.work),
    ]

    print(HEADER)
    for row in rows:
        print(row.row())
    print("floor = SHA-256 + fsynced copy of the same bytes on the same disk, same run")
    print_isolation(rates, len(small), args.concurrency)


if __name__ == "__main__":
    main()
