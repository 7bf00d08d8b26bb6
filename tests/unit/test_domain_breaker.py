"""The provider circuit breaker: worked examples, then random call sequences against a model."""

from __future__ import annotations

import math

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from scopix.server.domain.breaker import BreakerState, CircuitBreaker

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


def _tripped(threshold: int = 3, reset: float = 10.0, cap: float = 80.0) -> CircuitBreaker:
    """A breaker that tripped at t=0."""
    breaker = CircuitBreaker(
        failure_threshold=threshold, reset_timeout_s=reset, max_reset_timeout_s=cap
    )
    for _ in range(threshold):
        breaker.record_failure(0.0)
    return breaker


# --- construction ---------------------------------------------------------------------------


def test_defaults() -> None:
    breaker = CircuitBreaker()
    assert breaker.failure_threshold == 5
    assert breaker.base_reset_timeout_s == breaker.reset_timeout_s == 30.0
    assert breaker.max_reset_timeout_s == 300.0
    assert breaker.state(0.0) is CLOSED
    assert breaker.consecutive_failures == 0


def test_state_values_are_stable() -> None:
    assert [s.value for s in BreakerState] == ["closed", "open", "half_open"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"failure_threshold": 0},
        {"reset_timeout_s": -1.0},
        {"reset_timeout_s": math.nan},
        {"reset_timeout_s": 50.0, "max_reset_timeout_s": 10.0},
        {"max_reset_timeout_s": math.inf},
        {"trial_timeout_s": 0.0},
        {"trial_timeout_s": math.nan},
    ],
)
def test_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(**kwargs)  # type: ignore[arg-type]


# --- closed -> open -------------------------------------------------------------------------


def test_closed_lets_everything_through() -> None:
    breaker = CircuitBreaker(failure_threshold=3)
    assert all(breaker.allow(float(t)) for t in range(100))
    assert breaker.retry_at(5.0) is None


def test_trips_after_exactly_threshold_consecutive_failures() -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout_s=10.0)
    breaker.record_failure(1.0)
    breaker.record_failure(2.0)
    assert breaker.state(2.0) is CLOSED
    assert breaker.consecutive_failures == 2
    breaker.record_failure(3.0)
    assert breaker.state(3.0) is OPEN
    assert not breaker.allow(3.0)
    assert breaker.retry_at(3.0) == 13.0


def test_a_success_in_between_resets_the_count() -> None:
    breaker = CircuitBreaker(failure_threshold=3)
    for t in range(10):
        breaker.record_failure(float(t))
        breaker.record_failure(float(t))
        breaker.record_success(float(t))
    assert breaker.state(10.0) is CLOSED
    assert breaker.consecutive_failures == 0


def test_threshold_of_one_trips_on_the_first_failure() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=5.0)
    breaker.record_failure(0.0)
    assert breaker.state(0.0) is OPEN


# --- open -> half-open -> closed / open -----------------------------------------------------


def test_open_refuses_until_the_reset_timeout_then_lets_one_trial_through() -> None:
    breaker = _tripped(reset=10.0)
    assert not breaker.allow(9.999)
    assert breaker.state(9.999) is OPEN
    assert breaker.state(10.0) is HALF_OPEN
    assert breaker.allow(10.0)  # the trial
    assert breaker.state(10.0) is HALF_OPEN
    assert not breaker.allow(10.0)
    assert not breaker.allow(500.0)  # still waiting for the trial's verdict


def test_state_is_a_pure_read() -> None:
    breaker = _tripped(reset=10.0)
    for _ in range(3):
        assert breaker.state(20.0) is HALF_OPEN
    assert breaker.allow(20.0)


def test_successful_trial_closes_and_resets_the_timeout() -> None:
    breaker = _tripped(reset=10.0)
    assert breaker.allow(10.0)
    breaker.record_failure(11.0)  # trial failed: timeout doubles
    assert breaker.reset_timeout_s == 20.0
    assert breaker.allow(31.0)
    breaker.record_success(32.0)
    assert breaker.state(32.0) is CLOSED
    assert breaker.reset_timeout_s == 10.0
    assert breaker.consecutive_failures == 0
    assert breaker.retry_at(32.0) is None


