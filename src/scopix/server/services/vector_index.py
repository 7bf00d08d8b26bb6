"""Nearest neighbours over unit vectors, per tenant, in memory (numpy only, no I/O).

A brute-force scan is exact and, at 100k rows of 1280 floats, takes some 30 ms: simpler and
more predictable than an approximate index at the sizes one Scopix server holds.

With `quantized`, each row is kept as int8 with a scale of its own (a quarter of float32's
memory: 100k text rows of 384 dimensions hold 39 MB, not 154 MB). What is quantized is the
row less a centre per tenant (the mean of its first batch): text embeddings share much of
their direction (e5's cosines sit at 0.7-0.9), so the differences are short and their int8
steps fine. Scores are then close, not exact: bench/search.py prints recall@10 against
float32.

With `refined` as well, each row also keeps its rounding error, quantized the same way (twice
the memory). The scan still reads the first codes only; the best candidates are then scored
again with both, which brings their error down some hundredfold. It matters where many rows
lie close together (near-duplicate descriptions): the int8 error (some 2e-4 on a cosine) was
as large as the gaps between neighbours there, and recall@10 sat at 0.98.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

__all__ = ["TenantRows", "VectorIndex"]

Vector = npt.NDArray[np.float32]
#: Makes a zeroed array of a shape and type: where grown rows live (np.zeros: the process's
#: own memory; a file mapping keeps them in the page cache instead).
Allocate = Callable[[tuple[int, int], npt.DTypeLike], npt.NDArray[Any]]

#: Rows a tenant's matrix starts with; it doubles when full, so n inserts copy O(n) rows.
_INITIAL_CAPACITY: Final = 64
#: Quantized rows are scored this many at a time: each block is widened to float32 for BLAS
#: in one buffer that stays in the CPU's cache (1.5 MB at 384 dimensions). So scanning int8
#: rows costs about what scanning float32 ones does (some 20 ms for 100k x 384 on two cores).
_SCAN_BLOCK: Final = 1024
#: The largest int8 magnitude a row's largest component maps to.
_INT8_MAX: Final = 127.0
#: With refined rows, `nearest(k)` scores this many candidates per row asked for again, plus
#: _RESCORED_EXTRA: the true k nearest are among the first ones of the int8 order.
_RESCORED_PER_ROW: Final = 2
_RESCORED_EXTRA: Final = 20


@dataclass(frozen=True)
class TenantRows:
    """One tenant's rows as arrays, to keep outside the index and hand back to one (a snapshot
    on disk): row n is `ids[n]`, its vector `matrix[n] * scale[n, 0] + centre` (centre None
    when not quantized), plus `fine[n] * scale[n, 1]` when refined, and its payload
    `payload[n]`."""

    ids: list[str]
    matrix: npt.NDArray[Any]
    scale: Vector
    centre: Vector | None
    payload: Vector
    fine: npt.NDArray[np.int8] | None = None


#: _Rows' arrays with a row per vector: they grow, shrink and move together.
_ROW_ARRAYS: Final = ("matrix", "scale", "payload", "fine")


class _Rows:
    """One tenant's vectors and payloads: `matrix[:count]`, `scale[:count]` and
    `payload[:count]` are live, in the order of `ids`. A row's vector is its `matrix` row times
    its `scale`, plus `centre` (scale 1 and centre 0 unless quantized). Refined rows also keep
    `fine`, the codes of each row's rounding error, and `scale` has a column for them: kept
    apart from `matrix`, so that the scan reads none of their pages."""

    def __init__(
        self,
        dimensions: int,
        payload_width: int,
        quantized: bool,
        allocate: Allocate,
        refined: bool = False,
    ) -> None:
        self.allocate = allocate
        dtype = np.int8 if quantized else np.float32
        self.matrix: npt.NDArray[Any] = np.zeros((_INITIAL_CAPACITY, dimensions), dtype)
        self.scale: Vector = np.ones((_INITIAL_CAPACITY, 2 if refined else 1), np.float32)
        self.centre: Vector | None = None  # set by the first batch when quantized
        self.payload: Vector = np.zeros((_INITIAL_CAPACITY, payload_width), np.float32)
        self.fine: npt.NDArray[np.int8] | None = (
            np.zeros((_INITIAL_CAPACITY, dimensions), np.int8) if refined else None
        )
        self.ids: list[str] = []
        self.position: dict[str, int] = {}

    def put(self, ids: Sequence[str], matrix: Vector, payload: Vector) -> None:
        """Insert or replace rows; an id given twice keeps its last vector."""
        last = {row_id: n for n, row_id in enumerate(ids)}
        arriving = [row_id for row_id in last if row_id not in self.position]
        first = len(self.ids)
        self.reserve(first + len(arriving))  # grow once for the whole batch
        self.position.update(zip(arriving, range(first, first + len(arriving)), strict=True))
        self.ids.extend(arriving)
        positions: slice | npt.NDArray[np.intp]
        chosen: slice | npt.NDArray[np.intp]
        if len(arriving) == len(ids):  # all new and distinct (a first load): rows in order
            positions, chosen = slice(first, len(self.ids)), slice(None)
        else:
            positions = np.fromiter((self.position[i] for i in last), np.intp, len(last))
            chosen = np.fromiter(last.values(), np.intp, len(last))
        if self.matrix.dtype == np.int8:
            if self.centre is None:
                self.centre = matrix.mean(axis=0, dtype=np.float32)
            residuals = matrix[chosen] - self.centre
            codes, scales = _quantized(residuals)
            self.matrix[positions], self.scale[positions, :1] = codes, scales
            if self.fine is not None:
                self.fine[positions], self.scale[positions, 1:] = _quantized(
                    residuals - codes * scales
                )
        else:
            self.matrix[positions] = matrix[chosen]
            self.scale[positions] = 1  # grown rows start at 0, like every other array
        self.payload[positions] = payload[chosen]

    @property
    def refined(self) -> bool:
        return self.fine is not None

    def vector(self, position: int) -> Vector:
        row: Vector = self.matrix[position].astype(np.float32) * self.scale[position, 0]
        if self.fine is not None:
            row += self.fine[position].astype(np.float32) * self.scale[position, 1]
        return row if self.centre is None else row + self.centre

    def scores(self, query: Vector) -> Vector:
        """Every live row's dot product with `query` (without refined rows' rounding errors)."""
        count = len(self.ids)
        if self.matrix.dtype != np.int8:
            exact: Vector = self.matrix[:count] @ query
            return exact
        scores = np.empty(count, np.float32)
        widened = np.empty((min(_SCAN_BLOCK, count), self.matrix.shape[1]), np.float32)
        for start in range(0, count, _SCAN_BLOCK):
            end = min(start + _SCAN_BLOCK, count)
            block = widened[: end - start]
            np.copyto(block, self.matrix[start:end], casting="unsafe")
            np.matmul(block, query, out=scores[start:end])
        scores *= self.scale[:count, 0]
        assert self.centre is not None  # set by the first put
        scores += self.centre @ query
        return scores

    def refined_scores(self, positions: npt.NDArray[np.intp], query: Vector) -> Vector:
        """The rows at `positions` scored with their rounding errors too."""
        assert self.fine is not None and self.centre is not None  # refined rows are quantized
        coarse = (self.matrix[positions].astype(np.float32) @ query) * self.scale[positions, 0]
        error = (self.fine[positions].astype(np.float32) @ query) * self.scale[positions, 1]
        scores: Vector = coarse + error + self.centre @ query
        return scores

    def remove(self, row_id: str) -> None:
        """Move the last row into the hole, so the live rows stay one contiguous block."""
        position = self.position.pop(row_id, None)
        if position is None:
            return
        last = len(self.ids) - 1
        if position != last:
            moved = self.ids[last]
            for array in self._row_arrays():
                array[position] = array[last]
            self.ids[position] = moved
            self.position[moved] = position
        self.ids.pop()

    def reserve(self, rows: int) -> None:
        capacity = self.matrix.shape[0]
        if rows > capacity:
            grown = max(rows, capacity * 2)
            for name in _ROW_ARRAYS:
                array = getattr(self, name)
                if array is not None:
                    setattr(self, name, _grown(array, grown, self.allocate))

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._row_arrays())

    def mapped_nbytes(self) -> int:
        """What of nbytes() is a file mapped into memory rather than the process's own."""
        return sum(a.nbytes for a in self._row_arrays() if isinstance(a, np.memmap))

    def copied(self) -> TenantRows:
        count = len(self.ids)
        centre = None if self.centre is None else self.centre.copy()
        return TenantRows(
            list(self.ids),
            self.matrix[:count].copy(),
            self.scale[:count].copy(),
            centre,
            self.payload[:count].copy(),
            None if self.fine is None else self.fine[:count].copy(),
        )

    def _row_arrays(self) -> list[npt.NDArray[Any]]:
        arrays = (getattr(self, name) for name in _ROW_ARRAYS)
        return [array for array in arrays if array is not None]

    @classmethod
    def adopted(cls, kept: TenantRows, allocate: Allocate) -> _Rows:
        """Rows over `kept`'s arrays as they are (a memory map stays one until rows are added
        past its end): its rows are the live ones, its length the capacity."""
        rows = cls.__new__(cls)
        rows.allocate = allocate
        rows.matrix, rows.scale, rows.payload = kept.matrix, kept.scale, kept.payload
        rows.fine, rows.centre = kept.fine, kept.centre
        rows.ids = list(kept.ids)
        rows.position = {row_id: n for n, row_id in enumerate(rows.ids)}
        return rows


