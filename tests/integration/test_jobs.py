"""The job runner and sweeper on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from catalogrows import blob_row, tenant_row
from scopix.server.catalog.models import File, Job
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain.failures import Failure, RetryPolicy
from scopix.server.domain.ids import new_id
from scopix.server.jobs.handler import JobFailed
from scopix.server.jobs.records import new_job
from scopix.server.jobs.runner import JobRunner, LeaseSettings
from scopix.server.jobs.sweeper import JobSweeper
from scopix.types.describe import DescriptionErrorType

KIND = "probe"


@dataclass
class ProbeHandler:
    """Records every hook; `execute` does what the test scripts."""

    kind: str = KIND
    delay_s: float = 0.0
    failures: list[Failure] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)

    broken_start: bool = False
    start_delay_s: float = 0.0  # holds the claim's transaction open

    async def started(self, uow: UnitOfWork, job: Job) -> None:
        if self.broken_start:
            raise RuntimeError("the file is in no state to start")
        await asyncio.sleep(self.start_delay_s)
        self.events.append(("started", job.id))

    async def execute(self, job: Job) -> str:
        self.executed.append(job.id)
        await asyncio.sleep(self.delay_s)
        if self.failures:
            raise JobFailed(self.failures.pop(0))
        return f"done {job.id}"

    async def succeeded(self, uow: UnitOfWork, job: Job, result: str) -> None:
        self.events.append(("succeeded", job.id))

    async def retrying(
        self, uow: UnitOfWork, job: Job, failure: Failure, run_after: datetime
    ) -> None:
        self.events.append(("retrying", job.id))

    async def requeued(self, uow: UnitOfWork, job: Job, reason: str) -> None:
        self.events.append(("requeued", job.id))

    async def failed(self, uow: UnitOfWork, job: Job, failure: Failure) -> None:
        self.events.append(("failed", job.id))

    def count(self, event: str) -> int:
        return sum(1 for e, _ in self.events if e == event)


def _runner(
    uows: UnitOfWorkFactory, handler: ProbeHandler, *, lease_s: float = 30.0, owner: str = "w1"
) -> JobRunner:
    return JobRunner(
        uows,
        {KIND: handler},
        lease=LeaseSettings(lease_s),
        retry=RetryPolicy(base_delay_s=0.0, max_delay_s=0.0),
        owner=owner,
    )


async def _jobs(uows: UnitOfWorkFactory, count: int, *, sha256: str | None = None) -> list[str]:
    """`count` queued probe jobs, each on its own file (all of the same bytes if `sha256`)."""
    now = datetime.now(UTC)
    tenant = tenant_row()
    ids = []
    async with uows.write() as uow:
        await uow.tenants.add(tenant)
        shas = [sha256 or f"{i:064x}" for i in range(count)]
        for sha in sorted(set(shas)):
            await uow.blobs.add_if_absent(blob_row(tenant.id, sha))
        for sha in shas:
            file = _file(tenant.id, sha, now)
            uow.files.add(file, ())
            await uow.session.flush()
            job = new_job(KIND, file, max_attempts=3, now=now)
            uow.jobs.add(job)
            ids.append(job.id)
        await uow.commit()
    return ids


def _file(tenant_id: str, sha: str, now: datetime) -> File:
    return File(
        id=new_id(),
        tenant_id=tenant_id,
        sha256=sha,
        filename="f.png",
        media_type="image",
        mime_type="image/png",
        size_bytes=1,
        status="completed",
        description_status="queued",
        created_at=now,
        updated_at=now,
    )


async def _job(uows: UnitOfWorkFactory, job_id: str) -> Job:
    async with uows.read() as uow:
        job = await uow.session.scalar(select(Job).where(Job.id == job_id))
    assert job is not None
    return job


async def _expire_leases(uows: UnitOfWorkFactory) -> None:
    """Make every running job's lease run out, as if its worker had died long ago."""
    async with uows.write() as uow:
        for job in await uow.session.scalars(select(Job).where(Job.state == "running")):
            job.lease_expires_at = datetime.now(UTC) - timedelta(seconds=1)
        await uow.commit()


async def test_a_claim_leases_the_job_to_one_worker(uows: UnitOfWorkFactory) -> None:
    [job_id] = await _jobs(uows, 1)
    handler = ProbeHandler()
    claimed = await _runner(uows, handler).claim()
    assert claimed is not None and claimed.id == job_id
    assert await _runner(uows, handler, owner="w2").claim() is None
    stored = await _job(uows, job_id)
    assert (stored.state, stored.attempts, stored.lease_owner) == ("running", 1, "w1")
    assert stored.lease_expires_at is not None and stored.lease_expires_at > datetime.now(UTC)


async def test_a_run_commits_its_result_once(uows: UnitOfWorkFactory) -> None:
    [job_id] = await _jobs(uows, 1)
    handler = ProbeHandler()
    runner = _runner(uows, handler)
    job = await runner.claim()
    assert job is not None
    await runner.run(job)
    stored = await _job(uows, job_id)
    assert (stored.state, stored.lease_token, stored.finished_at is not None) == (
        "succeeded",
        None,
        True,
    )
    assert handler.events == [("started", job_id), ("succeeded", job_id)]


