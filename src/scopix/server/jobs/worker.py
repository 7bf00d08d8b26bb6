"""`scopix worker`: a Celery worker process running the same job handlers as the in-process pool.

The event loop lives in a thread of its own (an anyio blocking portal) with the services, the
database pool and the models of this process; Celery's pool threads hand each message's job id
to it and wait. The process also sweeps (expired leases, lost messages), like every replica.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any, Final

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal
from celery import signals

from scopix.server.catalog.migrate import upgrade
from scopix.server.jobs.celery_app import (
    QUEUE_NAME,
    READY_LINE,
    make_celery,
    register_run_job,
)
from scopix.server.jobs.queue import JobQueue
from scopix.server.jobs.runner import JobRunner
from scopix.server.jobs.sweeper import sweep_jobs
from scopix.server.services.container import Services, build_services, warms_models
from scopix.server.settings import Settings

log = logging.getLogger("scopix.worker")

RESTART_DELAY_S: Final = 1.0


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
    # Its models are sized to, and warmed for, the jobs it runs at once.
    sized = settings.model_copy(update={"workers": concurrency})
    with start_blocking_portal() as portal:
        services = portal.call(_build, sized)
        if warms_models(sized):
            portal.call(services.warm_up)
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
    """Consume until a signal asks the worker to stop. Celery's consumer can die of a broker
    restart (kombu fails restoring unacknowledged messages over the lost connection): it is
    started again, and the jobs it held run on once their leases run out."""
    runner, queue = services.workers.runner, services.queue
    asked_to_stop = threading.Event()
    signals.worker_shutting_down.connect(lambda **_: asked_to_stop.set(), weak=False)
    signals.worker_ready.connect(_announce_ready, weak=False)

    def run_job(job_id: str) -> None:
        portal.call(run_named_job, runner, queue, job_id)

    while True:
        app = make_celery(broker_url)
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
        app.close()
        if asked_to_stop.is_set():
            return
        log.error("the consumer stopped on an error; starting it again in %s s", RESTART_DELAY_S)
        time.sleep(RESTART_DELAY_S)


def _announce_ready(sender: Any, **_: Any) -> None:
    """One line on stdout whatever the log level: what scripts and tests wait for."""
    print(f"{READY_LINE} {sender.hostname} consumes {QUEUE_NAME}", flush=True)


async def _build(settings: Settings) -> Services:
    return build_services(settings)


async def _new_event() -> anyio.Event:
    return anyio.Event()
