"""Relevance: a file's similarity against its own profile, the bridge, and the floor."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.relevance import (
    BRIDGE_WEIGHT,
    MIN_SPREAD,
    RELEVANCE_FLOOR,
    RELEVANCE_GAP,
    above_floor,
    relevance,
    similarity_profile,
)


def test_a_hub_near_everything_gains_nothing_from_its_high_similarity() -> None:
    # Two files, three reference queries: the hub is near all of them, the other is not.
    references = np.array([[0.88, 0.70], [0.87, 0.72], [0.89, 0.71]], np.float32)
    means, spreads = similarity_profile(references)
    scores = relevance([0.88, 0.80], means, spreads, [0.0, 0.0])
    assert scores[1] > scores[0]  # 0.80 stands out for the second file; 0.88 is usual for the hub


def test_an_equally_near_file_divides_by_the_least_spread() -> None:
    means, spreads = similarity_profile(np.full((4, 1), 0.8, np.float32))
    assert spreads[0] == np.float32(MIN_SPREAD)
    assert np.isfinite(relevance([0.9], means, spreads, [0.0])).all()


def test_the_bridge_adds_its_weight() -> None:
    plain = relevance([0.8], [0.8], [0.02], [0.0])
    bridged = relevance([0.8], [0.8], [0.02], [0.5])
    assert np.isclose(bridged[0] - plain[0], 0.5 * BRIDGE_WEIGHT)


def test_files_far_below_the_best_are_not_listed() -> None:
    ids = ["cat", "other cat", "coffee", "invoice"]
    scores = [3.1, 3.0, 3.1 - RELEVANCE_GAP - 0.01, 0.2]
    assert above_floor(ids, scores) == ["cat", "other cat"]


def test_nothing_under_the_absolute_floor_is_listed_even_when_best() -> None:
    assert above_floor(["a", "b"], [RELEVANCE_FLOOR - 0.1, RELEVANCE_FLOOR - 0.5]) == []
    assert above_floor([], []) == []


@given(st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=30))
def test_the_listing_is_best_first_and_keeps_the_best_above_the_floor(scores: list[float]) -> None:
    ids = [str(n) for n in range(len(scores))]
    listed = above_floor(ids, scores)
    values = [scores[int(i)] for i in listed]
    assert values == sorted(values, reverse=True)
    assert (max(scores) >= RELEVANCE_FLOOR) == bool(listed)
    assert all(v >= max(scores) - RELEVANCE_GAP for v in values)
