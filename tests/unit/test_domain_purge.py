"""The purge's rules: which deleted files are due, and when a blob may go or be shared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.purge import (
    DEFAULT_PURGE_AFTER,
    MARK_LEASE,
    BlobState,
    is_abandoned,
    is_attachable,
    is_due,
    may_mark,
    purge_cutoff,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.mark.parametrize(
    ("deleted_at", "due"),
    [
        (days_ago(31), True),
        (days_ago(30) - timedelta(seconds=1), True),
        (days_ago(30), False),  # exactly the period: still recoverable
        (days_ago(29), False),
        (None, False),  # a live file is never purged
    ],
)
def test_files_deleted_over_the_period_ago_are_due(deleted_at: datetime | None, due: bool) -> None:
    assert is_due(deleted_at, purge_cutoff(NOW, DEFAULT_PURGE_AFTER)) is due


@given(
    age=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
    period=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
)
def test_a_deletion_is_due_exactly_when_older_than_the_period(
    age: timedelta, period: timedelta
) -> None:
    assert is_due(NOW - age, purge_cutoff(NOW, period)) is (age > period)


def test_a_negative_period_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        purge_cutoff(NOW, timedelta(days=-1))


@pytest.mark.parametrize(
    ("state", "referenced", "marked"),
    [
        (BlobState.LIVE, False, True),
        (BlobState.LIVE, True, False),  # a live or recoverable file still names the bytes
        (BlobState.PURGING, False, False),  # already another purge's
    ],
)
def test_only_live_bytes_no_file_names_are_marked(
    state: BlobState, referenced: bool, marked: bool
) -> None:
    assert may_mark(state, referenced) is marked


@pytest.mark.parametrize(
    ("state", "marked_at", "abandoned"),
    [
        (BlobState.PURGING, NOW - MARK_LEASE - timedelta(seconds=1), True),
        (BlobState.PURGING, NOW - MARK_LEASE, False),
        (BlobState.PURGING, NOW, False),
        (BlobState.PURGING, None, True),
        (BlobState.LIVE, None, False),
    ],
)
def test_a_mark_older_than_its_lease_is_taken_over(
    state: BlobState, marked_at: datetime | None, abandoned: bool
) -> None:
    assert is_abandoned(state, marked_at, NOW) is abandoned


def test_uploads_share_live_bytes_only() -> None:
    assert is_attachable(BlobState.LIVE)
    assert not is_attachable(BlobState.PURGING)
