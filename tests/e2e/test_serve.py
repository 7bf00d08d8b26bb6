"""`scopix serve` as a person starts it: first run, a key, uploads over real HTTP, restart."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import pyvips

from imagefactory import jpeg_bytes
from scopix.server.testing import KEY_LINE, SCOPIX, wait_for_status


def test_first_start_creates_data_prints_one_key_and_serves(
    server_factory: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "fresh"
    server = server_factory.start(data_dir=data_dir)
    keys = server.keys()
    assert len(keys) == 1
    assert (data_dir / "scopix.db").is_file()

    headers = {"Authorization": f"Bearer {keys[0]}"}
    photo = jpeg_bytes(2000, 1500, seed=1)
    response = httpx.post(
        f"{server.base_url}/api/v2/files/upload",
        files={"file": ("p.jpg", photo)},
        data={"auto_describe": "false"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    file_id = response.json()["image_id"]
    wait_for_status(server.base_url, headers, file_id, lambda s: s["status"] == "completed")
    details = httpx.get(f"{server.base_url}/api/v2/files/{file_id}", headers=headers).json()
    thumb = httpx.get(details["thumbnail_url"], headers=headers)
    assert max(pyvips.Image.new_from_buffer(thumb.content, "").width, 0) == 256

    server.stop()
    again = server_factory.start(data_dir=data_dir)
    assert again.keys() == []  # the key is printed once, on the first start only
    listing = httpx.get(f"{again.base_url}/api/v2/files", headers=headers).json()
    assert listing["total_count"] == 1


def test_keys_create_prints_a_working_key(server_factory: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {"SCOPIX_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"}
    made = subprocess.run(
        [*SCOPIX, "keys", "create", "--tenant", "acme", "--tier", "professional"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    key = made.stdout.strip()
    assert KEY_LINE.match(key)
    server = server_factory.start(data_dir=data_dir)
    quota = httpx.get(
        f"{server.base_url}/api/v2/uploads/quota-check",
        headers={"Authorization": f"Bearer {key}"},
    ).json()
    assert quota["max_batch_size"] == 100 and quota["monthly_limit"] == 2500

    bad = subprocess.run(
        [*SCOPIX, "keys", "create", "--tenant", "acme", "--tier", "platinum"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 2 and "unknown tier" in bad.stderr
