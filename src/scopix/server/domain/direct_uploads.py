"""Direct uploads: how a large file is cut into parts, and what counts as all of it arrived.

A client sends part n of a plan as bytes [(n-1) * part_size, min(n * part_size, size)) to a
signed URL, then asks the server to complete. Nothing here trusts the client: completion checks
what storage holds against the plan, then the bytes' size and SHA-256.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from scopix.server.domain.errors import FileTooLarge, UploadNotActive, ValidationFailed

MiB: Final = 1 << 20
#: the largest object S3 stores, and so the largest direct upload
MAX_SIZE: Final = 5 * (1 << 40)
#: S3 refuses more parts than this in one multipart upload
MAX_PARTS: Final = 10_000
#: parts are at least this large (S3's own floor is 5 MiB for every part but the last)
MIN_PART_SIZE: Final = 8 * MiB
#: few enough requests to keep per-part overhead small, small enough to resume cheaply
PREFERRED_PART_SIZE: Final = 16 * MiB
#: signed part URLs in one answer; a client pages on for more
URLS_PER_ANSWER: Final = 500
#: how long a completion holds its upload before another may take over (renewed while it runs)
COMPLETION_LEASE: Final = timedelta(seconds=60)
#: how long storage may hold bytes of an upload no catalog row names: a start begins the
#: store's upload just before it records the row
UNRECORDED_GRACE: Final = timedelta(hours=1)
#: the first segment of every direct upload's storage key
UPLOADS_PREFIX: Final = "uploads/"

_SHA256_RE = re.compile(r"[0-9a-f]{64}")


class UploadState(enum.StrEnum):
    """Where a direct upload stands; only an active one takes parts or completes."""

    ACTIVE = "active"
    COMPLETING = "completing"
    COMPLETED = "completed"
    ABORTED = "aborted"
    EXPIRED = "expired"
    FAILED = "failed"


@dataclass(frozen=True)
class PartPlan:
    """How `size` bytes are cut: every part is `part_size` long but the last."""

    size: int
    part_size: int

    @property
    def part_count(self) -> int:
        return math.ceil(self.size / self.part_size)

    @property
    def method(self) -> Literal["single", "multipart"]:
        return "single" if self.part_count == 1 else "multipart"

    def span(self, number: int) -> tuple[int, int]:
        """(offset, length) of part `number`, counted from 1."""
        if not 1 <= number <= self.part_count:
            raise ValidationFailed(
                f"part numbers run from 1 to {self.part_count}",
                field="part_number",
                part_count=self.part_count,
            )
        offset = (number - 1) * self.part_size
        return offset, min(self.part_size, self.size - offset)


def plan_parts(size: int) -> PartPlan:
    """The plan for a file of `size` bytes: preferred-size parts, larger when 10,000 of them
    would not hold it."""
    if size < 1:
        raise ValidationFailed("size_bytes must be at least 1", field="size_bytes")
    if size > MAX_SIZE:
        raise FileTooLarge(
            f"a direct upload holds at most {MAX_SIZE:,} bytes", limit=MAX_SIZE, size=size
        )
    needed = math.ceil(size / MAX_PARTS)
    part_size = max(PREFERRED_PART_SIZE, math.ceil(needed / MiB) * MiB)
    return PartPlan(size, part_size)


def valid_sha256(value: str | None, field: str = "sha256") -> str | None:
    """A declared SHA-256 as lowercase hex, or None when none was declared."""
    if value is None:
        return None
    lowered = value.strip().lower()
    if _SHA256_RE.fullmatch(lowered) is None:
        raise ValidationFailed("sha256 must be 64 hexadecimal characters", field=field)
    return lowered


@dataclass(frozen=True)
class PartCheck:
    """How the parts storage holds compare with the plan."""

    missing: tuple[int, ...]
    wrong_size: tuple[int, ...]

    @property
    def complete(self) -> bool:
        return not self.missing and not self.wrong_size


def check_parts(plan: PartPlan, held: Iterable[tuple[int, int]]) -> PartCheck:
    """Compare (number, size) pairs storage holds with the plan; numbers outside it are
    ignored (completion joins only the planned ones)."""
    sizes = dict(held)
    missing: list[int] = []
    wrong: list[int] = []
    for number in range(1, plan.part_count + 1):
        if number not in sizes:
            missing.append(number)
        elif sizes[number] != plan.span(number)[1]:
            wrong.append(number)
    return PartCheck(tuple(missing), tuple(wrong))


def missing_parts(plan: PartPlan, held: Iterable[int], first: int = 1) -> list[int]:
    """Part numbers from `first` on that storage does not hold yet, in order."""
    have = set(held)
    return [n for n in range(max(first, 1), plan.part_count + 1) if n not in have]


def require_active(state: str, **details: object) -> None:
    """Refuse an action on an upload that no longer takes any."""
    if state not in (UploadState.ACTIVE, UploadState.COMPLETING):
        raise UploadNotActive(
            f"this direct upload is {state}; start a new one to send these bytes",
            state=state,
            **details,
        )


def upload_key(tenant_id: str, upload_id: str) -> str:
    """Where a direct upload's bytes are kept until completion moves them."""
    return f"{UPLOADS_PREFIX}{tenant_id}/{upload_id}"


def upload_id_in(key: str) -> str | None:
    """The upload id in a key `upload_key` made, or None for any other key."""
    if not key.startswith(UPLOADS_PREFIX):
        return None
    segments = key[len(UPLOADS_PREFIX) :].split("/")
    return segments[1] if len(segments) == 2 and all(segments) else None


def is_leftover(state: str | None, modified: datetime, now: datetime) -> bool:
    """Whether bytes storage holds for a direct upload can go: its upload is finished (they
    are what completion left, or a part PUT late to a URL that is still valid), or no upload
    names them (state None) long after they were stored."""
    if state is None:
        return modified <= now - UNRECORDED_GRACE
    return state not in (UploadState.ACTIVE, UploadState.COMPLETING)


def can_claim_completion(state: str, claimed_until: datetime | None, now: datetime) -> bool:
    """Whether a completion may start now: the upload is active, or a completion that held
    it died (its lease lapsed)."""
    if state == UploadState.ACTIVE:
        return True
    return state == UploadState.COMPLETING and (claimed_until is None or claimed_until <= now)


def first_problems(numbers: Sequence[int], limit: int = 100) -> list[int]:
    """At most `limit` part numbers, so an error about a huge upload stays small."""
    return list(numbers[:limit])
