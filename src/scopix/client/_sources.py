"""What users hand to ``upload``: paths, folders, bytes or open files, turned into parts."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeAlias

from scopix.errors import ValidationError

#: One thing to upload: a path, raw bytes, or a binary file object.
UploadSource: TypeAlias = "str | os.PathLike[str] | bytes | IO[bytes]"

#: File name extensions a folder walk picks up: the types the server accepts today (HEIC/HEIF
#: are refused until a decoder for them ships; tests/unit/test_client_extensions.py keeps the
#: two lists in step).
SUPPORTED_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".avif", ".tif", ".tiff"}
    | {".pdf", ".docx", ".txt", ".md", ".markdown"}
    | {".mp4", ".mov", ".m4v", ".webm", ".avi", ".mkv"}
)
MAX_FILES_PER_CALL = 10_000


@dataclass(frozen=True)
class Source:
    """One file to send: its name, its size and how to (re)open its bytes."""

    filename: str
    size: int
    open: Callable[[], IO[bytes]]
    owns_handle: bool  # False for a caller's file object, which we must not close

    def part(self, on_bytes: Callable[[int], None] | None = None) -> IO[bytes]:
        """A readable, rewindable view that opens the bytes only while they are read."""
        return _Part(self, on_bytes)  # type: ignore[return-value]  # duck-typed IO[bytes]


def collect(
    items: Iterable[UploadSource], *, recursive: bool = True, include_hidden: bool = False
) -> list[Source]:
    """Every file to upload, in order; folders are walked and keep only supported types."""
    sources: list[Source] = []
    for item in items:
        sources.extend(_expand(item, recursive=recursive, include_hidden=include_hidden))
        if len(sources) > MAX_FILES_PER_CALL:
            raise ValidationError(
                f"at most {MAX_FILES_PER_CALL:,} files per call; split the upload",
                details={"limit": MAX_FILES_PER_CALL},
            )
    return sources


def one(item: UploadSource) -> Source:
    """The source for a single file (a folder is refused: use ``upload_batch``)."""
    if isinstance(item, str | os.PathLike) and Path(item).is_dir():
        raise ValidationError(f"{item} is a folder; use upload_batch() for folders")
    return next(iter(_expand(item, recursive=False, include_hidden=True)))


def _expand(item: UploadSource, *, recursive: bool, include_hidden: bool) -> Iterator[Source]:
    if isinstance(item, bytes):
        yield Source("upload", len(item), lambda: io.BytesIO(item), owns_handle=True)
    elif isinstance(item, str | os.PathLike):
        path = Path(item)
        if path.is_dir():
            yield from (_from_path(p) for p in _walk(path, recursive, include_hidden))
        elif path.is_file():
            yield _from_path(path)
        else:
            raise ValidationError(f"no such file: {path}", details={"path": str(path)})
    else:
        yield _from_handle(item)


def _walk(folder: Path, recursive: bool, include_hidden: bool) -> Iterator[Path]:
    """Supported files under ``folder`` in a stable (sorted) order."""
    children = sorted(folder.iterdir())
    for child in children:
        if child.name.startswith(".") and not include_hidden:
            continue
        if child.is_dir():
            if recursive:
                yield from _walk(child, recursive, include_hidden)
        elif child.is_file() and child.suffix.lower() in SUPPORTED_EXTENSIONS:
            yield child


def _from_path(path: Path) -> Source:
    return Source(path.name, path.stat().st_size, lambda: path.open("rb"), owns_handle=True)


def _from_handle(handle: IO[bytes]) -> Source:
    if not (hasattr(handle, "read") and hasattr(handle, "seek")):
        raise ValidationError("a file object to upload must be binary, readable and seekable")
    start = handle.tell()
    size = handle.seek(0, os.SEEK_END) - start
    handle.seek(start)
    name = os.path.basename(str(getattr(handle, "name", "") or "")) or "upload"

    def reopen() -> IO[bytes]:
        handle.seek(start)
        return handle

    return Source(name, size, reopen, owns_handle=False)


class _Part:
    """Reads a source for httpx, which seeks to 0 before each (re)send of a request.

    The underlying file is opened on the first read and closed at its end, so a batch
    of thousands of files keeps only the files being sent open. Bytes read are
    reported to ``on_bytes``; a rewind reports the bytes it takes back as negative.
    """

    def __init__(self, source: Source, on_bytes: Callable[[int], None] | None) -> None:
        self._source = source
        self._on_bytes = on_bytes
        self._handle: IO[bytes] | None = None
        self._position = 0
        self._reported = 0  # bytes handed out and reported since the last rewind

    def read(self, size: int = -1) -> bytes:
        left = self._source.size - self._position
        if left <= 0:
            self._release()
            return b""
        if self._handle is None:
            self._handle = self._source.open()
            self._handle.seek(self._position, os.SEEK_CUR)
        data = self._handle.read(left if size < 0 else min(size, left))
        self._position += len(data)
        if self._position > self._reported:
            self._report(self._position - self._reported)
        if not data or self._position >= self._source.size:
            self._release()
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._source.size}
        target = base[whence] + offset
        if target != self._position:
            self._release()
            self._position = target
        if target < self._reported:
            self._report(target - self._reported)
        return self._position

    def tell(self) -> int:
        return self._position

    def _report(self, count: int) -> None:
        self._reported += count
        if self._on_bytes is not None:
            self._on_bytes(count)

    def _release(self) -> None:
        if self._handle is not None and self._source.owns_handle:
            self._handle.close()
        self._handle = None


def file_parts(
    field: str, sources: Sequence[Source], on_bytes: Callable[[int], None] | None = None
) -> list[tuple[str, tuple[str, IO[bytes], str]]]:
    """Multipart file parts for ``sources`` under the form field ``field``."""
    return [(field, (s.filename, s.part(on_bytes), "application/octet-stream")) for s in sources]
