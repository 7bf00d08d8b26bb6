"""When deleted files are purged for good, and when their bytes may go with them.

A deleted file stays recoverable for `purge_after`; after that its rows are removed. Its blob
(the bytes, shared by every file of the same content) goes only when no file row refers to it
any more, live or still recoverable. A blob is first marked `purging` under its row lock, then
its bytes are deleted, then its row: an upload that meets a `purging` blob stores the bytes
anew instead of attaching to bytes about to vanish.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

#: How long a deleted file stays recoverable before it is purged (API.md: 30 days).
DEFAULT_PURGE_AFTER: Final = timedelta(days=30)
#: A purge deletes one blob's bytes and then its row within seconds. A mark older than this
#: was left by a purge that died in between, and the next purge finishes that blob's removal.
MARK_LEASE: Final = timedelta(minutes=5)


class BlobState(StrEnum):
    """Whether uploads may share a blob's bytes."""

    LIVE = "live"
    PURGING = "purging"


def purge_cutoff(now: datetime, older_than: timedelta) -> datetime:
    """Files deleted before this instant are due for purging."""
    if older_than < timedelta(0):
        raise ValueError("older_than must not be negative")
    return now - older_than


def is_due(deleted_at: datetime | None, cutoff: datetime) -> bool:
    """Whether a file is due: deleted, and before the cutoff (a live file never is)."""
    return deleted_at is not None and deleted_at < cutoff


def may_mark(state: str, referenced: bool) -> bool:
    """Whether a purge may mark a blob for removal: live, and no file row names it."""
    return state == BlobState.LIVE and not referenced


def is_abandoned(state: str, purge_started_at: datetime | None, now: datetime) -> bool:
    """Whether a blob was marked by a purge that never finished, so another purge takes over."""
    if state != BlobState.PURGING:
        return False
    return purge_started_at is None or purge_started_at < now - MARK_LEASE


def is_attachable(state: str) -> bool:
    """Whether a new file may share a stored blob's bytes (not while they are being removed)."""
    return state == BlobState.LIVE
