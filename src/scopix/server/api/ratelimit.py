"""Rate limits over HTTP: counting an authenticated request, and the `X-RateLimit-*` headers.

`enforce` runs right after authentication (in `deps.get_principal`), so only authenticated
requests count, one bucket per tenant. It leaves its decision in the request's state, and
`RateLimitHeadersMiddleware` writes the headers from it on whatever response goes out: the
route's own, or one an exception handler built (such as the 429 itself).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scopix.server.domain.errors import RateLimited
from scopix.server.domain.tiers import UNLIMITED
from scopix.server.services.ratelimit import RateDecision, RateLimiter

STATE_KEY = "rate_limit"


async def enforce(
    limiter: RateLimiter, state: dict[str, object], tenant_id: str, per_minute: int
) -> None:
    """Count one request of `tenant_id`; RateLimited when it does not fit. An unlimited tier is
    not counted and gets no headers; a request already counted (by the idempotency layer) is
    not counted again."""
    if per_minute >= UNLIMITED or STATE_KEY in state:
        return
    decision = await limiter.hit(tenant_id, per_minute)
    state[STATE_KEY] = decision
    if not decision.allowed:
        raise RateLimited(
            f"more than {decision.limit} requests a minute; retry in {decision.retry_after} s",
            limit=decision.limit,
            retry_after=decision.retry_after,
        )


def rate_limit_headers(decision: RateDecision) -> dict[str, str]:
    """The headers of a response to a counted request."""
    headers = {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(decision.reset_seconds),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(decision.retry_after)
    return headers


class RateLimitHeadersMiddleware:
    """Pure ASGI (no body buffering): adds the headers of the request's decision, if it has one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, object] = scope.setdefault("state", {})

        async def send_with_limits(message: Message) -> None:
            decision = state.get(STATE_KEY)
            if message["type"] == "http.response.start" and isinstance(decision, RateDecision):
                headers = MutableHeaders(scope=message)
                for name, value in rate_limit_headers(decision).items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_limits)
