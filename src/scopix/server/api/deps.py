"""FastAPI dependencies: the services, the authenticated caller, and an upload's slot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import Headers
from starlette.types import Scope

from scopix.server.api.ratelimit import enforce
from scopix.server.domain.keys import parse_key
from scopix.server.domain.tiers import UNLIMITED
from scopix.server.services.container import Services
from scopix.server.services.keys import Principal

_bearer = HTTPBearer(auto_error=False, description="scopix_<8 alphanumerics>_<secret>")
#: where the request's authenticated caller is kept (scope["state"])
PRINCIPAL_STATE_KEY = "principal"


async def get_services(request: Request) -> Services:
    """The services wired at startup. (Async, as every dependency here: FastAPI runs a plain
    function in a worker thread, a round trip per request for one attribute read.)"""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def authenticated(services: Services, scope: Scope) -> Principal:
    """Authenticate the `Authorization: Bearer` key, check an `X-Tenant-ID` the client sent
    against it, then count the request against its tenant's rate limit (429 `RATE_LIMITED`
    when it does not fit).

    Done once per request, from the headers alone: the gate (api/gate.py) calls this before
    any body is read, and the routes' dependencies find the caller it kept.
    """
    state = scope.setdefault("state", {})
    kept = state.get(PRINCIPAL_STATE_KEY)
    if isinstance(kept, Principal):
        return kept
    headers = Headers(scope=scope)
    scheme, token = get_authorization_scheme_param(headers.get("authorization"))
    principal = await services.keys.authenticate(
        parse_key(token if scheme.lower() == "bearer" else None)
    )
    principal.claim_tenant(headers.get("x-tenant-id"))
    await enforce(
        services.rate_limiter, state, principal.tenant_id, principal.tier.requests_per_minute
    )
    state[PRINCIPAL_STATE_KEY] = principal
    return principal


async def get_principal(
    request: Request,
    services: ServicesDep,
    # Declares the bearer scheme in the OpenAPI document; `authenticated` reads the header.
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The authenticated caller (see `authenticated`)."""
    return await authenticated(services, request.scope)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def reader(principal: PrincipalDep) -> Principal:
    """A caller allowed to read."""
    principal.require("read")
    return principal


async def writer(principal: PrincipalDep) -> Principal:
    """A caller allowed to write."""
    principal.require("write")
    return principal


Reader = Annotated[Principal, Depends(reader)]
Writer = Annotated[Principal, Depends(writer)]


async def upload_slot(principal: Writer, services: ServicesDep) -> AsyncIterator[None]:
    """Hold one of the tenant's concurrent-upload slots until the request ends, however it ends:
    429 `RATE_LIMITED` (`details.reason` `concurrent_uploads`) when all are taken. An unlimited
    tier is not counted."""
    limit = principal.tier.max_concurrent_uploads
    if limit >= UNLIMITED:
        yield
        return
    async with services.upload_slots.hold(principal.tenant_id, limit):
        yield


#: For the routes that carry file bytes through the API: `dependencies=[UploadSlot]`.
UploadSlot = Depends(upload_slot)
