"""What a kind of job does: heavy work outside transactions, bookkeeping inside them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, TypeVar

from scopix.server.catalog.models import Job
from scopix.server.catalog.uow import UnitOfWork
from scopix.server.domain.failures import Failure


class JobFailed(Exception):
    """A handler's classified failure of one attempt."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


ResultT = TypeVar("ResultT")


class JobHandler(Protocol[ResultT]):
    """Each hook except `execute` runs inside the transaction that changes the job's state, so
    the job row and what it did to the catalog commit together or not at all."""

    kind: str

    async def started(self, uow: UnitOfWork, job: Job) -> None:
        """A worker claimed the job (attempt `job.attempts`)."""
        ...

    async def execute(self, job: Job) -> ResultT:
        """Do the work; no catalog writes. Raise JobFailed for a classified failure."""
        ...

    async def succeeded(self, uow: UnitOfWork, job: Job, result: ResultT) -> None:
        """Record the result."""
        ...

    async def retrying(
        self, uow: UnitOfWork, job: Job, failure: Failure, run_after: datetime
    ) -> None:
        """The attempt failed and another one will run at `run_after`."""
        ...

    async def requeued(self, uow: UnitOfWork, job: Job, reason: str) -> None:
        """The worker holding the job vanished or stopped; it will run again."""
        ...

    async def failed(self, uow: UnitOfWork, job: Job, failure: Failure) -> None:
        """No more attempts: the job failed for good."""
        ...