def test_failed_trials_double_the_timeout_up_to_the_cap() -> None:
    breaker = _tripped(reset=10.0, cap=50.0)
    now = 0.0
    waits = []
    for _ in range(5):
        retry_at = breaker.retry_at(now)
        assert retry_at is not None
        waits.append(retry_at - now)
        now = retry_at
        assert breaker.allow(now)
        breaker.record_failure(now)
    assert waits == [10.0, 20.0, 40.0, 50.0, 50.0]
    assert breaker.state(now) is OPEN


def test_after_closing_it_takes_threshold_failures_again() -> None:
    breaker = _tripped(threshold=2, reset=1.0)
    assert breaker.allow(1.0)
    breaker.record_success(1.0)
    breaker.record_failure(2.0)
    assert breaker.state(2.0) is CLOSED
    breaker.record_failure(2.0)
    assert breaker.state(2.0) is OPEN
    assert breaker.retry_at(2.0) == 3.0  # the base timeout again, not a doubled one


def test_zero_reset_timeout_probes_immediately() -> None:
    breaker = _tripped(reset=0.0, cap=0.0)
    assert breaker.state(0.0) is HALF_OPEN
    assert breaker.allow(0.0)
    assert not breaker.allow(0.0)


# --- late reports, abandoned and lost trials ------------------------------------------------


def test_late_failures_while_open_do_not_extend_it() -> None:
    breaker = _tripped(reset=10.0)
    breaker.record_failure(5.0)  # a call started before the trip, failing late
    assert breaker.retry_at(5.0) == 10.0
    assert breaker.reset_timeout_s == 10.0


def test_a_late_success_while_open_closes() -> None:
    breaker = _tripped(reset=10.0)
    breaker.record_success(5.0)
    assert breaker.state(5.0) is CLOSED


def test_an_abandoned_trial_lets_the_next_one_go() -> None:
    breaker = _tripped(reset=10.0)
    assert breaker.allow(10.0)
    breaker.abandon_trial(11.0)
    assert breaker.state(11.0) is HALF_OPEN
    assert breaker.reset_timeout_s == 10.0  # no verdict, so no backoff either
    assert breaker.allow(11.0)
    assert not breaker.allow(11.0)


def test_abandon_while_closed_changes_nothing() -> None:
    breaker = CircuitBreaker(failure_threshold=2)
    breaker.record_failure(0.0)
    breaker.abandon_trial(0.0)
    assert breaker.consecutive_failures == 1
    assert breaker.state(0.0) is CLOSED


def test_a_trial_that_never_reports_is_presumed_lost() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=10.0, trial_timeout_s=60.0)
    breaker.record_failure(0.0)
    assert breaker.allow(10.0)
    assert not breaker.allow(69.999)
    assert breaker.allow(70.0)  # the first trial is presumed lost
    assert not breaker.allow(70.0)


def test_retry_at_while_a_trial_is_out_is_a_near_future_hint() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=10.0, trial_timeout_s=60.0)
    breaker.record_failure(0.0)
    assert breaker.retry_at(3.0) == 10.0
    assert breaker.retry_at(15.0) == 15.0  # due already: never in the past
    assert breaker.allow(15.0)
    assert breaker.retry_at(16.0) == 26.0  # check back after a base timeout
    assert breaker.retry_at(70.0) == 75.0  # ... but no later than the trial's expiry


# --- random sequences -----------------------------------------------------------------------


