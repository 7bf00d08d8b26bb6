"""Webhook endpoints: registered, listed, removed and tested; their delivery logs."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from scopix.server.catalog.models import Webhook, WebhookDelivery
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain.errors import NotFound
from scopix.server.domain.events import WEBHOOK_TEST, event_types
from scopix.server.domain.ids import looks_like_id, new_id
from scopix.server.domain.urls import normalize_url
from scopix.server.jobs.webhooks import WebhookSender

#: log lines one page holds at most
MAX_DELIVERY_PAGE = 100


@dataclass(frozen=True)
class DeliveryPage:
    items: list[WebhookDelivery]
    total_count: int


class WebhookService:
    """A tenant's endpoints; another tenant's endpoint is not found."""

    def __init__(self, uows: UnitOfWorkFactory, sender: WebhookSender) -> None:
        self.uows = uows
        self.sender = sender

    async def create(self, tenant_id: str, url: str, events: list[str]) -> Webhook:
        """A new endpoint, which gets the events written from now on; its secret is in the
        answer, and in no other."""
        url = normalize_url(url, allow_private=self.sender.rules.allow_private)
        now = datetime.now(UTC)
        async with self.uows.write() as uow:
            start = await uow.events.head(tenant_id)
            webhook = Webhook(
                id=new_id(),
                tenant_id=tenant_id,
                url=url,
                events=event_types(events),
                secret="whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
                enabled=True,
                cursor_txid=start.txid,
                cursor_seq=start.seq,
                failures=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
            uow.webhooks.add(webhook)
            await uow.commit()
        return webhook

    async def list(self, tenant_id: str) -> list[Webhook]:
        async with self.uows.read() as uow:
            return list(await uow.webhooks.of_tenant(tenant_id))

    async def delete(self, tenant_id: str, webhook_id: str) -> None:
        async with self.uows.write() as uow:
            await uow.webhooks.remove(await _webhook(uow, tenant_id, webhook_id))
            await uow.commit()

    async def test(self, tenant_id: str, webhook_id: str) -> WebhookDelivery:
        """Send a `webhook.test` event now, signed as every delivery is, and log it; a
        disabled endpoint that answers it is enabled again, from where it stopped."""
        async with self.uows.read() as uow:
            webhook = await _webhook(uow, tenant_id, webhook_id)
        now = datetime.now(UTC)
        payload = {
            "id": new_id(),
            "type": WEBHOOK_TEST,
            "timestamp": now.isoformat().replace("+00:00", "Z"),
            "data": {"webhook_id": webhook.id},
        }
        delivered = await self.sender.send(webhook.url, webhook.secret, payload)
        async with self.uows.write() as uow:
            current = await _webhook(uow, tenant_id, webhook_id)
            log = delivered.log(current.id, str(payload["id"]), WEBHOOK_TEST, attempt=1)
            uow.webhooks.log(log)
            if delivered.succeeded and not current.enabled:
                _enable(current, now)
            await uow.commit()
        return log

    async def deliveries(
        self, tenant_id: str, webhook_id: str, limit: int, offset: int
    ) -> DeliveryPage:
        """The endpoint's delivery attempts, newest first."""
        async with self.uows.read() as uow:
            webhook = await _webhook(uow, tenant_id, webhook_id)
            found, total = await uow.webhooks.deliveries(webhook.id, limit, offset)
        return DeliveryPage(list(found), total)


def _enable(webhook: Webhook, now: datetime) -> None:
    webhook.enabled = True
    webhook.disabled_reason = None
    webhook.failures = 0
    webhook.next_attempt_at = now
    webhook.updated_at = now


async def _webhook(uow: UnitOfWork, tenant_id: str, webhook_id: str) -> Webhook:
    webhook = await uow.webhooks.get(tenant_id, webhook_id) if looks_like_id(webhook_id) else None
    if webhook is None:
        raise NotFound("no webhook with this id", webhook_id=webhook_id)
    return webhook
