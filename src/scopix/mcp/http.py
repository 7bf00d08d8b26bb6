"""The tools on the API server: streamable HTTP at ``/api/v2/mcp``, behind the API's keys.

The route depends on the API's own caller check (``deps.PrincipalDep``), so a missing or bad
key is answered 401 in the API's error envelope, and counted against the rate limit, before
the MCP transport sees the request. The tools then call the API through the SDK with that
same key, over this server's own listening socket: the tenant, scopes, rate limit and quota
apply exactly as to any client, and a tool can do nothing the key could not do itself. A
client made for a request is closed when the request ends.

The transport is stateless and answers in JSON: every request stands alone, so any replica
behind a load balancer can serve it and nothing is kept between requests. The `mcp` package
is imported, and the transport started, on the first MCP request: a server no agent talks to
never holds them (they cost about 37 MB and a second at start).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final

import httpx
from fastapi import APIRouter, Response
from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from scopix.server.api.deps import PrincipalDep
from scopix.server.api.errors import send_domain_error
from scopix.server.api.presenters import API_PREFIX
from scopix.server.domain.errors import Unavailable

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    from scopix.client import Scopix

#: Where the transport answers, under the API's prefix.
MCP_ROUTE: Final = "/mcp"
#: where a request's `CallerClient` is kept (scope["state"])
CALLER_STATE_KEY: Final = "mcp_caller"
#: How often a tool waiting for a description asks the API: the SDK's default. Each ask is
#: a request like any other, counted against the caller's rate limit (30 a minute on the
#: starter tier), so asking more often would soon have the tool wait out a 429 instead.
POLLING_INTERVAL_S = 2.0
#: The largest MCP request: room for a file of about 12 MiB sent in base64.
MAX_BODY_BYTES: Final = 16 << 20


class CallerClient:
    """The SDK client of one MCP request: the caller's key, this server's own socket. Made
    on first use (listing the tools needs none) and closed when the request ends."""

    def __init__(self, api_key: str, base_url: str) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self._client: Scopix | None = None

    def get(self) -> Scopix:
        """The client, made now if this request has none yet."""
        if self._client is None:
            from scopix.client import Scopix

            # Never through a proxy the environment names: these requests stay on this host.
            http = httpx.AsyncClient(base_url=self.base_url, timeout=300.0, trust_env=False)
            self._client = Scopix(
                api_key=self.api_key,
                base_url=self.base_url,
                polling_interval=POLLING_INTERVAL_S,
                http_client=http,
            )
        return self._client

    async def aclose(self) -> None:
        """Close the client's connections, if it was made."""
        if self._client is not None:
            await self._client.close()


def caller_client(context: Context) -> Scopix:
    """The client factory of the HTTP tools: the client of the request being served."""
    request = context.request_context.request
    state = getattr(request, "scope", {}).get("state", {})
    caller = state.get(CALLER_STATE_KEY)
    if not isinstance(caller, CallerClient):
        raise RuntimeError("an MCP request that did not come through McpEndpoint")
    return caller.get()


def own_api_url(scope: Scope) -> str | None:
    """This API's URL on the socket the request arrived at (None on a Unix socket)."""
    server = scope.get("server")
    if not server or server[1] is None:
        return None
    host, port = server
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}{API_PREFIX}"


def bearer_key(scope: Scope) -> str:
    """The key the request presented (authenticated already)."""
    scheme, token = get_authorization_scheme_param(Headers(scope=scope).get("authorization"))
    return token if scheme.lower() == "bearer" else ""


@functools.cache
def http_server() -> MCPServer:
    """The tools of every app in this process: they keep nothing of a request, and building
    them (tens of milliseconds) for each app a test suite makes would add up."""
    from scopix.mcp.tools import build_server

    # The transport logs every request it ends at INFO; the access log has them already.
    logging.getLogger("mcp.server.streamable_http").setLevel(logging.WARNING)
    return build_server(caller_client, local_files=False)


class McpEndpoint:
    """The ASGI app behind the route at `MCP_ROUTE`. Run `running()` in the app's lifespan:
    the transport, started by the first MCP request, stops with it."""

    def __init__(self) -> None:
        self._manager: StreamableHTTPSessionManager | None = None
        self._serving: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._open = False

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve while this lasts, and stop the transport, if a request started it."""
        self._open = True
        try:
            yield
        finally:
            self._open = False
            self._stopping.set()
            if self._serving is not None:
                await self._serving

    async def _started(self) -> StreamableHTTPSessionManager | None:
        """The running transport, started now if no request has yet; None once stopping.
        Its task group lives in a task of its own: a task group must end in the task it
        began in, and whoever drives the app's lifespan may end it from another one."""
        async with self._starting:
            if self._serving is None and self._open:
                manager = _new_manager(http_server())
                started = asyncio.Event()
                self._serving = asyncio.create_task(
                    self._serve(manager, started), name="scopix-mcp"
                )
                await _started(self._serving, started)
        return self._manager

    async def _serve(self, manager: StreamableHTTPSessionManager, started: asyncio.Event) -> None:
        async with manager.run():
            self._manager = manager
            started.set()
            try:
                await self._stopping.wait()
            finally:
                self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one MCP request of a caller already authenticated (see `mcp_router`)."""
        manager, base_url = await self._started(), own_api_url(scope)
        if manager is None or base_url is None:
            request_id = str(scope.get("state", {}).get("request_id", ""))
            unavailable = Unavailable("the MCP endpoint is not serving on this server")
            await send_domain_error(send, request_id, unavailable)
            return
        caller = CallerClient(bearer_key(scope), base_url)
        scope.setdefault("state", {})[CALLER_STATE_KEY] = caller
        try:
            await manager.handle_request(scope, receive, send)
        finally:
            await caller.aclose()


def _new_manager(server: MCPServer) -> StreamableHTTPSessionManager:
    """A session manager for one run (one runs only once): stateless, answering in JSON, and
    no host check (it guards servers that trust whoever reaches them; this one asks for a
    key). The server keeps the last one made; it is read before anything else can run."""
    from mcp.server.transport_security import TransportSecuritySettings

    server.streamable_http_app(
        stateless_http=True,
        json_response=True,
        max_request_body_size=MAX_BODY_BYTES,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    return server.session_manager


class _Answer(Response):
    """A route's answer that is another ASGI app's: FastAPI runs it with the request's own
    scope and streams, the body still unread."""

    def __init__(self, app: McpEndpoint) -> None:
        super().__init__()
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def mcp_router(endpoint: McpEndpoint) -> APIRouter:
    """The MCP route, for the API's prefix. Left out of the OpenAPI document: it speaks
    JSON-RPC, not REST."""
    router = APIRouter()

    @router.api_route(MCP_ROUTE, methods=["GET", "POST", "DELETE"], include_in_schema=False)
    async def mcp(_caller: PrincipalDep) -> Response:
        return _Answer(endpoint)

    return router


async def _started(task: asyncio.Task[None], started: asyncio.Event) -> None:
    """Wait until `task` says it has started, raising what it failed with if it ends first."""
    waiting = asyncio.create_task(started.wait())
    await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    if task.done():
        task.result()
