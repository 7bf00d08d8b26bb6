"""The description status machine: which event moves a file's `description_status` where.

```
                         ┌── RETRY_SCHEDULED, LEASE_EXPIRED ───┐
                         ▼                                     │
  pending ─REQUESTED─▶ queued ─────────CLAIMED─────────▶ processing ─SUCCEEDED─▶ completed
     │                 │ │ ▲                               │ FAILED                  │
     │ SKIPPED         │ │ └── REQUESTED ──────────────────┼──┴──────────────────────┘
     ▼      SKIPPED    │ │         FAILED                  ▼  │
  skipped ◀────────────┘ └─────────────────────────────▶ failed
```

In words (``TRANSITIONS`` below is the single source of truth):

- pending    --REQUESTED-->       queued
- pending    --SKIPPED-->         skipped
- queued     --CLAIMED-->         processing
- queued     --FAILED-->          failed      (given up without running, e.g. attempts exhausted)
- queued     --SKIPPED-->         skipped
- processing --SUCCEEDED-->       completed
- processing --RETRY_SCHEDULED--> queued      (a retryable failure; it runs again later)
- processing --LEASE_EXPIRED-->   queued      (the worker vanished; it runs again)
- processing --FAILED-->          failed
- completed  --REQUESTED-->       queued      (describe again)
- failed     --REQUESTED-->       queued      (try again)

`skipped` is final: there is nothing to describe. Every other pair raises
`IllegalTransition`. The table guards statuses, not ownership: a stale worker whose file was
re-queued and claimed again would still see `processing`, so telling workers apart is the
lease's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from scopix.types.describe import DescriptionStatus

__all__ = [
    "TRANSITIONS",
    "DescriptionEvent",
    "IllegalTransition",
    "can_request",
    "initial_status",
    "is_active",
    "next_status",
]

_S = DescriptionStatus


class DescriptionEvent(StrEnum):
    """Something that happened to a file's description."""

    REQUESTED = "requested"  # pending/completed/failed -> queued: a describe was asked for
    CLAIMED = "claimed"  # queued -> processing: a worker took a lease
    SUCCEEDED = "succeeded"  # processing -> completed
    RETRY_SCHEDULED = "retry_scheduled"  # processing -> queued: retryable failure, runs again
    LEASE_EXPIRED = "lease_expired"  # processing -> queued: the worker vanished, runs again
    FAILED = "failed"  # processing/queued -> failed: given up
    SKIPPED = "skipped"  # pending/queued -> skipped: nothing to describe


_E = DescriptionEvent

TRANSITIONS: Mapping[tuple[DescriptionStatus, DescriptionEvent], DescriptionStatus] = (
    MappingProxyType(
        {
            (_S.PENDING, _E.REQUESTED): _S.QUEUED,
            (_S.PENDING, _E.SKIPPED): _S.SKIPPED,
            (_S.QUEUED, _E.CLAIMED): _S.PROCESSING,
            (_S.QUEUED, _E.FAILED): _S.FAILED,
            (_S.QUEUED, _E.SKIPPED): _S.SKIPPED,
            (_S.PROCESSING, _E.SUCCEEDED): _S.COMPLETED,
            (_S.PROCESSING, _E.RETRY_SCHEDULED): _S.QUEUED,
            (_S.PROCESSING, _E.LEASE_EXPIRED): _S.QUEUED,
            (_S.PROCESSING, _E.FAILED): _S.FAILED,
            (_S.COMPLETED, _E.REQUESTED): _S.QUEUED,
            (_S.FAILED, _E.REQUESTED): _S.QUEUED,
        }
    )
)
"""(current status, event) -> next status. Read-only: the machine changes here or nowhere."""

_ACTIVE: frozenset[DescriptionStatus] = frozenset({_S.QUEUED, _S.PROCESSING})


class IllegalTransition(Exception):
    """An event that the current status does not allow."""

    def __init__(self, current: DescriptionStatus, event: DescriptionEvent) -> None:
        self.current = current
        self.event = event
        super().__init__(
            f"description event {event.value!r} is not allowed in status {current.value!r}"
        )


def next_status(current: DescriptionStatus, event: DescriptionEvent) -> DescriptionStatus:
    """The status after `event`; raise IllegalTransition for anything not in the table."""
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise IllegalTransition(current, event) from None


def initial_status(*, auto_describe: bool, describable: bool) -> DescriptionStatus:
    """The status of a freshly stored file.

    Nothing to describe wins over auto_describe: a skipped file never enters the queue.
    """
    if not describable:
        return _S.SKIPPED
    return _S.QUEUED if auto_describe else _S.PENDING


def can_request(current: DescriptionStatus) -> bool:
    """Whether `POST /files/{id}/describe` may queue an attempt (otherwise 409 or refused)."""
    return (current, _E.REQUESTED) in TRANSITIONS


def is_active(current: DescriptionStatus) -> bool:
    """Whether an attempt is queued or running, so a crash-recovery sweep must look at it."""
    return current in _ACTIVE
