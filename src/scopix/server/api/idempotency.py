"""`Idempotency-Key` on writes: the same idempotency key, sent with the same API key and body
within 24 h, gets the first response, and the work is done once, even when the server dies
mid-request (services/idempotency.py says how).

Pure ASGI, so uploads stay streaming: the body is hashed as the route reads it; only a small
prefix is read ahead, which is all of a JSON body or an empty one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import TYPE_CHECKING

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scopix.server.api.deps import PRINCIPAL_STATE_KEY
from scopix.server.api.errors import send_domain_error
from scopix.server.api.presenters import API_PREFIX
from scopix.server.domain.errors import Conflict, DomainError, IdempotencyKeyReused
from scopix.server.domain.idempotency import (
    Decision,
    is_final,
    replayed_headers,
    request_signature,
    validate_key,
)
from scopix.server.services.idempotency import Claim, IdempotencyService, StoredResponse
from scopix.server.services.keys import Principal

if TYPE_CHECKING:
    from scopix.server.services.container import Services

log = logging.getLogger("scopix.api.idempotency")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READ_AHEAD_BYTES = 1 << 20
#: a larger answer is not kept; its retry runs again (keyed uploads still find their files)
MAX_KEPT_RESPONSE_BYTES = 8 << 20
#: where routes find the record id to store their work under (scope["state"])
RECORD_STATE_KEY = "idempotency_record"


class IdempotencyMiddleware:
    """Claims the key of a keyed write, then runs it, refuses it, or replays its first answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_key = _presented_key(scope)
        if raw_key is None:
            await self.app(scope, receive, send)
            return
        request_id = str(scope.get("state", {}).get("request_id", ""))
        try:
            key = validate_key(raw_key)
        except DomainError as exc:
            await send_domain_error(send, request_id, exc)
            return
        principal = scope.get("state", {}).get(PRINCIPAL_STATE_KEY)
        if not isinstance(principal, Principal):  # a public route, or none: nothing to replay
            await self.app(scope, receive, send)
            return
        # The gate (api/gate.py) has authenticated the key, checked the route's scope and
        # counted the request, so a key never gets an answer its scope would not give it.
        services: Services = scope["app"].state.services
        body = HashedBody(receive)
        if not await body.read_ahead(READ_AHEAD_BYTES):
            return  # the client left; there is no one to answer
        claim = await services.idempotency.claim(
            principal.key_id, principal.tenant_id, key, _signature(scope), body.sha256
        )
        if claim.runs:
            await self._run(scope, body, send, services.idempotency, claim)
        else:
            await _refuse_or_replay(claim, body, send, request_id)

    async def _run(
        self,
        scope: Scope,
        body: HashedBody,
        send: Send,
        idempotency: IdempotencyService,
        claim: Claim,
    ) -> None:
        scope.setdefault("state", {})[RECORD_STATE_KEY] = claim.record_id
        body.on_complete = _BodyCheck(idempotency, claim)
        response = CapturedResponse(send)
        heartbeat = Heartbeat(idempotency, claim)
        kept: StoredResponse | None = None
        try:
            await self.app(scope, body.receive, response.send)
            if not body.on_complete.refused:
                kept = response.keepable(body.sha256)
        finally:
            # Shielded: a cancelled request still gives its key back.
            with anyio.CancelScope(shield=True):
                await heartbeat.stop()
                await _settle(idempotency, claim, kept)


async def _refuse_or_replay(claim: Claim, body: HashedBody, send: Send, request_id: str) -> None:
    verdict = claim.verdict
    if verdict.decision is Decision.BUSY:
        busy = Conflict(
            "a request with this Idempotency-Key is still running; retry later",
            reason="idempotency_key_in_use",
        )
        retry = {"Retry-After": str(verdict.retry_after_s)}
        await send_domain_error(send, request_id, busy, retry)
        return
    if verdict.decision is Decision.MISMATCH:
        await send_domain_error(send, request_id, _reused("a different request"))
        return
    if not await body.read_rest():
        return
    stored = claim.response
    if stored is None or stored.body_sha256 != body.sha256:
        await send_domain_error(send, request_id, _reused("a different body"))
        return
    await _replay(send, stored)


async def _replay(send: Send, stored: StoredResponse) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored.headers.items()]
    headers.append((b"idempotent-replayed", b"true"))
    if stored.status >= 200 and stored.status not in (204, 304):
        headers.append((b"content-length", str(len(stored.body)).encode()))
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body})


async def _settle(
    idempotency: IdempotencyService, claim: Claim, kept: StoredResponse | None
) -> None:
    """Keep the response, or give the key up. A failure here is logged, not raised: the answer
    has gone out, and the lease lapses by itself, after which a retry takes over."""
    try:
        if kept is None or not await idempotency.finish(claim, kept):
            await idempotency.release(claim)
    except Exception:
        log.warning("idempotency record %s was not settled", claim.record_id, exc_info=True)


