"""What a real `scopix serve` prints: no signed query string and no key secret, access log
included, while the requests themselves are still logged."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from imagefactory import jpeg_bytes
from scopix.server.testing import KEY_LINE


def test_signed_urls_and_keys_stay_out_of_the_logs(server_factory: Any) -> None:
    server = server_factory.start(env={"SCOPIX_LOG_LEVEL": "INFO"})
    [key] = server.keys()
    headers = {"Authorization": f"Bearer {key}"}
    photo = jpeg_bytes(64, 48, seed=3)
    started = httpx.post(
        f"{server.base_url}/api/v2/files/direct-uploads",
        json={"filename": "p.jpg", "size_bytes": len(photo)},
        headers=headers,
    )
    assert started.status_code == 201, started.text
    part_url = started.json()["part_urls"][0]["url"]
    part_signature = parse_qs(urlsplit(part_url).query)["signature"][0]
    assert httpx.put(part_url, content=photo).status_code == 200
    forged = "f0rg3d" * 8  # refused, but a refused link is logged like any other request
    link = f"{server.base_url}/ui/images/f_1/thumb?tenant=t&expires=1&signature={forged}"
    httpx.get(link, headers=headers)

    _wait_until_logged(server.lines, "/ui/images/f_1/thumb")
    server.stop()
    logged = "\n".join(line for line in server.lines if not KEY_LINE.match(line))
    assert "/parts/1?expires=" in logged, "the part PUT is in the access log"
    assert "signature=[redacted]" in logged
    assert part_signature not in logged and forged not in logged
    assert key.split("_", 2)[2] not in logged


def _wait_until_logged(lines: list[str], text: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in lines):
        assert time.monotonic() < deadline, "\n".join(lines)
        time.sleep(0.05)
