"""The embedded profile's queue: a pool of worker tasks inside the server process."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import anyio

from scopix.server.jobs.runner import JobRunner

log = logging.getLogger("scopix.jobs")


class InlineWorkerPool:
    """`workers` tasks claim and run jobs; a dispatch ends their idle wait early, and they poll
    every `poll_s` seconds anyway so that jobs committed by other processes also run."""

    def __init__(self, runner: JobRunner, *, workers: int, poll_s: float) -> None:
        self.runner = runner
        self.workers = workers
        self.poll_s = poll_s
        self._work_waiting = anyio.Event()
        self._stopping = anyio.Event()

    async def dispatch(self, job_ids: Sequence[str]) -> None:
        """Wake idle workers (the JobQueue port): they claim whatever is due, these included."""
        if job_ids:
            self._work_waiting.set()

    def stop(self) -> None:
        """Ask every worker to stop after the job in hand; `run` returns when all have."""
        self._stopping.set()
        self._work_waiting.set()

    async def run(self) -> None:
        """Run the workers until `stop()` (or cancellation)."""
        async with anyio.create_task_group() as group:
            for _ in range(self.workers):
                group.start_soon(self._work)

    async def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                job = await self.runner.claim()
            except Exception:  # the catalog hiccuped: back off, never die
                log.exception("claiming a job failed")
                job = None
            if job is None:
                await self._idle()
                continue
            try:
                await self.dispatch(await self.runner.run(job))
            except Exception:  # its lease expires and the sweeper hands it to another worker
                log.exception("job %s could not be finished", job.id)

    async def _idle(self) -> None:
        with anyio.move_on_after(self.poll_s):
            await self._work_waiting.wait()
        if self._work_waiting.is_set() and not self._stopping.is_set():
            self._work_waiting = anyio.Event()
