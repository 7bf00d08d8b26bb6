"""The sync SDK's event stream over real sockets: it long-polls from its cursor, gives every
event once in order, and its cursor resumes it (the server's side is in
tests/integration/api/test_webhooks.py)."""

from __future__ import annotations

import json
from typing import Any

from scopix import SyncScopix
from scriptedhttp import Reply, ScriptedServer


def page(cursor: str, *ids: str) -> Reply:
    items = [
        {"id": i, "type": "file.uploaded", "timestamp": "2026-12-07T21:00:00Z", "data": {}}
        for i in ids
    ]
    body: dict[str, Any] = {"items": items, "next_cursor": cursor}
    return (200, {}, json.dumps(body).encode())


def test_the_sync_stream_long_polls_from_its_cursor_and_resumes() -> None:
    replies = [page("0-2", "a", "b"), page("0-2"), page("0-3", "c")]
    with (
        ScriptedServer(replies) as server,
        SyncScopix(api_key="k", base_url=server.url, retry_delay=0) as scopix,
    ):
        seen = []
        with scopix.events.stream(after="0-0", wait=3) as stream:
            for event in stream:
                seen.append(event.id)
                if event.id == "b":
                    assert stream.cursor == "0-2"  # past the page it came in
                if len(seen) == 3:
                    break
        assert stream.cursor == "0-3"
    assert seen == ["a", "b", "c"]
    sent = [s.path.removeprefix("/api/v2") for s in server.seen]
    assert sent == [
        "/events?after=0-0&timeout=3",
        "/events?after=0-2&timeout=3",
        "/events?after=0-2&timeout=3",
    ]
