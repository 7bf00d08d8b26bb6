"""Re-dispatch jobs whose worker vanished, and wake workers for jobs nobody was told about."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.domain.failures import lease_lost_failure
from scopix.server.jobs.handler import JobHandler

log = logging.getLogger("scopix.jobs")

LEASE_EXPIRED_NOTE = "the worker stopped responding; queued again"


class JobSweeper:
    """Idempotent: any number of processes may sweep the same catalog at once."""

    def __init__(self, uows: UnitOfWorkFactory, handlers: Mapping[str, JobHandler[Any]]) -> None:
        self.uows = uows
        self.handlers = handlers

    async def sweep(self) -> bool:
        """Requeue (or fail, when out of attempts) every job whose lease expired.

        Returns whether jobs are due, so the caller wakes its workers: a wake-up lost anywhere
        is made good here.
        """
        now = datetime.now(UTC)
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
        async with self.uows.read() as uow:
            return await uow.jobs.has_due(now)
