"""HTTP byte ranges (RFC 9110 section 14): which bytes of a stored file a `Range` header asks
for, so a browser can seek in a video without fetching all of it (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ByteRange", "RangeNotSatisfiable", "requested_range"]

#: One range of a `Range: bytes=...` header: `first-last`, `first-` or `-suffix_length`; numbers
#: of more than 18 digits (past any file) make a header to ignore, not a huge int to parse.
_SPEC = re.compile(r"\s*(\d{0,18})\s*-\s*(\d{0,18})\s*")


class RangeNotSatisfiable(Exception):
    """The range starts past the end of a file of `size` bytes (or the file is empty)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the range starts past the end of the file ({size} bytes)")
        self.size = size


@dataclass(frozen=True)
class ByteRange:
    """Bytes `start` to `end` inclusive of a file of `size` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        """The `Content-Range` header of a 206 answer."""
        return f"bytes {self.start}-{self.end}/{self.size}"


def requested_range(header: str | None, size: int) -> ByteRange | None:
    """The bytes a `Range` header asks for of a file of `size` bytes; None when the whole file
    is to be sent as such: no header, or one that is not a single valid `bytes` range (RFC
    9110 lets a server ignore a header it cannot read, and several ranges, which no player
    asks for). Raises `RangeNotSatisfiable` for a range wholly past the end.

    A last byte past the end is cut to the end; `bytes=-n` is the last n bytes. A range of
    the whole file is still a range (Safari wants a 206 to each one it asks for)."""
    if header is None:
        return None
    unit, _, specs = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in specs:
        return None
    matched = _SPEC.fullmatch(specs)
    if matched is None:
        return None
    first, last = matched.groups()
    if not first and not last:
        return None
    if not first:  # a suffix: the last `last` bytes
        wanted = int(last)
        if wanted == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return ByteRange(max(size - wanted, 0), size - 1, size)
    start, end = int(first), int(last) if last else None
    if end is not None and end < start:
        return None  # RFC 9110: an invalid range makes the header one to ignore
    if start >= size:
        raise RangeNotSatisfiable(size)
    return ByteRange(start, size - 1 if end is None else min(end, size - 1), size)
