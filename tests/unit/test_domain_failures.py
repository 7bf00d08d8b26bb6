"""Classified failures and the retry policy: bounds, backoff, Retry-After, giving up."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from scopix.server.domain.failures import (
    MAX_RETRY_AFTER_S,
    Failure,
    RetryPolicy,
    lease_lost_failure,
    retry_delay,
    unknown_failure,
)
from scopix.types.describe import RETRYABLE_ERROR_TYPES, DescriptionErrorType

T = DescriptionErrorType
RETRYABLE = sorted(RETRYABLE_ERROR_TYPES, key=lambda t: t.value)
PERMANENT = sorted(set(T) - RETRYABLE_ERROR_TYPES, key=lambda t: t.value)

delays = st.floats(min_value=0, max_value=1e6, allow_nan=False)
policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(min_value=1, max_value=50),
    base_delay_s=delays,
    max_delay_s=delays,
    jitter=st.floats(min_value=0, max_value=1),
)
units = st.floats(min_value=0, max_value=1, exclude_max=True)
retry_afters = st.none() | st.floats(allow_nan=True, allow_infinity=True)
failures = st.builds(
    Failure, error_type=st.sampled_from(T), message=st.text(), retry_after=retry_afters
)
attempts = st.integers(min_value=1, max_value=10_000)


def _wait(retry_after: float | None) -> float:
    """What the provider's Retry-After should amount to, per the module's contract."""
    if retry_after is None or math.isnan(retry_after):
        return 0.0
    return min(max(retry_after, 0.0), MAX_RETRY_AFTER_S)


# --- Failure --------------------------------------------------------------------------------


@pytest.mark.parametrize("error_type", list(T), ids=lambda t: t.value)
def test_retryable_follows_the_published_set(error_type: T) -> None:
    failure = Failure(error_type, "boom")
    assert failure.retryable is (error_type in {T.TIMEOUT, T.RATE_LIMIT, T.VLM_ERROR})


def test_failure_is_frozen_and_defaults_to_no_retry_after() -> None:
    failure = Failure(T.TIMEOUT, "slow")
    assert failure.retry_after is None
    with pytest.raises(AttributeError):
        failure.message = "other"  # type: ignore[misc]


# --- RetryPolicy validation -----------------------------------------------------------------


def test_default_policy() -> None:
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.base_delay_s, policy.max_delay_s, policy.jitter) == (
        4,
        2.0,
        300.0,
        0.5,
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"max_attempts": -1},
        {"base_delay_s": -0.1},
        {"max_delay_s": -1.0},
        {"base_delay_s": math.nan},
        {"max_delay_s": math.inf},
        {"jitter": -0.01},
        {"jitter": 1.01},
        {"jitter": math.nan},
    ],
)
def test_policy_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{"max_attempts": 1}, {"jitter": 0.0}, {"jitter": 1.0}])
def test_policy_accepts_the_edges(kwargs: dict[str, float]) -> None:
    RetryPolicy(**kwargs)  # type: ignore[arg-type]


# --- retry_delay: worked examples -----------------------------------------------------------


def test_plain_exponential_backoff_without_jitter() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay_s=2.0, max_delay_s=20.0, jitter=0.0)
    failure = Failure(T.TIMEOUT, "slow")
    got = [retry_delay(policy, failure, n, 0.3) for n in range(1, 11)]
    assert got == [2.0, 4.0, 8.0, 16.0, 20.0, 20.0, 20.0, 20.0, 20.0, None]


def test_jitter_draws_downwards_from_the_backoff() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay_s=10.0, max_delay_s=100.0, jitter=0.5)
    failure = Failure(T.VLM_ERROR, "502")
    assert retry_delay(policy, failure, 1, 0.0) == 5.0  # d * (1 - jitter)
    assert retry_delay(policy, failure, 1, 0.5) == 7.5
    assert retry_delay(policy, failure, 1, 0.999999) == pytest.approx(10.0)
    full = RetryPolicy(max_attempts=5, base_delay_s=10.0, max_delay_s=100.0, jitter=1.0)
    assert retry_delay(full, failure, 2, 0.0) == 0.0  # "full jitter" may retry at once
    assert retry_delay(full, failure, 2, 0.25) == 5.0


def test_retry_after_is_a_floor_even_above_max_delay() -> None:
    policy = RetryPolicy(max_attempts=4, base_delay_s=1.0, max_delay_s=10.0, jitter=0.0)
    assert retry_delay(policy, Failure(T.RATE_LIMIT, "429", retry_after=60.0), 1, 0.5) == 60.0
    assert retry_delay(policy, Failure(T.RATE_LIMIT, "429", retry_after=0.5), 3, 0.5) == 4.0


def test_retry_after_is_believed_up_to_an_hour() -> None:
    policy = RetryPolicy()
    huge = Failure(T.RATE_LIMIT, "429", retry_after=86_400.0)
    assert retry_delay(policy, huge, 1, 0.5) == MAX_RETRY_AFTER_S == 3600.0
    forever = Failure(T.RATE_LIMIT, "429", retry_after=math.inf)
    assert retry_delay(policy, forever, 1, 0.5) == MAX_RETRY_AFTER_S


@pytest.mark.parametrize("junk", [-5.0, math.nan, -math.inf])
def test_junk_retry_after_is_ignored(junk: float) -> None:
    policy = RetryPolicy(jitter=0.0)
    assert retry_delay(policy, Failure(T.RATE_LIMIT, "429", retry_after=junk), 1, 0.5) == 2.0


@pytest.mark.parametrize("error_type", PERMANENT, ids=lambda t: t.value)
def test_permanent_failures_are_never_retried(error_type: T) -> None:
    failure = Failure(error_type, "no", retry_after=1.0)
    assert retry_delay(RetryPolicy(max_attempts=100), failure, 1, 0.5) is None


def test_single_attempt_policy_never_retries() -> None:
    assert retry_delay(RetryPolicy(max_attempts=1), Failure(T.TIMEOUT, "slow"), 1, 0.0) is None


@pytest.mark.parametrize("unit", [-0.1, 1.0, 1.5, math.nan])
def test_random_unit_must_be_in_the_half_open_interval(unit: float) -> None:
    with pytest.raises(ValueError):
        retry_delay(RetryPolicy(), Failure(T.TIMEOUT, "slow"), 1, unit)


@pytest.mark.parametrize("attempts_made", [0, -1])
def test_attempts_made_counts_the_failed_attempt(attempts_made: int) -> None:
    with pytest.raises(ValueError):
        retry_delay(RetryPolicy(), Failure(T.TIMEOUT, "slow"), attempts_made, 0.5)


def test_huge_attempt_numbers_do_not_overflow() -> None:
    policy = RetryPolicy(max_attempts=10**9, base_delay_s=1e-300, max_delay_s=7.0, jitter=0.0)
    assert retry_delay(policy, Failure(T.TIMEOUT, "slow"), 10**8, 0.5) == 7.0
    zero = RetryPolicy(max_attempts=10**9, base_delay_s=0.0, max_delay_s=7.0, jitter=0.0)
    assert retry_delay(zero, Failure(T.TIMEOUT, "slow"), 10**8, 0.5) == 0.0


# --- retry_delay: properties ----------------------------------------------------------------


@given(policies, failures, attempts, units)
@example(RetryPolicy(max_attempts=2), Failure(T.TIMEOUT, "x", retry_after=math.inf), 1, 0.0)
def test_delay_is_within_bounds(
    policy: RetryPolicy, failure: Failure, attempts_made: int, unit: float
) -> None:
    delay = retry_delay(policy, failure, attempts_made, unit)
    if delay is None:
        return
    backoff = policy.backoff(attempts_made)
    floor = _wait(failure.retry_after)
    assert math.isfinite(delay)
    assert 0 <= delay <= max(policy.max_delay_s, MAX_RETRY_AFTER_S)
    assert delay >= floor
    assert delay <= max(backoff, floor)
    assert delay >= backoff * (1 - policy.jitter) - 1e-9 * backoff


@given(policies, attempts)
def test_backoff_is_monotone_and_capped(policy: RetryPolicy, attempts_made: int) -> None:
    now, after = policy.backoff(attempts_made), policy.backoff(attempts_made + 1)
    assert now <= after <= policy.max_delay_s
    if policy.base_delay_s <= policy.max_delay_s:
        assert policy.backoff(1) == policy.base_delay_s


@given(policies, st.sampled_from(RETRYABLE), st.data(), units)
def test_upper_bound_of_the_delay_never_shrinks_with_attempts(
    policy: RetryPolicy, error_type: T, data: st.DataObject, unit: float
) -> None:
    # The largest delay a draw can give (unit -> 1) is the backoff; it must not decrease.
    assume(policy.max_attempts > 1)
    retrying = st.integers(min_value=1, max_value=policy.max_attempts - 1)
    low, high = sorted((data.draw(retrying), data.draw(retrying)))
    failure = Failure(error_type, "again")
    worst_low = retry_delay(policy, failure, low, math.nextafter(1.0, 0.0))
    worst_high = retry_delay(policy, failure, high, math.nextafter(1.0, 0.0))
    assert worst_low is not None
    assert worst_high is not None
    assert worst_low <= worst_high
    # With the same draw, a later attempt never waits less either.
    same_low = retry_delay(policy, failure, low, unit)
    same_high = retry_delay(policy, failure, high, unit)
    assert same_low is not None
    assert same_high is not None
    assert same_low <= same_high


@given(policies, failures, attempts, units)
def test_gives_up_exactly_at_max_attempts(
    policy: RetryPolicy, failure: Failure, attempts_made: int, unit: float
) -> None:
    delay = retry_delay(policy, failure, attempts_made, unit)
    should_retry = failure.retryable and attempts_made < policy.max_attempts
    assert (delay is not None) is should_retry
    assert policy.exhausted(attempts_made) is (attempts_made >= policy.max_attempts)


@given(policies, st.sampled_from(PERMANENT), retry_afters, attempts, units)
def test_never_retries_permanent_failures(
    policy: RetryPolicy, error_type: T, retry_after: float | None, attempts_made: int, unit: float
) -> None:
    failure = Failure(error_type, "permanent", retry_after=retry_after)
    assert retry_delay(policy, failure, attempts_made, unit) is None


@given(policies, st.sampled_from(RETRYABLE), st.floats(min_value=0, max_value=1e5), units)
def test_retry_after_is_honoured(
    policy: RetryPolicy, error_type: T, retry_after: float, unit: float
) -> None:
    assume(policy.max_attempts > 1)
    delay = retry_delay(policy, Failure(error_type, "wait", retry_after=retry_after), 1, unit)
    assert delay is not None
    assert delay >= min(retry_after, MAX_RETRY_AFTER_S)


def test_a_full_retry_schedule_with_the_default_policy() -> None:
    # What a job sees end to end: three retries, then the fourth failure is final.
    policy = RetryPolicy()
    failure = Failure(T.TIMEOUT, "slow")
    schedule = [retry_delay(policy, failure, n, 0.5) for n in range(1, 6)]
    assert schedule == [1.5, 3.0, 6.0, None, None]


# --- lease_lost_failure and unknown_failure -------------------------------------------------


@pytest.mark.parametrize(("attempts_made", "phrase"), [(1, "once"), (2, "2 times"), (4, "4 times")])
def test_lease_lost_failure(attempts_made: int, phrase: str) -> None:
    failure = lease_lost_failure(attempts_made)
    assert failure.error_type is T.UNKNOWN
    assert not failure.retryable
    assert f"stopped responding {phrase}" in failure.message
    assert failure.retry_after is None
    # Not retryable, so a file that kills its worker cannot be re-queued by retry_delay.
    assert retry_delay(RetryPolicy(max_attempts=100), failure, 1, 0.5) is None


def test_unknown_failure_keeps_a_plain_message() -> None:
    failure = unknown_failure("KeyError: 'width'")
    assert failure.error_type is T.UNKNOWN
    assert not failure.retryable
    assert failure.message == "Unexpected error: KeyError: 'width'"


def test_unknown_failure_drops_the_stack_trace() -> None:
    trace = (
        "Traceback (most recent call last):\n"
        '  File "/srv/scopix/worker.py", line 12, in run\n'
        "    describe(image)\n"
        "ZeroDivisionError: division by zero\n"
    )
    failure = unknown_failure(trace)
    assert failure.message == "Unexpected error: ZeroDivisionError: division by zero"


def test_unknown_failure_keeps_only_the_first_line_and_collapses_whitespace() -> None:
    failure = unknown_failure("\n\n   decoder   gave up\t badly \nframe 1\nframe 2")
    assert failure.message == "Unexpected error: decoder gave up badly"


@pytest.mark.parametrize("blank", ["", "   ", "\n\t\n"])
def test_unknown_failure_without_a_description(blank: str) -> None:
    failure = unknown_failure(blank)
    assert failure.message == "An unexpected error occurred while describing this file."


@given(st.text())
def test_unknown_failure_message_is_one_short_line(text: str) -> None:
    message = unknown_failure(text).message
    assert message
    assert len(message) <= 400
    assert message == message.strip()
    assert len(message.splitlines()) == 1
    assert "Traceback (most recent call last)" not in message or text.count("\n") == 0


def test_unknown_failure_truncates_long_messages() -> None:
    message = unknown_failure("x" * 10_000).message
    assert message.endswith("…")
    assert len(message) == len("Unexpected error: ") + 300
