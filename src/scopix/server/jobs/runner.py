"""Claim a job under a lease, run its handler while heartbeating, commit under the lease."""

from __future__ import annotations

import logging
import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from scopix.server.catalog.models import Job
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain.failures import Failure, RetryPolicy, retry_delay, unknown_failure
from scopix.server.domain.ids import new_id
from scopix.server.jobs.handler import JobFailed, JobHandler

log = logging.getLogger("scopix.jobs")

SHUTDOWN_NOTE = "the worker stopped mid-attempt; queued again"


@dataclass(frozen=True)
class LeaseSettings:
    """How long a claim lasts without a heartbeat, and how often a worker renews it."""

    duration_s: float = 60.0

    @property
    def heartbeat_s(self) -> float:
        # Three heartbeats per lease: one lost or late write never costs the lease.
        return self.duration_s / 3


@dataclass(frozen=True)
class _Succeeded:
    result: Any


@dataclass(frozen=True)
class _Failed:
    failure: Failure


class JobRunner:
    """Runs claimed jobs; shared by every kind of worker (in-process pool, Celery, CLI)."""

    def __init__(
        self,
        uows: UnitOfWorkFactory,
        handlers: Mapping[str, JobHandler[Any]],
        *,
        lease: LeaseSettings,
        retry: RetryPolicy,
        owner: str,
    ) -> None:
        self.uows = uows
        self.handlers = handlers
        self.lease = lease
        self.retry = retry
        self.owner = owner

    async def claim(
        self, kinds: Collection[str] | None = None, *, preferred: str | None = None
    ) -> Job | None:
        """Lease the `preferred` job when it can run now, else the oldest due job (of one of
        `kinds`, if given); None when there is none."""
        now = _now()
        async with self.uows.write() as uow:
            job = await uow.jobs.claimable(preferred, now) if preferred else None
            job = job or await uow.jobs.next_ready(now, kinds)
            # Another claim of the same bytes won the race: this job waits for its finish.
            if job is None or not await uow.jobs.hold_bytes(job):
                return None
            job.state = "running"
            job.attempts += 1
            job.lease_token = new_id()
            job.lease_owner = self.owner
            job.lease_expires_at = now + timedelta(seconds=self.lease.duration_s)
            job.updated_at = now
            job_id = job.id
            try:
                await self.handlers[job.kind].started(uow, job)
            except Exception as exc:  # a job that cannot even start must not block the queue
                log.exception("job %s could not start", job_id)
                await uow.session.rollback()
                await self._fail_unstartable(job_id, exc)
                return None
            await uow.commit()
        return job

    async def _fail_unstartable(self, job_id: str, exc: Exception) -> None:
        failure = unknown_failure(type(exc).__name__)
        async with self.uows.write() as uow:
            job = await uow.jobs.lock(job_id)
            if job is not None and job.state == "queued":
                job.state, job.finished_at, job.updated_at = "failed", _now(), _now()
                job.last_error, job.last_error_type = failure.message, failure.error_type.value
                await uow.commit()

    async def run(self, job: Job) -> list[str]:
        """Execute a claimed job and commit its outcome, unless its lease was lost meanwhile.

        Returns the due jobs it held back by running on the same bytes: the caller's queue
        should dispatch them now rather than leave them to the sweeper."""
        try:
            outcome, lease_lost = await self._attempt(job)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._hand_back(job)
            raise
        if lease_lost or outcome is None:
            log.warning("job %s lost its lease; its attempt is abandoned", job.id)
            return []
        return await self._finish(job, outcome)

    async def _attempt(self, job: Job) -> tuple[_Succeeded | _Failed | None, bool]:
        """Execute while heartbeating; the outcome, and whether the lease was lost meanwhile."""
        outcome: _Succeeded | _Failed | None = None
        lease_lost = False
        async with anyio.create_task_group() as group:

            async def work() -> None:
                nonlocal outcome
                outcome = await self._execute(job)
                group.cancel_scope.cancel()

            async def heartbeat() -> None:
                nonlocal lease_lost
                while True:
                    await anyio.sleep(self.lease.heartbeat_s)
                    if not await self._extend(job):
                        lease_lost = True
                        group.cancel_scope.cancel()

            group.start_soon(work)
            group.start_soon(heartbeat)
        return outcome, lease_lost

    async def _hand_back(self, job: Job) -> None:
        """The worker is stopping mid-attempt: requeue the job now rather than after its lease,
        without counting the attempt it never finished."""
        assert job.lease_token is not None
        try:
            async with self.uows.write() as uow:
                current = await uow.jobs.lock_leased(job.id, job.lease_token)
                if current is None:
                    return
                now = _now()
                _release(current, now)
                current.state, current.run_after = "queued", now
                current.attempts = max(current.attempts - 1, 0)
                await self.handlers[job.kind].requeued(uow, current, SHUTDOWN_NOTE)
                await uow.commit()
        except Exception:  # its lease expires and the sweeper requeues it instead
            log.warning("job %s could not be handed back", job.id, exc_info=True)

    async def _execute(self, job: Job) -> _Succeeded | _Failed:
        try:
            return _Succeeded(await self.handlers[job.kind].execute(job))
        except JobFailed as exc:
            return _Failed(exc.failure)
        except Exception as exc:  # an unclassified bug fails the job, never the worker
            log.exception("job %s (%s) raised", job.id, job.kind)
            return _Failed(unknown_failure(type(exc).__name__))

    async def _extend(self, job: Job) -> bool:
        assert job.lease_token is not None
        expires = _now() + timedelta(seconds=self.lease.duration_s)
        try:
            async with self.uows.write() as uow:
                extended = await uow.jobs.extend_lease(job.id, job.lease_token, expires)
                await uow.commit()
        except Exception:  # a missed heartbeat is survivable: two more come before expiry
            log.warning("heartbeat of job %s failed", job.id, exc_info=True)
            return True
        return extended

    async def _finish(self, job: Job, outcome: _Succeeded | _Failed) -> list[str]:
        assert job.lease_token is not None
        handler = self.handlers[job.kind]
        async with self.uows.write() as uow:
            current = await uow.jobs.lock_leased(job.id, job.lease_token)
            if current is None:
                log.warning("job %s was taken over; this attempt's result is dropped", job.id)
                return []
            now = _now()
            _release(current, now)
            if isinstance(outcome, _Succeeded):
                await handler.succeeded(uow, current, outcome.result)
                _close(current, "succeeded", now)
            else:
                await self._fail(uow, handler, current, outcome.failure, now)
            held_back = await uow.jobs.held_back_by(current, now)
            await uow.commit()
        return [job_id for job_id in held_back if job_id != job.id]

    async def _fail(
        self,
        uow: UnitOfWork,
        handler: JobHandler[Any],
        job: Job,
        failure: Failure,
        now: datetime,
    ) -> None:
        job.last_error = failure.message
        job.last_error_type = failure.error_type.value
        policy = RetryPolicy(
            max_attempts=job.max_attempts,
            base_delay_s=self.retry.base_delay_s,
            max_delay_s=self.retry.max_delay_s,
            jitter=self.retry.jitter,
        )
        delay = retry_delay(policy, failure, job.attempts, random.random())
        if delay is None:
            _close(job, "failed", now)
            await handler.failed(uow, job, failure)
            return
        job.state = "queued"
        job.run_after = now + timedelta(seconds=delay)
        await handler.retrying(uow, job, failure, job.run_after)


def _release(job: Job, now: datetime) -> None:
    job.lease_token = None
    job.lease_owner = None
    job.lease_expires_at = None
    job.updated_at = now


def _close(job: Job, state: str, now: datetime) -> None:
    job.state = state
    job.finished_at = now


def _now() -> datetime:
    return datetime.now(UTC)
