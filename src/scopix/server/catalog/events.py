"""The events outbox, its readers, and the webhooks that deliver it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Table,
    Text,
    cast,
    delete,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from scopix.server.catalog.models import Event, Webhook, WebhookDelivery
from scopix.server.domain.events import Position
from scopix.server.domain.ids import new_id


class EventRepository:
    """Events are recorded as a transaction goes and written when it commits (UnitOfWork), in
    the order recorded."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._pending: list[dict[str, Any]] = []

    def record(
        self,
        tenant_id: str,
        type_: str,
        at: datetime,
        data: dict[str, Any],
        file_id: str | None = None,
    ) -> None:
        self._pending.append(
            {
                "id": new_id(),
                "tenant_id": tenant_id,
                "type": type_,
                "file_id": file_id,
                "data": data,
                "created_at": at,
            }
        )

    async def write(self) -> None:
        """Insert the recorded events, each with its transaction's position (Event)."""
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        table = Event.__table__
        assert isinstance(table, Table)
        await self.session.execute(insert(table).values(txid=self._txid()), rows)

    async def after(
        self, tenant_id: str, position: Position, limit: int, types: Sequence[str] | None = None
    ) -> Sequence[Event]:
        """The tenant's events after `position` that are safe to hand out, oldest first: on
        PostgreSQL, only those of transactions older than any still running, so one that
        commits later never lands behind what a reader has seen."""
        listed = select(Event).where(
            Event.tenant_id == tenant_id,
            tuple_(Event.txid, Event.seq) > tuple_(position.txid, position.seq),
        )
        if types is not None:
            listed = listed.where(Event.type.in_(types))
        if self._on_postgres():
            listed = listed.where(
                Event.txid < _pg_xid(func.pg_snapshot_xmin(func.pg_current_snapshot()))
            )
        found = await self.session.scalars(listed.order_by(Event.txid, Event.seq).limit(limit))
        return found.all()

    async def expire(self, before: datetime) -> int:
        """Forget events written before `before`; how many."""
        gone = await self.session.execute(
            delete(Event)
            .where(Event.created_at < before)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(gone, "rowcount", 0) or 0)

    async def head(self, tenant_id: str) -> Position:
        """A position before every event not committed yet and after those committed so far;
        on PostgreSQL, events of transactions still running when this one began may come
        after it although committed since: read again, never missed."""
        if self._on_postgres():
            oldest_running = func.pg_snapshot_xmin(func.pg_current_snapshot())
            txid = await self.session.scalar(select(_pg_xid(oldest_running)))
            return Position(int(txid or 0), 0)
        last = await self.session.scalar(
            select(func.max(Event.seq)).where(Event.tenant_id == tenant_id)
        )
        return Position(0, int(last or 0))

    def _txid(self) -> ColumnElement[int]:
        if self._on_postgres():
            return _pg_xid(func.pg_current_xact_id())
        return cast(0, BigInteger)

    def _on_postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"


def event_payload(event: Event) -> dict[str, Any]:
    """An event as it is sent: the Standard Webhooks payload shape."""
    return {
        "id": event.id,
        "type": event.type,
        "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }


def _pg_xid(xid8: ColumnElement[Any]) -> ColumnElement[int]:
    return cast(cast(xid8, Text), BigInteger)


class WebhookRepository:
    """A tenant's webhook endpoints and their delivery logs."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, webhook: Webhook) -> None:
        self.session.add(webhook)

    async def get(self, tenant_id: str, webhook_id: str) -> Webhook | None:
        webhook = await self.session.get(Webhook, webhook_id)
        return webhook if webhook is not None and webhook.tenant_id == tenant_id else None

    async def of_tenant(self, tenant_id: str) -> Sequence[Webhook]:
        found = await self.session.scalars(
            select(Webhook).where(Webhook.tenant_id == tenant_id).order_by(Webhook.id)
        )
        return found.all()

    async def remove(self, webhook: Webhook) -> None:
        await self.session.delete(webhook)

    async def due(self, now: datetime, limit: int) -> Sequence[str]:
        """Enabled endpoints whose next attempt is due and that no live lease holds."""
        found = await self.session.scalars(
            select(Webhook.id)
            .where(
                Webhook.enabled.is_(True),
                Webhook.next_attempt_at <= now,
                (Webhook.lease_expires_at.is_(None)) | (Webhook.lease_expires_at < now),
            )
            .order_by(Webhook.next_attempt_at)
            .limit(limit)
        )
        return found.all()

    async def lease(self, webhook_id: str, token: str, now: datetime, until: datetime) -> bool:
        """Take the endpoint for one delivery unless another deliverer holds it."""
        taken = await self.session.execute(
            update(Webhook)
            .where(
                Webhook.id == webhook_id,
                Webhook.enabled.is_(True),
                (Webhook.lease_expires_at.is_(None)) | (Webhook.lease_expires_at < now),
            )
            .values(lease_token=token, lease_expires_at=until)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(taken, "rowcount", 0) == 1)

    async def held(self, webhook_id: str, token: str) -> Webhook | None:
        """The endpoint, locked, while `token` is still its lease."""
        return await self.session.scalar(
            select(Webhook)
            .where(Webhook.id == webhook_id, Webhook.lease_token == token)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    def log(self, delivery: WebhookDelivery) -> None:
        self.session.add(delivery)

    async def expire_log(self, before: datetime) -> None:
        await self.session.execute(
            delete(WebhookDelivery)
            .where(WebhookDelivery.created_at < before)
            .execution_options(synchronize_session=False)
        )

    async def deliveries(
        self, webhook_id: str, limit: int, offset: int
    ) -> tuple[Sequence[WebhookDelivery], int]:
        listed = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
        found = await self.session.scalars(
            listed.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
            .limit(limit)
            .offset(offset)
        )
        total = await self.session.scalar(listed.with_only_columns(func.count()).order_by(None))
        return found.all(), int(total or 0)
