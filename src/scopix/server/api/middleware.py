"""Request ids: taken from a sane `X-Request-ID` header or made, and echoed on every response."""

from __future__ import annotations

import logging
import re

import uuid_utils
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scopix.server.api.errors import send_envelope

log = logging.getLogger("scopix.api")
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")


class RequestIdMiddleware:
    """Pure ASGI (no body buffering), so streaming uploads stay streaming."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # uuid_utils draws from a generator seeded once; `uuid.uuid4` reads the OS's random
        # source on every call, a system call that gives up the GIL (3 % of the loop's time).
        request_id = _incoming(scope) or f"req_{uuid_utils.uuid4().hex}"
        scope.setdefault("state", {})["request_id"] = request_id

        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await _internal_error(send_with_id, request_id)


async def _internal_error(send: Send, request_id: str) -> None:
    """The envelope for a failure nothing else caught: never a stack trace."""
    await send_envelope(
        send, request_id, 500, "INTERNAL_ERROR", "the server failed; the error was logged"
    )


def _incoming(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _CLIENT_ID.fullmatch(text) else None
    return None
