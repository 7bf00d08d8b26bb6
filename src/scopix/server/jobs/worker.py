"""`scopix worker`: a Celery worker process running the same job handlers as the in-process pool.

The event loop lives in a thread of its own (an anyio blocking portal) with the services, the
database pool and the models of this process; Celery's pool threads hand each message's job id
to it and wait. The process also sweeps (expired leases, lost messages), like every replica.
"""

from __future__ import annotations

import logging
import os
import socket

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal

from scopix.server.catalog.migrate import upgrade
from scopix.server.jobs.celery_app import QUEUE_NAME, make_celery, register_run_job
from scopix.server.jobs.queue import JobQueue
from scopix.server.jobs.runner import JobRunner
from scopix.server.jobs.sweeper import sweep_jobs
from scopix.server.services.container import Services, build_services
from scopix.server.settings import Settings

log = logging.getLogger("scopix.worker")


async def run_named_job(runner: JobRunner, queue: JobQueue, job_id: str) -> None:
    """Run the job a message names, or the next due one when that one cannot run now; then
    dispatch the jobs it held back."""
    job = await runner.claim(preferred=job_id)
    if job is not None:
        await queue.dispatch(await runner.run(job))


def run_worker(settings: Settings, concurrency: int) -> None:
    """Serve Celery messages with `concurrency` jobs at once, until a signal stops the worker
    (SIGTERM or Ctrl-C: the jobs in hand finish first)."""
    if not settings.queue_url:
        raise ValueError("a worker needs a broker: set SCOPIX_QUEUE_URL=redis://...")
    upgrade(settings.resolved_database_url)
    with start_blocking_portal() as portal:
        services = portal.call(_build, settings)
        stopping = portal.call(_new_event)
        portal.start_task_soon(
            sweep_jobs, services.sweeper, services.queue, settings.job_sweep_seconds, stopping
        )
        try:
            _serve_messages(settings.queue_url, portal, services, concurrency)
        finally:
            portal.call(stopping.set)
            portal.call(services.close)


def _serve_messages(
    broker_url: str, portal: BlockingPortal, services: Services, concurrency: int
) -> None:
    app = make_celery(broker_url)
    runner, queue = services.workers.runner, services.queue

    def run_job(job_id: str) -> None:
        portal.call(run_named_job, runner, queue, job_id)

    register_run_job(app, run_job)
    worker = app.Worker(
        pool="threads",
        concurrency=concurrency,
        queues=[QUEUE_NAME],
        hostname=f"scopix@{socket.gethostname()}-{os.getpid()}",
        # Workers coordinate through the jobs table, not through each other.
        without_mingle=True,
        without_gossip=True,
        loglevel=services.settings.log_level.upper(),
    )
    log.info("worker %s: %d job(s) at once from %s", worker.hostname, concurrency, QUEUE_NAME)
    worker.start()


async def _build(settings: Settings) -> Services:
    return build_services(settings)


async def _new_event() -> anyio.Event:
    return anyio.Event()
