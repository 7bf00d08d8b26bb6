"""The ASGI application: wires services from settings and mounts the routers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
from fastapi import FastAPI

from scopix import __version__
from scopix.server.api.errors import install_error_handlers
from scopix.server.api.middleware import RequestIdMiddleware
from scopix.server.api.presenters import API_PREFIX
from scopix.server.api.routes import files, system, uploads
from scopix.server.catalog.migrate import upgrade
from scopix.server.services.container import Services, build_services
from scopix.server.settings import Settings

log = logging.getLogger("scopix")
SWEEP_INTERVAL_S = 600


def create_app(settings: Settings | None = None) -> FastAPI:
    """A Scopix server for `settings` (read from the environment when not given)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        await anyio.to_thread.run_sync(upgrade, settings.resolved_database_url)
        services = build_services(settings)
        app.state.services = services
        sweeper = asyncio.create_task(_sweep_forever(services), name="scopix-sweeper")
        try:
            yield
        finally:
            sweeper.cancel()
            await services.close()

    app = FastAPI(
        title="Scopix",
        version=__version__,
        description="Self-hostable visual intelligence: upload images, get them described.",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(system.router)
    app.include_router(uploads.router, prefix=API_PREFIX)
    app.include_router(files.router, prefix=API_PREFIX)
    return app


async def _sweep_forever(services: Services) -> None:
    while True:
        try:
            await services.maintenance.sweep()
        except Exception:  # a failed sweep is retried next round, never fatal to serving
            log.exception("sweep failed")
        await anyio.sleep(SWEEP_INTERVAL_S)
