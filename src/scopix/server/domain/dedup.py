"""What an upload of bytes the tenant already has turns into."""

from __future__ import annotations

import enum


class DedupOutcome(enum.Enum):
    """The three ways an upload can end, given what the tenant already stores."""

    NEW = "new"  # first copy of these bytes: store the blob and a file
    SHARED = "shared"  # known bytes: a new file that shares the stored blob
    SKIPPED = "skipped"  # known bytes and skip_duplicates: answer with the existing file


def dedup_outcome(
    *, live_file_exists: bool, blob_exists: bool, skip_duplicates: bool
) -> DedupOutcome:
    """Decide per API.md: skip only when asked to and a live file holds the same bytes."""
    if live_file_exists and skip_duplicates:
        return DedupOutcome.SKIPPED
    if live_file_exists or blob_exists:
        return DedupOutcome.SHARED
    return DedupOutcome.NEW
