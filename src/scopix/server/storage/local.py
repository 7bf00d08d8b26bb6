"""BlobStore on a local directory: temp file, fsync, rename, fsync the directory.

Direct uploads are received by the server itself (`PartReceiver`): each one has a working folder
`.parts/<store_upload_id>/` naming its key in `key`, and one file `data` that every part is
written into at its own offset, so that sealing copies nothing: it renames `data` into place. A
part is vouched for by its `<n>.part` marker (offset, size, and an etag naming that copy),
written only once the bytes are durable; the marker goes before its range is written again.

Every step that writes part n's range or marker holds an flock on `<n>.lock` for that step
alone (several server processes on one host take the same locks), and opens `data` by path.
The first copy of a part is written straight into `data`, each write checking that `<n>.owner`
still names it; a copy sent while the part is stored, or while another copy is being written,
goes to a temporary file of its own and is copied into `data` only once whole and durable (a
body that fails never touches a stored copy), taking the range over from a copy still written
in place. Sealing or aborting first renames the folder away, in one atomic step: every later
path lookup of a PUT fails, so nothing is written or committed after completion. A seal then
takes each part's lock once, refusing while a write holds one, and checks the markers.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import io
import json
import logging
import math
import os
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
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
from scopix.server.storage.staging import AHEAD_SUFFIX, StagingFolder

log = logging.getLogger("scopix.storage")

STAGING = ".staging"
PARTS = ".parts"
#: Working folders of the store, never blobs: no key may name them, no sweep may touch them.
HIDDEN = frozenset({STAGING, STAGING + AHEAD_SUFFIX, PARTS})
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
#: a working folder renamed away by a seal or an abort: no part can arrive in it any more
_CLOSED = ".closed-"
#: bytes of a part's body handed to a worker thread at a time, and network chunks at most
WRITE_BATCH = 1 << 20
_WRITE_BATCH_CHUNKS = 256
#: bytes read at a time when a stored part is read back
READ_CHUNK = 1 << 20


class LocalBlobStore:
    """Blobs as files under `root`; keys are relative paths of safe segments."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._staging = StagingFolder(self.root / STAGING)
        self.staging = self._staging.folder

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
        return self._staging.new_path()

    def new_staging_file(self) -> Path | None:
        return self._staging.made_file()

    async def promote(
        self, staged: Path, key: str, beside: Mapping[str, bytes] | None = None
    ) -> list[str]:
        placed = [(k, self._path(k), data) for k, data in (beside or {}).items()]
        return await anyio.to_thread.run_sync(self._promote, staged, self._path(key), placed)

    async def settle(self, staged: Path) -> None:
        await anyio.to_thread.run_sync(_fsync_file, staged)

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
        self,
        store_upload_id: str,
        number: int,
        offset: int,
        size: int,
        chunks: AsyncIterator[bytes],
    ) -> StoredPart:
        folder = self._upload_dir(store_upload_id)
        # The etag names this copy: completion checks that the copies it hashed are the ones
        # sealed, and an MD5 would cost more CPU than the rest of the part's path together.
        placed = _Placed(offset, StoredPart(number, size, uuid.uuid4().hex))
        token = await anyio.to_thread.run_sync(_claim_first_copy, folder, number)
        if token is None:
            await _receive_beside(folder, placed, chunks)
        else:
            await _receive_in_place(token, folder, placed, chunks)
        return placed.part

    async def read_part(
        self, store_upload_id: str, number: int, into: Callable[[memoryview], None]
    ) -> StoredPart | None:
        try:
            folder = self._upload_dir(store_upload_id)
        except BlobNotFound:
            return None
        return await anyio.to_thread.run_sync(_read_part, folder, number, into)

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

    def _put_bytes(self, final: Path, data: bytes) -> None:
        self._write_whole(final, data)
        fsync_dir(final.parent)

    def _write_whole(self, final: Path, data: bytes) -> None:
        """Write `data` durably under a temporary name and rename it to `final`; the rename
        is durable once `final`'s folder is fsynced."""
        staged = self.new_staging_path()
        # os-level calls, not a buffered file: each system call a worker thread makes takes
        # the GIL back from the event loop, and open() alone made three (fstat, ioctl, lseek).
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        _replace_into(staged, final)

    def _promote(
        self, staged: Path, final: Path, beside: Sequence[tuple[str, Path, bytes]]
    ) -> list[str]:
        stored: list[str] = []
        folders = {final.parent}
        for key, path, data in beside:
            try:
                self._write_whole(path, data)
            except OSError as exc:
                log.warning("%s not stored: %s", key, exc)
                break
            stored.append(key)
            folders.add(path.parent)
        _fsync_file(staged)
        _replace_into(staged, final)
        for folder in folders:  # a blob's variants share its folder: one fsync for all
            fsync_dir(folder)
        return stored

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
    fsync_dir(target.parent)
    if source.parent != target.parent:
        fsync_dir(source.parent)


