"""Fusing rankings: reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def fused_window(
    words_head: Sequence[str],
    words_total: int,
    words_ranks: Mapping[str, int],
    by_meaning: Sequence[str],
    end: int,
    k: int = RRF_K,
) -> tuple[list[str], int]:
    """The first `end` ids of `reciprocal_rank_fusion([words, by_meaning])` and the length of
    that whole fusion, knowing of the words ranking only its first `end` ids (`words_head`),
    its length, and the rank (1 = first) of each id of `by_meaning` that it holds (ids it does
    not hold are absent from `words_ranks`).

    Exact, not an estimate: an id of the words ranking alone at rank r has the r - 1 ids ranked
    before it scoring higher, so one past `end` never reaches the first `end` places; the ids
    that may are the head and `by_meaning`, whose scores are known. Scores are summed in the
    order `reciprocal_rank_fusion` sums them, so ties fall alike.
    """
    ranks = {item: rank for rank, item in enumerate(words_head, start=1)}
    ranks.update(words_ranks)
    scores = {item: 1.0 / (k + rank) for item, rank in ranks.items()}
    meaning_only = 0
    for rank, item in enumerate(by_meaning, start=1):
        if item in ranks:
            scores[item] += 1.0 / (k + rank)
        else:
            meaning_only += 1
            # after every id of the words ranking, in their order: as a dict would keep them
            ranks[item] = words_total + meaning_only
            scores[item] = 1.0 / (k + rank)
    ordered = sorted(scores, key=lambda item: (-scores[item], ranks[item]))
    return ordered[:end], words_total + meaning_only
