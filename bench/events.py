"""How soon a client hears that a file is described: `client.events.stream()` against the
polling it replaces.

Starts a real `scopix serve` (SQLite, on-device models, one in-process worker), then uploads
the everyday photos of tests/assets/photos one at a time. For each, two observers run at once
in this process: the SDK's event stream, waiting for the photo's `file.described`, and a
baseline poller asking `GET /files/{id}/status` once a second (what a client did before
events). Prints, per photo and as medians: the event's lag (when the stream gave it, minus the
event's own timestamp, both from this machine's clock), and how long after the upload each
observer knew; then the ratio poller/stream.

    .venv/bin/python bench/events.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from scopix import Scopix  # noqa: E402
from scopix.server.testing import start_server  # noqa: E402

PHOTOS = sorted(p for p in (ROOT / "tests/assets/photos").iterdir() if p.suffix in {".jpg", ".png"})
POLL_SECONDS = 1.0


async def stream_sees(
    scopix: Scopix, cursor: str, file_id: asyncio.Future[str]
) -> tuple[float, float]:
    """(when the stream gave the photo's file.described, that event's lag in seconds)."""
    async for event in scopix.events.stream(after=cursor, wait=10):
        if event.type == "file.described" and event.data["file_id"] == await file_id:
            seen = datetime.now(UTC)
            assert event.timestamp is not None
            return time.monotonic(), (seen - event.timestamp).total_seconds()
    raise RuntimeError("the stream ended")


async def poller_sees(http: httpx.AsyncClient, file_id: asyncio.Future[str]) -> float:
    target = await file_id
    while True:
        status = (await http.get(f"files/{target}/status")).json()
        if status["description_status"] == "completed":
            return time.monotonic()
        await asyncio.sleep(POLL_SECONDS)


async def one(scopix: Scopix, http: httpx.AsyncClient, photo: Path) -> tuple[float, float, float]:
    cursor = (await scopix.events.list()).next_cursor
    while (page := await scopix.events.list(after=cursor)).items:
        cursor = page.next_cursor
    file_id: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    streamed = asyncio.ensure_future(stream_sees(scopix, cursor, file_id))
    polled = asyncio.ensure_future(poller_sees(http, file_id))
    started = time.monotonic()
    uploaded = await scopix.files.upload(photo, wait_for_descriptions=False)
    file_id.set_result(uploaded.image_id)
    (stream_at, lag), poll_at = await asyncio.gather(streamed, polled)
    return lag, stream_at - started, poll_at - started


async def run(base_url: str, key: str, rounds: int) -> None:
    lags, by_stream, by_poll = [], [], []
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        Scopix(api_key=key, base_url=f"{base_url}/api/v2") as scopix,
        httpx.AsyncClient(base_url=f"{base_url}/api/v2/", headers=headers) as http,
    ):
        for round_ in range(rounds):
            for photo in PHOTOS:
                lag, streamed, polled = await one(scopix, http, photo)
                if round_ == 0 and photo == PHOTOS[0]:
                    continue  # the first description loads what the models still need
                lags.append(lag)
                by_stream.append(streamed)
                by_poll.append(polled)
                print(
                    f"{photo.name:28} lag {lag * 1000:6.0f} ms   stream {streamed:5.2f} s   "
                    f"poll {polled:5.2f} s"
                )
    print(
        f"\nfile.described lag: median {statistics.median(lags) * 1000:.0f} ms, "
        f"max {max(lags) * 1000:.0f} ms over {len(lags)} photos"
    )
    stream_median, poll_median = statistics.median(by_stream), statistics.median(by_poll)
    print(
        f"known after upload: stream {stream_median:.2f} s, polling every "
        f"{POLL_SECONDS:.0f} s {poll_median:.2f} s (median); poll/stream "
        f"{poll_median / stream_median:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        server = start_server(Path(data) / "data", env={"SCOPIX_WORKERS": "1"})
        try:
            asyncio.run(run(server.base_url, server.keys()[0], args.rounds))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
