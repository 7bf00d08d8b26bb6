"""Webhook delivery: each endpoint gets the events it asked for, in order, at least once.

A deliverer (any number may run, in any process) leases one due endpoint at a time, sends it
the next event after its position, and commits the outcome only while the lease is still its
own: a 2xx moves the position past the event; anything else counts a failure and waits as
`domain.events.RETRY_DELAYS` says, and the endpoint is disabled, with its reason, when the
last attempt fails too. A deliverer killed between sending and committing leaves the position
where it was: the event goes again, with the same `webhook-id` (at least once, never lost).
One event at a time per endpoint keeps every file's events in order.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import anyio.to_thread
from standardwebhooks.webhooks import Webhook as Signer

from scopix.server.catalog.events import event_payload
from scopix.server.catalog.models import Event, Webhook, WebhookDelivery
from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.domain.events import Position, is_success, retry_delay
from scopix.server.domain.ids import new_id
from scopix.server.media.links.fetch import FetchFailed, FetchRules, post

log = logging.getLogger("scopix.webhooks")

#: events read past an endpoint's position at once, looking for one of the types it wants
_LOOKAHEAD = 100
#: endpoints leased per look for due ones
_BATCH = 20


@dataclass(frozen=True)
class Delivered:
    """What one attempt came to."""

    succeeded: bool
    status_code: int | None
    error: str | None
    duration_ms: int

    def log(self, webhook_id: str, event_id: str, event_type: str, attempt: int) -> WebhookDelivery:
        return WebhookDelivery(
            id=new_id(),
            webhook_id=webhook_id,
            event_id=event_id,
            event_type=event_type,
            attempt=attempt,
            succeeded=self.succeeded,
            status_code=self.status_code,
            error=self.error,
            duration_ms=self.duration_ms,
            created_at=datetime.now(UTC),
        )


class WebhookSender:
    """Signs a payload as the Standard Webhooks spec says and POSTs it under the link
    fetcher's rules (checked addresses only, unless `allow_private`; one deadline)."""

    def __init__(self, rules: FetchRules) -> None:
        self.rules = rules

    async def send(self, url: str, secret: str, payload: dict[str, Any]) -> Delivered:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        sent_at = datetime.now(UTC)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": str(payload["id"]),
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Signer(secret).sign(str(payload["id"]), sent_at, body),
        }
        started = time.monotonic()
        try:
            status = await anyio.to_thread.run_sync(post, url, body, headers, self.rules)
        except FetchFailed as exc:
            return Delivered(False, None, f"{exc.kind}: {exc.reason}", _ms_since(started))
        error = None if is_success(status) else f"the endpoint answered HTTP {status}"
        return Delivered(error is None, status, error, _ms_since(started))


@dataclass(frozen=True)
class DeliverySettings:
    retry_delays: Sequence[timedelta]
    lease: timedelta
    poll_s: float


class WebhookDeliverer:
    """Delivers due endpoints' next events until stopped."""

    def __init__(
        self, uows: UnitOfWorkFactory, sender: WebhookSender, settings: DeliverySettings
    ) -> None:
        self.uows = uows
        self.sender = sender
        self.settings = settings

    async def run(self, stopping: anyio.Event) -> None:
        """Deliver until `stopping` is set; a failing catalog is logged and waited out."""
        while not stopping.is_set():
            try:
                busy = await self.deliver_due()
            except Exception:
                log.exception("webhook delivery failed")
                busy = False
            if not busy:
                with anyio.move_on_after(self.settings.poll_s):
                    await stopping.wait()

    async def deliver_due(self) -> bool:
        """One step for each due endpoint; whether any had something to send."""
        async with self.uows.read() as uow:
            due = await uow.webhooks.due(datetime.now(UTC), _BATCH)
        sent = [await self.step(webhook_id) for webhook_id in due]
        return any(sent)

    async def step(self, webhook_id: str) -> bool:
        """Lease the endpoint, send its next event, record what came of it; whether there
        was an event to send."""
        token = new_id()
        now = datetime.now(UTC)
        async with self.uows.write() as uow:
            if not await uow.webhooks.lease(webhook_id, token, now, now + self.settings.lease):
                return False
            await uow.commit()
        webhook, event = await self._next(webhook_id, token)
        if webhook is None or event is None:
            return False
        delivered = await self.sender.send(webhook.url, webhook.secret, event_payload(event))
        await self._record(webhook_id, token, event, delivered)
        return True

    async def _next(self, webhook_id: str, token: str) -> tuple[Webhook | None, Event | None]:
        """The endpoint and its next event; without one, its position moves past the events
        it does not want and the lease is let go."""
        async with self.uows.write() as uow:
            webhook = await uow.webhooks.held(webhook_id, token)
            if webhook is None:
                return None, None
            position = Position(webhook.cursor_txid, webhook.cursor_seq)
            ahead = await uow.events.after(webhook.tenant_id, position, _LOOKAHEAD)
            wanted = next((e for e in ahead if e.type in webhook.events), None)
            if wanted is not None:
                return webhook, wanted
            if ahead:
                webhook.cursor_txid, webhook.cursor_seq = ahead[-1].txid, ahead[-1].seq
            _release(webhook)
            await uow.commit()
            return webhook, None

    async def _record(
        self, webhook_id: str, token: str, event: Event, delivered: Delivered
    ) -> None:
        now = datetime.now(UTC)
        async with self.uows.write() as uow:
            webhook = await uow.webhooks.held(webhook_id, token)
            if webhook is None:  # the lease ran out: another deliverer sends it again
                return
            uow.webhooks.log(delivered.log(webhook.id, event.id, event.type, webhook.failures + 1))
            if delivered.succeeded:
                webhook.cursor_txid, webhook.cursor_seq = event.txid, event.seq
                webhook.failures = 0
                webhook.next_attempt_at = now
            else:
                self._failed(webhook, event, delivered, now)
            webhook.updated_at = now
            _release(webhook)
            await uow.commit()

    def _failed(self, webhook: Webhook, event: Event, delivered: Delivered, now: datetime) -> None:
        webhook.failures += 1
        wait = retry_delay(webhook.failures, self.settings.retry_delays)
        if wait is not None:
            webhook.next_attempt_at = now + wait
            return
        webhook.enabled = False
        webhook.disabled_reason = (
            f"{webhook.failures} attempts to deliver {event.type} event {event.id} failed; "
            f"the last: {delivered.error}"
        )
        log.warning("webhook %s disabled: %s", webhook.id, webhook.disabled_reason)


def _release(webhook: Webhook) -> None:
    webhook.lease_token = None
    webhook.lease_expires_at = None


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