async def test_retryable_failures_retry_then_fail(uows: UnitOfWorkFactory) -> None:
    [job_id] = await _jobs(uows, 1)
    timeout = Failure(DescriptionErrorType.TIMEOUT, "slow")
    handler = ProbeHandler(failures=[timeout, timeout, timeout])
    runner = _runner(uows, handler)
    for _ in range(3):
        job = await runner.claim()
        assert job is not None
        await runner.run(job)
    stored = await _job(uows, job_id)
    assert (stored.state, stored.attempts, stored.last_error_type) == ("failed", 3, "timeout")
    assert [e for e, _ in handler.events if e != "started"] == ["retrying", "retrying", "failed"]
    assert await runner.claim() is None


async def test_permanent_failures_do_not_retry(uows: UnitOfWorkFactory) -> None:
    [job_id] = await _jobs(uows, 1)
    handler = ProbeHandler(failures=[Failure(DescriptionErrorType.VALIDATION_ERROR, "bad")])
    runner = _runner(uows, handler)
    job = await runner.claim()
    assert job is not None
    await runner.run(job)
    assert (await _job(uows, job_id)).state == "failed"
    assert handler.count("failed") == 1 and handler.count("retrying") == 0


async def test_a_provider_retry_after_delays_the_next_attempt(uows: UnitOfWorkFactory) -> None:
    [job_id] = await _jobs(uows, 1)
    limited = Failure(DescriptionErrorType.RATE_LIMIT, "429", retry_after=120.0)
    handler = ProbeHandler(failures=[limited])
    runner = _runner(uows, handler)
    job = await runner.claim()
    assert job is not None
    await runner.run(job)
    stored = await _job(uows, job_id)
    assert stored.state == "queued"
    assert stored.run_after >= datetime.now(UTC) + timedelta(seconds=100)
    assert await runner.claim() is None  # not due yet


async def test_an_expired_lease_runs_again_and_commits_exactly_once(
    uows: UnitOfWorkFactory,
) -> None:
    [job_id] = await _jobs(uows, 1)
    handler = ProbeHandler()
    stalled = _runner(uows, handler, owner="stalled")
    first = await stalled.claim()
    assert first is not None
    await _expire_leases(uows)
    assert await JobSweeper(uows, {KIND: handler}).sweep() == [job_id]
    rescuer = _runner(uows, handler, owner="rescuer")
    second = await rescuer.claim()
    assert second is not None and second.id == job_id
    await rescuer.run(second)
    await stalled.run(first)  # the stalled worker wakes up and tries to commit: refused
    stored = await _job(uows, job_id)
    assert (stored.state, stored.attempts) == ("succeeded", 2)
    assert handler.count("succeeded") == 1
    assert handler.count("requeued") == 1
    assert len(handler.executed) == 2


async def test_a_job_whose_workers_keep_dying_fails(uows: UnitOfWorkFactory) -> None:
    [job_id] = await _jobs(uows, 1)
    handler = ProbeHandler()
    sweeper = JobSweeper(uows, {KIND: handler})
    for _ in range(3):
        assert await _runner(uows, handler).claim() is not None
        await _expire_leases(uows)
        await sweeper.sweep()
    stored = await _job(uows, job_id)
    assert (stored.state, stored.last_error_type) == ("failed", "unknown")
    assert handler.count("requeued") == 2 and handler.count("failed") == 1


async def test_heartbeats_keep_a_long_job_leased(uows: UnitOfWorkFactory) -> None:
    [job_id] = await _jobs(uows, 1)
    handler = ProbeHandler(delay_s=1.5)
    runner = _runner(uows, handler, lease_s=0.6)
    job = await runner.claim()
    assert job is not None
    sweeper = JobSweeper(uows, {KIND: handler})

    async def sweep_meanwhile() -> None:
        for _ in range(6):
            await asyncio.sleep(0.25)
            await sweeper.sweep()

    await asyncio.gather(runner.run(job), sweep_meanwhile())
    assert (await _job(uows, job_id)).state == "succeeded"
    assert handler.count("requeued") == 0 and len(handler.executed) == 1


async def test_a_worker_that_lost_its_lease_abandons_the_attempt(uows: UnitOfWorkFactory) -> None:
    [job_id] = await _jobs(uows, 1)
    handler = ProbeHandler(delay_s=3.0)
    runner = _runner(uows, handler, lease_s=0.6)
    job = await runner.claim()
    assert job is not None

    async def take_over() -> None:
        await asyncio.sleep(0.05)
        await _expire_leases(uows)
        await JobSweeper(uows, {KIND: handler}).sweep()

    await asyncio.wait_for(asyncio.gather(runner.run(job), take_over()), timeout=2.5)
    stored = await _job(uows, job_id)
    assert stored.state == "queued" and handler.count("succeeded") == 0


