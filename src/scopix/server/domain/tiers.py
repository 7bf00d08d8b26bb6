"""Service tiers and what each allows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from scopix.server.domain.errors import ValidationFailed

#: Stands for "no limit" where the API needs a number.
UNLIMITED: Final = 2**31 - 1

GiB: Final = 1024**3
TiB: Final = 1024 * GiB


@dataclass(frozen=True)
class Tier:
    """Limits of one tier."""

    name: str
    requests_per_minute: int
    max_concurrent_uploads: int
    max_batch_size: int
    monthly_descriptions: int
    #: bytes of stored originals the tenant may keep; None: no limit
    storage_bytes: int | None


TIERS: Final[dict[str, Tier]] = {
    t.name: t
    for t in (
        Tier("free", 10, 10, 10, 10, 1 * GiB),
        Tier("starter", 30, 20, 50, 500, 50 * GiB),
        Tier("professional", 100, 30, 100, 2_500, 500 * GiB),
        Tier("enterprise", 500, 50, 200, 10_000, 5 * TiB),
        Tier("custom", UNLIMITED, UNLIMITED, 10_000, UNLIMITED, None),
    )
}


def tier_named(name: str) -> Tier:
    """The tier called `name`, or a validation error listing the real ones."""
    try:
        return TIERS[name]
    except KeyError:
        raise ValidationFailed(
            f"unknown tier {name!r}", field="tier", allowed=sorted(TIERS)
        ) from None
