"""Exact nearest neighbours over unit vectors, per tenant, in memory (numpy only, no I/O).

A brute-force scan is exact and, at 100k rows of 1280 floats, takes some 30 ms: simpler and
more predictable than an approximate index at the sizes one Scopix server holds.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["VectorIndex"]

Vector = npt.NDArray[np.float32]

#: Rows a tenant's matrix starts with; it doubles when full, so n inserts copy O(n) rows.
_INITIAL_CAPACITY: Final = 64


class _Rows:
    """One tenant's vectors: `matrix[:count]` are live, in the order of `ids`."""

    def __init__(self, dimensions: int) -> None:
        self.matrix: Vector = np.zeros((_INITIAL_CAPACITY, dimensions), np.float32)
        self.ids: list[str] = []
        self.position: dict[str, int] = {}

    def put(self, row_id: str, vector: Vector) -> None:
        position = self.position.get(row_id)
        if position is None:
            position = len(self.ids)
            self.reserve(position + 1)
            self.ids.append(row_id)
            self.position[row_id] = position
        self.matrix[position] = vector

    def remove(self, row_id: str) -> None:
        """Move the last row into the hole, so the live rows stay one contiguous block."""
        position = self.position.pop(row_id, None)
        if position is None:
            return
        last = len(self.ids) - 1
        if position != last:
            moved = self.ids[last]
            self.matrix[position] = self.matrix[last]
            self.ids[position] = moved
            self.position[moved] = position
        self.ids.pop()

    def live(self) -> Vector:
        return self.matrix[: len(self.ids)]

    def reserve(self, rows: int) -> None:
        capacity = self.matrix.shape[0]
        if rows > capacity:
            grown = np.zeros((max(rows, capacity * 2), self.matrix.shape[1]), np.float32)
            grown[:capacity] = self.matrix
            self.matrix = grown


class VectorIndex:
    """Row ids and unit vectors of `dimensions` floats, per tenant; cosine = dot product.

    Not thread-safe: it is meant for the event loop alone, where no two calls interleave (none
    of them awaits). Vectors are scaled to unit length on the way in, queries too.
    """

    def __init__(self, dimensions: int) -> None:
        if dimensions < 1:
            raise ValueError("dimensions must be at least 1")
        self.dimensions = dimensions
        self._tenants: dict[str, _Rows] = {}

    def __len__(self) -> int:
        return sum(len(rows.ids) for rows in self._tenants.values())

    def count(self, tenant_id: str) -> int:
        rows = self._tenants.get(tenant_id)
        return len(rows.ids) if rows else 0

    def put(self, tenant_id: str, ids: Sequence[str], vectors: npt.ArrayLike) -> None:
        """Insert rows, or replace the vectors of ids already present."""
        matrix = self._unit_rows(vectors)
        if len(ids) != matrix.shape[0]:
            raise ValueError(f"{len(ids)} ids for {matrix.shape[0]} vectors")
        rows = self._tenants.get(tenant_id)
        if rows is None:
            rows = self._tenants[tenant_id] = _Rows(self.dimensions)
        rows.reserve(len(rows.ids) + len(ids))  # grow once for the whole batch
        for row_id, vector in zip(ids, matrix, strict=True):
            rows.put(row_id, vector)

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

    def scores(self, tenant_id: str, query: npt.ArrayLike) -> tuple[list[str], Vector]:
        """Every row's id and its cosine similarity to `query`, in the same order."""
        unit = self._unit_rows(query)[0]
        rows = self._tenants.get(tenant_id)
        if rows is None:
            return [], np.zeros(0, np.float32)
        return list(rows.ids), rows.live() @ unit

    def nearest(
        self,
        tenant_id: str,
        query: npt.ArrayLike,
        k: int,
        exclude: Collection[str] = frozenset(),
    ) -> list[tuple[str, float]]:
        """The `k` rows most similar to `query` (exact), most similar first, except `exclude`."""
        unit = self._unit_rows(query)[0]
        rows = self._tenants.get(tenant_id)
        if rows is None:
            return []
        similarities = rows.live() @ unit
        excluded = list({rows.position[i] for i in exclude if i in rows.position})
        similarities[excluded] = -np.inf
        k = min(k, len(rows.ids) - len(excluded))
        if k <= 0:
            return []
        # argpartition finds the top k in linear time; only those k are then sorted.
        top = np.argpartition(-similarities, k - 1)[:k]
        top = top[np.argsort(-similarities[top], kind="stable")]
        return [(rows.ids[i], float(similarities[i])) for i in top]

    def _unit_rows(self, vectors: npt.ArrayLike) -> Vector:
        matrix = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if matrix.ndim != 2 or matrix.shape[1] != self.dimensions:
            raise ValueError(f"expected vectors of {self.dimensions} floats, got {matrix.shape}")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        norms[norms == 0] = 1  # a zero vector stays zero (similar to nothing), not NaN
        unit: Vector = matrix / norms
        return unit
