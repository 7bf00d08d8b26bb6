"""BlobStore on a local directory: temp file, fsync, rename, fsync the directory.

Direct uploads are received by the server itself (`PartReceiver`): each one has a working folder
`.parts/<store_upload_id>/` holding a `data` file, into which every part is written at its own
offset, and one `<n>.part` marker per part received (its size and MD5 etag). The marker is
written only after the bytes are durable, so a marker always vouches for its bytes; completing
renames `data` into place, with no copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import anyio
import anyio.to_thread

from scopix.server.storage.base import BlobNotFound, PartSizeMismatch, StoredPart

STAGING = ".staging"
PARTS = ".parts"
#: Working folders of the store, never blobs: no key may name them, no sweep may touch them.
HIDDEN = frozenset({STAGING, PARTS})
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


class LocalBlobStore:
    """Blobs as files under `root`; keys are relative paths of safe segments."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.staging = self.root / STAGING
        self.staging.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if any(p in ("", ".", "..") or p in HIDDEN or "\\" in p for p in parts):
            raise ValueError(f"unsafe blob key {key!r}")
        return self.root.joinpath(*parts)

    def _upload_dir(self, store_upload_id: str) -> Path:
        # The id comes back from the catalog, but it still becomes a path: only our own shape.
        if not _UPLOAD_ID.fullmatch(store_upload_id):
            raise BlobNotFound(f"direct upload {store_upload_id!r}")
        return self.root / PARTS / store_upload_id

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

    async def read_head(self, key: str, size: int) -> bytes:
        return await anyio.to_thread.run_sync(_read_head, self._path(key), size)

    async def move(self, key: str, new_key: str) -> None:
        await anyio.to_thread.run_sync(_move, self._path(key), self._path(new_key))

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(self._path(key).unlink, True)

    async def delete_prefix(self, prefix: str) -> None:
        await anyio.to_thread.run_sync(shutil.rmtree, self._path(prefix), True)

    async def list_stale_prefixes(self, depth: int, older_than_s: float) -> list[str]:
        return await anyio.to_thread.run_sync(self._list_stale_prefixes, depth, older_than_s)

    async def sweep_staging(self, older_than_s: float) -> int:
        return await anyio.to_thread.run_sync(self._sweep_staging, older_than_s)

    async def begin_parts(self, key: str, multipart: bool) -> str:
        self._path(key)  # refuse an unsafe key now, not at the end of a long upload
        store_upload_id = uuid.uuid4().hex
        await anyio.to_thread.run_sync(self._begin, self._upload_dir(store_upload_id))
        return store_upload_id

    def part_url(self, key: str, store_upload_id: str, number: int, expires_s: int) -> str | None:
        return None

    async def receive_part(
        self,
        store_upload_id: str,
        number: int,
        offset: int,
        size: int,
        chunks: AsyncIterator[bytes],
    ) -> StoredPart:
        folder = self._upload_dir(store_upload_id)
        fd = await anyio.to_thread.run_sync(_open_for_part, folder, number)
        try:
            etag = await _write_part(fd, offset, size, chunks)
            await anyio.to_thread.run_sync(os.fsync, fd)
        finally:
            os.close(fd)
        part = StoredPart(number, size, etag)
        await anyio.to_thread.run_sync(_write_marker, folder, part)
        return part

    async def list_parts(self, key: str, store_upload_id: str) -> list[StoredPart]:
        try:
            folder = self._upload_dir(store_upload_id)
        except BlobNotFound:
            return []
        return await anyio.to_thread.run_sync(_list_parts, folder)

    async def seal_parts(self, key: str, store_upload_id: str, parts: Sequence[StoredPart]) -> None:
        folder, final = self._upload_dir(store_upload_id), self._path(key)
        await anyio.to_thread.run_sync(_seal, folder, final, list(parts))

    async def abort_parts(self, key: str, store_upload_id: str) -> None:
        final = self._path(key)
        try:
            folder: Path | None = self._upload_dir(store_upload_id)
        except BlobNotFound:
            folder = None
        await anyio.to_thread.run_sync(_abort, folder, final)

    def _begin(self, folder: Path) -> None:
        folder.mkdir(parents=True)
        (folder / "data").touch(exist_ok=False)
        # Durable before the catalog names it: a crash must not lose a begun upload's folder.
        _fsync_dir(folder)
        _fsync_dir(folder.parent)

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
        found = []
        for path in self.root.glob(pattern):
            relative = path.relative_to(self.root)
            if relative.parts[0] in HIDDEN or not path.is_dir():
                continue
            if _newest_mtime(path) < cutoff:
                found.append(relative.as_posix())
        return sorted(found)

    def _sweep_staging(self, older_than_s: float) -> int:
        cutoff = time.time() - older_than_s
        removed = 0
        for path in self.staging.iterdir():
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _read_head(path: Path, size: int) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(size)
    except FileNotFoundError:
        raise BlobNotFound(path.name) from None


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
    except FileNotFoundError:
        raise BlobNotFound(source.name) from None
    _fsync_dir(target.parent)
    if source.parent != target.parent:
        _fsync_dir(source.parent)


