"""``client.events`` and ``client.webhooks``: what happened to the tenant's files, read as a
stream or delivered to endpoints."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

from scopix.client._transport import Transport
from scopix.types.webhooks import Event, EventPage, Webhook, WebhookDelivery, WebhookDeliveryList

#: Seconds one read of ``stream`` waits for an event (the server waits at most 30).
_WAIT = 25.0


class EventStream:
    """The events after a cursor as they happen, forever: ``async for event in stream``.

    ``cursor`` is where the stream stands (after the last event it gave): keep it, and
    ``client.events.stream(after=cursor)`` goes on from there, missing nothing.
    """

    def __init__(self, events: AsyncEvents, after: str | None, wait: float) -> None:
        self._events = events
        self.cursor = after
        self._wait = wait
        self._ready: builtins.list[Event] = []
        self._page_end = after

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        while not self._ready:
            page = await self._events.list(after=self.cursor, wait=self._wait)
            self._ready, self._page_end = page.items, page.next_cursor
            if not page.items:
                self.cursor = page.next_cursor
        event = self._ready.pop(0)
        if not self._ready:  # the cursor moves a page at a time: at least once, never less
            self.cursor = self._page_end
        return event

    async def aclose(self) -> None:
        """Nothing to let go of: each read is one request (kept for ``SyncScopix``)."""


class AsyncEvents:
    """Event reading of an async client; reach it as ``client.events``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def list(self, *, after: str | None = None, wait: float = 0) -> EventPage:
        """The events after the cursor ``after`` (None: the oldest kept; ``"now"``: those
        that happen from now on), oldest first, waiting up to ``wait`` seconds (at most 30)
        for one to happen."""
        answer = await self._transport.json(
            "GET", "events", params={"after": after, "timeout": wait}
        )
        return EventPage.from_dict(answer)

    def stream(self, *, after: str | None = None, wait: float = _WAIT) -> EventStream:
        """Every event after ``after`` as it happens, by long-polling: an ``EventStream``
        (``async for``), whose ``cursor`` resumes it later. ``after="now"`` starts with what
        happens after its first read; None, with the oldest event kept (30 days)."""
        return EventStream(self, after, wait)


class AsyncWebhooks:
    """Webhook endpoints of an async client; reach it as ``client.webhooks``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def create(self, url: str, events: Sequence[str]) -> Webhook:
        """Register ``url`` for the event types ``events``; the answer's ``secret`` verifies
        deliveries' signatures (Standard Webhooks) and is not shown again."""
        answer = await self._transport.json(
            "POST", "webhooks", body={"url": url, "events": list(events)}, write=True
        )
        return Webhook.from_dict(answer)

    async def list(self) -> builtins.list[Webhook]:
        """The tenant's endpoints (without their secrets)."""
        answer = await self._transport.json("GET", "webhooks")
        return [Webhook.from_dict(w) for w in answer.get("items") or []]

    async def delete(self, webhook_id: str) -> None:
        await self._transport.send("DELETE", f"webhooks/{webhook_id}", write=True)

    async def test(self, webhook_id: str) -> WebhookDelivery:
        """Send a signed ``webhook.test`` event now; a disabled endpoint that accepts it is
        enabled again."""
        answer = await self._transport.json("POST", f"webhooks/{webhook_id}/test", write=True)
        return WebhookDelivery.from_dict(answer)

    async def deliveries(
        self, webhook_id: str, *, limit: int = 20, offset: int = 0
    ) -> WebhookDeliveryList:
        """A page of the endpoint's delivery attempts, newest first (``limit`` 1-100)."""
        answer = await self._transport.json(
            "GET",
            f"webhooks/{webhook_id}/deliveries",
            params={"limit": limit, "offset": offset},
        )
        return WebhookDeliveryList.from_dict(answer)
