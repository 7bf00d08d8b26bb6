"""Idempotency-Key rules: valid keys, request signatures, and the decision on a presented key."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from scopix.server.domain.errors import ValidationFailed
from scopix.server.domain.idempotency import (
    LEASE,
    MAX_KEY_CHARS,
    RETENTION,
    Decision,
    KeyRecord,
    decide,
    is_final,
    replayed_headers,
    request_signature,
    retry_after,
    upload_ref,
    validate_key,
)

PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
SIG = "a" * 64

valid_keys = st.text(PRINTABLE, min_size=1, max_size=MAX_KEY_CHARS).filter(
    lambda k: k == k.strip(" ")
)
offsets = st.floats(min_value=-7 * 86400, max_value=7 * 86400, allow_nan=False)


def record(
    state: str = "running",
    *,
    signature: str = SIG,
    locked_for: float = 10.0,
    expires_in: float = 3600.0,
) -> KeyRecord:
    return KeyRecord(
        state=state,
        request_signature=signature,
        locked_until=NOW + timedelta(seconds=locked_for),
        expires_at=NOW + timedelta(seconds=expires_in),
    )


@given(valid_keys)
def test_printable_ascii_keys_are_accepted_unchanged(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    ["", " ", " lead", "trail ", "x" * (MAX_KEY_CHARS + 1), "tab\there", "naïve", "line\nbreak"],
)
def test_bad_keys_name_the_header(key: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_key(key)
    assert caught.value.details["field"] == "Idempotency-Key"


@given(st.text(min_size=1, max_size=20))
def test_keys_with_anything_outside_printable_ascii_are_refused(key: str) -> None:
    assume(any(ch not in string.printable or ch in "\t\n\r\x0b\x0c" for ch in key))
    with pytest.raises(ValidationFailed):
        validate_key(key)


def test_longest_key_is_accepted() -> None:
    assert validate_key("k" * MAX_KEY_CHARS) == "k" * MAX_KEY_CHARS


fields = st.tuples(
    st.sampled_from(["POST", "PUT", "PATCH", "DELETE"]),
    st.text(PRINTABLE, max_size=30),
    st.text(PRINTABLE, max_size=30),
    st.none() | st.text(PRINTABLE, max_size=30),
    st.none() | st.text(string.digits, min_size=1, max_size=10),
)


@given(fields, fields)
def test_signatures_differ_exactly_when_the_requests_do(a: tuple, b: tuple) -> None:  # type: ignore[type-arg]
    same = request_signature(*a) == request_signature(*b)
    # an absent header and an empty one are the same request
    assert same == (tuple(v or "" for v in a) == tuple(v or "" for v in b))
    assert re.fullmatch(r"[0-9a-f]{64}", request_signature(*a))


def test_signature_fields_do_not_run_together() -> None:
    assert request_signature("POST", "/a", "b", None, None) != request_signature(
        "POST", "/ab", "", None, None
    )


def test_no_record_is_new() -> None:
    assert decide(None, SIG, NOW).decision is Decision.NEW


@given(st.sampled_from(["running", "done"]), offsets, st.floats(max_value=0, min_value=-1e6))
def test_a_record_past_retention_is_as_good_as_none(
    state: str, locked_for: float, expired_since: float
) -> None:
    stale = record(state, locked_for=locked_for, expires_in=expired_since)
    assert decide(stale, SIG, NOW).decision is Decision.NEW
    assert decide(stale, "b" * 64, NOW).decision is Decision.NEW


@given(st.sampled_from(["running", "done"]), offsets)
def test_another_request_under_the_key_is_a_mismatch(state: str, locked_for: float) -> None:
    verdict = decide(record(state, locked_for=locked_for), "b" * 64, NOW)
    assert verdict.decision is Decision.MISMATCH


@given(offsets)
def test_a_finished_request_is_replayed(locked_for: float) -> None:
    assert decide(record("done", locked_for=locked_for), SIG, NOW).decision is Decision.REPLAY


@given(st.floats(min_value=1e-6, max_value=LEASE.total_seconds()))
def test_a_live_lease_is_busy_until_it_ends(locked_for: float) -> None:
    verdict = decide(record("running", locked_for=locked_for), SIG, NOW)
    assert verdict.decision is Decision.BUSY
    assert 1 <= verdict.retry_after_s <= LEASE.total_seconds()
    assert NOW + timedelta(seconds=verdict.retry_after_s) >= NOW + timedelta(seconds=locked_for)


@given(st.floats(min_value=-RETENTION.total_seconds(), max_value=0))
def test_a_lapsed_lease_is_taken_over(locked_for: float) -> None:
    verdict = decide(record("running", locked_for=locked_for), SIG, NOW)
    assert verdict.decision is Decision.TAKE_OVER


@given(st.floats(min_value=0, max_value=1e5))
def test_retry_after_is_whole_seconds_covering_the_lease(left: float) -> None:
    seconds = retry_after(NOW + timedelta(seconds=left), NOW)
    assert seconds >= 1
    assert seconds >= left
    assert seconds < max(left, 1) + 1


@given(st.integers(min_value=100, max_value=599))
def test_only_final_answers_are_kept(status: int) -> None:
    assert is_final(status) == (status < 500 and status not in (409, 429))


def test_replays_repeat_only_content_type_and_location() -> None:
    kept = replayed_headers(
        [
            ("Content-Type", "application/json"),
            ("Location", "/x"),
            ("X-Request-ID", "req_1"),
            ("X-RateLimit-Remaining", "3"),
        ]
    )
    assert kept == {"content-type": "application/json", "location": "/x"}


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10_000))
def test_upload_refs_name_one_position_of_one_record(a: int, b: int) -> None:
    record_id = "0190c1d2-0000-7000-8000-000000000000"
    assert (upload_ref(record_id, a) == upload_ref(record_id, b)) == (a == b)
    assert len(upload_ref(record_id, a)) <= 80
