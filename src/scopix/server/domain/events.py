"""Events the API exposes, where they are in the stream, and how webhooks retry: no I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from scopix.server.domain.errors import ValidationFailed

FILE_UPLOADED: Final = "file.uploaded"
FILE_DESCRIBED: Final = "file.described"
FILE_DESCRIPTION_FAILED: Final = "file.description_failed"
FILE_DELETED: Final = "file.deleted"
FILE_RESTORED: Final = "file.restored"
DOCUMENT_EXTRACTED: Final = "document.extracted"
VIDEO_ANALYZED: Final = "video.analyzed"
LINK_CRAWLED: Final = "link.crawled"
BATCH_COMPLETED: Final = "batch.completed"
# Beyond the Scopix service's list: every other state change a file's status shows.
FILE_VARIANTS_READY: Final = "file.variants_ready"
FILE_VARIANTS_FAILED: Final = "file.variants_failed"
DOCUMENT_EXTRACTION_FAILED: Final = "document.extraction_failed"
VIDEO_ANALYSIS_FAILED: Final = "video.analysis_failed"
LINK_CRAWL_FAILED: Final = "link.crawl_failed"
FILE_EXTRACTED: Final = "file.extracted"
FILE_EXTRACTION_FAILED: Final = "file.extraction_failed"
#: what `POST /webhooks/{id}/test` sends; never written to the stream
WEBHOOK_TEST: Final = "webhook.test"

EVENT_TYPES: Final = (
    FILE_UPLOADED,
    FILE_DESCRIBED,
    FILE_DESCRIPTION_FAILED,
    FILE_DELETED,
    FILE_RESTORED,
    DOCUMENT_EXTRACTED,
    VIDEO_ANALYZED,
    LINK_CRAWLED,
    BATCH_COMPLETED,
    FILE_VARIANTS_READY,
    FILE_VARIANTS_FAILED,
    DOCUMENT_EXTRACTION_FAILED,
    VIDEO_ANALYSIS_FAILED,
    LINK_CRAWL_FAILED,
    FILE_EXTRACTED,
    FILE_EXTRACTION_FAILED,
)

#: A file's history lines (FileEvent.event) that are events of the API, and which.
_FROM_HISTORY: Final = {
    "uploaded": FILE_UPLOADED,
    "description_succeeded": FILE_DESCRIBED,
    "description_failed": FILE_DESCRIPTION_FAILED,
    "deleted": FILE_DELETED,
    "restored": FILE_RESTORED,
    "text_extraction_completed": DOCUMENT_EXTRACTED,
    "video_analysis_completed": VIDEO_ANALYZED,
    "crawl_completed": LINK_CRAWLED,
    "variants_ready": FILE_VARIANTS_READY,
    "variants_failed": FILE_VARIANTS_FAILED,
    "text_extraction_failed": DOCUMENT_EXTRACTION_FAILED,
    "video_analysis_failed": VIDEO_ANALYSIS_FAILED,
    "crawl_failed": LINK_CRAWL_FAILED,
    "extraction_completed": FILE_EXTRACTED,
    "extraction_failed": FILE_EXTRACTION_FAILED,
}


def event_of_history(line: str) -> str | None:
    """The API event a line of a file's history is, if any."""
    return _FROM_HISTORY.get(line)


@dataclass(frozen=True, order=True)
class Position:
    """Where an event is in a tenant's stream: after every event with a smaller position."""

    txid: int
    seq: int

    def cursor(self) -> str:
        return f"{self.txid}-{self.seq}"


START: Final = Position(0, 0)
_CURSOR: Final = re.compile(r"^[0-9]{1,19}-[0-9]{1,19}$")
#: what `after` may be: a cursor, or `now` (where the stream stands when it is read)
NOW: Final = "now"
AFTER_PATTERN: Final = r"^([0-9]{1,19}-[0-9]{1,19}|now)$"
_BIGGEST: Final = 2**63 - 1  # a BIGINT's: no position lies past it


def parse_cursor(raw: str | None) -> Position:
    """A cursor from `next_cursor` or an SSE `id:`; none means the start of the stream."""
    if raw is None or raw == "":
        return START
    found = _CURSOR.fullmatch(raw)
    if found is None:
        raise ValidationFailed("after is not a cursor this server gave", field="after")
    txid, seq = (int(part) for part in raw.split("-"))
    return Position(min(txid, _BIGGEST), min(seq, _BIGGEST))


def event_types(wanted: Sequence[str]) -> list[str]:
    """The distinct event types a webhook asks for, each one known."""
    unknown = sorted(set(wanted) - set(EVENT_TYPES))
    if unknown:
        raise ValidationFailed(
            "unknown event types", field="events", unknown=unknown, known=list(EVENT_TYPES)
        )
    if not wanted:
        raise ValidationFailed("events must name at least one event type", field="events")
    return list(dict.fromkeys(wanted))


#: Waits before each attempt after the first, as the Standard Webhooks spec suggests: the
#: endpoint is disabled when the last one fails too (about 1.5 days after the first).
RETRY_DELAYS: Final = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)


def retry_delay(failures: int, delays: Sequence[timedelta]) -> timedelta | None:
    """How long to wait after the `failures`-th failed attempt at one event; None when no
    attempt is left and the endpoint is to be disabled."""
    return delays[failures - 1] if 1 <= failures <= len(delays) else None


def is_success(status_code: int) -> bool:
    """Standard Webhooks: any 2xx is a delivery; everything else (3xx included) is not."""
    return 200 <= status_code < 300
