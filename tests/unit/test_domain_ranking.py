"""Reciprocal rank fusion."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.ranking import fused_scores, fused_window, reciprocal_rank_fusion


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


@given(rankings)
def test_fused_scores_lie_between_0_and_1_in_fusion_order(lists: list[list[str]]) -> None:
    scored = fused_scores(lists)
    assert [item for item, _ in scored] == reciprocal_rank_fusion(lists)
    assert all(0 < score <= 1 for _, score in scored)
    assert [s for _, s in scored] == sorted((s for _, s in scored), reverse=True)


def test_an_item_first_everywhere_scores_1() -> None:
    assert fused_scores([["a", "b"], ["a"]])[0] == ("a", 1.0)
    assert fused_scores([["b", "a"], ["a"]])[0][1] < 1.0


@given(
    words=st.lists(st.sampled_from([f"f{n}" for n in range(60)]), unique=True, max_size=60),
    meaning=st.lists(st.sampled_from([f"f{n}" for n in range(60)]), unique=True, max_size=30),
    end=st.integers(0, 70),
    k=st.integers(1, 80),
)
def test_a_fused_window_equals_the_head_of_the_whole_fusion(
    words: list[str], meaning: list[str], end: int, k: int
) -> None:
    ranks = {item: words.index(item) + 1 for item in meaning if item in words}
    whole = reciprocal_rank_fusion([words, meaning], k)
    window, total = fused_window(words[:end], len(words), ranks, meaning, end, k)
    assert (window, total) == (whole[:end], len(whole))