def _grown(matrix: npt.NDArray[Any], rows: int, allocate: Allocate) -> npt.NDArray[Any]:
    grown = allocate((rows, matrix.shape[1]), matrix.dtype)
    grown[: matrix.shape[0]] = matrix
    return grown


def _quantized(matrix: Vector) -> tuple[npt.NDArray[np.int8], Vector]:
    """Each row's int8 components and the scale that brings them back: its largest component
    maps to +-127 (a zero row keeps scale 1)."""
    peaks = np.abs(matrix).max(axis=1, keepdims=True)
    scales: Vector = np.where(peaks > 0, peaks / np.float32(_INT8_MAX), np.float32(1))
    return np.rint(matrix / scales).astype(np.int8), scales.astype(np.float32)


class VectorIndex:
    """Row ids and unit vectors of `dimensions` floats, per tenant; cosine = dot product. Each
    row may carry a payload of `payload_width` floats, kept in the same order as the vectors,
    so a score computed from payloads lines up with the similarities.

    Not thread-safe: it is meant for the event loop alone, where no two calls interleave (none
    of them awaits). Vectors are scaled to unit length on the way in, queries too. `quantized`
    keeps them as int8 (see the module's note): scores and `get` are then close, not exact;
    `refined` keeps their rounding errors too, for closer scores at twice the memory.
    `allocate` makes the arrays rows grow into (default: the process's own memory).
    """

    def __init__(
        self,
        dimensions: int,
        payload_width: int = 0,
        *,
        quantized: bool = False,
        refined: bool = False,
        allocate: Allocate = np.zeros,
    ) -> None:
        if dimensions < 1:
            raise ValueError("dimensions must be at least 1")
        if refined and not quantized:
            raise ValueError("only quantized rows are refined")
        self.dimensions = dimensions
        self.payload_width = payload_width
        self.quantized = quantized
        self.refined = refined
        self.allocate = allocate
        self._tenants: dict[str, _Rows] = {}

    def __len__(self) -> int:
        return sum(len(rows.ids) for rows in self._tenants.values())

    def nbytes(self) -> int:
        """The memory the vectors, scales and payloads of every tenant take (capacity included)."""
        return sum(rows.nbytes() for rows in self._tenants.values())

    def mapped_nbytes(self) -> int:
        """What of nbytes() is mapped from files (adopted memory maps): the operating system's
        page cache, shared by the processes that map them, not each process's own memory."""
        return sum(rows.mapped_nbytes() for rows in self._tenants.values())

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
        if not ids:
            return
        rows = self._tenants.get(tenant_id)
        if rows is None:
            rows = self._tenants[tenant_id] = _Rows(
                self.dimensions, self.payload_width, self.quantized, self.allocate, self.refined
            )
        rows.put(ids, matrix, extra)

    def rows(self, tenant_id: str) -> TenantRows | None:
        """A copy of the tenant's live rows, or None when it has none."""
        rows = self._tenants.get(tenant_id)
        return rows.copied() if rows is not None else None

    def adopt(self, tenant_id: str, kept: TenantRows) -> None:
        """Replace the tenant's rows with `kept` (as `rows` gave them), using its arrays as they
        are: memory-mapped ones are read from their file as scanned, and copied on write."""
        count = len(kept.ids)
        halves = 2 if self.refined else 1
        expected = ((count, self.dimensions), (count, halves), (count, self.payload_width))
        shapes = (kept.matrix.shape, kept.scale.shape, kept.payload.shape)
        fine_shape = None if kept.fine is None else kept.fine.shape
        if shapes != expected or len(set(kept.ids)) != count:
            raise ValueError(f"rows shaped {shapes}, not {expected} with distinct ids")
        dtype = np.int8 if self.quantized else np.float32
        if (kept.centre is not None) != self.quantized or kept.matrix.dtype != dtype:
            raise ValueError("rows quantized otherwise than this index's")
        if fine_shape != ((count, self.dimensions) if self.refined else None):
            raise ValueError(f"rounding errors shaped {fine_shape}, refined: {self.refined}")
        if count:
            self._tenants[tenant_id] = _Rows.adopted(kept, self.allocate)
        else:
            self._tenants.pop(tenant_id, None)

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
        return None if rows is None or position is None else rows.vector(position)

    def get_with_payload(self, tenant_id: str, row_id: str) -> tuple[Vector, Vector] | None:
        """Copies of one row's vector and payload, or None."""
        rows = self._tenants.get(tenant_id)
        position = rows.position.get(row_id) if rows else None
        if rows is None or position is None:
            return None
        return rows.vector(position), rows.payload[position].copy()

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
        scores = rows.scores(unit)
        extra = None if bonus is None else bonus(rows.payload[: len(rows.ids)])
        if extra is not None:
            scores += extra
        excluded = list({rows.position[i] for i in exclude if i in rows.position})
        scores[excluded] = -np.inf
        candidates = len(rows.ids) - len(excluded)
        k = min(k, candidates)
        if k <= 0:
            return []
        if rows.refined:
            wide = min(candidates, k * _RESCORED_PER_ROW + _RESCORED_EXTRA)
            top = np.argpartition(-scores, wide - 1)[:wide]
            scores[top] = rows.refined_scores(top, unit) + (0 if extra is None else extra[top])
            top = top[np.argpartition(-scores[top], k - 1)[:k]]
        else:
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
