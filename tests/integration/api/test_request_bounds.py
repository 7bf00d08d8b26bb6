"""Bounded requests, on SQLite and on PostgreSQL: no body is read before the key and its scope
are checked, JSON bodies stop at 1 MiB, every multipart byte counts, and repeatable query
parameters are capped before any query.

The body tests drive the app through ASGI directly, with a `receive` that makes the body up as
it is pulled, so they can tell how many bytes the app took."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from apiclient import Api
from imagefactory import jpeg_bytes
from scopix.server.api import gate
from scopix.server.api.deps import get_principal, reader, writer
from scopix.server.api.gate import PUBLIC_ROUTES, is_public, route_calls, routes_of, rule_for
from scopix.server.api.multipart import MAX_FIELD_BYTES
from scopix.server.app import create_app
from scopix.server.domain.bounds import MAX_JSON_BODY_BYTES
from scopix.server.domain.ids import new_id
from scopix.server.domain.listing import MAX_FILTER_MEDIA_TYPES, MAX_FILTER_TAGS, MAX_IDS
from scopix.server.settings import Settings

MiB = 1 << 20
HUGE = 300 * MiB
CHUNK = 64 * 1024
BOUNDARY = "scopix-bounds-boundary-0123456789"


@dataclass
class Answer:
    """What the app sent, and how many body bytes it pulled to send it."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    pulled: int = 0

    @property
    def code(self) -> str:
        return str(json.loads(self.body)["error"]["code"])


@dataclass
class Running:
    app: FastAPI
    api: Api


@asynccontextmanager
async def started(settings: Settings) -> AsyncIterator[Running]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        services = app.state.services
        key = await services.keys.create_key("acme", tier="starter")
        other = await services.keys.create_key("globex", tier="starter")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            client.headers["Authorization"] = f"Bearer {key.plaintext}"
            yield Running(app, Api(client, services, key.plaintext, other.plaintext, transport))


@pytest.fixture
async def running(settings: Settings) -> AsyncIterator[Running]:
    async with started(settings) as it:
        yield it


#: A body chunk that never comes.
STALL = b"<a chunk that never comes>"


def made_up_body(total: int, head: bytes = b"") -> Iterator[bytes]:
    """`head`, then spaces up to `total` bytes, in 64 KiB chunks: never held whole."""
    yield head
    left = total - len(head)
    while left > 0:
        yield b" " * min(CHUNK, left)
        left -= CHUNK


async def call(
    app: FastAPI,
    method: str,
    path: str,
    body: Iterator[bytes],
    headers: dict[str, str],
    query: str = "",
) -> Answer:
    """One request straight through ASGI, counting the body bytes the app pulls; a `STALL`
    chunk is a client that sends nothing more."""
    answer = Answer()
    chunks = iter(body)
    pending: bytes | None = next(chunks, None)

    async def receive() -> dict[str, Any]:
        nonlocal pending
        if pending is None:
            return {"type": "http.disconnect"}
        if pending is STALL:
            await asyncio.Event().wait()
        chunk, pending = pending, next(chunks, None)
        answer.pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": pending is not None}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "app": app,
    }
    await app(scope, receive, send)
    return answer


