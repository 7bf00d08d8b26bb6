"""The gate every request passes before any of its body is read: the caller's key and scope, and
the cap on a JSON body.

FastAPI reads and parses a route's JSON body before it runs the route's dependencies, so a key
checked there comes too late: an unauthenticated client could make the server hold hundreds of
megabytes. The gate finds the route from the method and path, authenticates from the headers
alone, checks the scope the route declares (`deps.Reader` / `deps.Writer`), and only then lets
a body in; a JSON body is read here, at most `MAX_JSON_BODY_BYTES`, and handed on.

Which routes need no key is an explicit list (`PUBLIC_ROUTES`); everything else needs one.
Pure ASGI, so uploads stay streaming.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scopix.server.api.deps import authenticated, reader, writer
from scopix.server.api.errors import send_domain_error
from scopix.server.api.presenters import API_PREFIX
from scopix.server.domain.bounds import MAX_JSON_BODY_BYTES, BodyBudget, declared_length
from scopix.server.domain.errors import DomainError

if TYPE_CHECKING:
    from scopix.server.services.container import Services

#: The routes anyone may call, by path template. Each proves itself another way or shows
#: nothing private: the health check, the API's description and docs page (and anything under
#: it), the page's shell and static files, the signed part-PUT URLs of local direct uploads, and
#: the page's signed image, download, document page and scene thumbnail links.
PUBLIC_ROUTES: Final = frozenset(
    {
        "/healthz",
        f"{API_PREFIX}/openapi.json",
        f"{API_PREFIX}/docs",
        "/",
        "/static",
        f"{API_PREFIX}/files/direct-uploads/{{upload_id}}/parts/{{part_number}}",
        "/ui/images/{file_id}/{variant}",
        "/ui/downloads/{file_id}",
        "/ui/pages/{file_id}/{number}",
        "/ui/scenes/{file_id}/{index}",
    }
)
#: Public path prefixes: the docs page's script and Swagger UI's files live under it.
PUBLIC_PREFIXES: Final = (f"{API_PREFIX}/docs/",)
#: A refusal reads and drops a body that declares at most this many bytes before it answers: the
#: client is still sending it, and closing on unread bytes resets the connection, which can
#: destroy the answer before the client reads it. A bigger or chunked body is left unread and the
#: connection closed, as is any body the client has not sent yet (`Expect: 100-continue`).
DRAINED_BODY_BYTES: Final = MAX_JSON_BODY_BYTES
#: How long a refusal waits for the rest of such a body before it closes instead.
DRAIN_SECONDS: Final = 5.0
#: The scope each access dependency demands (admin implies both, `Principal.require` says).
SCOPE_OF: Final[dict[Callable[..., Any], str]] = {reader: "read", writer: "write"}


def is_public(path_template: str) -> bool:
    """Whether the route at `path_template` is served without a key."""
    return path_template in PUBLIC_ROUTES or path_template.startswith(PUBLIC_PREFIXES)


def dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """Every callable a route depends on, however deep."""
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from dependency_calls(dependency)


@dataclass(frozen=True)
class Rule:
    """What the gate asks of a request to one route."""

    needs_key: bool
    #: "read" or "write", or None when a valid key is enough
    scope: str | None
    #: FastAPI reads this route's body whole (a JSON model), so it is capped here
    json_body: bool


def routes_of(routes: list[BaseRoute]) -> list[RouteContext]:
    """Every route as the router runs it (included routers flattened, prefixes applied), in the
    order the router tries them."""
    return list(iter_route_contexts(routes))


def route_calls(route: RouteContext) -> set[Callable[..., Any]]:
    """What a route's handler depends on (nothing for routes outside FastAPI's)."""
    if not isinstance(route.original_route, APIRoute):
        return set()
    return set(dependency_calls(route.dependant))


def rule_for(route: RouteContext) -> Rule:
    """The gate's rule for `route`: a key unless it is public, the strongest scope its
    dependencies demand, and a cap when FastAPI will read its body whole."""
    scopes = {SCOPE_OF[call] for call in route_calls(route) if call in SCOPE_OF}
    scope = "write" if "write" in scopes else next(iter(scopes), None)
    json_body = isinstance(route.original_route, APIRoute) and route.body_field is not None
    return Rule(not is_public(route.path or ""), scope, json_body)


class GateMiddleware:
    """Authenticates and checks the scope before the route, or anything inside, reads a body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._table: list[tuple[RouteContext, Rule]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = self._rule_of(scope)
        if rule is None:  # 404 or 405: answered without reading a body
            await self.app(scope, receive, send)
            return
        try:
            if rule.needs_key:
                principal = await authenticated(_services(scope), scope)
                if rule.scope is not None:
                    principal.require(rule.scope)
            if rule.json_body:
                receive = await _capped_json_body(scope, receive)
        except DomainError as exc:
            await _refuse(scope, receive, send, exc)
            return
        except _ClientLeft:
            return  # no one is left to answer
        await self.app(scope, receive, send)

    def _rule_of(self, scope: Scope) -> Rule | None:
        """The rule of the route the router will run for this request, if one matches in full.
        The table is built on the first request, once every route has been added."""
        if self._table is None:
            self._table = [(route, rule_for(route)) for route in routes_of(scope["app"].routes)]
        for route, rule in self._table:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return rule
        return None


def _services(scope: Scope) -> Services:
    services: Services = scope["app"].state.services
    return services


class _ClientLeft(Exception):
    """The client disconnected while its body was being read."""


async def _capped_json_body(scope: Scope, receive: Receive) -> Receive:
    """Read a JSON body here, refusing it (PayloadTooLarge) as soon as it passes the cap, by its
    declared length or by the bytes that came; the app then receives what was read, whole."""
    budget = BodyBudget(MAX_JSON_BODY_BYTES)
    budget.check_declared(declared_length(Headers(scope=scope).get("content-length")))
    body = bytearray()
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientLeft
        chunk = message.get("body", b"")
        budget.take(len(chunk))
        body += chunk
        more = message.get("more_body", False)
    pending = [{"type": "http.request", "body": bytes(body), "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _refuse(scope: Scope, receive: Receive, send: Send, exc: DomainError) -> None:
    """The refusal, after the rest of a small body (`DRAINED_BODY_BYTES`); when a bigger body
    may still be on its way, the connection is closed so the server neither waits for it nor
    reads it to keep the connection alive."""
    headers = Headers(scope=scope)
    length = declared_length(headers.get("content-length"))
    has_body = "transfer-encoding" in headers or bool(length)
    if has_body and length is not None and length <= DRAINED_BODY_BYTES:
        has_body = "expect" in headers or not await _drained(receive)
    request_id = str(scope.get("state", {}).get("request_id", ""))
    await send_domain_error(send, request_id, exc, {"Connection": "close"} if has_body else None)


async def _drained(receive: Receive) -> bool:
    """Whether the rest of the body came, and was dropped, within `DRAIN_SECONDS`."""
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            while (message := await receive())["type"] == "http.request":
                if not message.get("more_body", False):
                    return True
    except TimeoutError:
        pass
    return False
