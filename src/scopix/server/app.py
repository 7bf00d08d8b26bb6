"""The ASGI application: wires services from settings and mounts the routers."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
from fastapi import FastAPI

from scopix import __version__
from scopix.mcp.http import McpEndpoint, mcp_router
from scopix.server.api import docs
from scopix.server.api.errors import install_error_handlers
from scopix.server.api.gate import GateMiddleware
from scopix.server.api.idempotency import IdempotencyMiddleware
from scopix.server.api.middleware import RequestIdMiddleware
from scopix.server.api.presenters import API_PREFIX
from scopix.server.api.ratelimit import RateLimitHeadersMiddleware
from scopix.server.api.routes import (
    direct_uploads,
    documents,
    events,
    extraction,
    files,
    folders,
    links,
    projects,
    system,
    uploads,
    usage,
    videos,
)
from scopix.server.catalog.migrate import upgrade
from scopix.server.datadir import make_private
from scopix.server.jobs.sweeper import sweep_jobs
from scopix.server.services.container import Services, build_services, warms_models
from scopix.server.settings import Settings
from scopix.server.web import routes as web

log = logging.getLogger("scopix")
SWEEP_INTERVAL_S = 600
SHUTDOWN_GRACE_S = 10


def create_app(settings: Settings | None = None) -> FastAPI:
    """A Scopix server for `settings` (read from the environment when not given)."""
    settings = settings or Settings()
    mcp = McpEndpoint()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        make_private(settings.data_dir)
        await anyio.to_thread.run_sync(upgrade, settings.resolved_database_url)
        services = build_services(settings)
        app.state.services = services
        stopping = asyncio.Event()
        jobs_stopping = anyio.Event()
        sweeping_jobs = sweep_jobs(
            services.sweeper, services.queue, settings.job_sweep_seconds, jobs_stopping
        )
        background = [
            asyncio.create_task(_sweep_until(stopping, services), name="scopix-sweeper"),
            asyncio.create_task(sweeping_jobs, name="scopix-job-sweeper"),
            asyncio.create_task(services.workers.run(), name="scopix-workers"),
            asyncio.create_task(
                services.deliverer.run(jobs_stopping), name="scopix-webhook-deliverer"
            ),
        ]
        if warms_models(settings):  # beside the workers: variants need no model to start
            background.append(asyncio.create_task(services.warm_up(), name="scopix-warm-up"))
        # What startup built (modules, routes, services) lives as long as the server: frozen
        # out of the collector, a full collection no longer walks it again and again.
        gc.freeze()
        try:
            async with mcp.running():  # ends the MCP requests in flight before the services
                yield
        finally:
            stopping.set()
            jobs_stopping.set()
            services.workers.stop()
            await _finish(background)
            await services.close()

    app = FastAPI(
        title="Scopix",
        version=__version__,
        description="Self-hostable visual intelligence: upload images, get them described.",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # api/docs.py serves the page, offline and under a CSP
        redoc_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(IdempotencyMiddleware)  # inside RequestIdMiddleware: added before it
    app.add_middleware(GateMiddleware)  # key, scope and JSON cap before anything reads a body
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(RateLimitHeadersMiddleware)  # outside it: a 500 carries the headers too
    app.include_router(system.router)
    app.include_router(uploads.router, prefix=API_PREFIX)
    app.include_router(direct_uploads.router, prefix=API_PREFIX)
    app.include_router(links.router, prefix=API_PREFIX)  # /files/links before /files/{id}
    app.include_router(files.router, prefix=API_PREFIX)
    app.include_router(documents.router, prefix=API_PREFIX)
    app.include_router(videos.router, prefix=API_PREFIX)
    app.include_router(usage.router, prefix=API_PREFIX)
    app.include_router(projects.router, prefix=API_PREFIX)
    app.include_router(folders.router, prefix=API_PREFIX)
    app.include_router(extraction.router, prefix=API_PREFIX)
    app.include_router(events.router, prefix=API_PREFIX)
    app.include_router(mcp_router(mcp), prefix=API_PREFIX)
    app.include_router(web.router)
    app.include_router(docs.router)
    app.mount("/static", web.static_files, name="static")
    app.mount(docs.SWAGGER_ASSETS_PATH, docs.swagger_files, name="swagger-ui")
    return app


async def _sweep_until(stopping: asyncio.Event, services: Services) -> None:
    while not stopping.is_set():
        try:
            await services.maintenance.sweep()
        except Exception:  # a failed sweep is retried next round, never fatal to serving
            log.exception("sweep failed")
        with anyio.move_on_after(SWEEP_INTERVAL_S):
            await stopping.wait()


async def _finish(tasks: list[asyncio.Task[None]]) -> None:
    """Let background tasks end at a safe point (no query cut in half, which would leave a
    connection to be torn down after the loop is gone); cancel what outlives the grace period.
    A job cut short this way runs again once its lease expires."""
    _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_S)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