def _reused(what: str) -> IdempotencyKeyReused:
    return IdempotencyKeyReused(
        f"this Idempotency-Key was already used for {what}; use a new key for a new request",
        field="Idempotency-Key",
    )


class HashedBody:
    """The request body as the app receives it, hashed on the way; never buffered beyond the
    read-ahead."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._hasher = hashlib.sha256()
        self._ahead: list[Message] = []
        self.complete = False
        self.disconnected = False
        self.on_complete = _BodyCheck(None, None)

    @property
    def sha256(self) -> str | None:
        """The body's hash once all of it has been read."""
        return self._hasher.hexdigest() if self.complete else None

    async def read_ahead(self, limit: int) -> bool:
        """Read up to `limit` bytes for the app to receive later; False if the client left."""
        size = 0
        while not self.complete and not self.disconnected and size < limit:
            message = await self._pull()
            self._ahead.append(message)
            size += len(message.get("body", b""))
        return not self.disconnected

    async def read_rest(self) -> bool:
        """Read (and drop) the rest of the body; False if the client left."""
        while not self.complete and not self.disconnected:
            await self._pull()
        return not self.disconnected

    async def receive(self) -> Message:
        """The app's `receive`: the read-ahead first, then the stream."""
        if self._ahead:
            return self._ahead.pop(0)
        was_complete = self.complete
        message = await self._pull()
        if self.complete and not was_complete:
            await self.on_complete(self._hasher.hexdigest())
        return message

    async def _pull(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self.disconnected = True
        elif message["type"] == "http.request" and not self.complete:
            self._hasher.update(message.get("body", b""))
            self.complete = not message.get("more_body", False)
        return message


class _BodyCheck:
    """Runs when a streamed body has been read to its end: refuses a body other than the one an
    earlier attempt of this key read, else records its hash at once (so a retry after a crash is
    checked against it)."""

    def __init__(self, idempotency: IdempotencyService | None, claim: Claim | None) -> None:
        self.idempotency = idempotency
        self.claim = claim
        self.refused = False

    async def __call__(self, sha256: str) -> None:
        if self.idempotency is None or self.claim is None:
            return
        if self.claim.body_sha256 is None:
            await self.idempotency.note_body(self.claim, sha256)
        elif self.claim.body_sha256 != sha256:
            self.refused = True  # the record keeps the first body; this answer is not kept
            raise _reused("a different body")


class CapturedResponse:
    """Passes the response through to the client and keeps a copy for replays."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 0
        self.headers: dict[str, str] = {}
        self._chunks: list[bytes] = []
        self._size = 0
        self.complete = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = replayed_headers(
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])
            )
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            self._size += len(chunk)
            if self._size <= MAX_KEPT_RESPONSE_BYTES:
                self._chunks.append(chunk)
            self.complete = not message.get("more_body", False)
        await self._send(message)

    def keepable(self, body_sha256: str | None) -> StoredResponse | None:
        """The response to keep for replays, or None when it must not be kept: not final, not
        whole, too large, or answering a body that was not read to its end."""
        if not self.complete or not is_final(self.status) or body_sha256 is None:
            return None
        if self._size > MAX_KEPT_RESPONSE_BYTES:
            return None
        return StoredResponse(self.status, self.headers, b"".join(self._chunks), body_sha256)


class Heartbeat:
    """Renews a claim's lease until stopped, so a long upload keeps its key."""

    def __init__(self, idempotency: IdempotencyService, claim: Claim) -> None:
        self._idempotency = idempotency
        self._claim = claim
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._beat(), name="scopix-idempotency-heartbeat")

    async def stop(self) -> None:
        """Stop at a safe point: a renewal in flight finishes rather than being cut in half."""
        self._stopping.set()
        await self._task

    async def _beat(self) -> None:
        while True:
            with anyio.move_on_after(self._idempotency.heartbeat_every.total_seconds()):
                await self._stopping.wait()
            if self._stopping.is_set():
                return
            try:
                if not await self._idempotency.heartbeat(self._claim):
                    log.warning("idempotency record %s lost its lease", self._claim.record_id)
                    return
            except Exception:  # one missed renewal is survivable: two more come before expiry
                log.warning("idempotency heartbeat failed", exc_info=True)


def _presented_key(scope: Scope) -> str | None:
    """The raw Idempotency-Key of a write under the API, or None when the request has none."""
    if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
        return None
    if not scope["path"].startswith(f"{API_PREFIX}/"):
        return None
    return _header(scope, b"idempotency-key")


def _signature(scope: Scope) -> str:
    return request_signature(
        scope["method"],
        scope["path"],
        scope.get("query_string", b"").decode("latin-1"),
        _header(scope, b"content-type"),
        _header(scope, b"content-length"),
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None
