"""A 1 GB upload streams through the server with flat memory."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from imagefactory import multipage_tiff

MB = 1024 * 1024


def sample_peak_rss(pid: int, stop: threading.Event, peak: list[int]) -> None:
    process = psutil.Process(pid)
    while not stop.is_set():
        peak[0] = max(peak[0], process.memory_info().rss)
        stop.wait(0.02)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(4 * MB):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.mark.slow
def test_one_gigabyte_upload_keeps_server_rss_under_200_mb(
    server_factory: Any, tmp_path: Path
) -> None:
    big = multipage_tiff(tmp_path / "scan.tiff", pages=4, width=9000, height=10000)
    assert big.stat().st_size > 1024 * MB  # a full GiB
    # The models a worker warms at start are a fixed cost, not the upload's: left cold, the
    # server's RSS is what streaming a GiB through it holds.
    server = server_factory.start(
        env={"SCOPIX_MAX_UPLOAD_BYTES": str(2048 * MB), "SCOPIX_WARM_MODELS": "false"}
    )
    headers = {"Authorization": f"Bearer {server.keys()[0]}"}

    stop, peak = threading.Event(), [0]
    sampler = threading.Thread(target=sample_peak_rss, args=(server.process.pid, stop, peak))
    sampler.start()
    try:
        with big.open("rb") as handle:
            response = httpx.post(
                f"{server.base_url}/api/v2/files/upload",
                files={"file": ("scan.tiff", handle, "image/tiff")},
                headers=headers,
                timeout=600,
            )
    finally:
        stop.set()
        sampler.join()

    assert response.status_code == 201, response.text
    details = httpx.get(
        f"{server.base_url}/api/v2/files/{response.json()['image_id']}", headers=headers
    ).json()
    assert details["content_hash"] == file_sha256(big)
    assert details["size_bytes"] == big.stat().st_size
    assert (details["width"], details["height"]) == (9000, 10000)
    assert peak[0] < 200 * MB, f"server peak RSS {peak[0] / MB:.0f} MB"
