"""The description status machine: every (status, event) pair, and random walks through it."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from scopix.server.domain.status import (
    TRANSITIONS,
    DescriptionEvent,
    IllegalTransition,
    can_request,
    initial_status,
    is_active,
    next_status,
)
from scopix.types.describe import DescriptionStatus

S = DescriptionStatus
E = DescriptionEvent

# Written out from the brief and API.md, independently of the module's table.
EXPECTED: dict[tuple[S, E], S] = {
    (S.PENDING, E.REQUESTED): S.QUEUED,
    (S.COMPLETED, E.REQUESTED): S.QUEUED,
    (S.FAILED, E.REQUESTED): S.QUEUED,
    (S.QUEUED, E.CLAIMED): S.PROCESSING,
    (S.PROCESSING, E.SUCCEEDED): S.COMPLETED,
    (S.PROCESSING, E.RETRY_SCHEDULED): S.QUEUED,
    (S.PROCESSING, E.LEASE_EXPIRED): S.QUEUED,
    (S.PROCESSING, E.FAILED): S.FAILED,
    (S.QUEUED, E.FAILED): S.FAILED,
    (S.PENDING, E.SKIPPED): S.SKIPPED,
    (S.QUEUED, E.SKIPPED): S.SKIPPED,
}

ALL_PAIRS = list(itertools.product(S, E))


@pytest.mark.parametrize(("current", "event"), ALL_PAIRS, ids=lambda x: x.value)
def test_every_pair_matches_the_expected_table(current: S, event: E) -> None:
    if (current, event) in EXPECTED:
        assert next_status(current, event) is EXPECTED[(current, event)]
    else:
        with pytest.raises(IllegalTransition) as info:
            next_status(current, event)
        assert info.value.current is current
        assert info.value.event is event
        assert current.value in str(info.value)
        assert event.value in str(info.value)


def test_module_table_is_exactly_the_expected_one() -> None:
    assert dict(TRANSITIONS) == EXPECTED


def test_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[(S.SKIPPED, E.REQUESTED)] = S.QUEUED  # type: ignore[index]


def test_event_values_are_stable() -> None:
    # The values end up in logs and processing history; renaming one is a contract change.
    assert {e.value for e in E} == {
        "requested",
        "claimed",
        "succeeded",
        "retry_scheduled",
        "lease_expired",
        "failed",
        "skipped",
    }


def test_skipped_is_final() -> None:
    for event in E:
        with pytest.raises(IllegalTransition):
            next_status(S.SKIPPED, event)


def test_illegal_transition_is_an_exception() -> None:
    error = IllegalTransition(S.PENDING, E.SUCCEEDED)
    assert isinstance(error, Exception)
    assert str(error) == "description event 'succeeded' is not allowed in status 'pending'"


@pytest.mark.parametrize(
    ("auto_describe", "describable", "expected"),
    [
        (True, True, S.QUEUED),
        (False, True, S.PENDING),
        (True, False, S.SKIPPED),
        (False, False, S.SKIPPED),
    ],
)
def test_initial_status(auto_describe: bool, describable: bool, expected: S) -> None:
    assert initial_status(auto_describe=auto_describe, describable=describable) is expected


@pytest.mark.parametrize("current", list(S), ids=lambda s: s.value)
def test_can_request(current: S) -> None:
    assert can_request(current) is (current in {S.PENDING, S.COMPLETED, S.FAILED})
    # The predicate and the table never disagree: requesting works exactly when allowed.
    assert can_request(current) is ((current, E.REQUESTED) in TRANSITIONS)


@pytest.mark.parametrize("current", list(S), ids=lambda s: s.value)
def test_is_active(current: S) -> None:
    assert is_active(current) is (current in {S.QUEUED, S.PROCESSING})


def test_active_and_requestable_are_disjoint() -> None:
    # 409 while queued or running (API.md), so no status is both.
    assert not any(is_active(s) and can_request(s) for s in S)


def test_every_status_is_reachable_from_an_initial_status() -> None:
    starts = {
        initial_status(auto_describe=a, describable=d) for a in (True, False) for d in (True, False)
    }
    seen = set(starts)
    frontier = list(starts)
    while frontier:
        current = frontier.pop()
        for (source, _), target in TRANSITIONS.items():
            if source is current and target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(S)


class StatusWalk(RuleBasedStateMachine):
    """Random event sequences from a fresh file; illegal events must change nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.status = S.PENDING
        self.history: list[S] = []

    @initialize(auto_describe=st.booleans(), describable=st.booleans())
    def start(self, auto_describe: bool, describable: bool) -> None:
        self.status = initial_status(auto_describe=auto_describe, describable=describable)
        self.history = [self.status]

    @rule(event=st.sampled_from(E))
    def apply(self, event: E) -> None:
        before = self.status
        try:
            after = next_status(before, event)
        except IllegalTransition as error:
            assert (before, event) not in EXPECTED
            assert (error.current, error.event) == (before, event)
            return
        self._check_step(before, event, after)
        self.status = after
        self.history.append(after)

    @staticmethod
    def _check_step(before: S, event: E, after: S) -> None:
        assert (before, event) in EXPECTED
        if after is S.COMPLETED:
            assert before is S.PROCESSING, "completed only through processing"
        if after is S.PROCESSING:
            assert before is S.QUEUED, "a worker claims only queued work"
        if after is S.FAILED:
            assert before in {S.QUEUED, S.PROCESSING}, "never failed straight from pending"
        if after is S.QUEUED:
            assert event is E.REQUESTED or before is S.PROCESSING
        if event is E.REQUESTED:
            assert can_request(before)
        if before is S.SKIPPED:
            raise AssertionError("skipped is final")

    @invariant()
    def history_is_consistent(self) -> None:
        assert self.history[-1] is self.status
        for earlier, later in itertools.pairwise(self.history):
            if later is S.COMPLETED:
                assert earlier is S.PROCESSING
            if later is S.FAILED:
                assert earlier is not S.PENDING
        if S.SKIPPED in self.history:
            assert self.history[-1] is S.SKIPPED

    @invariant()
    def predicates_agree(self) -> None:
        assert not (is_active(self.status) and can_request(self.status))
        assert is_active(self.status) is (self.status in {S.QUEUED, S.PROCESSING})


StatusWalk.TestCase.settings = settings(max_examples=200, stateful_step_count=40)
test_status_walk = StatusWalk.TestCase
