"""Quota arithmetic: the monthly allowance first, then prepaid credits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from scopix.server.domain.tiers import UNLIMITED, Tier

AnalysisLevel = Literal["basic", "standard", "detailed"]

#: Credits one item costs at each analysis level: one AI description is one credit (API.md),
#: whatever the level.
CREDITS_PER_ITEM: Final[dict[AnalysisLevel, int]] = {"basic": 1, "standard": 1, "detailed": 1}


@dataclass(frozen=True)
class QuotaStanding:
    """What a tenant may still do this month."""

    requested: int
    available: int
    monthly_limit: int
    current_usage: int
    prepaid_credits: int
    max_batch_size: int
    max_concurrent_uploads: int

    @property
    def can_proceed(self) -> bool:
        """Whether `requested` descriptions fit."""
        return self.requested <= self.available

    @property
    def message(self) -> str:
        """A sentence for people."""
        if self.can_proceed:
            return f"{self.available} descriptions available"
        return (
            f"{self.requested} descriptions requested but only {self.available} available "
            f"({self.current_usage} of {self.monthly_limit} used this month, "
            f"{self.prepaid_credits} prepaid credits)"
        )


def credits_for(item_count: int, level: AnalysisLevel) -> int:
    """Credits `item_count` items analysed at `level` cost."""
    return item_count * CREDITS_PER_ITEM[level]


def billing_period(now: datetime) -> str:
    """The month a usage counter belongs to, as `YYYY-MM`."""
    return now.astimezone(UTC).strftime("%Y-%m")


def standing(
    tier: Tier, *, used: int, prepaid: int, requested: int, reserved: int = 0
) -> QuotaStanding:
    """Combine a tier, this month's usage, prepaid credits and descriptions not yet charged
    (queued or running), which hold a credit each until they complete or fail."""
    monthly_left = max(tier.monthly_descriptions - used, 0)
    available = min(max(monthly_left + max(prepaid, 0) - max(reserved, 0), 0), UNLIMITED)
    return QuotaStanding(
        requested=requested,
        available=available,
        monthly_limit=tier.monthly_descriptions,
        current_usage=used,
        prepaid_credits=prepaid,
        max_batch_size=tier.max_batch_size,
        max_concurrent_uploads=tier.max_concurrent_uploads,
    )
