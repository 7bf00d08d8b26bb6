"""BlobStore on a local directory: temp file, fsync, rename, fsync the directory."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.to_thread

from scopix.server.storage.base import BlobNotFound

STAGING = ".staging"


class LocalBlobStore:
    """Blobs as files under `root`; keys are relative paths of safe segments."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.staging = self.root / STAGING
        self.staging.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if any(p in ("", ".", "..", STAGING) or "\\" in p for p in parts):
            raise ValueError(f"unsafe blob key {key!r}")
        return self.root.joinpath(*parts)

    def new_staging_path(self) -> Path:
        return self.staging / f"{uuid.uuid4().hex}.part"

    async def promote(self, staged: Path, key: str) -> None:
        await anyio.to_thread.run_sync(self._promote, staged, self._path(key))

    async def put_bytes(self, key: str, data: bytes) -> None:
        await anyio.to_thread.run_sync(self._put_bytes, self._path(key), data)

    async def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None

    async def iter_bytes(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        try:
            handle = await anyio.open_file(self._path(key), "rb")
        except FileNotFoundError:
            raise BlobNotFound(key) from None
        async with handle:
            while chunk := await handle.read(chunk_size):
                yield chunk

    async def delete_prefix(self, prefix: str) -> None:
        await anyio.to_thread.run_sync(shutil.rmtree, self._path(prefix), True)

    async def list_stale_prefixes(self, depth: int, older_than_s: float) -> list[str]:
        return await anyio.to_thread.run_sync(self._list_stale_prefixes, depth, older_than_s)

    async def sweep_staging(self, older_than_s: float) -> int:
        return await anyio.to_thread.run_sync(self._sweep_staging, older_than_s)

    def _promote(self, staged: Path, final: Path) -> None:
        _fsync_file(staged)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, final)
        _fsync_dir(final.parent)

    def _put_bytes(self, final: Path, data: bytes) -> None:
        staged = self.new_staging_path()
        with staged.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, final)
        _fsync_dir(final.parent)

    def _list_stale_prefixes(self, depth: int, older_than_s: float) -> list[str]:
        cutoff = time.time() - older_than_s
        pattern = "/".join(["*"] * depth)
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in self.root.glob(pattern)
            if p.is_dir() and STAGING not in p.parts and _newest_mtime(p) < cutoff
        )

    def _sweep_staging(self, older_than_s: float) -> int:
        cutoff = time.time() - older_than_s
        removed = 0
        for path in self.staging.iterdir():
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _newest_mtime(folder: Path) -> float:
    return max([folder.stat().st_mtime, *(p.stat().st_mtime for p in folder.iterdir())])


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
