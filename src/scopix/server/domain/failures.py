"""Classified description failures and the retry policy that decides when to try again.

Backoff: attempt ``n`` (counting from 1) that failed waits about ``base * 2**(n-1)``
seconds, capped at ``max_delay``. Jitter spreads workers that failed together (a provider
outage fails every in-flight job at once) so they do not come back in lockstep.

Jitter is drawn *downwards* only: with backoff ``d`` the delay is uniform in
``[d * (1 - jitter), d)``. So ``jitter=1`` is AWS's "full jitter", ``jitter=0.5`` its
"equal jitter" and ``jitter=0`` plain exponential backoff. Drawing downwards keeps
``max_delay`` a true ceiling without piling every capped retry onto the same instant.

A provider's Retry-After is a floor: the delay is never shorter than it asked, even above
``max_delay``, but it is believed only up to `MAX_RETRY_AFTER_S` (one hour) so that a
broken or hostile header cannot park a job for days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scopix.types.describe import RETRYABLE_ERROR_TYPES, DescriptionErrorType

__all__ = [
    "MAX_RETRY_AFTER_S",
    "Failure",
    "RetryPolicy",
    "lease_lost_failure",
    "resource_limit_failure",
    "retry_delay",
    "unknown_failure",
]

MAX_RETRY_AFTER_S = 3600.0
"""The longest provider-requested wait we honour, in seconds."""

_MAX_MESSAGE_CHARS = 300
_GENERIC_UNKNOWN = "An unexpected error occurred while describing this file."


@dataclass(frozen=True)
class Failure:
    """One failed description attempt, classified."""

    error_type: DescriptionErrorType
    message: str  # for humans: shown as `description_error`
    retry_after: float | None = None  # seconds the provider asked us to wait

    @property
    def retryable(self) -> bool:
        """Whether another attempt may succeed (API.md: timeout, rate_limit, vlm_error)."""
        return self.error_type in RETRYABLE_ERROR_TYPES


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a retryable failure is tried again."""

    max_attempts: int = 4  # attempts in all, the first included
    base_delay_s: float = 2.0
    max_delay_s: float = 300.0
    jitter: float = 0.5  # fraction of the backoff that is randomised, downwards

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        for name in ("base_delay_s", "max_delay_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        if not 0 <= self.jitter <= 1:  # also refuses NaN
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")

    def exhausted(self, attempts_made: int) -> bool:
        """Whether no attempt is left after `attempts_made`, whatever the failure."""
        return attempts_made >= self.max_attempts

    def backoff(self, attempts_made: int) -> float:
        """The un-jittered delay after `attempts_made` attempts: the jitter's upper bound."""
        if attempts_made < 1:
            raise ValueError(f"attempts_made must be at least 1, got {attempts_made}")
        try:
            # ldexp is exact doubling and raises rather than losing precision on overflow.
            raw = math.ldexp(self.base_delay_s, attempts_made - 1)
        except OverflowError:
            return self.max_delay_s
        return min(raw, self.max_delay_s)


def retry_delay(
    policy: RetryPolicy, failure: Failure, attempts_made: int, random_unit: float
) -> float | None:
    """Seconds to wait before the next attempt, or None to give up.

    `attempts_made` counts attempts so far, the failed one included (so it is >= 1).
    `random_unit` is a uniform draw from [0, 1), passed in so that this stays pure.
    None when the failure is not retryable or the policy's attempts are used up.
    Otherwise the jittered backoff (see the module docstring), raised to the provider's
    Retry-After (at most `MAX_RETRY_AFTER_S`) when it asked for longer.
    """
    if not 0 <= random_unit < 1:
        raise ValueError(f"random_unit must be in [0, 1), got {random_unit}")
    if attempts_made < 1:
        raise ValueError(f"attempts_made must be at least 1, got {attempts_made}")
    if not failure.retryable or policy.exhausted(attempts_made):
        return None
    backoff = policy.backoff(attempts_made)
    jittered = backoff * (1 - policy.jitter * (1 - random_unit))
    return max(jittered, _provider_wait(failure.retry_after))


def _provider_wait(retry_after: float | None) -> float:
    """The provider's requested wait, made safe: missing or NaN is 0, clamped to one hour."""
    if retry_after is None or math.isnan(retry_after):
        return 0.0
    return min(max(retry_after, 0.0), MAX_RETRY_AFTER_S)


def lease_lost_failure(attempts_made: int) -> Failure:
    """The failure recorded when a worker stopped responding while describing a file.

    UNKNOWN, hence not retryable by `retry_delay`: a file that kills its worker (a decoder
    crash, running out of memory) must not loop forever. Re-queueing after a lost lease is
    the caller's call, bounded by `RetryPolicy.exhausted`; this is what stays on the file
    once it gives up.
    """
    times = "once" if attempts_made == 1 else f"{attempts_made} times"
    return Failure(
        error_type=DescriptionErrorType.UNKNOWN,
        message=f"The worker describing this file stopped responding {times}; giving up.",
    )


def resource_limit_failure(reason: str) -> Failure:
    """A decode refused for its cost: its header is over the limits, or its decoder crashed or
    overran twice (server.isolation). Permanent: the same bytes cost the same next time."""
    return Failure(
        DescriptionErrorType.RESOURCE_LIMIT,
        f"the image could not be decoded within limits: {reason}",
    )


def unknown_failure(exc_description: str) -> Failure:
    """The failure for an exception nobody classified, with a message fit for humans.

    Keeps one line: the exception line of a traceback (its last line), else the first
    non-blank line, with whitespace collapsed and the length capped. Stack frames, file
    paths of our code and multi-kilobyte dumps never reach the API.
    """
    line = _summary_line(exc_description)
    if not line:
        return Failure(DescriptionErrorType.UNKNOWN, _GENERIC_UNKNOWN)
    if len(line) > _MAX_MESSAGE_CHARS:
        line = line[: _MAX_MESSAGE_CHARS - 1].rstrip() + "…"
    return Failure(DescriptionErrorType.UNKNOWN, f"Unexpected error: {line}")


def _summary_line(text: str) -> str:
    """The one line of `text` worth showing, whitespace collapsed; '' when there is none."""
    lines = [" ".join(raw.split()) for raw in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    if lines[0].startswith("Traceback (most recent call last)"):
        return lines[-1]
    return lines[0]
