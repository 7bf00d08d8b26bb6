"""Retry-After, read one way by the SDK and the server alike (the server imports it from here:
the SDK never imports the server).

A value is delta-seconds or an HTTP-date (RFC 9110); some providers (OpenAI, Azure) also send
``retry-after-ms`` in milliseconds, which is finer and wins when both are present. Anything
else, however malformed, reads as "no advice" (None), never as an exception.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

__all__ = ["MAX_RETRY_AFTER_S", "parse_retry_after", "retry_after_of"]

#: A Retry-After beyond this is treated as nonsense rather than parking a request for days.
MAX_RETRY_AFTER_S: Final = 24 * 3600.0


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from a response's headers: ``retry-after-ms``, else ``retry-after``."""
    lowered = {name.lower(): value for name, value in headers.items()}
    millis = _non_negative(_number(lowered.get("retry-after-ms")))
    if millis is not None:
        return _sane(millis / 1000)
    return parse_retry_after(lowered.get("retry-after"))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date); None if nonsense.

    Dates in the past mean "now" (0.0); negative, non-finite or over-a-day values are ignored.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    seconds = _number(text)
    if seconds is None:
        seconds = _seconds_until(text, now or datetime.now(UTC))
    return _sane(_non_negative(seconds))


def _number(text: str | None) -> float | None:
    """`text` as a finite float, or None."""
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _non_negative(seconds: float | None) -> float | None:
    return seconds if seconds is not None and seconds >= 0 else None


def _sane(seconds: float | None) -> float | None:
    return seconds if seconds is not None and seconds <= MAX_RETRY_AFTER_S else None


def _seconds_until(http_date: str, now: datetime) -> float | None:
    """Seconds from `now` to an HTTP-date, at least 0; None if it is not a date."""
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses as naive
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    try:
        return max(0.0, (when - now).total_seconds())
    except OverflowError:
        return None
