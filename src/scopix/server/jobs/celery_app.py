"""The scale-out profile's queue: Celery over a Redis broker, carrying job ids only.

The jobs table stays the source of truth. A message names the job it was sent for; the worker
that takes it claims that job under a lease (FOR UPDATE SKIP LOCKED on PostgreSQL), or, when
it is taken, done or held back, the next due job, so a duplicate message is never wasted work.
Messages are acknowledged late: a worker killed mid-job leaves its message to be redelivered,
and its job to the sweeper once the lease runs out, whichever comes first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Final

import anyio.to_thread
from celery import Celery

log = logging.getLogger("scopix.jobs")

RUN_JOB: Final = "scopix.run_job"
#: What `scopix worker` prints on stdout once it consumes, whatever the log level.
READY_LINE: Final = "Scopix worker ready:"
QUEUE_NAME: Final = "scopix-jobs"


def make_celery(broker_url: str) -> Celery:
    """A Celery app for Scopix's jobs on `broker_url` (redis://...)."""
    app = Celery("scopix", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=QUEUE_NAME,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,  # a message is done when its job is, not when it was received
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a busy worker does not sit on messages others could run
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # ride out a broker restart, however long
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        # A job whose connection dropped keeps running: its lease, not the message, decides.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        # Redelivery of an unacknowledged message; the sweeper usually runs its job long before.
        # A broker that is away must not hold an upload for long: its jobs are committed, and
        # the sweeper sends their messages once it is back.
        broker_transport_options={
            "visibility_timeout": 3600,
            "socket_connect_timeout": 2,
            "socket_timeout": 5,
        },
    )
    return app


class CeleryJobQueue:
    """The JobQueue port over Celery: one message per job id."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    async def dispatch(self, job_ids: Sequence[str]) -> None:
        if not job_ids:
            return
        try:
            await anyio.to_thread.run_sync(self._publish, list(job_ids))
        except Exception as exc:  # the jobs are committed: the sweeper sends them again
            log.warning("could not publish %d job(s) (%s); the sweeper will", len(job_ids), exc)

    def _publish(self, job_ids: list[str]) -> None:
        # A connection per dispatch, not one from Celery's pool: a pooled connection that saw
        # the broker restart stays broken (kombu loses its connection info), and every later
        # publish would fail. Opening one costs a fraction of a millisecond on a LAN.
        with self.app.connection_for_write() as connection, connection.Producer() as producer:
            for job_id in job_ids:
                self.app.send_task(RUN_JOB, args=[job_id], producer=producer, retry=False)

    def close(self) -> None:
        self.app.close()


def register_run_job(app: Celery, run: Callable[[str], Any]) -> None:
    """Make `run(job_id)` the task that executes the job a message names (worker side)."""
    app.task(name=RUN_JOB, acks_late=True, reject_on_worker_lost=True)(run)
