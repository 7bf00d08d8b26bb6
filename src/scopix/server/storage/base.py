"""The BlobStore port: where bytes live, addressed by key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

import anyio


class BlobNotFound(Exception):
    """No blob under that key."""


class PartSizeMismatch(Exception):
    """A part's body was not the length its plan says."""


@dataclass(frozen=True)
class StoredPart:
    """One part of a direct upload as storage holds it."""

    number: int
    size: int
    etag: str


@dataclass(frozen=True)
class HeldUpload:
    """Bytes storage holds for the direct upload at `key`: a single part or the joined object
    (`store_upload_id` ""), or the parts of the store's upload `store_upload_id`."""

    key: str
    store_upload_id: str
    modified: datetime


class BlobStore(Protocol):
    """Durable, atomic storage of immutable blobs.

    Uploads are first written to a local staging file (`new_staging_path`), hashed on the way in,
    then `promote`d under their final key. Every write is all-or-nothing: a reader sees either
    no blob or the complete one.
    """

    def new_staging_path(self) -> Path:
        """A fresh local path to stream an upload into (same filesystem as the store if local)."""
        ...

    def new_staging_file(self) -> Path | None:
        """An empty file at a fresh staging path, made ahead of need, or None when none is
        ready: writing into it costs no file creation (storage/staging.py)."""
        ...

    async def promote(
        self, staged: Path, key: str, beside: Mapping[str, bytes] | None = None
    ) -> list[str]:
        """Make the staged file durable under `key`; the staged path is consumed. Each of
        `beside` (key -> small bytes, as `put_bytes` stores them: a new blob's first variants)
        is stored first, in the same trip. The keys of `beside` stored, in order, up to the
        first one refused (logged; what goes beside a blob is made again by a job); OSError
        when the staged file is not promoted."""
        ...

    async def settle(self, staged: Path) -> None:
        """Start making a staged file's bytes durable ahead of its `promote` (which then has
        less left to do), or do nothing where `promote` copies them elsewhere."""
        ...

    async def put_bytes(self, key: str, data: bytes) -> None:
        """Store small bytes (a variant) atomically under `key`."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether a complete blob exists under `key`."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A path the server may stream from, when the store is on local disk."""
        ...

    def iter_bytes(
        self, key: str, chunk_size: int = 1 << 20, *, start: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """The blob's bytes in chunks, from byte `start` on, `length` of them (all by
        default); raises BlobNotFound."""
        ...

    async def delete_prefix(self, prefix: str) -> None:
        """Remove every blob whose key starts with `prefix`."""
        ...

    async def list_stale_prefixes(self, depth: int, older_than_s: float) -> list[str]:
        """Key prefixes `depth` segments deep, untouched for `older_than_s` (for sweeping)."""
        ...

    async def sweep_staging(self, older_than_s: float) -> int:
        """Delete staging files abandoned for longer than `older_than_s`; returns the count."""
        ...

    async def read_head(self, key: str, size: int) -> bytes:
        """The first `size` bytes of a blob (fewer if it is shorter); raises BlobNotFound."""
        ...

    async def move(self, key: str, new_key: str) -> None:
        """Give a complete blob a new key (replacing what is there); raises BlobNotFound."""
        ...

    async def delete(self, key: str) -> None:
        """Remove one blob; absent is fine."""
        ...

    # Direct uploads: a client sends numbered parts of one object straight to storage. A
    # `store_upload_id` of "" means a single part (one PUT of the whole object). Parts are
    # write-once: sealing joins what was stored whole before it, and after `seal_parts` or
    # `abort_parts` no part sent, even one still arriving, can change the object at `key`.

    async def begin_parts(self, key: str, multipart: bool) -> str:
        """Get ready to receive parts for `key`; returns the store's id for this upload."""
        ...

    def part_url(self, key: str, store_upload_id: str, number: int, expires_s: int) -> str | None:
        """A presigned URL the client PUTs part `number` to, or None when the server receives
        the parts itself (`PartReceiver`)."""
        ...

    async def list_parts(self, key: str, store_upload_id: str) -> list[StoredPart]:
        """The parts stored so far, ordered by number; [] when none (or the upload is gone)."""
        ...

    async def seal_parts(self, key: str, store_upload_id: str, parts: Sequence[StoredPart]) -> None:
        """Join `parts` into the complete object at `key`, which no part URL names; the parts
        are consumed and the upload takes no more. Raises ValueError, joining nothing, when a
        part is not stored exactly as given."""
        ...

    async def abort_parts(self, key: str, store_upload_id: str) -> None:
        """Free every part received and anything at `key`; idempotent."""
        ...

    async def list_held_uploads(self, prefix: str) -> list[HeldUpload]:
        """The direct uploads under `prefix` that storage still holds bytes of (for sweeping
        those of finished uploads, such as a part PUT late to a presigned URL)."""
        ...


@runtime_checkable
class PartReceiver(Protocol):
    """A store whose direct-upload parts arrive through the Scopix server (local disk)."""

    async def receive_part(
        self,
        store_upload_id: str,
        number: int,
        offset: int,
        size: int,
        chunks: AsyncIterator[bytes],
    ) -> StoredPart:
        """Store one part of `size` bytes, the object's bytes from `offset` on, replacing an
        earlier copy only once it is whole. Raises PartSizeMismatch, keeping the earlier copy,
        when the body is shorter or longer, and BlobNotFound when the upload was sealed or
        aborted before the part was whole. Each copy stored gets an etag of its own."""
        ...

    async def read_part(
        self, store_upload_id: str, number: int, into: Callable[[memoryview], None]
    ) -> StoredPart | None:
        """Pass the bytes of part `number` to `into` (in a worker thread), and return the part
        they are, the copy the upload holds then; None, passing nothing, when it holds none
        or one is being written. Whatever `into` got is to be dropped if this raises."""
        ...


@asynccontextmanager
async def local_copy(store: BlobStore, key: str) -> AsyncIterator[Path]:
    """A local file with the blob's bytes: the blob itself on local disk, else a staged copy."""
    path = store.local_path(key)
    if path is not None:
        if not path.exists():
            raise BlobNotFound(key)
        yield path
        return
    staged = store.new_staging_path()
    try:
        async with await anyio.open_file(staged, "wb") as out:
            async for chunk in store.iter_bytes(key):
                await out.write(chunk)
        yield staged
    finally:
        staged.unlink(missing_ok=True)