def json_headers(key: str | None = None, length: int | None = None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if length is not None:
        headers["Content-Length"] = str(length)
    return headers


BODY_ROUTES = [
    ("POST", "/api/v2/usage/check"),
    ("PATCH", f"/api/v2/files/{new_id()}"),
    ("POST", "/api/v2/files/batch-delete"),
    ("POST", "/api/v2/files/direct-uploads"),
    ("POST", f"/api/v2/files/direct-uploads/{new_id()}/complete"),
    ("POST", "/api/v2/files/upload"),
    ("POST", "/api/v2/files/upload/batch"),
    ("POST", "/api/v2/files/links"),
    ("POST", "/api/v2/files/links/batch"),
    ("POST", f"/api/v2/files/{new_id()}/recrawl"),
]


def test_every_route_needs_a_key_unless_it_is_on_the_public_list(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data"))
    routes = routes_of(app.routes)
    public = set()
    for route in routes:
        rule = rule_for(route)
        authenticates = get_principal in route_calls(route)
        assert rule.needs_key == authenticates, (
            f"{route.path}: the gate's rule and the route's own dependencies disagree; "
            "a route without a key belongs on PUBLIC_ROUTES, every other one needs Reader/Writer"
        )
        if not rule.needs_key:
            public.add(route.path)
        if writer in route_calls(route):
            assert rule.scope == "write", route.path
        elif reader in route_calls(route):
            assert rule.scope == "read", route.path
    assert public >= PUBLIC_ROUTES, "every entry of the public list names a route"
    assert all(is_public(path) for path in public)
    assert {"/healthz", "/", "/static"} <= public


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
async def test_an_unauthenticated_huge_body_is_refused_unread(
    running: Running, method: str, path: str
) -> None:
    chunked = {**json_headers("scopix_nope1234_" + "x" * 40), "Transfer-Encoding": "chunked"}
    for headers in (json_headers(length=HUGE), chunked):
        answer = await call(running.app, method, path, made_up_body(HUGE, b"{"), headers)

        assert answer.status == 401 and answer.code == "INVALID_API_KEY"
        assert answer.pulled == 0
        assert answer.headers["connection"] == "close"


async def test_an_unauthenticated_keyed_write_is_refused_unread(running: Running) -> None:
    headers = {**json_headers(length=HUGE), "Idempotency-Key": "k-1"}
    answer = await call(running.app, "POST", "/api/v2/usage/check", made_up_body(HUGE), headers)

    assert answer.status == 401 and answer.pulled == 0


async def test_a_read_only_key_is_refused_a_write_before_its_body(running: Running) -> None:
    made = await running.api.services.keys.create_key("acme", scopes=("read",))
    for method, path in BODY_ROUTES[1:]:
        headers = {**json_headers(made.plaintext, HUGE), "Idempotency-Key": "k-2"}
        answer = await call(running.app, method, path, made_up_body(HUGE, b"{"), headers)

        assert answer.status == 403 and answer.code == "PERMISSION_DENIED", path
        assert answer.pulled == 0


async def test_a_small_refused_body_is_read_first_so_the_client_reads_the_refusal(
    running: Running,
) -> None:
    made = await running.api.services.keys.create_key("acme", scopes=("read",))
    body = b"x" * 3000
    headers = {**json_headers(made.plaintext, len(body)), "Idempotency-Key": "k-3"}
    answer = await call(
        running.app, "POST", "/api/v2/files/upload", iter([body[:1000], body[1000:]]), headers
    )

    assert answer.status == 403 and answer.pulled == len(body)
    assert "connection" not in answer.headers  # the body is gone: the connection may serve more


async def test_a_small_body_not_sent_yet_or_stalled_is_not_waited_for(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = await running.api.services.keys.create_key("acme", scopes=("read",))
    headers = {**json_headers(made.plaintext, 3000), "Expect": "100-continue"}
    answer = await call(running.app, "POST", "/api/v2/files/upload", iter([b"x" * 3000]), headers)
    assert (answer.status, answer.pulled, answer.headers["connection"]) == (403, 0, "close")

    monkeypatch.setattr(gate, "DRAIN_SECONDS", 0.05)
    stalled = await call(
        running.app,
        "POST",
        "/api/v2/files/upload",
        iter([b"x" * 1000, STALL]),
        json_headers(made.plaintext, 3000),
    )
    assert (stalled.status, stalled.pulled, stalled.headers["connection"]) == (403, 1000, "close")


async def test_a_json_body_over_1_mib_is_refused_by_its_declared_length(running: Running) -> None:
    headers = json_headers(running.api.key, MAX_JSON_BODY_BYTES + 1)
    for method, path in BODY_ROUTES[:5]:
        body = made_up_body(MAX_JSON_BODY_BYTES + 1, b"{")
        answer = await call(running.app, method, path, body, headers)

        assert answer.status == 413 and answer.code == "PAYLOAD_TOO_LARGE", path
        assert json.loads(answer.body)["error"]["details"]["limit"] == MAX_JSON_BODY_BYTES
        assert answer.pulled == 0


async def test_a_streamed_json_body_is_cut_at_1_mib(running: Running) -> None:
    headers = {**json_headers(running.api.key), "Transfer-Encoding": "chunked"}
    answer = await call(
        running.app, "POST", "/api/v2/usage/check", made_up_body(HUGE, b"{"), headers
    )

    assert answer.status == 413 and answer.code == "PAYLOAD_TOO_LARGE"
    assert MAX_JSON_BODY_BYTES < answer.pulled <= MAX_JSON_BODY_BYTES + CHUNK
    assert answer.headers["connection"] == "close"


async def test_a_json_body_just_under_the_cap_is_served(running: Running) -> None:
    document = json.dumps({"item_count": 3}).encode()
    padded = document + b" " * (MAX_JSON_BODY_BYTES - len(document))
    response = await running.api.client.post(
        "/api/v2/usage/check", content=padded, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 200, response.text
    assert response.json()["can_proceed"] is True


async def test_a_keyed_json_body_over_the_cap_is_refused_and_not_kept(running: Running) -> None:
    api = running.api
    headers = {"Content-Type": "application/json", "Idempotency-Key": "big-1"}
    big = b"{" + b" " * MAX_JSON_BODY_BYTES + b"}"
    first = await api.client.post("/api/v2/usage/check", content=big, headers=headers)
    again = await api.client.post("/api/v2/usage/check", content=big, headers=headers)

    assert first.status_code == again.status_code == 413
    assert "idempotent-replayed" not in again.headers


def multipart_head(field: str, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{field}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()


def upload_body(tail: Iterator[bytes], extra_headers: Iterator[bytes]) -> Iterator[bytes]:
    """A one-file upload with `extra_headers` in the file part's head and `tail` after the
    closing boundary (an epilogue, which the parser skips)."""
    yield multipart_head("file", "p.jpg")
    yield from extra_headers
    yield b"Content-Type: image/jpeg\r\n\r\n" + jpeg_bytes(32, 32) + b"\r\n"
    yield f"--{BOUNDARY}--\r\n".encode()
    yield from tail


@pytest.fixture
def small_uploads(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_upload_bytes": MiB, "max_batch_bytes": MiB})


async def test_bytes_after_the_last_part_count_toward_the_body_limit(
    small_uploads: Settings,
) -> None:
    async with started(small_uploads) as it:
        headers = {
            "Authorization": f"Bearer {it.api.key}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        }
        answer = await call(
            it.app,
            "POST",
            "/api/v2/files/upload",
            upload_body(made_up_body(HUGE), iter(())),
            headers,
        )

        assert answer.status == 413 and answer.code == "FILE_TOO_LARGE"
        assert answer.pulled <= 2 * MiB + 2 * CHUNK  # the file limit and its framing room


async def test_an_endless_part_header_is_refused_past_its_cap(running: Running) -> None:
    endless_name = (b"X" * CHUNK for _ in range(HUGE // CHUNK))
    headers = {
        "Authorization": f"Bearer {running.api.key}",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
    }
    answer = await call(
        running.app, "POST", "/api/v2/files/upload", upload_body(iter(()), endless_name), headers
    )

    assert answer.status == 400 and answer.code == "VALIDATION_ERROR"
    assert answer.pulled <= MAX_FIELD_BYTES + 2 * CHUNK


async def test_a_huge_text_field_is_refused_unread_past_its_cap(running: Running) -> None:
    def body() -> Iterator[bytes]:
        yield multipart_head("title") + b"\r\n"
        yield from made_up_body(HUGE)

    headers = {
        "Authorization": f"Bearer {running.api.key}",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
    }
    answer = await call(running.app, "POST", "/api/v2/files/upload", body(), headers)

    assert answer.status == 422 and answer.code == "VALIDATION_ERROR"
    assert answer.pulled <= MAX_FIELD_BYTES + 2 * CHUNK


def error_field(response: httpx.Response) -> str:
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR", response.text
    return str(error["details"]["field"])


async def test_5000_tags_are_refused_by_name_before_any_query(api: Api) -> None:
    tags = [("tags", f"t{i}") for i in range(5000)]
    response = await api.client.get("/api/v2/files", params=tags)

    assert response.status_code == 422
    assert error_field(response) == "tags"
    comma_joined = await api.client.get("/api/v2/files", params={"tags": "a," * 5000})
    assert comma_joined.status_code == 200  # 5,000 times the same tag is one tag


@pytest.mark.parametrize(
    ("name", "cap"), [("tags", MAX_FILTER_TAGS), ("media_types", MAX_FILTER_MEDIA_TYPES)]
)
async def test_repeatable_filters_answer_at_their_cap_and_refuse_past_it(
    api: Api, name: str, cap: int
) -> None:
    values = [f"v{i}" for i in range(cap + 1)]
    at_cap = await api.client.get("/api/v2/files", params={name: values[:cap]})
    past = await api.client.get("/api/v2/files", params={name: ",".join(values)})

    assert at_cap.status_code == 200, at_cap.text
    assert at_cap.json()["items"] == []
    assert past.status_code == 422 and error_field(past) == name


async def test_the_openapi_document_gives_each_repeatable_filter_its_cap(api: Api) -> None:
    # A client (or Schemathesis) that keeps to the document never meets the domain's refusal.
    document = (await api.client.get("/api/v2/openapi.json")).json()
    parameters = document["paths"]["/api/v2/files"]["get"]["parameters"]
    caps = {p["name"]: p["schema"].get("maxItems") for p in parameters}
    assert caps["tags"] == MAX_FILTER_TAGS
    assert caps["media_types"] == MAX_FILTER_MEDIA_TYPES
    assert caps["ids"] == MAX_IDS


async def test_ids_past_their_cap_are_refused_on_the_api_and_the_page(api: Api) -> None:
    ids = [new_id() for _ in range(MAX_IDS + 1)]
    listed = await api.client.get("/api/v2/files", params={"ids": ids})
    cards = await api.client.get("/ui/cards", params={"ids": ",".join(ids)})
    at_cap = await api.client.get("/ui/cards", params={"ids": ",".join(ids[:MAX_IDS])})

    assert listed.status_code == 422 and error_field(listed) == "ids"
    assert cards.status_code == 422 and error_field(cards) == "ids"
    assert at_cap.status_code == 200


async def test_the_gallery_refuses_too_many_tags(api: Api) -> None:
    tags = ",".join(f"t{i}" for i in range(MAX_FILTER_TAGS + 1))
    response = await api.client.get("/ui/gallery", params={"tags": tags})

    assert response.status_code == 422 and error_field(response) == "tags"


async def test_public_routes_stay_public(api: Api) -> None:
    anonymous = {"Authorization": ""}
    for path in ("/healthz", "/api/v2/openapi.json", "/api/v2/docs", "/"):
        response = await api.client.get(path, headers=anonymous)
        assert response.status_code == 200, path
    unsigned = await api.client.get(f"/ui/images/{new_id()}/original", headers=anonymous)
    assert unsigned.status_code == 422  # its signature is its key: missing, not a 401
