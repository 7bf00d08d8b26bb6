"""How many bytes a request body may carry before anyone reads it: decided from the declared
`Content-Length` up front, then counted as the bytes stream in (a chunked body declares none)."""

from __future__ import annotations

from typing import Final

from scopix.server.domain.errors import PayloadTooLarge

#: Every JSON body the API takes (edits, batch deletes, direct-upload plans, usage checks) is a
#: few kilobytes; 1 MiB leaves room for the largest valid one and no more.
MAX_JSON_BODY_BYTES: Final = 1 << 20


def declared_length(value: str | None) -> int | None:
    """A `Content-Length` header as a number; None when absent or not a plain number (the HTTP
    server refuses a malformed one before the app sees it)."""
    if value is None or not value.isascii() or not value.isdigit():
        return None
    return int(value)


class BodyBudget:
    """A body's bytes counted against a limit as they arrive."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def check_declared(self, declared: int | None) -> None:
        """Refuse a body that says up front it will not fit."""
        if declared is not None and declared > self.limit:
            raise self._refusal()

    def take(self, size: int) -> None:
        """Count `size` more bytes; PayloadTooLarge once the total passes the limit."""
        self.used += size
        if self.used > self.limit:
            raise self._refusal()

    def _refusal(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"this request's body may carry at most {self.limit:,} bytes", limit=self.limit
        )
