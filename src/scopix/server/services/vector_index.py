"""Exact nearest neighbours over unit vectors, per tenant, in memory (numpy only, no I/O).

A brute-force scan is exact and, at 100k rows of 1280 floats, takes some 30 ms: simpler and
more predictable than an approximate index at the sizes one Scopix server holds.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["VectorIndex"]

Vector = npt.NDArray[np.float32]

#: Rows a tenant's matrix starts with; it doubles when full, so n inserts copy O(n) rows.
_INITIAL_CAPACITY: Final = 64


class _Rows:
    """One tenant's vectors and payloads: `matrix[:count]` and `payload[:count]` are live, in
    the order of `ids`."""

    def __init__(self, dimensions: int, payload_width: int) -> None:
        self.matrix: Vector = np.zeros((_INITIAL_CAPACITY, dimensions), np.float32)
        self.payload: Vector = np.zeros((_INITIAL_CAPACITY, payload_width), np.float32)
        self.ids: list[str] = []
        self.position: dict[str, int] = {}

    def put(self, row_id: str, vector: Vector, payload: Vector) -> None:
        position = self.position.get(row_id)
        if position is None:
            position = len(self.ids)
            self.reserve(position + 1)
            self.ids.append(row_id)
            self.position[row_id] = position
        self.matrix[position] = vector
        self.payload[position] = payload

    def remove(self, row_id: str) -> None:
        """Move the last row into the hole, so the live rows stay one contiguous block."""
        position = self.position.pop(row_id, None)
        if position is None:
            return
        last = len(self.ids) - 1
        if position != last:
            moved = self.ids[last]
            self.matrix[position] = self.matrix[last]
            self.payload[position] = self.payload[last]
            self.ids[position] = moved
            self.position[moved] = position
        self.ids.pop()

    def live(self) -> Vector:
        return self.matrix[: len(self.ids)]

    def reserve(self, rows: int) -> None:
        capacity = self.matrix.shape[0]
        if rows > capacity:
            self.matrix = _grown(self.matrix, max(rows, capacity * 2))
            self.payload = _grown(self.payload, max(rows, capacity * 2))


def _grown(matrix: Vector, rows: int) -> Vector:
    grown = np.zeros((rows, matrix.shape[1]), np.float32)
    grown[: matrix.shape[0]] = matrix
    return grown


class VectorIndex:
    """Row ids and unit vectors of `dimensions` floats, per tenant; cosine = dot product. Each
    row may carry a payload of `payload_width` floats, kept in the same order as the vectors,
    so a score computed from payloads lines up with the similarities.

    Not thread-safe: it is meant for the event loop alone, where no two calls interleave (none
    of them awaits). Vectors are scaled to unit length on the way in, queries too.
    """

    def __init__(self, dimensions: int, payload_width: int = 0) -> None:
        if dimensions < 1:
            raise ValueError("dimensions must be at least 1")
        self.dimensions = dimensions
        self.payload_width = payload_width
        self._tenants: dict[str, _Rows] = {}

    def __len__(self) -> int:
        return sum(len(rows.ids) for rows in self._tenants.values())

    def count(self, tenant_id: str) -> int:
        rows = self._tenants.get(tenant_id)
        return len(rows.ids) if rows else 0

    def put(
        self,
        tenant_id: str,
        ids: Sequence[str],
        vectors: npt.ArrayLike,
        payloads: npt.ArrayLike | None = None,
    ) -> None:
        """Insert rows, or replace the vectors (and payloads: zeros when None) of ids present."""
        matrix = self._unit_rows(vectors)
        if len(ids) != matrix.shape[0]:
            raise ValueError(f"{len(ids)} ids for {matrix.shape[0]} vectors")
        extra = np.zeros((len(ids), self.payload_width), np.float32)
        if payloads is not None:
            extra[...] = np.asarray(payloads, dtype=np.float32)
        rows = self._tenants.get(tenant_id)
        if rows is None:
            rows = self._tenants[tenant_id] = _Rows(self.dimensions, self.payload_width)
        arriving = sum(1 for row_id in set(ids) if row_id not in rows.position)
        rows.reserve(len(rows.ids) + arriving)  # grow once for the whole batch
        for row_id, vector, payload in zip(ids, matrix, extra, strict=True):
            rows.put(row_id, vector, payload)

    def remove(self, tenant_id: str, ids: Iterable[str]) -> None:
        """Drop rows; ids not present are ignored."""
        rows = self._tenants.get(tenant_id)
        if rows is None:
            return
        for row_id in ids:
            rows.remove(row_id)
        if not rows.ids:
            del self._tenants[tenant_id]  # give a departed tenant's memory back

    def get(self, tenant_id: str, row_id: str) -> Vector | None:
        """A copy of one row's vector, or None."""
        rows = self._tenants.get(tenant_id)
        position = rows.position.get(row_id) if rows else None
        return None if rows is None or position is None else rows.matrix[position].copy()

    def nearest(
        self,
        tenant_id: str,
        query: npt.ArrayLike,
        k: int,
        exclude: Collection[str] = frozenset(),
        bonus: Callable[[Vector], Vector] | None = None,
    ) -> list[tuple[str, float]]:
        """The `k` rows scoring highest (exact), best first, except `exclude`. A row's score is
        its cosine similarity to `query`, plus `bonus(payloads)` when given: it gets the live rows'
        payloads (a view, to read only) and returns a score for each."""
        unit = self._unit_rows(query)[0]
        rows = self._tenants.get(tenant_id)
        if rows is None:
            return []
        scores = rows.live() @ unit
        if bonus is not None:
            scores += bonus(rows.payload[: len(rows.ids)])
        excluded = list({rows.position[i] for i in exclude if i in rows.position})
        scores[excluded] = -np.inf
        k = min(k, len(rows.ids) - len(excluded))
        if k <= 0:
            return []
        # argpartition finds the top k in linear time; only those k are then sorted.
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(rows.ids[i], float(scores[i])) for i in top]

    def _unit_rows(self, vectors: npt.ArrayLike) -> Vector:
        matrix = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if matrix.ndim != 2 or matrix.shape[1] != self.dimensions:
            raise ValueError(f"expected vectors of {self.dimensions} floats, got {matrix.shape}")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        norms[norms == 0] = 1  # a zero vector stays zero (similar to nothing), not NaN
        unit: Vector = matrix / norms
        return unit
