"""Which scene of a video a search matched: the one holding the most of the query's words,
compared folded and without common English endings; the earliest of equals."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.scene_match import SceneMatch, SceneText, matched_scene, word_root


def scene(index: int, description: str | None, text: str | None = None) -> SceneText:
    return SceneText(index, index * 4.0, index * 4.0 + 4.0, description, text)


SCENES = [
    scene(0, "A red field under a clear sky."),
    scene(1, "A sign at the harbour.", "HARBOUR MASTER\nNo mooring"),
    scene(2, "Boats in the harbour at dusk."),
]


def test_the_scene_with_the_most_of_the_querys_words_is_chosen() -> None:
    assert matched_scene("harbour master", SCENES) == SceneMatch(1, 4.0, 8.0)
    assert matched_scene("boats dusk harbour", SCENES) == SceneMatch(2, 8.0, 12.0)
    assert matched_scene("red sky", SCENES) == SceneMatch(0, 0.0, 4.0)


def test_equals_go_to_the_earliest_scene() -> None:
    assert matched_scene("harbour", SCENES) == SceneMatch(1, 4.0, 8.0)


def test_words_match_folded_and_by_their_root() -> None:
    assert matched_scene("MOORINGS", SCENES) == SceneMatch(1, 4.0, 8.0)
    assert matched_scene("Häfen boat", SCENES) == SceneMatch(2, 8.0, 12.0)
    assert matched_scene("harbours", [scene(0, None, "Harbour")]) == SceneMatch(0, 0.0, 4.0)


def test_no_scene_matches_when_none_holds_a_word_or_none_is_described() -> None:
    assert matched_scene("lighthouse", SCENES) is None
    assert matched_scene("!!!", SCENES) is None
    assert matched_scene("harbour", [scene(0, None), scene(1, None)]) is None
    assert matched_scene("harbour", []) is None


def test_a_word_is_not_found_inside_another() -> None:
    assert matched_scene("car", [scene(0, "A card on a table.")]) is None


@given(word=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12))
def test_a_root_is_the_word_less_its_endings_and_keeps_three_letters(word: str) -> None:
    root = word_root(word)
    assert word.startswith(root)
    assert root == word or len(root) >= 3
    assert word_root(root) == root


@given(
    descriptions=st.lists(st.text(max_size=40) | st.none(), min_size=1, max_size=6),
    query=st.text(max_size=30),
)
def test_a_match_is_always_one_of_the_scenes_and_holds_a_word_of_the_query(
    descriptions: list[str | None], query: str
) -> None:
    scenes = [scene(i, d) for i, d in enumerate(descriptions)]
    found = matched_scene(query, scenes)
    if found is not None:
        assert found in [SceneMatch(s.scene_index, s.start_seconds, s.end_seconds) for s in scenes]
        assert matched_scene(query, [scenes[found.scene_index]]) == found
