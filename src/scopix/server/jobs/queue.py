"""The JobQueue port: how the service layer says "there is work" to whoever runs it."""

from __future__ import annotations

from typing import Protocol


class JobQueue(Protocol):
    """Wakes workers after jobs were committed. Losing a wake-up is harmless: workers also poll
    the jobs table and the sweeper re-dispatches, so a wake-up is an optimisation, never the
    only record of work."""

    def wake(self) -> None:
        """Tell idle workers that committed jobs are waiting."""
        ...
