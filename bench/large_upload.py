"""A 3 GB file through the SDK's direct upload, on local storage and on S3 (moto's server), with
the client's and the server's peak RSS, and MB/s against a plain copy of the same file made in
the same run. The copy's speed swings between runs on a virtual machine (380 to 1,250 MB/s within
minutes, seen here), so each store is measured `--rounds` times, a fresh copy just before each
upload, and the median of the rounds' ratios is printed last.

The client runs in a child process of its own, so its peak RSS (its own ru_maxrss) is the
SDK's alone; the server's is its kernel high-water mark (VmHWM) just before it stops. The
file is an MP4 (an `ftyp` box, then noise), and the server probes no video
(SCOPIX_VIDEO_MAX_BYTES=1): it is stored as it is, so what is measured is moving and verifying
bytes, not decoding them.

    .venv/bin/python bench/large_upload.py [--size-mb 3000] [--stores local,s3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from scopix import Scopix
from scopix.server.testing import SCOPIX, ServerProcess, start_server

MB = 1_000_000
BLOCK = 16 << 20
RSS_LIMIT_MB = 300
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def make_file(path: Path, size: int) -> None:
    """`size` bytes that sniff as MP4; each block differs, so nothing dedups by accident."""
    noise = os.urandom(BLOCK)
    with path.open("wb") as out:
        out.write(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")
        written = 24
        block = 0
        while written < size:
            chunk = block.to_bytes(8, "big") + noise[8 : min(BLOCK, size - written)]
            out.write(chunk[: size - written])
            written += min(len(chunk), size - written)
            block += 1


def plain_copy_seconds(source: Path, folder: Path) -> float:
    """A copy made durable (fsync), started with nothing left to write back: the source was
    just written, and its writeback otherwise ran under the copy's fsync."""
    target = folder / "copy.bin"
    os.sync()
    started = time.perf_counter()
    shutil.copyfile(source, target)
    with target.open("rb") as handle:
        os.fsync(handle.fileno())
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


def new_key(data_dir: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [*SCOPIX, "keys", "create", "--tenant", f"bench-{uuid.uuid4().hex}", "--tier", "custom"],
        env={**os.environ, **env, "SCOPIX_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def server_peak_mb(server: ServerProcess) -> float:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def run_client(base_url: str, key: str, path: Path) -> dict[str, object]:
    """One upload in a child process; what it did and its own peak RSS."""
    done = subprocess.run(
        [sys.executable, __file__, "--client", base_url, key, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the client failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def client_upload(base_url: str, key: str, path: Path) -> dict[str, object]:
    started = time.perf_counter()
    async with Scopix(api_key=key, base_url=base_url, timeout=600) as client:
        result = await client.files.upload(path, auto_describe=False, wait_for_descriptions=False)
    return {
        "seconds": time.perf_counter() - started,
        "image_id": result.image_id,
        "deduplicated": result.deduplicated,
        "object_key": result.object_key,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def start_moto(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    moto = Path(sys.executable).parent / "moto_server"
    log = (folder / "moto.log").open("wb")
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    endpoint = f"http://127.0.0.1:{port}"
    import boto3  # type: ignore[import-untyped]

    for _ in range(100):
        try:
            boto3.client(
                "s3", endpoint_url=endpoint, region_name="us-east-1", **_boto_keys()
            ).create_bucket(Bucket="scopix-bench")
            return process, endpoint
        except Exception:  # not answering yet
            time.sleep(0.2)
    raise SystemExit("moto_server did not start")


def _boto_keys() -> dict[str, str]:
    return {
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


def measure(store: str, source: Path, folder: Path, copy_s: float) -> tuple[bool, float]:
    """One round: a server on a fresh data folder, the upload and its re-upload; whether the
    memory and dedup checks held, and the upload's ratio to the plain copy."""
    # No video is probed: the noise after the `ftyp` box is not one, and what is measured is
    # moving and verifying bytes (a video over this limit is stored as it is).
    env: dict[str, str] = {"SCOPIX_WORKERS": "0", "SCOPIX_VIDEO_MAX_BYTES": "1"}
    moto = None
    if store == "s3":
        moto, endpoint = start_moto(folder)
        env |= CREDENTIALS | {
            "SCOPIX_STORAGE_URL": f"s3://scopix-bench/blobs?endpoint={endpoint}&region=us-east-1"
        }
    data_dir = folder / f"data-{store}"
    shutil.rmtree(data_dir, ignore_errors=True)
    key = new_key(data_dir, env)
    server = start_server(data_dir, env=env)
    try:
        os.sync()  # as before the plain copy
        first = run_client(f"{server.base_url}/api/v2", key, source)
        again = run_client(f"{server.base_url}/api/v2", key, source)
        server_mb = server_peak_mb(server)
    finally:
        server.stop()
        if moto is not None:
            moto.terminate()
            moto.wait()
    size_mb = source.stat().st_size / MB
    seconds = float(str(first["seconds"]))
    client_mb = float(str(first["peak_rss_mb"]))
    print(
        f"{store:>5}: {seconds:7.1f} s  {size_mb / seconds:7.1f} MB/s  "
        f"({copy_s / seconds:5.2f} x plain copy's {size_mb / copy_s:.0f} MB/s)  "
        f"client peak RSS {client_mb:5.0f} MB  server peak RSS {server_mb:5.0f} MB  "
        f"again: deduplicated={again['deduplicated']} in {float(str(again['seconds'])):.1f} s"
    )
    ok = client_mb < RSS_LIMIT_MB and server_mb < RSS_LIMIT_MB and bool(again["deduplicated"])
    return ok, copy_s / seconds


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--client":
        _, _, base_url, key, path = sys.argv
        print(json.dumps(asyncio.run(client_upload(base_url, key, Path(path)))))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=3000)
    parser.add_argument("--stores", default="local,s3")
    parser.add_argument("--rounds", type=int, default=3, help="copy-then-upload rounds per store")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scopix-bench-") as tmp:
        folder = Path(tmp)
        source = folder / "large.mp4"
        make_file(source, args.size_mb * MB)
        print(f"file: {args.size_mb:,} MB")
        ok = []
        for store in args.stores.split(","):
            ratios = []
            for _ in range(args.rounds):
                copy_s = plain_copy_seconds(source, folder)
                held, ratio = measure(store, source, folder, copy_s)
                ok.append(held)
                ratios.append(ratio)
            median = statistics.median(ratios)
            print(f"{store:>5}: median of {args.rounds} rounds {median:.2f} x plain copy")
    print("peak RSS under 300 MB and re-upload deduplicated:", "yes" if all(ok) else "NO")
    raise SystemExit(0 if all(ok) else 1)


if __name__ == "__main__":
    main()
