"""Where users wait on uploads: a real `scopix serve` against floors measured in the same run.

Row 1, small uploads: distinct 320x240 JPEGs posted by 8 concurrent keep-alive clients with
`auto_describe=false` to a server with no job workers (embedded default: SQLite, local disk),
against bench/floor_app.py (python-multipart parsing, SHA-256, fsynced write, a 64 px pyvips
thumbnail and one SQLite insert) under the same uvicorn settings, each server's output (its
access log) going to a pipe that this process reads. Rounds alternate the two
servers, each fresh, so drift of the machine hits both alike; best and median are printed,
with the CPU time each server (its children included) spent per upload: how much work an
upload is, apart from how well the server spreads it over the cores.

Row 2, streaming: a 90 MB file posted with curl, one at a time, against SHA-256 plus an
fsynced copy of the same bytes on the same disk. `--big-kind tiff` (default) is an
uncompressed RGB TIFF (decoded once at upload, as every image is); `mp4` is an MP4 header
then noise.

    .venv/bin/python bench/uploads.py [--files 300] [--concurrency 8] [--rounds 3]
        [--big-mb 90] [--big-files 9] [--big-kind tiff] [--only small|stream]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
import pyvips

from scopix.server.testing import ServerProcess, collect_output, free_port, start_server

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "tests" / "assets" / "photos"
MB = 1_000_000
MiB = 1 << 20
UPLOAD = "/api/v2/files/upload"
#: No job workers: what is measured is the request, not the work queued behind it.
SERVER_ENV = {"SCOPIX_WORKERS": "0"}


def make_small(out: Path, count: int) -> list[Path]:
    """Distinct 320x240 JPEGs (noise makes each one's bytes its own)."""
    out.mkdir(parents=True, exist_ok=True)
    sources = [p for p in sorted(PHOTOS.iterdir()) if p.suffix in (".png", ".jpg")]
    paths = []
    for i in range(count):
        path = out / f"small_{i:04d}.jpg"
        if not path.exists():
            image = pyvips.Image.thumbnail(
                str(sources[i % len(sources)]), 320, height=240, crop="centre"
            )
            image = image[:3] if image.bands > 3 else image
            if image.bands == 1:
                image = image.colourspace("srgb")
            noise = pyvips.Image.gaussnoise(image.width, image.height, sigma=3, mean=0)
            (image + noise).cast("uchar").jpegsave(str(path), Q=85)
        paths.append(path)
    return paths


def make_big(out: Path, kind: str, mb: int, count: int) -> list[Path]:
    """`count` distinct files of about `mb` MB: uncompressed RGB TIFFs, or MP4 noise."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = out / f"big_{mb}mb_{i}.{kind}"
        if not path.exists():
            (_tiff if kind == "tiff" else _mp4)(path, mb * MB, seed=i)
        paths.append(path)
    return paths


def _tiff(path: Path, size: int, seed: int) -> None:
    side = int((size / 3) ** 0.5)
    image = pyvips.Image.gaussnoise(side, side, sigma=40, mean=128, seed=seed)
    image = image.cast("uchar").bandjoin([image.cast("uchar")] * 2)
    image.tiffsave(str(path), compression="none")


def _mp4(path: Path, size: int, seed: int) -> None:
    with path.open("wb") as out:
        out.write(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")
        out.write(seed.to_bytes(8, "big") + os.urandom(size - 32))


class CpuMeter:
    """CPU seconds (user + system) a process and its children spent while in the block."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.seconds = 0.0

    def _total(self) -> float:
        total = 0.0
        for process in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def __enter__(self) -> CpuMeter:
        self.seconds = -self._total()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds += self._total()


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


def multipart_request(path: Path, port: int, target: str, key: str | None) -> bytes:
    """A whole HTTP/1.1 keep-alive POST of `path` with auto_describe=false, built in advance
    so that the client costs as little CPU as it can on a machine it shares."""
    boundary = uuid.uuid4().hex
    body = b"".join(
        [
            f'--{boundary}\r\nContent-Disposition: form-data; name="auto_describe"\r\n\r\n'
            "false\r\n".encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{path.name}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode(),
            path.read_bytes(),
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    head = (
        f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _post_all(port: int, requests: list[bytes], concurrency: int) -> float:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not queue.empty():
                writer.write(queue.get_nowait())
                status, body = await _response(reader)
                if status != 201:
                    raise RuntimeError(f"{status}: {body[:500]!r}")
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.perf_counter() - start


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return status, await reader.readexactly(length)


def post_all(port: int, requests: list[bytes], concurrency: int) -> float:
    return asyncio.run(_post_all(port, requests, concurrency))


@dataclass
class Rate:
    per_s: float
    peak_rss: int
    #: CPU milliseconds the server (its children included) spent per upload
    cpu_ms: float


def scopix_small(paths: list[Path], concurrency: int, work: Path) -> Rate:
    """A fresh server: `concurrency` warm-up uploads, then the rest measured."""
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        server = start_server(Path(tmp) / "data", env=SERVER_ENV)
        try:
            key = server.keys()[0]
            requests = [multipart_request(p, server.port, UPLOAD, key) for p in paths]
            post_all(server.port, requests[:concurrency], concurrency)
            with RssSampler(server.process.pid) as rss, CpuMeter(server.process.pid) as cpu:
                took = post_all(server.port, requests[concurrency:], concurrency)
        finally:
            server.stop()
    return _rate(len(paths) - concurrency, took, rss, cpu)


def floor_small(paths: list[Path], concurrency: int, work: Path) -> Rate:
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        port = free_port()
        # Its output goes where `scopix serve`'s goes (start_server): a pipe this process reads.
        process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "floor_app.py"),
                "--port",
                str(port),
                "--data",
                tmp,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        collect_output(process)
        try:
            _wait_port(process, port)
            requests = [multipart_request(p, port, "/upload", None) for p in paths]
            post_all(port, requests[:concurrency], concurrency)
            with RssSampler(process.pid) as rss, CpuMeter(process.pid) as cpu:
                took = post_all(port, requests[concurrency:], concurrency)
        finally:
            process.terminate()
            process.wait()
    return _rate(len(paths) - concurrency, took, rss, cpu)


def _rate(uploads: int, took: float, rss: RssSampler, cpu: CpuMeter) -> Rate:
    return Rate(uploads / took, rss.peak, 1000 * cpu.seconds / uploads)


def _wait_port(process: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the floor app exited")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError("the floor app did not start")


def small_row(paths: list[Path], concurrency: int, rounds: int, work: Path) -> None:
    scopix: list[Rate] = []
    floor: list[Rate] = []
    for _ in range(rounds):
        scopix.append(scopix_small(paths, concurrency, work))
        floor.append(floor_small(paths, concurrency, work))
    s_rates = [r.per_s for r in scopix]
    f_rates = [r.per_s for r in floor]
    print(
        f"small uploads ({len(paths) - concurrency} x 320x240 JPEG, x{concurrency} clients, "
        "auto_describe=false, no workers):"
    )
    for name, rates in (("scopix", scopix), ("floor ", floor)):
        per_s = [r.per_s for r in rates]
        print(
            f"  {name}  uploads/s best {max(per_s):6.1f} median {statistics.median(per_s):6.1f}"
            f"   rounds {' '.join(f'{r:.1f}' for r in per_s)}"
            f"   CPU {statistics.median(r.cpu_ms for r in rates):.1f} ms/upload"
            f"   peak RSS {max(r.peak_rss for r in rates) / MiB:.0f} MiB"
        )
    cpu_ratio = statistics.median(r.cpu_ms for r in floor) / statistics.median(
        r.cpu_ms for r in scopix
    )
    print(
        f"  ratio   best {max(s_rates) / max(f_rates):.2f} "
        f"median {statistics.median(s_rates) / statistics.median(f_rates):.2f}   (goal >= 0.5)"
        f"   CPU per upload, floor's / scopix's: {cpu_ratio:.2f}"
    )


def floor_copy_seconds(path: Path, scratch: Path) -> float:
    """SHA-256 and an fsynced copy of the file, the least any ingest must do."""
    start = time.perf_counter()
    digest = hashlib.sha256()
    copy = scratch / "floor.copy"
    with path.open("rb") as src, copy.open("wb") as dst:
        while chunk := src.read(MiB):
            digest.update(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    took = time.perf_counter() - start
    copy.unlink()
    return took


def curl_seconds(server: ServerProcess, key: str, path: Path, mime: str) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            f"Authorization: Bearer {key}",
            "-F",
            "auto_describe=false",
            "-F",
            f"file=@{path};type={mime}",
            server.base_url + UPLOAD,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    took = time.perf_counter() - start
    if done.stdout != "201":
        raise RuntimeError(f"curl upload: {done.stdout} {done.stderr}")
    return took


def stream_row(paths: list[Path], kind: str, work: Path) -> None:
    """Each file through a fresh server's upload (new bytes) and through the floor, alternating."""
    mime = "image/tiff" if kind == "tiff" else "video/mp4"
    server_s: list[float] = []
    floor_s: list[float] = []
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        # An MP4 of noise is not a video a probe accepts: the server probes none.
        env = SERVER_ENV if kind == "tiff" else {**SERVER_ENV, "SCOPIX_VIDEO_MAX_BYTES": "1"}
        server = start_server(Path(tmp) / "data", env=env)
        try:
            key = server.keys()[0]
            with RssSampler(server.process.pid) as rss:
                for path in paths:
                    # Each starts with nothing left to write back: the disk's writeback of the
                    # one before (90 MB) otherwise slowed whichever came next.
                    os.sync()
                    floor_s.append(floor_copy_seconds(path, Path(tmp)))
                    os.sync()
                    server_s.append(curl_seconds(server, key, path, mime))
        finally:
            server.stop()
    mb = paths[0].stat().st_size / MB
    s_rates = [mb / s for s in server_s]
    f_rates = [mb / s for s in floor_s]
    print(f"streaming upload ({len(paths)} x {mb:.0f} MB {kind}, curl, one at a time):")
    print(
        f"  scopix  MB/s best {max(s_rates):6.1f} median {statistics.median(s_rates):6.1f}"
        f"   peak RSS {rss.peak / MiB:.0f} MiB"
    )
    print(
        f"  floor   MB/s best {max(f_rates):6.1f} median {statistics.median(f_rates):6.1f}"
        "   (SHA-256 + fsynced copy)"
    )
    paired = statistics.median(f / s for f, s in zip(floor_s, server_s, strict=True))
    print(
        f"  ratio   best {max(s_rates) / max(f_rates):.2f} "
        f"median {statistics.median(s_rates) / statistics.median(f_rates):.2f} "
        f"median of pairs {paired:.2f}   (goal >= 0.6)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--big-mb", type=int, default=90)
    parser.add_argument("--big-files", type=int, default=9)
    parser.add_argument("--big-kind", choices=("tiff", "mp4"), default="tiff")
    parser.add_argument("--only", choices=("small", "stream"))
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()

    if args.only != "stream":
        small = make_small(args.work / "small_320", args.files)
        small_row(small, args.concurrency, args.rounds, args.work)
    if args.only != "small":
        big = make_big(args.work / "big", args.big_kind, args.big_mb, args.big_files)
        stream_row(big, args.big_kind, args.work)


if __name__ == "__main__":
    main()
