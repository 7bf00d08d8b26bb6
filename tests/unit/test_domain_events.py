"""Events' rules: cursors, the types webhooks may ask for, history lines as events, and the
retry schedule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.errors import ValidationFailed
from scopix.server.domain.events import (
    EVENT_TYPES,
    RETRY_DELAYS,
    START,
    Position,
    event_of_history,
    event_types,
    is_success,
    parse_cursor,
    retry_delay,
)

positions = st.builds(Position, st.integers(0, 2**63 - 1), st.integers(0, 2**63 - 1))


@given(positions)
def test_a_cursor_reads_back_as_its_position(position: Position) -> None:
    assert parse_cursor(position.cursor()) == position


@given(positions, positions)
def test_positions_order_by_transaction_then_sequence(a: Position, b: Position) -> None:
    assert (a < b) == ((a.txid, a.seq) < (b.txid, b.seq))


@given(st.text(max_size=40) | st.from_regex(r"[0-9]{1,20}-[0-9]{1,20}", fullmatch=True))
def test_anything_else_is_refused_naming_the_field(raw: str) -> None:
    parts = raw.split("-")
    well_formed = len(parts) == 2 and all(
        p.isascii() and p.isdigit() and len(p) <= 19 for p in parts
    )
    if well_formed:  # past the biggest position there is nothing: it stands for that
        biggest = 2**63 - 1
        expected = Position(min(int(parts[0]), biggest), min(int(parts[1]), biggest))
        assert parse_cursor(raw) == expected
    elif raw:
        with pytest.raises(ValidationFailed) as refused:
            parse_cursor(raw)
        assert refused.value.details["field"] == "after"


def test_no_cursor_is_the_start() -> None:
    assert parse_cursor(None) == parse_cursor("") == START


def test_a_webhook_asks_for_known_types_once_each() -> None:
    assert event_types(["file.described", "file.uploaded", "file.described"]) == [
        "file.described",
        "file.uploaded",
    ]
    with pytest.raises(ValidationFailed) as unknown:
        event_types(["file.described", "file.eaten"])
    assert unknown.value.details["unknown"] == ["file.eaten"]
    with pytest.raises(ValidationFailed):
        event_types([])


def test_the_history_lines_that_are_events() -> None:
    assert event_of_history("uploaded") == "file.uploaded"
    assert event_of_history("description_succeeded") == "file.described"
    assert event_of_history("description_failed") == "file.description_failed"
    assert event_of_history("text_extraction_completed") == "document.extracted"
    assert event_of_history("video_analysis_completed") == "video.analyzed"
    assert event_of_history("crawl_completed") == "link.crawled"
    assert event_of_history("variants_ready") == "file.variants_ready"
    assert event_of_history("crawl_failed") == "link.crawl_failed"
    assert event_of_history("description_claimed") is None
    assert event_of_history("moved") is None
    mapped = {event_of_history(line) for line in ("uploaded", "deleted", "restored")}
    assert mapped <= set(EVENT_TYPES)


def test_retries_follow_the_schedule_then_stop() -> None:
    assert retry_delay(1, RETRY_DELAYS) == timedelta(seconds=5)
    assert retry_delay(len(RETRY_DELAYS), RETRY_DELAYS) == timedelta(hours=10)
    assert retry_delay(len(RETRY_DELAYS) + 1, RETRY_DELAYS) is None
    assert retry_delay(1, []) is None
    assert sum(RETRY_DELAYS, timedelta()) > timedelta(days=1)


@pytest.mark.parametrize(
    ("status", "delivered"),
    [(200, True), (204, True), (299, True), (301, False), (410, False), (500, False)],
)
def test_only_a_2xx_is_a_delivery(status: int, delivered: bool) -> None:
    assert is_success(status) is delivered
