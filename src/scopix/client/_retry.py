"""When to retry a request and how long to wait: pure rules, no I/O."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

#: Statuses worth another try: the server timed out, is busy or failed.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: The longest backoff between two attempts, and the longest Retry-After we honour.
MAX_DELAY_S = 60.0


def should_retry(status: int, headers: Mapping[str, str]) -> bool:
    """True for statuses a later attempt may fix.

    A 409 is retried only with ``Retry-After``: that is a lock (an identical request
    with the same ``Idempotency-Key`` is still running), while a bare 409 is a state
    conflict that waiting does not fix (a description already queued, say).
    """
    if status == 409:
        return "retry-after" in {k.lower() for k in headers}
    return status in RETRY_STATUSES


def backoff_delay(
    attempt: int,
    base: float,
    retry_after: float | None = None,
    jitter: Callable[[], float] = random.random,
) -> float:
    """The wait before retry number ``attempt`` (0 for the first retry).

    The server's ``Retry-After`` wins when it gave one; otherwise exponential backoff
    from ``base``, with jitter taking each wait somewhere in its upper half so that
    clients retrying together spread out. Never more than MAX_DELAY_S.
    """
    if retry_after is not None:
        return min(retry_after, MAX_DELAY_S)
    ceiling = min(base * 2.0**attempt, MAX_DELAY_S)
    return ceiling * (0.5 + 0.5 * jitter())
