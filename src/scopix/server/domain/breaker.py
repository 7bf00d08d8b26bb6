"""A circuit breaker for one remote provider, with time passed in (monotonic seconds).

```
            failure_threshold consecutive failures
  CLOSED ──────────────────────────────────────────▶ OPEN ◀──────────────┐
    ▲                                                 │                  │ trial failed:
    │                                  reset timeout  │                  │ timeout doubled
    │                                         passed  ▼                  │ (up to the max)
    └──────────────── trial succeeded ─────────── HALF_OPEN ─────────────┘
                                       (exactly one trial call goes through)
```

A success reported at any time closes the breaker: the provider answered, so it is up.
Failures are counted only while closed; one reported while open (a call let through
before the breaker tripped, finishing late) says nothing new and is ignored.

The breaker only counts. Which failures mean "the provider is unhealthy" (timeouts, 5xx,
connection errors; not a corrupt image or a spent quota) is the caller's decision.

Contract for callers: every `allow()` that returned True is followed by exactly one of
`record_success`, `record_failure` or `abandon_trial` (for a call cancelled, or one that
ended in a way that says nothing about the provider's health). As a safety net, a trial
that never reports is presumed lost after `trial_timeout_s` and another trial may go.

Not thread-safe, by design: it is meant to be used from one event loop, where the calls
between two awaits run without interruption. Guard it with a lock to share it across
threads.
"""

from __future__ import annotations

import math
from enum import StrEnum

__all__ = ["BreakerState", "CircuitBreaker"]


class BreakerState(StrEnum):
    """Whether calls to the provider go through."""

    CLOSED = "closed"  # healthy: every call goes through
    OPEN = "open"  # unhealthy: calls are refused until the reset timeout passes
    HALF_OPEN = "half_open"  # probing: one trial call decides between CLOSED and OPEN


class CircuitBreaker:
    """Counts consecutive provider failures and stops calling a provider that is down."""

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout_s: float = 30.0,
        max_reset_timeout_s: float = 300.0,
        *,
        trial_timeout_s: float = 600.0,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be at least 1, got {failure_threshold}")
        if not 0 <= reset_timeout_s <= max_reset_timeout_s < math.inf:  # also refuses NaN
            raise ValueError(
                "need 0 <= reset_timeout_s <= max_reset_timeout_s, both finite, got "
                f"{reset_timeout_s} and {max_reset_timeout_s}"
            )
        if not trial_timeout_s > 0:
            raise ValueError(f"trial_timeout_s must be positive, got {trial_timeout_s}")
        self.failure_threshold = failure_threshold
        self.base_reset_timeout_s = reset_timeout_s
        self.max_reset_timeout_s = max_reset_timeout_s
        self.trial_timeout_s = trial_timeout_s
        self._failures = 0  # consecutive failures while closed
        self._reset_timeout_s = reset_timeout_s  # grows while trials keep failing
        self._next_trial_at: float | None = None  # None exactly when closed
        self._trial_started_at: float | None = None  # set while a trial call is out

    @property
    def consecutive_failures(self) -> int:
        """Failures counted since the last success, while closed."""
        return self._failures

    @property
    def reset_timeout_s(self) -> float:
        """How long the breaker stays open after its latest trip or failed trial."""
        return self._reset_timeout_s

    def state(self, now: float) -> BreakerState:
        """The state at `now`; reading it changes nothing."""
        if self._next_trial_at is None:
            return BreakerState.CLOSED
        if self._trial_out(now) or now >= self._next_trial_at:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self, now: float) -> bool:
        """Whether a call may go now. In HALF_OPEN, True once: that call is the trial."""
        if self._next_trial_at is None:
            return True
        if self._trial_out(now) or now < self._next_trial_at:
            return False
        self._trial_started_at = now
        return True

    def record_success(self, now: float) -> None:
        """The provider answered: close, forget the failures and the grown timeout."""
        self._failures = 0
        self._reset_timeout_s = self.base_reset_timeout_s
        self._next_trial_at = None
        self._trial_started_at = None

    def record_failure(self, now: float) -> None:
        """The provider failed a call: count it, trip at the threshold, or back off further."""
        if self._trial_started_at is not None:
            # The trial failed (or a late failure landed while probing): still down.
            self._reset_timeout_s = min(self._reset_timeout_s * 2, self.max_reset_timeout_s)
            self._open(now)
        elif self._next_trial_at is None:
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._open(now)
        # Otherwise open without a trial out: a late report of a call that started before
        # the trip. The breaker already knows; counting it would only delay recovery.

    def abandon_trial(self, now: float) -> None:
        """The trial call ended without a verdict (cancelled): let the next one go."""
        self._trial_started_at = None

    def retry_at(self, now: float) -> float | None:
        """When a call may next go through; None when closed. Never earlier than `now`.

        While a trial is out this is a hint: the trial's verdict may come sooner, and at
        the latest the trial is presumed lost at `trial_timeout_s`.
        """
        if self._next_trial_at is None:
            return None
        if self._trial_started_at is not None and self._trial_out(now):
            hint = min(
                now + self.base_reset_timeout_s,
                self._trial_started_at + self.trial_timeout_s,
            )
            return max(hint, now)
        return max(self._next_trial_at, now)

    def _open(self, now: float) -> None:
        self._next_trial_at = now + self._reset_timeout_s
        self._trial_started_at = None

    def _trial_out(self, now: float) -> bool:
        """Whether a trial call is out and not yet presumed lost."""
        started = self._trial_started_at
        return started is not None and now - started < self.trial_timeout_s
