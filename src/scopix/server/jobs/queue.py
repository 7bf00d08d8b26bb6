"""The JobQueue port: how the service layer says "these jobs are waiting" to whoever runs them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class JobQueue(Protocol):
    """Tells workers about jobs after they were committed. Losing a message is harmless: the
    jobs table is the record of work, and the sweeper dispatches again any due job that no
    worker claimed (jobs/sweeper.py), so a message is an optimisation, never the only record."""

    async def dispatch(self, job_ids: Sequence[str]) -> None:
        """Tell workers that these committed jobs are waiting; never raises for a broker that
        is away (the sweeper makes the message good)."""
        ...