class BreakerMachine(RuleBasedStateMachine):
    """Random calls, reports and clock ticks, checked against a small model of the spec."""

    def __init__(self) -> None:
        super().__init__()
        self.breaker = CircuitBreaker()
        self.now = 0.0
        self.closed_failures = 0  # consecutive failures the model counted while closed
        self.trials: list[float] = []  # start times of trials let through and not reported
        self.base = self.timeout = 30.0

    @initialize(
        threshold=st.integers(min_value=1, max_value=6),
        reset=st.sampled_from([0.0, 1.0, 7.5, 30.0]),
        growth=st.sampled_from([1.0, 2.0, 3.0, 100.0]),
        trial_timeout=st.sampled_from([0.5, 45.0, 600.0]),
        start=st.floats(min_value=-1e6, max_value=1e6),
    )
    def build(
        self, threshold: int, reset: float, growth: float, trial_timeout: float, start: float
    ) -> None:
        self.breaker = CircuitBreaker(
            failure_threshold=threshold,
            reset_timeout_s=reset,
            max_reset_timeout_s=reset * growth,
            trial_timeout_s=trial_timeout,
        )
        self.now = start
        self.base = self.timeout = reset

    def _live_trials(self) -> list[float]:
        return [t for t in self.trials if self.now - t < self.breaker.trial_timeout_s]

    @rule(dt=st.floats(min_value=0, max_value=200))
    def tick(self, dt: float) -> None:
        self.now += dt

    @rule()
    def jump_to_retry_at(self) -> None:
        # Land exactly on the boundary, where off-by-one mistakes live.
        retry_at = self.breaker.retry_at(self.now)
        if retry_at is not None:
            self.now = retry_at

    @rule()
    def call(self) -> None:
        before = self.breaker.state(self.now)
        allowed = self.breaker.allow(self.now)
        if before is CLOSED:
            assert allowed
        elif before is OPEN:
            assert not allowed
        else:
            assert allowed is (not self._live_trials())
            if allowed:
                self.trials.append(self.now)
        assert len(self._live_trials()) <= 1

    @rule()
    def succeed(self) -> None:
        self.breaker.record_success(self.now)
        self.closed_failures = 0
        self.trials.clear()
        self.timeout = self.base
        assert self.breaker.state(self.now) is CLOSED
        assert self.breaker.consecutive_failures == 0
        assert self.breaker.reset_timeout_s == self.base

    @rule()
    def fail(self) -> None:
        before = self.breaker.state(self.now)
        retry_at_before = self.breaker.retry_at(self.now)
        trial_failed = bool(self.trials)
        self.breaker.record_failure(self.now)
        if before is CLOSED:
            self._count_closed_failure()
        elif trial_failed:
            self.timeout = min(self.timeout * 2, self.breaker.max_reset_timeout_s)
            self.trials.clear()
            assert self.breaker.retry_at(self.now) == self.now + self.timeout
        else:
            # Open with no trial out: a late report, which must change nothing.
            assert self.breaker.state(self.now) is before
            assert self.breaker.retry_at(self.now) == retry_at_before
        assert self.breaker.reset_timeout_s == self.timeout

    def _count_closed_failure(self) -> None:
        self.closed_failures += 1
        if self.closed_failures < self.breaker.failure_threshold:
            assert self.breaker.state(self.now) is CLOSED
            assert self.breaker.consecutive_failures == self.closed_failures
            return
        # Exactly at the threshold: open, for the current timeout.
        assert self.breaker.state(self.now) is not CLOSED
        assert self.breaker.retry_at(self.now) == self.now + self.timeout
        self.closed_failures = 0

    @precondition(lambda self: bool(self.trials))
    @rule()
    def abandon(self) -> None:
        self.breaker.abandon_trial(self.now)
        self.trials.clear()
        assert self.breaker.state(self.now) is HALF_OPEN

    @invariant()
    def retry_at_is_none_exactly_when_closed(self) -> None:
        retry_at = self.breaker.retry_at(self.now)
        closed = self.breaker.state(self.now) is CLOSED
        assert (retry_at is None) is closed
        if retry_at is not None:
            assert retry_at >= self.now

    @invariant()
    def open_means_refusing_until_retry_at(self) -> None:
        state = self.breaker.state(self.now)
        retry_at = self.breaker.retry_at(self.now)
        if state is OPEN:
            assert retry_at is not None
            assert retry_at > self.now
        if state is HALF_OPEN and not self._live_trials():
            assert retry_at == self.now  # a trial may go right now

    @invariant()
    def timeout_stays_within_its_bounds(self) -> None:
        assert self.base <= self.breaker.reset_timeout_s <= self.breaker.max_reset_timeout_s

    @invariant()
    def failures_count_only_while_closed(self) -> None:
        if self.breaker.state(self.now) is CLOSED:
            assert self.breaker.consecutive_failures == self.closed_failures
            assert self.closed_failures < self.breaker.failure_threshold


BreakerMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=50)
test_breaker_machine = BreakerMachine.TestCase
