"""Models load once per process (per thread count) and stay warm, as in Immich's ML service."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class PerProcess(Generic[K, V]):
    """Values made by `make` on first use, once per key, safely from many threads."""

    def __init__(self, make: Callable[[K], V]) -> None:
        self._make = make
        self._made: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V:
        with self._lock:
            if key not in self._made:
                self._made[key] = self._make(key)
            return self._made[key]


class Reusable(Generic[V]):
    """Engines that serve one thread at a time (tesseract's API, OpenCV's cascades), made by
    `make` when none is idle and kept for the process's life.

    Kept per thread instead, they were made again whenever the worker thread that held them
    ended: anyio ends a thread idle for 10 s, so the first image after a pause paid for them
    (~150 ms for tesseract's model, ~60 ms for the cascades), and warming them at start was lost.
    """

    def __init__(self, make: Callable[[], V]) -> None:
        self._make = make
        self._idle: list[V] = []
        self._made = 0
        self._lock = threading.Lock()

    @property
    def made(self) -> int:
        """How many engines exist, idle or in use."""
        return self._made

    def warm(self, count: int) -> None:
        """Make engines until `count` exist, so that `count` threads find one ready."""
        while True:
            with self._lock:
                if self._made >= count:
                    return
                self._made += 1
            engine = self._made_or_uncounted()
            with self._lock:
                self._idle.append(engine)

    @contextmanager
    def borrowed(self) -> Iterator[V]:
        """An idle engine (a new one when all are in use), for this thread until the block ends."""
        with self._lock:
            engine = self._idle.pop() if self._idle else None
            if engine is None:
                self._made += 1
        if engine is None:
            engine = self._made_or_uncounted()
        try:
            yield engine
        finally:
            with self._lock:
                self._idle.append(engine)

    def _made_or_uncounted(self) -> V:
        """A new engine, counted already; the count taken back if making it fails."""
        try:
            return self._make()
        except BaseException:
            with self._lock:
                self._made -= 1
            raise


def onnx_session(model: Path, threads: int) -> Any:
    """An onnxruntime CPU session on a shipped model, with `threads` intra-op threads (run()
    is safe from many threads)."""
    import onnxruntime  # type: ignore[import-untyped]  # deferred: only analyzers need it

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    return onnxruntime.InferenceSession(
        str(model), sess_options=options, providers=["CPUExecutionProvider"]
    )
