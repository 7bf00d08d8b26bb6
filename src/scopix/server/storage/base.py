"""The BlobStore port: where bytes live, addressed by key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

import anyio


class BlobNotFound(Exception):
    """No blob under that key."""


class BlobStore(Protocol):
    """Durable, atomic storage of immutable blobs.

    Uploads are first written to a local staging file (`new_staging_path`), hashed on the way in,
    then `promote`d under their final key. Every write is all-or-nothing: a reader sees either
    no blob or the complete one.
    """

    def new_staging_path(self) -> Path:
        """A fresh local path to stream an upload into (same filesystem as the store if local)."""
        ...

    async def promote(self, staged: Path, key: str) -> None:
        """Make the staged file durable under `key`; the staged path is consumed."""
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

    def iter_bytes(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """The blob's bytes in chunks; raises BlobNotFound."""
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
