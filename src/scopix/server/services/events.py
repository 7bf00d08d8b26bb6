"""`GET /events`: a tenant's events after a cursor, as soon as there are some."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio

from scopix.server.catalog.events import event_payload
from scopix.server.catalog.models import Event
from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.domain.events import Position

#: events one answer holds at most
MAX_EVENT_PAGE = 100


@dataclass(frozen=True)
class EventPage:
    """Events in order, and where the next read starts (the same cursor when there were none)."""

    items: list[dict[str, Any]]
    next_cursor: str


class EventService:
    """Reads the events outbox; waiting readers look again every `poll_s` seconds, so events
    written by any process (workers included) reach them within that."""

    def __init__(self, uows: UnitOfWorkFactory, *, poll_s: float) -> None:
        self.uows = uows
        self.poll_s = poll_s

    async def head(self, tenant_id: str) -> Position:
        """Where the stream stands now: events written from here on come after it."""
        async with self.uows.read() as uow:
            return await uow.events.head(tenant_id)

    async def wait(self, tenant_id: str, after: Position, timeout_s: float) -> EventPage:
        """The events after `after`, answered as soon as there is one or after `timeout_s`."""
        deadline = anyio.current_time() + timeout_s
        while True:  # no read is cut short: a timeout falls between two
            found = await self._after(tenant_id, after)
            if found:
                return _page(found)
            left = deadline - anyio.current_time()
            if left <= 0:
                return EventPage([], after.cursor())
            await anyio.sleep(min(self.poll_s, left))

    async def follow(
        self, tenant_id: str, after: Position
    ) -> AsyncIterator[tuple[str, Event] | None]:
        """Every event after `after` as it comes, with the cursor just past it, and None
        after each look that found nothing (a reader's chance to keep its connection
        alive); never ends."""
        while True:
            found = await self._after(tenant_id, after)
            for event in found:
                after = Position(event.txid, event.seq)
                yield after.cursor(), event
            if not found:
                yield None
                await anyio.sleep(self.poll_s)

    async def _after(self, tenant_id: str, after: Position) -> list[Event]:
        async with self.uows.read() as uow:
            return list(await uow.events.after(tenant_id, after, MAX_EVENT_PAGE))


def _page(events: list[Event]) -> EventPage:
    last = events[-1]
    return EventPage([event_payload(e) for e in events], Position(last.txid, last.seq).cursor())
