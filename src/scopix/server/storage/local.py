"""BlobStore on a local directory: temp file, fsync, rename, fsync the directory.

Direct uploads are received by the server itself (`PartReceiver`): each one has a working folder
`.parts/<store_upload_id>/` naming its key in `key`. Every part PUT writes a temporary file of
its own and, only once the body is whole and durable, renames it to `<n>.data` and writes the
`<n>.part` marker (its size and MD5 etag): a marker always vouches for its bytes, and no earlier
copy is touched by a body that fails. Sealing or aborting first renames the folder away, in one
atomic step: a PUT still arriving then finds no folder to rename its file into, so it cannot
land after completion; its descriptor points at a file nothing will read. Sealing appends the
other parts to part 1's file (a rename, no copy, for a single part) and renames it into place.

Commits of the same part are serialized by an flock on `<n>.lock`, so that a marker matches the
bytes beside it even with several server processes on one host. Nothing more is needed: local
storage is one host's disk, and every step that decides what is stored is an atomic rename.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import anyio
import anyio.to_thread

from scopix.server.storage.base import (
    BlobNotFound,
    HeldUpload,
    PartSizeMismatch,
    StoredPart,
)

STAGING = ".staging"
PARTS = ".parts"
#: Working folders of the store, never blobs: no key may name them, no sweep may touch them.
HIDDEN = frozenset({STAGING, PARTS})
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
#: a working folder renamed away by a seal or an abort: no part can arrive in it any more
_CLOSED = ".closed-"


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

    async def iter_bytes(
        self, key: str, chunk_size: int = 1 << 20, *, start: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        try:
            handle = await anyio.open_file(self._path(key), "rb")
        except FileNotFoundError:
            raise BlobNotFound(key) from None
        async with handle:
            await handle.seek(start)
            left = math.inf if length is None else length
            while left > 0 and (chunk := await handle.read(int(min(chunk_size, left)))):
                left -= len(chunk)
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
        await anyio.to_thread.run_sync(_begin, self._upload_dir(store_upload_id), key)
        return store_upload_id

    def part_url(self, key: str, store_upload_id: str, number: int, expires_s: int) -> str | None:
        return None

    async def receive_part(
        self, store_upload_id: str, number: int, size: int, chunks: AsyncIterator[bytes]
    ) -> StoredPart:
        folder = self._upload_dir(store_upload_id)
        temp = folder / f"{number}.{uuid.uuid4().hex}.tmp"
        try:
            fd = await anyio.to_thread.run_sync(_create_temp, temp)
            try:
                etag = await _write_part(fd, size, chunks)
                await anyio.to_thread.run_sync(os.fsync, fd)
            finally:
                os.close(fd)
            part = StoredPart(number, size, etag)
            await anyio.to_thread.run_sync(_commit_part, folder, temp, part)
        finally:
            with anyio.CancelScope(shield=True):  # a cut body leaves no temporary file behind
                await anyio.to_thread.run_sync(temp.unlink, True)
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

    async def list_held_uploads(self, prefix: str) -> list[HeldUpload]:
        return await anyio.to_thread.run_sync(self._held_uploads, prefix)

    def _held_uploads(self, prefix: str) -> list[HeldUpload]:
        held = [
            HeldUpload(key, folder.name, modified)
            for folder, key, modified in _open_upload_folders(self.root / PARTS)
            if key.startswith(prefix)
        ]
        top = self._path(prefix.rstrip("/"))
        for path in top.rglob("*") if top.is_dir() else ():
            with contextlib.suppress(FileNotFoundError):  # moved or freed meanwhile
                if path.is_file():
                    key = path.relative_to(self.root).as_posix()
                    held.append(HeldUpload(key, "", _modified(path)))
        return held

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
        # What a seal or an abort renamed away and a crash kept it from removing.
        for folder in (self.root / PARTS).glob(f"*{_CLOSED}*"):
            with contextlib.suppress(FileNotFoundError):  # its seal or abort finished meanwhile
                if _newest_mtime(folder) < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
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


def _begin(folder: Path, key: str) -> None:
    folder.mkdir(parents=True)
    (folder / "key").write_text(key)
    # Durable before the catalog names it: a crash must not lose a begun upload's folder.
    _fsync_dir(folder)
    _fsync_dir(folder.parent)


def _create_temp(temp: Path) -> int:
    try:
        return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileNotFoundError:
        raise BlobNotFound(f"direct upload {temp.parent.name}") from None


async def _write_part(fd: int, size: int, chunks: AsyncIterator[bytes]) -> str:
    """Write the body, never more than `size` bytes; returns the part's MD5 hex."""
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    async for chunk in chunks:
        if received + len(chunk) > size:
            raise PartSizeMismatch(f"the part's body is longer than its {size} bytes")
        await anyio.to_thread.run_sync(_write_at, fd, chunk, received, digest.update)
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


