"""Models load once per process (per thread count) and stay warm, as in Immich's ML service."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

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
