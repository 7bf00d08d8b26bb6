"""Re-dispatch jobs whose worker vanished, and send again the messages of jobs nobody claimed."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.domain.failures import lease_lost_failure
from scopix.server.jobs.handler import JobHandler
from scopix.server.jobs.queue import JobQueue

log = logging.getLogger("scopix.jobs")

LEASE_EXPIRED_NOTE = "the worker stopped responding; queued again"
#: Messages sent again per sweep at most; the next sweep takes the rest.
DISPATCH_BATCH = 500


class JobSweeper:
    """Idempotent: any number of processes may sweep the same catalog at once.

    `redispatch_after`: how long a due job may wait for a worker after its message went out
    before the message counts as lost (a broker restarted without its data) and goes again. A
    message merely waiting behind a backlog is sent twice at worst: the second one finds the
    job taken, or runs the next due one (jobs/celery_app.py).
    """

    def __init__(
        self,
        uows: UnitOfWorkFactory,
        handlers: Mapping[str, JobHandler[Any]],
        redispatch_after: timedelta = timedelta(seconds=60),
    ) -> None:
        self.uows = uows
        self.handlers = handlers
        self.redispatch_after = redispatch_after

    async def sweep(self) -> list[str]:
        """Requeue (or fail, when out of attempts) every job whose lease expired; then the ids
        of the due jobs whose message is missing (never sent since they became due: retries,
        requeued jobs) or long unanswered, marked as dispatched now. The caller sends them."""
        now = datetime.now(UTC)
        await self._requeue_expired(now)
        async with self.uows.write() as uow:
            due = await uow.jobs.undispatched(now, now - self.redispatch_after, DISPATCH_BATCH)
            for job in due:
                job.dispatched_at = now
            await uow.commit()
        return [job.id for job in due]

    async def _requeue_expired(self, now: datetime) -> None:
        async with self.uows.write() as uow:
            expired = await uow.jobs.expired(now)
            for job in expired:
                handler = self.handlers[job.kind]
                job.lease_token = job.lease_owner = job.lease_expires_at = None
                job.updated_at = now
                if job.attempts >= job.max_attempts:
                    failure = lease_lost_failure(job.attempts)
                    job.state, job.finished_at = "failed", now
                    job.last_error, job.last_error_type = failure.message, failure.error_type.value
                    await handler.failed(uow, job, failure)
                else:
                    job.state, job.run_after = "queued", now
                    await handler.requeued(uow, job, LEASE_EXPIRED_NOTE)
            await uow.commit()
        if expired:
            log.warning("%d job(s) outlived their worker's lease", len(expired))


async def sweep_jobs(
    sweeper: JobSweeper, queue: JobQueue, every_s: float, stopping: anyio.Event
) -> None:
    """Sweep every `every_s` seconds and dispatch what each sweep finds, until `stopping`."""
    while not stopping.is_set():
        try:
            due = await sweeper.sweep()
            if due:
                await queue.dispatch(due)
        except Exception:  # the catalog hiccuped: the next round tries again
            log.exception("sweeping jobs failed")
        with anyio.move_on_after(every_s):
            await stopping.wait()
