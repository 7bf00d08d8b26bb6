"""The plain text filter of a listing: splitting the query into words, and the search modes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.errors import ValidationFailed
from scopix.server.domain.listing import (
    MAX_SEARCH_CHARS,
    SEARCH_MODES,
    TextSearch,
    file_query,
    fold,
    search_words,
    text_search,
)


@pytest.mark.parametrize(("text", "words"), [
    ("red car", ("red", "car")),
    ("  Red\tCAR\n ", ("red", "car")),
    ("car car CAR", ("car",)),  # a repeated word adds nothing
    ("car red", ("car", "red")),  # order kept
    ("50% off_", ("50", "off")),  # punctuation separates, as the index tokenizes
    ("a\\b", ("a", "b")),
    ("Größe", ("grosse",)),  # case-folded, accents removed
    ("GRÖẞE", ("grosse",)),
    ("caf\u0065\u0301", ("cafe",)),
    ("CAFÉ", ("cafe",)),
    ("\U0001f130", ("a",)),  # a compatibility form folds to its plain letter
    ("a\u00a0b\u3000c", ("a", "b", "c")),  # any Unicode whitespace separates
    ("東京 タワー", ("東京", "タワー")),
    ("", ()),
    (" \t\n", ()),
    ("%%", ()),
])  # fmt: skip
def test_search_words(text: str, words: tuple[str, ...]) -> None:
    assert search_words(text) == words


@given(st.text(max_size=60))
def test_search_words_are_folded_distinct_and_alphanumeric(text: str) -> None:
    words = search_words(text)
    assert len(set(words)) == len(words)
    for word in words:
        assert word and all(ch.isalnum() for ch in word)
        assert word == fold(word)


@given(st.text(max_size=40))
def test_folding_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


def test_text_without_words_is_a_search_that_matches_nothing() -> None:
    assert text_search("%!") == TextSearch((), "all", "%!")


def test_text_search_defaults_to_all_modes() -> None:
    assert text_search("Red car") == TextSearch(("red", "car"), "all", "Red car")
    for mode in SEARCH_MODES:
        found = text_search("x", mode)
        assert found is not None and found.mode == mode


@pytest.mark.parametrize("blank", [None, "", "   ", "\t\n"])
def test_a_blank_search_is_no_search(blank: str | None) -> None:
    assert text_search(blank) is None
    assert text_search(blank, "visible_text") is None
    assert file_query(search=blank).search is None


def test_length_counts_after_trimming() -> None:
    longest = "x" * MAX_SEARCH_CHARS
    assert text_search(f"  {longest}  ") == TextSearch((longest,), "all", longest)
    with pytest.raises(ValidationFailed) as info:
        text_search(longest + "y")
    assert info.value.details["field"] == "search"


def test_semantic_keeps_the_query_as_typed() -> None:
    assert text_search("Katze, bitte!", "semantic") == TextSearch(
        ("katze", "bitte"), "semantic", "Katze, bitte!"
    )


@pytest.mark.parametrize("mode", ["", "ALL", "meta", "fulltext"])
def test_unknown_modes_are_refused(mode: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        file_query(search="x", search_mode=mode)
    assert info.value.details["field"] == "search_mode"
    assert info.value.details["allowed"] == list(SEARCH_MODES)


def test_file_query_carries_the_search() -> None:
    query = file_query(search=" Red  car ", search_mode="metadata", tags=["x"])
    assert query.search == TextSearch(("red", "car"), "metadata", "Red  car")
    assert query.tags == ("x",)
    assert file_query().search is None
