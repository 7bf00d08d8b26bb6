"""A hostile client against the direct-upload parts of a real `scopix serve` (local storage).

The bug this guards against: a part PUT that stalled mid-body kept writing into the blob after
the upload was completed and verified, so a 64x64 PNG was stored declaring 65535 x 65535 under
the content hash of the 64x64 one.
"""

from __future__ import annotations

import hashlib
import socket
import struct
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from imagefactory import png_bytes

BASE = "/api/v2/files/direct-uploads"


def declaring_huge(png: bytes) -> bytes:
    """The same PNG, its IHDR now declaring 65535 x 65535."""
    return png[:16] + struct.pack(">II", 65535, 65535) + png[24:]


def open_stalled_put(port: int, url: str, first_bytes: bytes, length: int) -> socket.socket:
    """A PUT whose headers promise `length` bytes and whose body stops after `first_bytes`."""
    parts = urlsplit(url)
    head = (
        f"PUT {parts.path}?{parts.query} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Content-Type: application/octet-stream\r\n"
        f"Content-Length: {length}\r\n"
        "Connection: close\r\n\r\n"
    )
    stalled = socket.create_connection(("127.0.0.1", port), timeout=15)
    stalled.sendall(head.encode() + first_bytes)
    return stalled


def finish(stalled: socket.socket, rest: bytes) -> bytes:
    """Send the rest of the body; what the server answered (b"" if it cut the connection)."""
    answer = b""
    try:
        stalled.sendall(rest)
        while chunk := stalled.recv(65536):
            answer += chunk
    except OSError:
        pass
    finally:
        stalled.close()
    return answer


def wait_for_part_in_flight(data_dir: Path, timeout: float = 10) -> None:
    """Until the server is writing the stalled part: in place (it owns the part's range) or,
    a copy sent again, to a temporary file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(data_dir.rglob(".parts/*/1.owner")) or any(data_dir.rglob(".parts/*/1.*.tmp")):
            return
        time.sleep(0.02)
    raise AssertionError("the stalled part never reached the server's disk")


def test_a_stalled_part_put_cannot_change_a_completed_upload(
    server_factory: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    server = server_factory.start(data_dir=data_dir)
    base, headers = server.base_url, {"Authorization": f"Bearer {server.keys()[0]}"}
    data = png_bytes(64, 64)
    hostile = declaring_huge(data)
    started = httpx.post(
        f"{base}{BASE}",
        json={"filename": "small.png", "size_bytes": len(data)},
        headers=headers,
    )
    assert started.status_code == 201, started.text
    upload = started.json()
    url = httpx.URL(base).join(upload["part_urls"][0]["url"])

    stalled = open_stalled_put(server.port, str(url), hostile[:8], len(hostile))
    wait_for_part_in_flight(data_dir)
    sent = httpx.put(url, content=data)  # the part again, whole: a part URL takes no key
    assert sent.status_code == 200, sent.text
    done = httpx.post(f"{base}{BASE}/{upload['upload_id']}/complete", headers=headers)
    assert done.status_code == 201, done.text

    answer = finish(stalled, hostile[8:])
    if answer:  # else the server cut the connection, which refuses it as well
        assert answer.startswith(b"HTTP/1.1 409 "), answer[:200]
        assert b"UPLOAD_NOT_ACTIVE" in answer
    file_id = done.json()["image_id"]
    details = httpx.get(f"{base}/api/v2/files/{file_id}", headers=headers).json()
    download = httpx.get(f"{base}/api/v2/files/{file_id}/download", headers=headers)
    assert hashlib.sha256(download.content).hexdigest() == details["content_hash"]
    assert download.content == data
    assert (details["width"], details["height"]) == (64, 64)

    late = httpx.put(url, content=hostile)
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "UPLOAD_NOT_ACTIVE"
    again = httpx.get(f"{base}/api/v2/files/{file_id}/download", headers=headers)
    assert again.content == data
