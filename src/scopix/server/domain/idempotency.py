"""`Idempotency-Key` rules: which keys are valid, when two requests are the same, and what a
request that presents a key already on record gets."""

from __future__ import annotations

import enum
import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from scopix.server.domain.errors import ValidationFailed

HEADER: Final = "Idempotency-Key"
MAX_KEY_CHARS: Final = 255
#: how long a first response is kept for replay
RETENTION: Final = timedelta(hours=24)
#: a request holds its key this long without a heartbeat (renewed every third of it, so one late
#: write never costs the lease); a crashed server's key is free after it
LEASE: Final = timedelta(seconds=30)
#: response headers a replay repeats; the rest (request id, rate limits) belong to each answer
REPLAYED_HEADERS: Final = ("content-type", "location")


class Decision(enum.Enum):
    """What to do with a request whose key may already be on record."""

    NEW = "new"  # no record (or one past retention): run the request
    BUSY = "busy"  # the first request is still running: try again later
    TAKE_OVER = "take_over"  # the first request died (its lease lapsed): run it again
    REPLAY = "replay"  # done: answer with the first response if the body is the same
    MISMATCH = "mismatch"  # the key was used for a different request


@dataclass(frozen=True)
class KeyRecord:
    """What the decision needs of a stored key."""

    state: str  # "running" or "done"
    request_signature: str
    locked_until: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Verdict:
    """A decision; `retry_after_s` is set for BUSY."""

    decision: Decision
    retry_after_s: int = 0


def validate_key(raw: str) -> str:
    """The key if it is 1-255 printable ASCII characters with no space at either end."""
    if not 1 <= len(raw) <= MAX_KEY_CHARS or raw != raw.strip(" "):
        raise ValidationFailed(
            f"{HEADER} must be 1-{MAX_KEY_CHARS} characters without spaces at either end",
            field=HEADER,
        )
    if not all(" " <= ch <= "~" for ch in raw):
        raise ValidationFailed(f"{HEADER} must be printable ASCII", field=HEADER)
    return raw


def request_signature(
    method: str, path: str, query: str, content_type: str | None, content_length: str | None
) -> str:
    """SHA-256 of what identifies a request besides its body (the body is hashed as it streams).

    Fields are joined by NUL, which no HTTP method, path or header value can hold, so distinct
    requests never share a signature by concatenation.
    """
    fields = (method.upper(), path, query, content_type or "", content_length or "")
    return hashlib.sha256("\0".join(fields).encode("utf-8", "surrogateescape")).hexdigest()


def decide(record: KeyRecord | None, signature: str, now: datetime) -> Verdict:
    """The decision for a request presenting a key whose record is `record`."""
    if record is None or record.expires_at <= now:
        return Verdict(Decision.NEW)
    if record.request_signature != signature:
        return Verdict(Decision.MISMATCH)
    if record.state == "done":
        return Verdict(Decision.REPLAY)
    if record.locked_until > now:
        return Verdict(Decision.BUSY, retry_after(record.locked_until, now))
    return Verdict(Decision.TAKE_OVER)


def retry_after(locked_until: datetime, now: datetime) -> int:
    """Whole seconds until a lease ends, at least 1."""
    return max(1, math.ceil((locked_until - now).total_seconds()))


def is_final(status: int) -> bool:
    """Whether a response is kept for replay. 5xx, 409 and 429 say "try again": keeping them
    would turn the client's retry into a replay of the refusal."""
    return status < 500 and status not in (409, 429)


def replayed_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The headers of a first response that its replays repeat (names in lower case)."""
    return {name.lower(): value for name, value in headers if name.lower() in REPLAYED_HEADERS}


def upload_ref(record_id: str, position: int) -> str:
    """The reference under which the file at `position` of a keyed upload is stored, so a
    retried request finds what its first attempt stored instead of storing it again."""
    return f"{record_id}:{position}"
