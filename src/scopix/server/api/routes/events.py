"""Events: what happened to a tenant's files, by long-poll or server-sent events, and the
webhook endpoints they are delivered to."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from scopix.server.api.deps import Reader, ServicesDep, Writer
from scopix.server.api.schemas import (
    ErrorEnvelope,
    EventPageOut,
    WebhookCreatedOut,
    WebhookDeliveryListOut,
    WebhookDeliveryOut,
    WebhookIn,
    WebhookListOut,
    WebhookOut,
)
from scopix.server.catalog.events import event_payload
from scopix.server.catalog.models import Webhook, WebhookDelivery
from scopix.server.domain.events import AFTER_PATTERN, NOW, Position, parse_cursor
from scopix.server.domain.listing import MAX_OFFSET
from scopix.server.services.events import EventService
from scopix.server.services.webhooks import MAX_DELIVERY_PAGE

router = APIRouter(tags=["events"], responses={"default": {"model": ErrorEnvelope}})

MAX_WAIT_SECONDS = 30
#: an idle event stream sends a comment this often, so proxies keep it open
KEEPALIVE_SECONDS = 15.0
_STREAM = "text/event-stream"


@router.get(
    "/events",
    response_model=EventPageOut,
    responses={200: {"content": {_STREAM: {"schema": {"type": "string"}}}}},
)
async def events(
    request: Request,
    principal: Reader,
    services: ServicesDep,
    after: Annotated[
        str | None,
        Query(
            pattern=AFTER_PATTERN,
            description="a `next_cursor` (or an SSE `id:`), or `now`; none: the oldest event kept",
        ),
    ] = None,
    wait_seconds: Annotated[
        float,
        Query(
            alias="timeout", ge=0, le=MAX_WAIT_SECONDS, description="seconds to wait for an event"
        ),
    ] = 25,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    """The tenant's events after `after`, oldest first: answered as soon as there is one, or
    with none at `timeout` (`after=now`: those that happen from now on). With `Accept:
    text/event-stream`, a stream of them that does not end (each event's `id:` is its
    cursor; a reconnection's `Last-Event-ID` resumes)."""
    tenant_id = principal.tenant_id
    if accept is not None and _STREAM in accept:
        # A reconnecting EventSource sends the last `id:` it saw; ours are cursors.
        start = await _start(
            services.events, tenant_id, after or request.headers.get("last-event-id")
        )
        stream = _sse(services.events, tenant_id, start)
        return StreamingResponse(stream, media_type=_STREAM, headers=_NO_BUFFERING)
    start = await _start(services.events, tenant_id, after)
    page = await services.events.wait(tenant_id, start, wait_seconds)
    return EventPageOut.model_validate({"items": page.items, "next_cursor": page.next_cursor})


_NO_BUFFERING = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


async def _start(events: EventService, tenant_id: str, after: str | None) -> Position:
    return await events.head(tenant_id) if after == NOW else parse_cursor(after)


async def _sse(events: EventService, tenant_id: str, start: Any) -> AsyncIterator[bytes]:
    yield b"retry: 1000\n\n"
    quiet_since = anyio.current_time()
    async for item in events.follow(tenant_id, start):
        if item is None:
            if anyio.current_time() - quiet_since >= KEEPALIVE_SECONDS:
                quiet_since = anyio.current_time()
                yield b": keep-alive\n\n"
            continue
        cursor, event = item
        quiet_since = anyio.current_time()
        body = json.dumps(event_payload(event), separators=(",", ":"), ensure_ascii=False)
        yield f"id: {cursor}\nevent: {event.type}\ndata: {body}\n\n".encode()


@router.post("/webhooks", response_model=WebhookCreatedOut, status_code=201)
async def create_webhook(
    body: WebhookIn, principal: Writer, services: ServicesDep
) -> WebhookCreatedOut:
    """Register an endpoint for the events it names; it gets those written from now on. The
    answer holds its signing secret, which no later answer shows."""
    webhook = await services.webhooks.create(principal.tenant_id, body.url, body.events)
    return WebhookCreatedOut(**_fields(webhook), secret=webhook.secret)


@router.get("/webhooks", response_model=WebhookListOut)
async def list_webhooks(principal: Reader, services: ServicesDep) -> WebhookListOut:
    webhooks = await services.webhooks.list(principal.tenant_id)
    return WebhookListOut(items=[WebhookOut(**_fields(w)) for w in webhooks])


@router.delete("/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: str, principal: Writer, services: ServicesDep) -> Response:
    await services.webhooks.delete(principal.tenant_id, webhook_id)
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/test", response_model=WebhookDeliveryOut)
async def test_webhook(
    webhook_id: str, principal: Writer, services: ServicesDep
) -> WebhookDeliveryOut:
    """Send a signed `webhook.test` event now and answer how it went; a disabled endpoint
    that accepts it is enabled again, from the event it stopped at."""
    return _delivery(await services.webhooks.test(principal.tenant_id, webhook_id))


@router.get("/webhooks/{webhook_id}/deliveries", response_model=WebhookDeliveryListOut)
async def webhook_deliveries(
    webhook_id: str,
    principal: Reader,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_DELIVERY_PAGE)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> WebhookDeliveryListOut:
    """The endpoint's delivery attempts, newest first."""
    page = await services.webhooks.deliveries(principal.tenant_id, webhook_id, limit, offset)
    return WebhookDeliveryListOut(
        items=[_delivery(d) for d in page.items],
        total_count=page.total_count,
        has_more=offset + len(page.items) < page.total_count,
        limit=limit,
        offset=offset,
    )


def _fields(webhook: Webhook) -> dict[str, Any]:
    return {
        "id": webhook.id,
        "url": webhook.url,
        "events": webhook.events,
        "enabled": webhook.enabled,
        "disabled_reason": webhook.disabled_reason,
        "created_at": webhook.created_at,
        "updated_at": webhook.updated_at,
    }


def _delivery(delivery: WebhookDelivery) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        attempt=delivery.attempt,
        succeeded=delivery.succeeded,
        status_code=delivery.status_code,
        error=delivery.error,
        duration_ms=delivery.duration_ms,
        created_at=delivery.created_at,
    )
