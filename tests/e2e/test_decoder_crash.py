"""Hostile bytes against a real `scopix serve`: a decoder that crashes (the test-only SIGSEGV
hook) and a real decompression bomb each fail their own file as `resource_limit`, while another
client's uploads go on succeeding on the same server and no job is left queued or running."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pyvips

from imagefactory import jpeg_bytes
from scopix.server.testing import ServerProcess, create_key, wait_for_status
from vlmserver import FakeVLMServer

LEASE_S = 3
MARKER = "SCOPIX-TEST-DECODER-CRASH"
#: Small enough that the bomb below overruns it, roomy for the photos of the other client.
ADDRESS_SPACE = 320 * 1024 * 1024


def test_a_decoder_crash_and_a_bomb_fail_only_their_own_files(
    server_factory: Any, tmp_path: Path
) -> None:
    with FakeVLMServer() as vlm:
        env = {
            "SCOPIX_VLM_BASE_URL": vlm.base_url,
            "SCOPIX_VLM_MODEL": vlm.model,
            "SCOPIX_ONDEVICE": "false",
            "SCOPIX_JOB_LEASE_SECONDS": str(LEASE_S),
            "SCOPIX_IMAGE_WORKERS": "2",
            "SCOPIX_DECODE_ADDRESS_SPACE_BYTES": str(ADDRESS_SPACE),
            "SCOPIX_TEST_DECODER_CRASH_MARKER": MARKER,
            "SCOPIX_TEST_DECODER_CRASH_STAGES": "variants,analysis",
        }
        data_dir = tmp_path / "data"
        server = server_factory.start(env=env, data_dir=data_dir)
        attacker = {"Authorization": f"Bearer {server.keys()[0]}"}
        bystander = {"Authorization": f"Bearer {create_key(data_dir, env, 'bystander')}"}

        uploads = _BystanderUploads(server, bystander)
        uploads.start()
        try:
            crashing = _upload(
                server, attacker, "crash.jpg", jpeg_bytes(320, 240) + MARKER.encode()
            )
            assert crashing.status_code == 201, crashing.text
            bomb = _upload(server, attacker, "bomb.png", _interlaced_bomb())
        finally:
            uploads.stop()

        # (b) the bomb is refused at upload: its probe and first decode overrun the child twice.
        assert bomb.status_code == 422, bomb.text
        assert bomb.json()["error"]["code"] == "RESOURCE_LIMIT"
        assert "MiB of memory" in bomb.json()["error"]["message"]
        # (a) the crash fails its file's description as resource_limit, at once: not retried.
        file_id = crashing.json()["image_id"]
        failed = wait_for_status(server.base_url, attacker, file_id, _settled, timeout=LEASE_S * 10)
        assert failed["description_status"] == "failed"
        assert failed["description_error_type"] == "resource_limit"
        assert "SIGSEGV" in failed["description_error"]
        assert str(data_dir) not in failed["description_error"]
        history = httpx.get(f"{server.base_url}/api/v2/files/{file_id}", headers=attacker)
        variants = [e for e in history.json()["processing_history"] if e["event"].startswith("var")]
        assert [e["event"] for e in variants] == ["variants_failed"]
        assert "SIGSEGV" in variants[0]["detail"]
        # ... while the other client's uploads kept succeeding and are described.
        assert uploads.statuses and set(uploads.statuses) == {201}, uploads.statuses
        for other in uploads.file_ids:
            done = wait_for_status(server.base_url, bystander, other, _settled, timeout=60)
            assert done["description_status"] == "completed", done
        assert httpx.get(f"{server.base_url}/healthz").status_code == 200

    # (c) nothing is left queued or running, well within a lease of the last file settling.
    time.sleep(LEASE_S)
    with sqlite3.connect(data_dir / "scopix.db") as db:
        stuck = db.execute("SELECT kind, state FROM jobs WHERE state IN ('queued', 'running')")
        assert stuck.fetchall() == []
        files = db.execute("SELECT count(*) FROM files WHERE filename = 'bomb.png'").fetchone()
        assert files == (0,)  # the refused bomb left no file behind


def _settled(status: dict[str, Any]) -> bool:
    return bool(
        status["status"] == "completed" and status["description_status"] in ("completed", "failed")
    )


def _upload(
    server: ServerProcess, headers: dict[str, str], name: str, data: bytes
) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/api/v2/files/upload",
        files={"file": (name, data)},
        headers=headers,
        timeout=60,
    )


def _interlaced_bomb() -> bytes:
    """An interlaced 16-bit RGBA PNG of 49 MP (within every pixel cap) in about 200 KB: libvips
    must hold all of its ~390 MB at once to decode it."""
    return bytes(
        pyvips.Image.black(7000, 7000, bands=4).cast("ushort").pngsave_buffer(interlace=True)
    )


class _BystanderUploads:
    """Another client uploading photos, one after another, until stopped."""

    def __init__(self, server: ServerProcess, headers: dict[str, str]) -> None:
        self.server, self.headers = server, headers
        self.statuses: list[int] = []
        self.file_ids: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        while len(self.statuses) < 3 and self._thread.is_alive():
            time.sleep(0.1)  # at least a few while the attacker's files were being decoded
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        seed = 0
        while not self._stop.is_set():
            seed += 1
            response = _upload(
                self.server, self.headers, f"p{seed}.jpg", jpeg_bytes(320, 240, seed=seed)
            )
            self.statuses.append(response.status_code)
            if response.status_code == 201:
                self.file_ids.append(response.json()["image_id"])
