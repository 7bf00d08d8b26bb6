"""An approximate index for a million files per tenant: usearch's HNSW against the exact scan
Scopix runs today, on synthetic 384-d text vectors (README, "### Search").

Vectors are drawn as e5 text embeddings behave: clustered (a centre per kind of photo, as the
bench/search.py sentences are, plus noise, renormalised), since an HNSW graph on structureless
Gaussian noise is the worst case and no catalog looks like it. Queries are fresh points near
the centres. The exact answers come from a float32 brute-force scan in the same run; the
baseline is that scan one query at a time, float32 and as `VectorIndex(quantized=True)` does it
(int8), whose memory and latency the approximate index must beat.

Prints build time and memory of the HNSW index (float16 vectors, connectivity 16: usearch's
own int8 kept only about half of the true top 10 on these vectors in a trial), then p50 and
p99 per query and recall@10 against exact, one query at a time, at a few `expansion_search`
values, with the same for both exact scans.

    .venv/bin/python bench/ann.py [--vectors 1000000] [--queries 200] [--threads 2]

usearch is a dev dependency only (pyproject's dev extra); the server does not import it.
"""

from __future__ import annotations

# isort: off
import scopix.server  # noqa: F401  # first: it caps numpy's threads as the server does

# isort: on
import argparse
import time
from typing import Any

import numpy as np
from usearch.index import Index

from scopix.server.services.vector_index import VectorIndex

DIMENSIONS = 384
#: Vectors per centre: some 50 files of each kind of subject.
PER_CENTRE = 50
#: Noise per component around a centre: neighbours sit at cosine ~0.8-0.9, like e5's.
NOISE = 0.04
EXPANSIONS = (32, 64, 128)
BATCH = 50_000


def unit_rows(matrix: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    unit: np.ndarray[Any, Any] = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    return unit.astype(np.float32)


def points(centres: np.ndarray[Any, Any], count: int, rng: np.random.Generator) -> Any:
    picked = rng.integers(len(centres), size=count)
    noise = rng.standard_normal((count, DIMENSIONS), np.float32) * NOISE
    return unit_rows(centres[picked] + noise)


def exact_top10(vectors: np.ndarray[Any, Any], queries: np.ndarray[Any, Any]) -> Any:
    """The true 10 nearest of each query (row numbers), by a float32 scan in blocks."""
    best = np.full((len(queries), 10), -np.inf, np.float32)
    best_ids = np.zeros((len(queries), 10), np.int64)
    for start in range(0, len(vectors), BATCH):
        scores = queries @ vectors[start : start + BATCH].T
        merged = np.concatenate([best, scores], axis=1)
        ids = np.concatenate(
            [best_ids, np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)],
            axis=1,
        )
        top = np.argpartition(-merged, 9, axis=1)[:, :10]
        best = np.take_along_axis(merged, top, axis=1)
        best_ids = np.take_along_axis(ids, top, axis=1)
    return best_ids


def recall(found: list[set[int]], truth: np.ndarray[Any, Any]) -> float:
    return float(
        np.mean([len(f & set(t.tolist())) / 10 for f, t in zip(found, truth, strict=True)])
    )


def timed_queries(search: Any, queries: np.ndarray[Any, Any]) -> tuple[list[float], list[set[int]]]:
    times, found = [], []
    for query in queries:
        start = time.perf_counter()
        keys = search(query)
        times.append((time.perf_counter() - start) * 1000)
        found.append(keys)
    return times, found


def row(label: str, times: list[float], found: list[set[int]], truth: Any, extra: str) -> None:
    p50, p99 = np.percentile(times, 50), np.percentile(times, 99)
    print(f"{label:<34} {p50:>8.2f} {p99:>8.2f} {recall(found, truth):>10.3f}   {extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2, help="for the build only")
    args = parser.parse_args()
    rng = np.random.default_rng(5)
    centres = unit_rows(
        rng.standard_normal((max(1, args.vectors // PER_CENTRE), DIMENSIONS), np.float32)
    )
    vectors = np.concatenate(
        [points(centres, min(BATCH, args.vectors - s), rng) for s in range(0, args.vectors, BATCH)]
    )
    queries = points(centres, args.queries, rng)
    truth = exact_top10(vectors, queries)
    print(f"{len(vectors):,} synthetic {DIMENSIONS}-d unit vectors, {len(queries)} queries")

    start = time.perf_counter()
    index = Index(ndim=DIMENSIONS, metric="cos", dtype="f16", connectivity=16, expansion_add=64)
    index.add(np.arange(len(vectors)), vectors, threads=args.threads)
    build_s = time.perf_counter() - start
    print(
        f"usearch HNSW (float16, connectivity 16, expansion_add 64): built in {build_s:.0f} s"
        f" ({len(vectors) / build_s:,.0f} vectors/s on {args.threads} threads),"
        f" {index.memory_usage / 1e6:.0f} MB"
    )
    scan = VectorIndex(DIMENSIONS, quantized=True)
    scan.put("t", [str(n) for n in range(len(vectors))], vectors)
    print(
        f"exact scans: float32 {vectors.nbytes / 1e6:.0f} MB,"
        f" VectorIndex int8 {scan.nbytes() / 1e6:.0f} MB"
    )
    print(f"{'one query at a time':<34} {'p50 ms':>8} {'p99 ms':>8} {'recall@10':>10}")
    times, found = timed_queries(
        lambda q: set(np.argpartition(-(vectors @ q), 9)[:10].tolist()), queries
    )
    row("exact float32 scan (baseline)", times, found, truth, "")
    times, found = timed_queries(lambda q: {int(i) for i, _ in scan.nearest("t", q, 10)}, queries)
    row("exact int8 scan (VectorIndex)", times, found, truth, "")
    for expansion in EXPANSIONS:
        index.expansion_search = expansion
        times, found = timed_queries(lambda q: set(index.search(q, 10).keys.tolist()), queries)
        row(f"usearch HNSW, expansion {expansion}", times, found, truth, "")


if __name__ == "__main__":
    main()
