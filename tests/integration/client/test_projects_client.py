"""The sync SDK's project calls over real sockets: what it sends and how it reads the answers
(the server's side, and the async SDK against it, are in tests/integration/api/test_projects.py)."""

from __future__ import annotations

import json
from typing import Any

from scopix import SyncScopix
from scriptedhttp import Reply, ScriptedServer


def ok(body: Any, status: int = 200) -> Reply:
    return (status, {}, json.dumps(body).encode())


def project(number: int) -> dict[str, Any]:
    stamp = "2026-12-07T19:00:00Z"
    return {"id": f"p{number}", "name": f"P{number}", "created_at": stamp, "updated_at": stamp}


def test_the_sync_client_creates_pages_through_renames_and_deletes_projects() -> None:
    replies = [
        ok(project(1), status=201),
        ok({"items": [project(n) for n in range(100)], "total_count": 101, "has_more": True}),
        ok({"items": [project(100)], "total_count": 101, "has_more": False}),
        ok({**project(1), "name": "Renamed", "future_field": True}),
        (204, {}, b""),
    ]
    with (
        ScriptedServer(replies) as server,
        SyncScopix(api_key="k", base_url=server.url, retry_delay=0) as scopix,
    ):
        made = scopix.projects.create("P1")
        listed = [p.id for p in scopix.projects.list_all()]
        renamed = scopix.projects.rename("p1", "Renamed")
        scopix.projects.delete("p1")
    assert made.name == "P1" and made.created_at is not None
    assert listed == [f"p{n}" for n in range(101)]
    assert renamed.name == "Renamed"
    sent = [(s.method, s.path.removeprefix("/api/v2")) for s in server.seen]
    assert sent == [
        ("POST", "/projects"),
        ("GET", "/projects?limit=100&offset=0"),
        ("GET", "/projects?limit=100&offset=100"),
        ("PATCH", "/projects/p1"),
        ("DELETE", "/projects/p1"),
    ]
    assert json.loads(server.seen[0].body) == {"name": "P1"}
    writes = [s for s in server.seen if s.method != "GET"]
    assert all("idempotency-key" in {k.lower() for k in s.headers} for s in writes)
