"""Fusing rankings: reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

#: RRF's constant: damps the weight of the very first ranks; 60 is the paper's choice.
RRF_K: Final = 60


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> list[str]:
    """Every id of every ranking, ordered by the sum of 1 / (k + rank) over the rankings that
    hold it; ties keep the order of first appearance."""
    return [item for item, _ in fused_scores(rankings, k)]


def fused_scores(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """`reciprocal_rank_fusion`'s order with each id's score scaled to 0-1: 1 for an id first
    in every ranking (the best fused score there can be), less the lower it ranks and the fewer
    rankings hold it."""
    best = len(rankings) / (k + 1)
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    ordered = sorted(scores, key=lambda item: -scores[item])
    return [(item, scores[item] / best) for item in ordered]
