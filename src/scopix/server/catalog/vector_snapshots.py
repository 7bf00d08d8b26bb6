"""A tenant's search vectors as read from the catalog, kept on local disk and memory-mapped.

Reading every text vector of 100,000 files from the catalog takes seconds (rows, JSON class
scores, quantizing); a server that starts maps the last snapshot in milliseconds and reads only
what changed since. A snapshot is a cache: one that is missing, unreadable, of another format or
made for another embedder is ignored, and the catalog read in full.

Each snapshot is a set of `.npy` arrays and an id list named by a random stem, and a small JSON
record naming that stem, written last by rename: a crash while writing leaves the previous
snapshot whole. Arrays are mapped copy-on-write, so changing rows never writes to the file.

Rows that grow past a snapshot's go to arrays mapped from unnamed files in the same folder
(`allocate`): the page cache holds them, which the kernel may write back and reclaim, instead
of the process's own memory, which it never can without swap.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, Final

import numpy as np
import numpy.typing as npt

from scopix.server.storage.local import fsync_dir

__all__ = ["Snapshot", "VectorSnapshots"]

log = logging.getLogger("scopix.search.snapshots")

#: Arrays smaller than this are the process's own: a file per small tenant costs more than it
#: saves.
MAPPED_MIN_BYTES: Final = 4 << 20
#: Bump when the files' layout changes: older snapshots are then ignored. (What the arrays
#: mean is the caller's, in the fingerprint it saves and loads with.)
FORMAT: Final = 1
_NAME: Final = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Snapshot:
    """Row ids, named arrays (the caller's: vectors, scales...) and the catalog time that the
    rows are complete up to."""

    ids: list[str]
    arrays: dict[str, npt.NDArray[Any]]
    seen_until: datetime


class VectorSnapshots:
    """Snapshots in `folder`, one per tenant and `kind` ("text", "image")."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def save(self, tenant_id: str, kind: str, fingerprint: str, snapshot: Snapshot) -> None:
        """Write `snapshot` durably, then make it the one `load` finds; older ones are removed."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if not all(_NAME.fullmatch(name) for name in snapshot.arrays):
            raise ValueError(f"array names must be lowercase words: {list(snapshot.arrays)}")
        stem = f"{tenant_id}.{kind}.{uuid.uuid4().hex}"
        for name, array in snapshot.arrays.items():
            _write(self.folder / f"{stem}.{name}.npy", partial(np.save, arr=array))
        _write(self.folder / f"{stem}.ids", lambda f: f.write("\n".join(snapshot.ids).encode()))
        record = {
            "format": FORMAT,
            "fingerprint": fingerprint,
            "stem": stem,
            "rows": len(snapshot.ids),
            "arrays": sorted(snapshot.arrays),
            "seen_until": snapshot.seen_until.isoformat(),
        }
        current = self._record_path(tenant_id, kind)
        staged = current.with_suffix(f".{uuid.uuid4().hex}.tmp")
        _write(staged, lambda f: f.write(json.dumps(record).encode()))
        os.replace(staged, current)
        fsync_dir(self.folder)
        self._remove_others(tenant_id, kind, keep=stem)

    def load(self, tenant_id: str, kind: str, fingerprint: str) -> Snapshot | None:
        """The tenant's snapshot, its arrays mapped; None when there is none that fits."""
        try:
            record = json.loads(self._record_path(tenant_id, kind).read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            log.warning("the %s vector snapshot of %s is unreadable; ignored", kind, tenant_id)
            return None
        if record.get("format") != FORMAT or record.get("fingerprint") != fingerprint:
            return None
        try:
            return self._mapped(record)
        except (OSError, ValueError, KeyError):
            log.warning("the %s vector snapshot of %s is damaged; ignored", kind, tenant_id)
            return None

    def allocate(self, shape: tuple[int, int], dtype: npt.DTypeLike) -> npt.NDArray[Any]:
        """A zeroed array: large ones mapped from a file in the folder, its blocks allocated
        up front (a write to a page the full disk has no block for would kill the process),
        and unlinked at once, so nothing is left behind; the process's own memory when the
        disk has no room."""
        nbytes = shape[0] * shape[1] * np.dtype(dtype).itemsize
        if nbytes < MAPPED_MIN_BYTES:
            return np.zeros(shape, dtype)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.folder, prefix="rows-") as file:
                os.posix_fallocate(file.fileno(), 0, nbytes)
                return np.memmap(file, dtype=dtype, mode="r+", shape=shape)
        except OSError as exc:
            log.warning("vectors are kept in memory: no file for them in %s (%s)", self.folder, exc)
            return np.zeros(shape, dtype)

    def _mapped(self, record: dict[str, Any]) -> Snapshot:
        stem = self.folder / str(record["stem"])
        arrays = {
            str(name): np.load(f"{stem}.{name}.npy", mmap_mode="c", allow_pickle=False)
            for name in record["arrays"]
            if _NAME.fullmatch(str(name))
        }
        text = Path(f"{stem}.ids").read_text()
        ids = text.split("\n") if text else []
        if len(ids) != record["rows"] or len(arrays) != len(record["arrays"]):
            raise ValueError("the files and the record disagree")
        return Snapshot(ids, arrays, datetime.fromisoformat(record["seen_until"]))

    def _record_path(self, tenant_id: str, kind: str) -> Path:
        return self.folder / f"{tenant_id}.{kind}.json"

    def _remove_others(self, tenant_id: str, kind: str, keep: str) -> None:
        for path in self.folder.glob(f"{tenant_id}.{kind}.*"):
            if not path.name.startswith(keep) and path.suffix != ".json":
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


def _write(path: Path, fill: Callable[[BinaryIO], object]) -> None:
    with path.open("wb") as file:
        fill(file)
        file.flush()
        os.fsync(file.fileno())
