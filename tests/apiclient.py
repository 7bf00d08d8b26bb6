"""An in-process app under test, a client for it, and keys of two tenants."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from scopix.server.services.container import Services


@dataclass
class Api:
    """A running app, a client for it, and keys of two tenants."""

    client: httpx.AsyncClient
    services: Services
    key: str
    other_key: str

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    async def drain(self, *kinds: str) -> int:
        """Run due jobs (of `kinds`, or all) in this process until none is left; the count."""
        runner = self.services.workers.runner
        ran = 0
        while (job := await runner.claim(kinds or None)) is not None:
            await runner.run(job)
            ran += 1
        return ran