def _commit_part(folder: Path, temp: Path, part: StoredPart) -> None:
    """Put a whole, durable part in place of any earlier copy, unless the folder was closed.

    Every path is looked up in the open folder: once a seal or an abort renamed it away, each
    step fails, and nothing of this part reaches what they join or keep."""
    try:
        with _part_lock(folder, part.number):
            # The earlier copy's marker goes first: a crash midway leaves the part missing,
            # never an old etag vouching for new bytes.
            (folder / f"{part.number}.part").unlink(missing_ok=True)
            os.replace(temp, folder / f"{part.number}.data")
            _write_marker(folder, part)
    except FileNotFoundError:
        raise BlobNotFound(f"direct upload {folder.name}") from None


@contextlib.contextmanager
def _part_lock(folder: Path, number: int) -> Iterator[None]:
    fd = os.open(folder / f"{number}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_marker(folder: Path, part: StoredPart) -> None:
    temp = folder / f"{part.number}.part.{uuid.uuid4().hex}.tmp"
    with temp.open("x") as handle:
        json.dump({"size": part.size, "etag": part.etag}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, folder / f"{part.number}.part")
    _fsync_dir(folder)


def _list_parts(folder: Path) -> list[StoredPart]:
    parts = []
    for marker in folder.glob("*.part"):
        try:
            fields = json.loads(marker.read_text())
            stored = (folder / f"{marker.stem}.data").stat().st_size
        except FileNotFoundError:  # aborted, sealed or replaced meanwhile
            continue
        if stored == fields["size"]:  # else not a part this store wrote whole
            parts.append(StoredPart(int(marker.stem), fields["size"], fields["etag"]))
    return sorted(parts, key=lambda part: part.number)


def _close(folder: Path) -> Path:
    """Rename the working folder away: from here on no part can be committed into it."""
    closed = folder.with_name(f"{folder.name}{_CLOSED}{uuid.uuid4().hex}")
    try:
        os.rename(folder, closed)
    except FileNotFoundError:
        raise BlobNotFound(f"direct upload {folder.name}") from None
    return closed


def _seal(folder: Path, final: Path, parts: list[StoredPart]) -> None:
    closed = _close(folder)
    try:
        _check_stored(closed, parts)
    except ValueError:
        os.rename(closed, folder)  # nothing was joined: the upload takes parts again
        raise
    joined = _join(closed, parts)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(joined, final)
    _fsync_dir(final.parent)
    shutil.rmtree(closed, ignore_errors=True)


def _join(closed: Path, parts: list[StoredPart]) -> Path:
    """Append parts 2.. to part 1's file. No PUT holds a descriptor of a committed part's file
    (each writes a temporary file of its own), so nothing else writes to what is joined."""
    if not parts:
        raise ValueError("there is no part to join")
    first, *rest = parts
    joined = closed / f"{first.number}.data"
    with joined.open("r+b") as out:
        out.truncate(first.size)
        out.seek(first.size)
        for part in rest:
            with (closed / f"{part.number}.data").open("rb") as source:
                _copy_exactly(source.fileno(), out.fileno(), part.size)
        out.flush()
        os.fsync(out.fileno())
    return joined


def _copy_exactly(source: int, target: int, size: int) -> None:
    """Copy `size` bytes in the kernel (a reflink where the filesystem has them)."""
    left = size
    while left:
        copied = os.copy_file_range(source, target, left)
        if copied == 0:
            raise ValueError(f"a part's file holds fewer than its {size} bytes")
        left -= copied


def _check_stored(folder: Path, parts: list[StoredPart]) -> None:
    """Refuse, as S3 does, to join a part that is not stored exactly as the caller says."""
    stored = {part.number: part for part in _list_parts(folder)}
    for part in parts:
        if stored.get(part.number) != part:
            raise ValueError(f"part {part.number} is not stored as given")


def _abort(folder: Path | None, final: Path) -> None:
    if folder is not None:
        with contextlib.suppress(BlobNotFound):  # aborted or sealed before
            shutil.rmtree(_close(folder), ignore_errors=True)
    final.unlink(missing_ok=True)


def _open_upload_folders(parts_root: Path) -> Iterator[tuple[Path, str, datetime]]:
    """(folder, key, last change) of every direct upload still taking parts."""
    if not parts_root.is_dir():
        return
    for folder in parts_root.iterdir():
        if not _UPLOAD_ID.fullmatch(folder.name):
            continue
        try:
            key = (folder / "key").read_text()
            modified = datetime.fromtimestamp(_newest_mtime(folder), UTC)
        except FileNotFoundError:  # sealed or aborted meanwhile
            continue
        yield folder, key, modified


def _modified(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


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
