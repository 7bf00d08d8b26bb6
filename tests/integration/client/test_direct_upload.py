"""The SDK's direct uploads against a real `scopix serve`: parts, resume, cuts, expired URLs.

The SDK's threshold is lowered to 1 MiB so that files of a few parts (the server cuts 16 MiB
parts) go direct; the public default stays 100 MiB.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from cutproxy import CutProxy
from imagefactory import jpeg_bytes, tiny_mp4
from scopix import DescriptionStatus, Scopix
from scopix.client import _direct
from scopix.server.domain.signing import PartGrant, sign
from scopix.server.testing import ServerProcess, start_server
from scopix.types.events import UploadProgress
from vlmserver import FakeVLMServer

pytestmark = pytest.mark.slow

MiB = 1 << 20
PART = 16 * MiB  # the server's part size for files under 156 GiB
SECRET = "direct-upload-tests-0123456789abcdef"  # a signing secret has 32 bytes or more
PART_PATH = re.compile(r"/files/direct-uploads/([^/]+)/parts/(\d+)$")

RequestHook = Callable[[httpx.Request], Awaitable[None]]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the module; a fake VLM describes images at once."""
    with FakeVLMServer() as vlm:
        env = {
            "SCOPIX_ONDEVICE": "false",
            "SCOPIX_VLM_BASE_URL": vlm.base_url,
            "SCOPIX_VLM_MODEL": vlm.model,
            "SCOPIX_SIGNING_SECRET": SECRET,
        }
        process = start_server(tmp_path_factory.mktemp("direct"), env=env)
        yield process
        process.stop()


@pytest.fixture(autouse=True)
def direct_from_one_mib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_direct, "STREAMING_LIMIT", MiB)


