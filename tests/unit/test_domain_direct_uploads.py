"""Direct-upload rules: part plans, part checks, completion claims, signed part URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.direct_uploads import (
    MAX_PARTS,
    MAX_SIZE,
    MIN_PART_SIZE,
    UNRECORDED_GRACE,
    PartPlan,
    UploadState,
    can_claim_completion,
    check_parts,
    is_leftover,
    missing_parts,
    plan_parts,
    require_active,
    upload_id_in,
    upload_key,
    valid_sha256,
)
from scopix.server.domain.errors import (
    FileTooLarge,
    InvalidSignature,
    UploadNotActive,
    UrlExpired,
    ValidationFailed,
)
from scopix.server.domain.signing import PartGrant, sign, verify

sizes = st.integers(min_value=1, max_value=MAX_SIZE)


@given(sizes)
def test_a_plan_covers_the_file_exactly_once_within_s3_limits(size: int) -> None:
    plan = plan_parts(size)
    assert plan.part_size >= MIN_PART_SIZE and plan.part_size % (1 << 20) == 0
    assert 1 <= plan.part_count <= MAX_PARTS
    spans = [plan.span(n) for n in (1, plan.part_count)]
    assert spans[0][0] == 0
    last_offset, last_length = spans[-1]
    assert 0 < last_length <= plan.part_size and last_offset + last_length == size
    assert plan.method == ("single" if size <= plan.part_size else "multipart")


def test_the_largest_files_get_larger_parts() -> None:
    assert plan_parts(3_000_000_000).part_size == 16 << 20
    assert plan_parts(MAX_SIZE).part_count <= MAX_PARTS


@pytest.mark.parametrize("size", [0, -5])
def test_empty_sizes_are_refused(size: int) -> None:
    with pytest.raises(ValidationFailed):
        plan_parts(size)


def test_more_than_five_tebibytes_is_too_large() -> None:
    with pytest.raises(FileTooLarge):
        plan_parts(MAX_SIZE + 1)


def test_part_numbers_outside_the_plan_are_refused() -> None:
    plan = PartPlan(10, 4)
    assert [plan.span(n) for n in (1, 2, 3)] == [(0, 4), (4, 4), (8, 2)]
    for number in (0, 4):
        with pytest.raises(ValidationFailed):
            plan.span(number)


@given(st.sets(st.integers(1, 12)), st.integers(1, 12))
def test_missing_parts_are_the_complement_from_first(held: set[int], first: int) -> None:
    plan = PartPlan(12 * 4 - 1, 4)
    missing = missing_parts(plan, held, first)
    assert missing == sorted(set(range(first, 13)) - held)


def test_check_parts_names_missing_and_wrong_sized_parts() -> None:
    plan = PartPlan(10, 4)
    check = check_parts(plan, [(1, 4), (3, 3), (7, 4)])
    assert (check.missing, check.wrong_size, check.complete) == ((2,), (3,), False)
    assert check_parts(plan, [(1, 4), (2, 4), (3, 2)]).complete


def test_sha256_is_normalised_or_refused() -> None:
    assert valid_sha256(None) is None
    assert valid_sha256("AB" * 32) == "ab" * 32
    with pytest.raises(ValidationFailed):
        valid_sha256("ab" * 31)


def test_only_active_uploads_take_actions() -> None:
    require_active("active")
    with pytest.raises(UploadNotActive) as info:
        require_active("aborted")
    assert info.value.details["state"] == "aborted"


segments = st.text(st.characters(blacklist_characters="/"), min_size=1, max_size=40)


@given(segments, segments)
def test_an_upload_key_gives_its_upload_id_back(tenant_id: str, upload_id: str) -> None:
    assert upload_id_in(upload_key(tenant_id, upload_id)) == upload_id


@pytest.mark.parametrize(
    "key", ["uploads/t", "uploads/t/u/x", "uploads//u", "uploads/t/", "t/ab/sha/original", ""]
)
def test_other_keys_name_no_upload(key: str) -> None:
    assert upload_id_in(key) is None


def test_only_bytes_of_finished_or_unrecorded_uploads_are_leftovers() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for state in UploadState:
        live = state in (UploadState.ACTIVE, UploadState.COMPLETING)
        assert is_leftover(state.value, now, now) is not live
    # A start stores bytes a moment before it records the upload.
    assert not is_leftover(None, now - UNRECORDED_GRACE + timedelta(seconds=1), now)
    assert is_leftover(None, now - UNRECORDED_GRACE, now)


def test_a_completion_claim_lapses_with_its_lease() -> None:
    now = datetime(2026, 11, 29, tzinfo=UTC)
    assert can_claim_completion("active", None, now)
    assert not can_claim_completion("completing", now + timedelta(seconds=1), now)
    assert can_claim_completion("completing", now - timedelta(seconds=1), now)
    assert not can_claim_completion("completed", None, now)


SECRET = b"k" * 32


@given(st.text(min_size=1, max_size=40), st.integers(1, 10_000), st.integers(0, 2**40))
def test_a_signature_binds_upload_part_and_expiry(upload: str, number: int, expires: int) -> None:
    grant = PartGrant(upload, number, expires)
    verify(SECRET, grant, sign(SECRET, grant), now=expires)
    for other in (
        PartGrant(upload + "x", number, expires),
        PartGrant(upload, number + 1, expires),
        PartGrant(upload, number, expires + 1),
    ):
        with pytest.raises(InvalidSignature):
            verify(SECRET, other, sign(SECRET, grant), now=expires)
    with pytest.raises(InvalidSignature):
        verify(b"another key".ljust(32, b"!"), grant, sign(SECRET, grant), now=expires)


@given(st.text(max_size=80))
def test_any_presented_signature_is_refused_cleanly(signature: str) -> None:
    grant = PartGrant("u", 1, 100)
    with pytest.raises(InvalidSignature):
        verify(SECRET, grant, signature + "!", now=0)


def test_an_expired_grant_is_refused() -> None:
    grant = PartGrant("u", 1, 100)
    with pytest.raises(UrlExpired):
        verify(SECRET, grant, sign(SECRET, grant), now=101)
