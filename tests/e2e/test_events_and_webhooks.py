"""Events from a real `scopix serve`: a webhook endpoint loses no event when the process that
delivers is killed with SIGKILL in the middle of a delivery (the event in flight comes again,
with the same id: at least once), and server-sent events stream what happens."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import httpx

from imagefactory import jpeg_bytes
from scopix.server.testing import ServerProcess
from webhookreceiver import Receiver

ENV = {
    "SCOPIX_LINKS_ALLOW_PRIVATE": "true",
    "SCOPIX_WEBHOOK_LEASE_SECONDS": "1",
    "SCOPIX_WEBHOOK_POLL_SECONDS": "0.05",
    "SCOPIX_WEBHOOK_RETRY_SECONDS": "[0.2, 0.2, 0.2]",
    "SCOPIX_EVENTS_POLL_SECONDS": "0.05",
    "SCOPIX_WORKERS": "0",  # no job runs: the events are the uploads themselves
}


def upload(server: ServerProcess, headers: dict[str, str], seed: int) -> str:
    answer = httpx.post(
        f"{server.base_url}/api/v2/files/upload",
        files={"file": (f"{seed}.jpg", jpeg_bytes(60 + seed, 40, seed=seed))},
        data={"auto_describe": "false"},
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["image_id"])


def test_a_delivery_cut_by_sigkill_comes_again_and_none_is_lost(
    server_factory: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    with Receiver() as receiver:
        first = server_factory.start(env=ENV, data_dir=data_dir)
        headers = {"Authorization": f"Bearer {first.keys()[0]}"}
        made = httpx.post(
            f"{first.base_url}/api/v2/webhooks",
            json={"url": receiver.url, "events": ["file.uploaded"]},
            headers=headers,
        )
        assert made.status_code == 201, made.text
        receiver.hold.set()  # the first delivery waits for an answer until the kill
        files = [upload(first, headers, seed) for seed in range(3)]
        assert receiver.arrived.wait(timeout=30)
        first.kill()
        receiver.hold.clear()
        receiver.release.set()

        second = server_factory.start(env=ENV, data_dir=data_dir)
        files.append(upload(second, headers, 3))
        receiver.wait_for(lambda r: len({p["id"] for p in r.accepted()}) >= 4, timeout=60)

    arrivals = [d.payload for d in receiver.received]
    firsts = list(dict.fromkeys(p["id"] for p in arrivals))
    assert [next(p for p in arrivals if p["id"] == i)["data"]["file_id"] for i in firsts] == files
    again = [i for i in firsts if sum(p["id"] == i for p in arrivals) > 1]
    assert again == [firsts[0]]  # only the delivery in flight went twice, with its id


def test_server_sent_events_stream_what_happens_until_the_server_stops(
    server_factory: Any,
) -> None:
    server = server_factory.start(env=ENV)
    headers = {"Authorization": f"Bearer {server.keys()[0]}"}
    stream_headers = {**headers, "Accept": "text/event-stream"}
    with httpx.stream(
        "GET", f"{server.base_url}/api/v2/events", headers=stream_headers, timeout=30
    ) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        file_id = upload(server, headers, 7)
        fields: dict[str, str] = {}
        for line in answer.iter_lines():
            if line.startswith(("id:", "event:", "data:")):
                name, _, value = line.partition(":")
                fields[name] = value.strip()
            if "data" in fields:
                break
        server.stop()  # with the stream still open: it is cut, not waited for
    assert server.process.returncode != -signal.SIGKILL  # it stopped by itself
    event = json.loads(fields["data"])
    assert (fields["event"], event["type"]) == ("file.uploaded", "file.uploaded")
    assert event["data"]["file_id"] == file_id
