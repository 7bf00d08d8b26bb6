"""Event and webhook types: what happened to a tenant's files, and the endpoints told of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scopix.types._parse import build, parse_datetime

__all__ = ["Event", "EventPage", "Webhook", "WebhookDelivery", "WebhookDeliveryList"]


@dataclass(frozen=True)
class Event:
    """Something that happened (the Standard Webhooks payload): ``type`` such as
    ``file.described``, ``data`` with the ``file_id`` it is about, and an ``id`` that is the
    same however often it is delivered."""

    id: str
    type: str
    timestamp: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        """Parse an event of ``GET /events`` or of a webhook delivery's body."""
        return cls(
            id=str(data["id"]),
            type=str(data["type"]),
            timestamp=parse_datetime(data.get("timestamp")),
            data=dict(data.get("data") or {}),
        )


@dataclass(frozen=True)
class EventPage:
    """Events in order, and the cursor to read on from (the same one when none came)."""

    items: list[Event]
    next_cursor: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventPage:
        """Parse ``GET /events``."""
        return cls(
            items=[Event.from_dict(e) for e in data.get("items") or []],
            next_cursor=str(data.get("next_cursor") or ""),
        )


@dataclass(frozen=True)
class Webhook:
    """An endpoint that gets the events it names; ``secret`` (``whsec_`` + base64, to verify
    ``webhook-signature``) is only in the answer to ``create``. ``disabled_reason`` says why
    deliveries stopped when they did."""

    id: str
    url: str
    events: list[str] = field(default_factory=list)
    enabled: bool = True
    disabled_reason: str | None = None
    secret: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Webhook:
        """Parse the server's JSON; unknown keys are ignored."""
        return build(cls, data, events=list, created_at=parse_datetime, updated_at=parse_datetime)


@dataclass(frozen=True)
class WebhookDelivery:
    """One attempt to deliver one event: a 2xx ``status_code`` succeeded."""

    id: str
    event_id: str
    event_type: str
    attempt: int = 1
    succeeded: bool = False
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0
    created_at: datetime | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WebhookDelivery:
        """Parse the server's JSON; unknown keys are ignored."""
        return build(cls, data, created_at=parse_datetime)


@dataclass(frozen=True)
class WebhookDeliveryList:
    """A page of an endpoint's delivery attempts, newest first."""

    items: list[WebhookDelivery] = field(default_factory=list)
    total_count: int = 0
    has_more: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WebhookDeliveryList:
        """Parse ``GET /webhooks/{id}/deliveries``."""
        return cls(
            items=[WebhookDelivery.from_dict(d) for d in data.get("items") or []],
            total_count=int(data.get("total_count") or 0),
            has_more=bool(data.get("has_more")),
        )
