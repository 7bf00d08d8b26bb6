"""Progress events that batch uploads pass to their callbacks."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DescriptionProgress", "UploadProgress"]


@dataclass(frozen=True)
class UploadProgress:
    """Bytes and files sent so far out of the whole upload.

    ``bytes_sent`` can go down: a request that is retried is counted again from zero.
    """

    files_done: int
    files_total: int
    bytes_sent: int
    bytes_total: int


@dataclass(frozen=True)
class DescriptionProgress:
    """How many of the uploaded files have their description settled."""

    completed: int
    failed: int
    pending: int
    total: int

    @property
    def done(self) -> int:
        """Files whose description will not change any more (completed, skipped or failed)."""
        return self.completed + self.failed