def _open_for_part(folder: Path, number: int) -> int:
    try:
        fd = os.open(folder / "data", os.O_WRONLY)
    except FileNotFoundError:
        raise BlobNotFound(f"direct upload {folder.name}") from None
    # The part's range is about to be rewritten: an earlier copy's marker no longer vouches for
    # it, and a failed resend must leave the part missing, not falsely present.
    (folder / f"{number}.part").unlink(missing_ok=True)
    return fd


async def _write_part(fd: int, offset: int, size: int, chunks: AsyncIterator[bytes]) -> str:
    """Write the body at `offset`, never past `offset + size`; returns the part's MD5 hex."""
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    async for chunk in chunks:
        if received + len(chunk) > size:
            # Writing on would overwrite the next part's bytes: stop before touching them.
            raise PartSizeMismatch(f"the part's body is longer than its {size} bytes")
        await anyio.to_thread.run_sync(_write_at, fd, chunk, offset + received, digest.update)
        received += len(chunk)
    if received != size:
        raise PartSizeMismatch(f"the part's body has {received} bytes, not {size}")
    return digest.hexdigest()


def _write_at(fd: int, chunk: bytes, position: int, hash_update: Callable[[bytes], None]) -> None:
    view = memoryview(chunk)
    while view:
        written = os.pwrite(fd, view, position)
        view, position = view[written:], position + written
    hash_update(chunk)  # here, off the event loop: MD5 of a large chunk takes milliseconds


def _write_marker(folder: Path, part: StoredPart) -> None:
    temp = folder / f"{part.number}.part.{uuid.uuid4().hex}.tmp"
    try:
        with temp.open("x") as handle:
            json.dump({"size": part.size, "etag": part.etag}, handle)
            handle.flush()
            os.fsync(handle.fileno())
    except FileNotFoundError:  # aborted while the part was arriving
        raise BlobNotFound(f"direct upload {folder.name}") from None
    os.replace(temp, folder / f"{part.number}.part")
    _fsync_dir(folder)


def _list_parts(folder: Path) -> list[StoredPart]:
    parts = []
    for marker in folder.glob("*.part"):
        try:
            fields = json.loads(marker.read_text())
        except FileNotFoundError:  # aborted or sealed meanwhile
            continue
        parts.append(StoredPart(int(marker.stem), fields["size"], fields["etag"]))
    return sorted(parts, key=lambda part: part.number)


def _seal(folder: Path, final: Path, parts: list[StoredPart]) -> None:
    try:
        handle = (folder / "data").open("r+b")
    except FileNotFoundError:
        raise BlobNotFound(f"direct upload {folder.name}") from None
    with handle:
        _check_stored(folder, parts)
        handle.truncate(sum(part.size for part in parts))
        handle.flush()
        os.fsync(handle.fileno())
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(folder / "data", final)
    _fsync_dir(final.parent)
    shutil.rmtree(folder, ignore_errors=True)


def _check_stored(folder: Path, parts: list[StoredPart]) -> None:
    """Refuse, as S3 does, to join a part that is not stored exactly as the caller says."""
    stored = {part.number: part for part in _list_parts(folder)}
    for part in parts:
        if stored.get(part.number) != part:
            raise ValueError(f"part {part.number} is not stored as given")


def _abort(folder: Path | None, final: Path) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    final.unlink(missing_ok=True)


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
