"""The SDK's transport over real sockets: retries, waits, idempotency keys, typed errors."""

from __future__ import annotations

import io
import json
import socket

import pytest

from scopix import (
    AuthenticationError,
    QuotaExceededError,
    RateLimitError,
    Scopix,
    ScopixConnectionError,
    ScopixError,
    ScopixTimeoutError,
    ServerError,
    SyncScopix,
)
from scriptedhttp import ScriptedServer

OK = (
    200,
    {},
    json.dumps(
        {"id": "f1", "filename": "a.png", "items": [{"id": "f1"}], "has_more": False}
    ).encode(),
)
UPLOADED = (201, {}, json.dumps({"image_id": "f1", "filename": "a.png"}).encode())


def envelope(code: str, message: str = "no", **details: object) -> bytes:
    return json.dumps(
        {"error": {"code": code, "message": message, "details": details}, "request_id": "r1"}
    ).encode()


def client(server: ScriptedServer, **options: object) -> Scopix:
    return Scopix(api_key="scopix_abcdefgh_secret", base_url=server.url, retry_delay=0, **options)  # type: ignore[arg-type]


async def test_a_retried_write_keeps_its_key_and_its_bytes() -> None:
    replies = [(503, {}, envelope("UNAVAILABLE")), ("drop", {}, b""), UPLOADED]
    with ScriptedServer(replies) as server:
        async with client(server) as scopix:
            result = await scopix.files.upload(
                io.BytesIO(b"\x89PNG fake bytes"), wait_for_descriptions=False
            )
    assert result.image_id == "f1"
    posts = [s for s in server.seen if s.method == "POST"]
    assert len(posts) == 3
    keys = {s.headers["Idempotency-Key"] for s in posts}
    assert len(keys) == 1
    assert len({s.body for s in posts}) == 1, "a retry must resend byte-identical multipart"
    assert b"\x89PNG fake bytes" in posts[0].body
    assert posts[0].headers["User-Agent"].startswith("scopix-python/")
    assert posts[0].headers["Authorization"] == "Bearer scopix_abcdefgh_secret"


async def test_two_writes_get_two_keys() -> None:
    with ScriptedServer([OK]) as server:
        async with client(server) as scopix:
            await scopix.files.update("f1", title="a")
            await scopix.files.update("f1", title="b")
    assert len({s.headers["Idempotency-Key"] for s in server.seen}) == 2


async def test_rate_limits_are_waited_out_then_reported() -> None:
    limited = (429, {"Retry-After": "0"}, envelope("RATE_LIMITED"))
    with ScriptedServer([limited, OK]) as server:
        async with client(server) as scopix:
            assert (await scopix.files.get("f1")).id == "f1"
    with ScriptedServer([limited]) as server:
        async with client(server, max_retries=2) as scopix:
            with pytest.raises(RateLimitError) as caught:
                await scopix.files.get("f1")
    assert caught.value.retry_after == 0
    assert caught.value.request_id == "r1"
    assert len(server.seen) == 3


async def test_a_lock_conflict_is_retried_a_state_conflict_is_not() -> None:
    with ScriptedServer([(409, {"Retry-After": "0"}, envelope("CONFLICT")), OK]) as server:
        async with client(server) as scopix:
            await scopix.files.update("f1", title="x")
    assert len(server.seen) == 2
    with ScriptedServer([(409, {}, envelope("CONFLICT", "already queued"))]) as server:
        async with client(server) as scopix:
            with pytest.raises(ScopixError) as caught:
                await scopix.files.describe("f1")
    assert (caught.value.code, caught.value.status_code) == ("CONFLICT", 409)
    assert len(server.seen) == 1


async def test_client_errors_fail_at_once_with_their_type() -> None:
    cases = [
        (401, "INVALID_API_KEY", AuthenticationError),
        (403, "QUOTA_EXCEEDED", QuotaExceededError),
    ]
    for status, code, kind in cases:
        with ScriptedServer([(status, {}, envelope(code, "nope", limit=10))]) as server:
            async with client(server) as scopix:
                with pytest.raises(kind) as caught:
                    await scopix.files.get("f1")
        assert caught.value.details == {"limit": 10}
        assert len(server.seen) == 1


async def test_server_errors_are_retried_then_raised() -> None:
    with ScriptedServer([(500, {}, b"<html>oops</html>")]) as server:
        async with client(server, max_retries=1) as scopix:
            with pytest.raises(ServerError) as caught:
                await scopix.files.get("f1")
    assert "oops" in caught.value.message
    assert len(server.seen) == 2


async def test_timeouts_and_unreachable_servers() -> None:
    with ScriptedServer([("sleep:2", {}, b"{}")]) as server:
        async with client(server, timeout=0.2, max_retries=1) as scopix:
            with pytest.raises(ScopixTimeoutError):
                await scopix.files.get("f1")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with Scopix(
        api_key="k", base_url=f"http://127.0.0.1:{port}/api/v2", retry_delay=0, max_retries=2
    ) as scopix:
        with pytest.raises(ScopixConnectionError):
            await scopix.files.get("f1")


def test_the_sync_client_runs_the_same_code() -> None:
    limited = (429, {"Retry-After": "0"}, envelope("RATE_LIMITED"))
    with (
        ScriptedServer([limited, OK]) as server,
        SyncScopix(api_key="k", base_url=server.url, retry_delay=0) as scopix,
    ):
        assert scopix.files.get("f1").filename == "a.png"
        assert [f.id for f in scopix.files.list_all()] == ["f1"]
    assert len(server.seen) == 3
