"""An in-process app under test, a client for it, and keys of two tenants."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import httpx
import uvicorn

from scopix.server.app import create_app
from scopix.server.services.container import Services
from scopix.server.settings import Settings
from scopix.server.storage.local import STAGING
from scopix.server.storage.staging import AHEAD_SUFFIX
from scopix.server.testing import free_port


@dataclass
class Api:
    """A running app, a client for it, and keys of two tenants."""

    client: httpx.AsyncClient
    services: Services
    key: str
    other_key: str
    #: the app's transport, for another client (the SDK's) to the same app
    transport: httpx.AsyncBaseTransport

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    async def drain(self, *kinds: str) -> int:
        """Run due jobs (of `kinds`, or all) in this process until none is left; the count."""
        runner = self.services.workers.runner
        ran = 0
        while (job := await runner.claim(kinds or None)) is not None:
            await runner.run(job)
            ran += 1
        return ran


@asynccontextmanager
async def running_api(settings: Settings) -> AsyncIterator[Api]:
    """The app for `settings`, started, with a client holding the first of two tenants' keys."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        # The sweep the server starts with would race the tests' own sweeps for what they leave.
        await services.maintenance.swept_once()
        key = await services.keys.create_key("acme", tier="starter")
        other = await services.keys.create_key("globex", tier="starter")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            client.headers["Authorization"] = f"Bearer {key.plaintext}"
            yield Api(client, services, key.plaintext, other.plaintext, transport)


def stored_files(api: Api) -> list[str]:
    """Every file under the local blob root, staging included, but not the empty files made
    ahead for uploads to come (storage/staging.py): they hold no one's bytes."""
    root = api.services.settings.resolved_storage_dir
    paths = (p.relative_to(root) for p in root.rglob("*") if p.is_file())
    return sorted(p.as_posix() for p in paths if p.parts[0] != STAGING + AHEAD_SUFFIX)


@asynccontextmanager
async def on_socket(api: Api, app: Any = None) -> AsyncIterator[str]:
    """The app of `api` (or `app`, wrapping it) on a real socket, its lifespan already run by
    the fixture: the API's base URL, /api/v2 included."""
    served = app or cast(httpx.ASGITransport, api.transport).app
    config = uvicorn.Config(served, port=free_port(), lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn sets a flag, not an event
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{config.port}/api/v2"
    finally:
        server.should_exit = True
        await task