def _begin(folder: Path, key: str) -> None:
    folder.mkdir(parents=True)
    (folder / "key").write_text(key)
    # Durable before the catalog names it: a crash must not lose a begun upload's folder.
    fsync_dir(folder)
    fsync_dir(folder.parent)


@dataclass(frozen=True)
class _Placed:
    """A part and where its bytes lie in `data`."""

    offset: int
    part: StoredPart


def _claim_first_copy(folder: Path, number: int) -> str | None:
    """Claim part `number`'s range for a first copy written in place: the copy's token, or
    None when a copy is stored or another is being written in place."""
    owner = _owner(folder, number)
    with _held_lock(folder, number):
        if (folder / f"{number}.part").exists() or owner.exists():
            return None
        token = uuid.uuid4().hex
        owner.write_text(token)
        return token


def _owner(folder: Path, number: int) -> Path:
    """Names the copy being written in place into part `number`'s range."""
    return folder / f"{number}.owner"


@contextlib.contextmanager
def _held_lock(folder: Path, number: int) -> Iterator[None]:
    """Part `number`'s lock; every holder keeps it for one short step only."""
    try:
        fd = os.open(folder / f"{number}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    except FileNotFoundError:
        raise BlobNotFound(f"direct upload {folder.name}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _try_lock(folder: Path, number: int) -> int | None:
    """Part `number`'s lock, or None while another holds it."""
    try:
        fd = os.open(folder / f"{number}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    except FileNotFoundError:
        raise BlobNotFound(f"direct upload {folder.name}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _open_data(folder: Path) -> int:
    try:
        return os.open(folder / "data", os.O_WRONLY | os.O_CREAT, 0o600)
    except FileNotFoundError:
        raise BlobNotFound(f"direct upload {folder.name}") from None


def _require_owner(folder: Path, number: int, token: str) -> None:
    """Refuse a copy whose range a later copy took over (or a seal or abort closed)."""
    try:
        owner = _owner(folder, number).read_text()
    except FileNotFoundError:
        owner = None
    if owner != token:
        raise BlobNotFound(f"part {number} of direct upload {folder.name} was taken over")


def _write_owned(folder: Path, number: int, token: str, chunks: list[bytes], position: int) -> None:
    """Write into `data` while the range is still this copy's, holding the lock for this one
    write: `data` is opened by path each time, so a closed folder stops it too."""
    with _held_lock(folder, number):
        _require_owner(folder, number, token)
        data = _open_data(folder)
        try:
            _pwrite_all(data, chunks, position)
        finally:
            os.close(data)


def _finish_owned(folder: Path, placed: _Placed, token: str) -> None:
    """Make a copy written in place durable and vouch for it, if the range is still its own."""
    number = placed.part.number
    with _held_lock(folder, number):
        _require_owner(folder, number, token)
        data = _open_data(folder)
        try:
            os.fsync(data)
        finally:
            os.close(data)
        _write_marker(folder, placed)
        _owner(folder, number).unlink()


def _disown(folder: Path, number: int, token: str) -> None:
    """Give a failed copy's range up, so that the next copy may be written in place again."""
    with contextlib.suppress(BlobNotFound), _held_lock(folder, number):
        owner = _owner(folder, number)
        if owner.exists() and owner.read_text() == token:
            owner.unlink()


async def _receive_in_place(
    token: str, folder: Path, placed: _Placed, chunks: AsyncIterator[bytes]
) -> None:
    """Write the first copy of a part straight into `data`; its marker follows once the bytes
    are durable. A copy sent meanwhile takes the range over, however long this one stalls."""
    number = placed.part.number
    write = functools.partial(_write_owned, folder, number, token)
    try:
        await _write_body(write, placed.offset, placed.part.size, chunks)
        await anyio.to_thread.run_sync(_finish_owned, folder, placed, token)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_disown, folder, number, token)
        raise


async def _receive_beside(folder: Path, placed: _Placed, chunks: AsyncIterator[bytes]) -> None:
    """Write a later copy to a temporary file of its own, and copy it into `data` only once it
    is whole and durable: a body that fails leaves the stored copy as it was."""
    temp = folder / f"{placed.part.number}.{uuid.uuid4().hex}.tmp"
    try:
        fd = await anyio.to_thread.run_sync(_create_temp, temp)
        try:
            await _write_body(functools.partial(_pwrite_all, fd), 0, placed.part.size, chunks)
            await anyio.to_thread.run_sync(os.fsync, fd)
            await anyio.to_thread.run_sync(_commit_copy, folder, fd, placed)
        finally:
            os.close(fd)
    finally:
        with anyio.CancelScope(shield=True):  # a cut body leaves no temporary file behind
            await anyio.to_thread.run_sync(temp.unlink, True)


def _create_temp(temp: Path) -> int:
    try:
        return os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileNotFoundError:
        raise BlobNotFound(f"direct upload {temp.parent.name}") from None


async def _write_body(
    write: Callable[[list[bytes], int], None],
    offset: int,
    size: int,
    chunks: AsyncIterator[bytes],
) -> None:
    """`write` the body at `offset`, never more than `size` bytes. Chunks go to a worker thread
    in batches: a thread hop per network read costs more than the write."""
    written, batch, batched = 0, list[bytes](), 0
    async for chunk in chunks:
        if written + batched + len(chunk) > size:
            raise PartSizeMismatch(f"the part's body is longer than its {size} bytes")
        batch.append(chunk)
        batched += len(chunk)
        if batched >= WRITE_BATCH or len(batch) >= _WRITE_BATCH_CHUNKS:
            await anyio.to_thread.run_sync(write, batch, offset + written)
            written, batch, batched = written + batched, [], 0
    if written + batched != size:
        raise PartSizeMismatch(f"the part's body has {written + batched} bytes, not {size}")
    await anyio.to_thread.run_sync(write, batch, offset + written)


def _pwrite_all(fd: int, chunks: list[bytes], position: int) -> None:
    """Write `chunks` one after the other from `position`, with no copy to join them."""
    views = [memoryview(chunk) for chunk in chunks if chunk]
    while views:
        written = os.pwritev(fd, views, position)
        position += written
        while views and written >= len(views[0]):
            written -= len(views.pop(0))
        if written:
            views[0] = views[0][written:]


def _commit_copy(folder: Path, temp: int, placed: _Placed) -> None:
    """Put a whole, durable copy in place of the stored one, holding the part's lock, unless
    the folder was closed: every path is looked up in the open folder, so once a seal or an
    abort renamed it away each step fails, and nothing of this copy reaches what they keep."""
    number = placed.part.number
    with _held_lock(folder, number):
        # The stored copy's marker goes first: a crash midway leaves the part missing, never
        # an old etag vouching for new bytes. A copy still written in place loses its range.
        (folder / f"{number}.part").unlink(missing_ok=True)
        _owner(folder, number).unlink(missing_ok=True)
        data = _open_data(folder)
        try:
            _copy_exactly(temp, data, placed.part.size, placed.offset)
            os.fsync(data)
        finally:
            os.close(data)
        _write_marker(folder, placed)


def _copy_exactly(source: int, target: int, size: int, offset: int) -> None:
    """Copy the `size` bytes of `source` to `target` at `offset`, in the kernel."""
    done = 0
    while done < size:
        copied = os.copy_file_range(source, target, size - done, done, offset + done)
        if copied == 0:
            raise ValueError(f"a part's file holds fewer than its {size} bytes")
        done += copied


def _write_marker(folder: Path, placed: _Placed) -> None:
    part = placed.part
    temp = folder / f"{part.number}.part.{uuid.uuid4().hex}.tmp"
    fields = {"offset": placed.offset, "size": part.size, "etag": part.etag}
    try:
        with temp.open("x") as handle:
            json.dump(fields, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, folder / f"{part.number}.part")
        fsync_dir(folder)
    except FileNotFoundError:
        raise BlobNotFound(f"direct upload {folder.name}") from None


def _read_marker(folder: Path, number: int, data_size: int) -> _Placed | None:
    """Part `number` as its marker vouches for it; None when it has none, or one vouching for
    bytes `data` does not hold (a marker of the layout before `data`: the part is sent again)."""
    try:
        fields = json.loads((folder / f"{number}.part").read_text())
    except FileNotFoundError:  # aborted, sealed or being replaced
        return None
    offset = fields.get("offset")
    if offset is None or offset + fields["size"] > data_size:
        return None
    return _Placed(offset, StoredPart(number, fields["size"], fields["etag"]))


def _markers(folder: Path) -> dict[int, _Placed]:
    try:
        data_size = (folder / "data").stat().st_size
    except FileNotFoundError:
        return {}
    found = (_read_marker(folder, int(m.stem), data_size) for m in folder.glob("*.part"))
    return {placed.part.number: placed for placed in found if placed is not None}


def _list_parts(folder: Path) -> list[StoredPart]:
    return [placed.part for _, placed in sorted(_markers(folder).items())]


def _read_part(folder: Path, number: int, into: Callable[[memoryview], None]) -> StoredPart | None:
    """Pass the bytes of the stored copy of part `number` to `into`, holding its lock."""
    try:
        lock = _try_lock(folder, number)
    except BlobNotFound:
        return None
    if lock is None:
        return None
    try:
        with (folder / "data").open("rb", buffering=0) as data:
            placed = _read_marker(folder, number, os.fstat(data.fileno()).st_size)
            if placed is not None:
                _feed(data, placed, into)
    except FileNotFoundError:  # sealed or aborted meanwhile
        return None
    finally:
        os.close(lock)
    return None if placed is None else placed.part


def _feed(data: io.FileIO, placed: _Placed, into: Callable[[memoryview], None]) -> None:
    buffer = memoryview(bytearray(READ_CHUNK))
    data.seek(placed.offset)
    left = placed.part.size
    while left:
        got = data.readinto(buffer[: min(READ_CHUNK, left)])
        if not got:
            raise ValueError(f"data holds fewer bytes than part {placed.part.number} needs")
        into(buffer[:got])
        left -= got


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
    joined = closed / "data"
    try:
        _require_no_body_arriving(closed)
        size = _check_stored(closed, parts)
        with joined.open("r+b") as out:
            out.truncate(size)
            os.fsync(out.fileno())
    except ValueError:
        os.rename(closed, folder)  # nothing was sealed: the upload takes parts again
        raise
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(joined, final)
    fsync_dir(final.parent)
    shutil.rmtree(closed, ignore_errors=True)


def _require_no_body_arriving(closed: Path) -> None:
    """Refuse while a part is being written into `data`. Taking each lock once is enough: the
    folder is closed, so whoever takes one later finds no `data` to open."""
    for path in closed.glob("*.lock"):
        fd = os.open(path, os.O_WRONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"part {path.stem} is still arriving") from None
        finally:
            os.close(fd)


def _check_stored(folder: Path, parts: list[StoredPart]) -> int:
    """The size of the object `parts` make, one after the other from the start of `data`.
    Refuses, as S3 does, to join a part that is not stored exactly as the caller says."""
    if not parts:
        raise ValueError("there is no part to join")
    stored = _markers(folder)
    size = 0
    for part in parts:
        placed = stored.get(part.number)
        if placed is None or placed.part != part or placed.offset != size:
            raise ValueError(f"part {part.number} is not stored as given")
        size += part.size
    return size


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


def _replace_into(path: Path, final: Path) -> None:
    """Rename `path` to `final`, making `final`'s folder first when it is missing (tried
    after the rename fails: a blob's second file finds its folder made)."""
    try:
        os.replace(path, final)
    except FileNotFoundError:
        if not path.exists():
            raise
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, final)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (files created, renamed or removed in it) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