async def test_jobs_on_the_same_bytes_never_run_at_once(uows: UnitOfWorkFactory) -> None:
    first_id, second_id = await _jobs(uows, 2, sha256="cd" * 32)
    handler = ProbeHandler()
    runner = _runner(uows, handler)
    first = await runner.claim()
    assert first is not None and first.id == first_id
    assert await runner.claim() is None
    await runner.run(first)
    second = await runner.claim()
    assert second is not None and second.id == second_id


async def test_concurrent_workers_claim_each_job_once(uows: UnitOfWorkFactory) -> None:
    ids = await _jobs(uows, 12)
    handler = ProbeHandler(delay_s=0.01)

    async def worker(name: str) -> None:
        runner = _runner(uows, handler, owner=name)
        while (job := await runner.claim()) is not None:
            await runner.run(job)

    await asyncio.gather(*(worker(f"w{i}") for i in range(4)))
    assert sorted(handler.executed) == sorted(ids)
    assert handler.count("succeeded") == 12


async def test_a_job_that_cannot_start_fails_instead_of_blocking(uows: UnitOfWorkFactory) -> None:
    first_id, second_id = await _jobs(uows, 2)
    handler = ProbeHandler(broken_start=True)
    runner = _runner(uows, handler)
    assert await runner.claim() is None
    stored = await _job(uows, first_id)
    assert (stored.state, stored.last_error_type) == ("failed", "unknown")
    handler.broken_start = False
    second = await runner.claim()
    assert second is not None and second.id == second_id


async def test_a_stopping_worker_hands_its_job_back_at_once(uows: UnitOfWorkFactory) -> None:
    [job_id] = await _jobs(uows, 1)
    handler = ProbeHandler(delay_s=30)
    runner = _runner(uows, handler)
    job = await runner.claim()
    assert job is not None
    task = asyncio.create_task(runner.run(job))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stored = await _job(uows, job_id)
    assert (stored.state, stored.attempts, stored.lease_token) == ("queued", 0, None)
    assert handler.count("requeued") == 1
    again = await _runner(uows, ProbeHandler(), owner="next").claim()
    assert again is not None and again.id == job_id


# --- dispatching: which jobs a message names, and which the sweeper sends again -------------


async def test_a_named_job_is_claimed_before_older_ones(uows: UnitOfWorkFactory) -> None:
    older, named = await _jobs(uows, 2)
    runner = _runner(uows, ProbeHandler())
    job = await runner.claim(preferred=named)
    assert job is not None and job.id == named
    # Taken now: a second message naming it runs the next due job instead.
    again = await runner.claim(preferred=named)
    assert again is not None and again.id == older
    assert await runner.claim(preferred=named) is None


async def test_a_finished_job_hands_back_the_ones_it_held_back(uows: UnitOfWorkFactory) -> None:
    first_id, second_id, third_id = await _jobs(uows, 3, sha256="ef" * 32)
    runner = _runner(uows, ProbeHandler())
    first = await runner.claim(preferred=first_id)
    assert first is not None
    assert await runner.claim(preferred=second_id) is None  # same bytes: it waits
    assert sorted(await runner.run(first)) == sorted([second_id, third_id])


async def test_the_sweeper_sends_what_no_message_announced(uows: UnitOfWorkFactory) -> None:
    fresh, retried = await _jobs(uows, 2)
    sweeper = JobSweeper(uows, {KIND: ProbeHandler()}, redispatch_after=timedelta(hours=1))
    assert await sweeper.sweep() == []  # both were dispatched when they were queued
    async with uows.write() as uow:  # a retry falls due: no message has announced it since
        job = await uow.jobs.lock(retried)
        assert job is not None
        job.run_after = datetime.now(UTC) - timedelta(seconds=1)
        job.dispatched_at = job.run_after - timedelta(seconds=5)
        await uow.commit()
    assert await sweeper.sweep() == [retried]
    assert await sweeper.sweep() == []  # marked as sent
    impatient = JobSweeper(uows, {KIND: ProbeHandler()}, redispatch_after=timedelta(0))
    assert sorted(await impatient.sweep()) == sorted([fresh, retried])  # long unanswered
    assert (await _job(uows, fresh)).state == "queued"


async def test_racing_claims_never_start_two_jobs_on_the_same_bytes(
    uows: UnitOfWorkFactory,
) -> None:
    """Two workers claim at once, each naming another job of the same bytes; their claims
    overlap (the start hook holds each transaction open), yet only one job starts."""
    first_id, second_id = await _jobs(uows, 2, sha256="ab" * 32)
    handler = ProbeHandler(start_delay_s=0.3)
    claimed = await asyncio.gather(
        _runner(uows, handler, owner="w1").claim(preferred=first_id),
        _runner(uows, handler, owner="w2").claim(preferred=second_id),
    )
    assert len([job for job in claimed if job is not None]) == 1
    async with uows.read() as uow:
        states = sorted(
            await uow.session.scalars(select(Job.state).where(Job.id.in_([first_id, second_id])))
        )
    assert states == ["queued", "running"]
