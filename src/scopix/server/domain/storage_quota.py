"""Storage quotas and the free-disk guard: arithmetic on byte counts, no I/O.

A tenant's stored bytes are the sizes of its originals, each counted once however many files
share it. An upload reserves its bytes before they are kept and gives them back when it fails;
`after_reserve` and `after_release` are the rules the catalog's counter follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from scopix.server.domain.errors import InsufficientStorage, QuotaExceeded
from scopix.server.domain.tiers import GiB, Tier

#: The disk keeps at least this much free whatever its size...
MIN_FREE_DISK_FLOOR: Final = 1 * GiB
#: ...and at least this share of its size (one twentieth: 5 %).
MIN_FREE_DISK_DIVISOR: Final = 20

#: How long an upload's reservation holds room before it counts as left by a dead process and
#: is reclaimed: far longer than keeping one upload's bytes takes. An upload that still
#: finishes later is counted then.
RESERVATION_LEASE: Final = timedelta(hours=1)


@dataclass(frozen=True)
class StorageStanding:
    """A tenant's stored bytes against its quota; `limit` None means no limit."""

    used: int
    limit: int | None

    @property
    def available(self) -> int | None:
        """Bytes that still fit, None when there is no limit."""
        if self.limit is None:
            return None
        return max(self.limit - self.used, 0)

    def fits(self, nbytes: int) -> bool:
        """Whether `nbytes` more bytes stay within the quota."""
        return after_reserve(self.used, self.limit, nbytes) is not None


def storage_limit(tier: Tier, overrides: Mapping[str, int | None]) -> int | None:
    """A tier's byte quota: the settings' override for that tier when there is one."""
    if tier.name in overrides:
        return overrides[tier.name]
    return tier.storage_bytes


def after_reserve(used: int, limit: int | None, nbytes: int) -> int | None:
    """The stored-bytes count once `nbytes` more are reserved, or None when they do not fit."""
    if nbytes < 0:
        raise ValueError("a reservation is a number of bytes, not a refund")
    if limit is not None and used + nbytes > limit:
        return None
    return used + nbytes


def after_release(used: int, nbytes: int) -> int:
    """The stored-bytes count once `nbytes` are given back; never below zero, so a release the
    count no longer holds (counted before a restore, say) cannot make room that is not there."""
    if nbytes < 0:
        raise ValueError("a release is a number of bytes, not a charge")
    return max(used - nbytes, 0)


def over_quota(standing: StorageStanding, nbytes: int) -> QuotaExceeded:
    """The refusal of an upload of `nbytes` that does not fit."""
    return QuotaExceeded(
        f"storing {nbytes:,} more bytes would exceed the storage quota: {standing.used:,} of "
        f"{standing.limit:,} bytes are used; delete files or move to a larger tier",
        quota="storage",
        requested=nbytes,
        available=standing.available,
        limit=standing.limit,
    )


def min_free_disk(total: int, override: int | None = None) -> int:
    """Bytes the data disk keeps free: max(1 GiB, 5 %) of its size unless settings say."""
    if override is not None:
        return override
    return max(MIN_FREE_DISK_FLOOR, total // MIN_FREE_DISK_DIVISOR)


def check_disk_room(free: int, total: int, incoming: int, override: int | None = None) -> None:
    """Refuse `incoming` more bytes when they would leave the disk under its free minimum."""
    if free - incoming < min_free_disk(total, override):
        raise InsufficientStorage(
            "the server is running out of disk space; nothing was stored. Try again later "
            "or ask its operator"
        )