def video(path: Path, size: int) -> Path:
    """A playable MP4 padded with a `free` box of random bytes to `size`."""
    playable = tiny_mp4()
    with path.open("wb") as out:
        out.write(playable + struct.pack(">I", size - len(playable)) + b"free")
        left = size - len(playable) - 8
        while left:
            chunk = os.urandom(min(4 * MiB, left))
            out.write(chunk)
            left -= len(chunk)
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(4 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


class Traffic:
    """Every request a client sent, and what storage answered to its part PUTs."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []
        self.part_answers: list[tuple[int, int, Any]] = []  # (part, status, error code)
        self.started: dict[str, Any] = {}  # the answer that started (or resumed) the upload
        self.on_part_stored: Callable[[int], None] | None = None

    async def on_request(self, request: httpx.Request) -> None:
        self.sent.append(request)

    async def on_response(self, response: httpx.Response) -> None:
        request = response.request
        if request.method == "POST" and request.url.path.endswith("/files/direct-uploads"):
            await response.aread()
            self.started = response.json()
        match = PART_PATH.search(request.url.path)
        if request.method != "PUT" or match is None:
            return
        await response.aread()
        code = None if response.is_success else response.json()["error"]["code"]
        self.part_answers.append((int(match[2]), response.status_code, code))
        if response.is_success and self.on_part_stored is not None:
            self.on_part_stored(int(match[2]))

    def part_puts(self) -> list[int]:
        return [int(m[2]) for r in self.sent if (m := PART_PATH.search(r.url.path))]

    def upload_id(self) -> str:
        return next(m[1] for r in self.sent if (m := PART_PATH.search(r.url.path)))

    def calls(self, method: str, path_end: str) -> int:
        return sum(1 for r in self.sent if r.method == method and r.url.path.endswith(path_end))


def client(base_url: str, key: str, traffic: Traffic, *before: RequestHook) -> Scopix:
    """A client whose requests ``traffic`` records, after the hooks ``before`` ran on them."""
    http = httpx.AsyncClient(
        base_url=f"{base_url}/api/v2/",
        timeout=120,
        event_hooks={
            "request": [*before, traffic.on_request],
            "response": [traffic.on_response],
        },
    )
    return Scopix(
        api_key=key,
        base_url=f"{base_url}/api/v2",
        retry_delay=0,
        polling_interval=0.2,
        http_client=http,
    )


async def downloaded_sha256(server: ServerProcess, image_id: str, tmp_path: Path) -> str:
    async with Scopix(api_key=server.keys()[0], base_url=f"{server.base_url}/api/v2") as scopix:
        return sha256_of(await scopix.files.download(image_id, tmp_path / "copy.bin"))


async def _variants_settled(scopix: Scopix, image_id: str) -> str:
    """The file's status once no job of it is left processing (60 s at most)."""
    deadline = anyio.current_time() + 60
    status = (await scopix.files.get_processing_status(image_id)).status
    while status == "processing" and anyio.current_time() < deadline:
        await anyio.sleep(0.1)
        status = (await scopix.files.get_processing_status(image_id)).status
    return status


async def test_a_large_file_goes_to_storage_in_parts(server: ServerProcess, tmp_path: Path) -> None:
    path = video(tmp_path / "clip.mp4", 2 * PART + 3 * MiB)
    traffic = Traffic()
    events: list[UploadProgress] = []
    async with client(server.base_url, server.keys()[0], traffic) as scopix:
        result = await scopix.files.upload(path, on_progress=events.append)
        # upload() waits for the description and the scenes; the poster frame's variants job
        # may finish after them on a busy machine.
        status = await _variants_settled(scopix, result.image_id)
    assert (result.media_type, status) == ("video", "completed")
    assert result.description_status is DescriptionStatus.COMPLETED
    assert await downloaded_sha256(server, result.image_id, tmp_path) == sha256_of(path)
    assert sorted(traffic.part_puts()) == [1, 2, 3]
    assert traffic.calls("POST", "/files/upload") == 0
    for request in traffic.sent:
        if PART_PATH.search(request.url.path):
            assert "authorization" not in request.headers
            assert "idempotency-key" not in request.headers
        elif request.method == "POST":
            assert "idempotency-key" in request.headers
    size = path.stat().st_size
    assert events[-1] == UploadProgress(1, 1, size, size)
    assert all(a.bytes_sent <= b.bytes_sent for a, b in itertools.pairwise(events))


async def test_the_same_file_again_moves_no_bytes(server: ServerProcess, tmp_path: Path) -> None:
    path = video(tmp_path / "clip.mp4", PART + MiB)
    async with client(server.base_url, server.keys()[0], Traffic()) as scopix:
        await scopix.files.upload(path)
    traffic = Traffic()
    async with client(server.base_url, server.keys()[0], traffic) as scopix:
        again = await scopix.files.upload(path)
    assert again.deduplicated is True
    assert traffic.started["deduplicated"] is True
    assert traffic.part_puts() == []
    assert traffic.calls("POST", "/complete") == 0


async def test_an_interrupted_upload_resumes_with_the_missing_parts(
    server: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_direct, "PART_CONCURRENCY", 1)  # so no third part is in flight
    path = video(tmp_path / "long.mp4", 3 * PART + 2 * MiB)
    first = Traffic()
    async with client(server.base_url, server.keys()[0], first) as scopix:
        with anyio.CancelScope() as scope:
            stored: set[int] = set()

            def cancel_at_half(part: int) -> None:
                stored.add(part)
                if len(stored) == 2:
                    scope.cancel()

            first.on_part_stored = cancel_at_half
            await scopix.files.upload(path)
    assert scope.cancelled_caught
    assert not [r for r in first.sent if r.method == "DELETE"]

    second = Traffic()
    events: list[UploadProgress] = []
    async with client(server.base_url, server.keys()[0], second) as scopix:
        result = await scopix.files.upload(path, on_progress=events.append)
    resumed = second.started
    held = {p["part_number"]: p["size"] for p in resumed["parts"]}
    assert resumed["resumed"] is True
    assert resumed["upload_id"] == first.upload_id()
    assert set(held) == stored == {1, 2}
    assert sorted(second.part_puts()) == sorted({1, 2, 3, 4} - set(held))
    assert events[0].bytes_sent == sum(held.values())
    assert await downloaded_sha256(server, result.image_id, tmp_path) == sha256_of(path)


async def test_a_connection_cut_mid_part_is_retried(server: ServerProcess, tmp_path: Path) -> None:
    path = video(tmp_path / "clip.mp4", 2 * PART + 8 * MiB)
    traffic = Traffic()
    events: list[UploadProgress] = []
    with CutProxy(server.port, cut_after=20 * MiB) as proxy:
        proxied = f"http://127.0.0.1:{proxy.port}"
        async with client(proxied, server.keys()[0], traffic) as scopix:
            result = await scopix.files.upload(path, on_progress=events.append)
    assert proxy.cuts == 1
    puts = traffic.part_puts()
    # All three parts are in flight at once: the cut costs the part it hit, and as timing
    # decides a part beside it may be re-sent too (seen once in CI), but none twice.
    assert sorted(set(puts)) == [1, 2, 3]
    assert len(puts) > 3
    assert max(puts.count(n) for n in set(puts)) == 2
    assert any(b.bytes_sent < a.bytes_sent for a, b in itertools.pairwise(events))
    assert await downloaded_sha256(server, result.image_id, tmp_path) == sha256_of(path)


async def test_an_expired_part_url_is_refreshed(server: ServerProcess, tmp_path: Path) -> None:
    path = video(tmp_path / "clip.mp4", 2 * PART + MiB)
    traffic = Traffic()
    expired: set[int] = set()

    async def expire_first_url(request: httpx.Request) -> None:
        """Send each part's first PUT with a validly signed URL that expired an hour ago."""
        match = PART_PATH.search(request.url.path)
        if match is None or int(match[2]) in expired:
            return
        expired.add(int(match[2]))
        expires = int(time.time()) - 3600
        signature = sign(SECRET.encode(), PartGrant(match[1], int(match[2]), expires))
        request.url = request.url.copy_with(
            query=f"expires={expires}&signature={signature}".encode()
        )

    async with client(server.base_url, server.keys()[0], traffic, expire_first_url) as scopix:
        result = await scopix.files.upload(path)
    assert sorted(traffic.part_answers) == [
        (1, 200, None),
        (1, 403, "URL_EXPIRED"),
        (2, 200, None),
        (2, 403, "URL_EXPIRED"),
        (3, 200, None),
        (3, 403, "URL_EXPIRED"),
    ]
    assert traffic.calls("GET", f"/files/direct-uploads/{traffic.upload_id()}") == 3
    assert await downloaded_sha256(server, result.image_id, tmp_path) == sha256_of(path)


async def test_a_batch_sends_large_files_direct_and_keeps_their_order(
    server: ServerProcess, tmp_path: Path
) -> None:
    small = jpeg_bytes(64, 48, seed=3)
    large_image = tmp_path / "poster.jpg"
    large_image.write_bytes(jpeg_bytes(1600, 1200, quality=100, seed=4))
    assert large_image.stat().st_size > MiB
    clip = video(tmp_path / "clip.mp4", 2 * MiB)
    traffic = Traffic()
    async with client(server.base_url, server.keys()[0], traffic) as scopix:
        results = await scopix.files.upload_batch([clip, small, large_image])
    assert [r.media_type for r in results] == ["video", "image", "image"]
    assert [r.description_status for r in results] == [DescriptionStatus.COMPLETED] * 3
    assert traffic.calls("POST", "/files/upload/batch") == 1
    assert traffic.calls("POST", "/files/direct-uploads") == 2
    assert await downloaded_sha256(server, results[2].image_id, tmp_path) == sha256_of(large_image)


# A client in a process of its own, slowed by its progress callback so that it can be killed
# mid-upload; it prints every byte count it reports, then the result.
KILLABLE_CLIENT = """
import asyncio, sys, time
from scopix import Scopix
from scopix.client import _direct

_direct.STREAMING_LIMIT = 1 << 20
_direct.PART_CONCURRENCY = 1


def report(progress):
    print("sent", progress.bytes_sent, flush=True)
    time.sleep(0.03)


async def main(base_url, key, path):
    async with Scopix(api_key=key, base_url=base_url, retry_delay=0) as scopix:
        result = await scopix.files.upload(path, on_progress=report)
    print("done", result.image_id, flush=True)


asyncio.run(main(*sys.argv[1:]))
"""


def run_client(server: ServerProcess, path: Path) -> subprocess.Popen[str]:
    base_url, key = f"{server.base_url}/api/v2", server.keys()[0]
    return subprocess.Popen(
        [sys.executable, "-c", KILLABLE_CLIENT, base_url, key, str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )


async def test_a_killed_client_resumes_where_it_stopped(
    server: ServerProcess, tmp_path: Path
) -> None:
    path = video(tmp_path / "killed.mp4", 4 * PART)
    first = run_client(server, path)
    assert first.stdout is not None
    for line in first.stdout:
        if line.startswith("sent") and int(line.split()[1]) >= 2 * PART + MiB:
            first.kill()  # SIGKILL at about half: no cleanup of any kind
            break
    first.wait()
    assert first.returncode == -signal.SIGKILL

    second = run_client(server, path)
    output, _ = second.communicate(timeout=300)
    assert second.returncode == 0, output
    sent = [int(line.split()[1]) for line in output.splitlines() if line.startswith("sent")]
    assert 2 * PART <= sent[0] < 4 * PART  # it started from the parts the server held
    image_id = output.splitlines()[-1].split()[1]
    assert await downloaded_sha256(server, image_id, tmp_path) == sha256_of(path)

    again = run_client(server, path)
    output, _ = again.communicate(timeout=300)
    sent = [int(line.split()[1]) for line in output.splitlines() if line.startswith("sent")]
    assert sent[0] == 4 * PART  # deduplicated: the server already held every byte
