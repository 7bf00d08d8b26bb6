"""Reciprocal rank fusion."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.ranking import reciprocal_rank_fusion


def test_an_item_high_in_both_rankings_wins() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d", "a"]])
    assert fused[0] in {"a", "b"} and fused[1] in {"a", "b"}
    assert set(fused) == {"a", "b", "c", "d"}
    assert reciprocal_rank_fusion([["b", "a"], ["b", "a"]]) == ["b", "a"]


def test_one_ranking_is_kept_as_it_is() -> None:
    assert reciprocal_rank_fusion([["x", "y", "z"], []]) == ["x", "y", "z"]


rankings = st.lists(
    st.lists(st.sampled_from("abcdefgh"), unique=True, max_size=8), min_size=1, max_size=3
)


@given(rankings)
def test_every_item_appears_once(lists: list[list[str]]) -> None:
    fused = reciprocal_rank_fusion(lists)
    assert sorted(fused) == sorted({item for ranking in lists for item in ranking})
