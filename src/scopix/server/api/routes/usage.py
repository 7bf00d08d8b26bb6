"""Usage: whether planned work fits in the tenant's credits."""

from __future__ import annotations

from fastapi import APIRouter

from scopix.server.api.deps import Reader, ServicesDep
from scopix.server.api.schemas import ErrorEnvelope, UsageCheckIn, UsageCheckOut
from scopix.server.domain.quota import credits_for

router = APIRouter(tags=["usage"], responses={"default": {"model": ErrorEnvelope}})


@router.post("/usage/check", response_model=UsageCheckOut)
async def usage_check(
    body: UsageCheckIn, principal: Reader, services: ServicesDep
) -> UsageCheckOut:
    """Whether `item_count` items at `analysis_level` fit in the tenant's credits (the monthly
    allowance left plus prepaid credits); nothing is reserved or charged."""
    needed = credits_for(body.item_count, body.analysis_level)
    s = await services.quota.check(principal.tenant_id, needed)
    if s.can_proceed:
        message = f"{needed} credits needed, {s.available} available"
    else:
        message = (
            f"{needed} credits needed but only {s.available} available "
            f"({s.current_usage} of {s.monthly_limit} used this month, "
            f"{s.prepaid_credits} prepaid credits)"
        )
    return UsageCheckOut(can_proceed=s.can_proceed, available_credits=s.available, message=message)
