"""The plain text filter of a listing: splitting the query into words, and the search modes."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.errors import ValidationFailed
from scopix.server.domain.listing import (
    MAX_SEARCH_CHARS,
    SEARCH_MODES,
    TextSearch,
    file_query,
    search_words,
    text_search,
)


@pytest.mark.parametrize(("text", "words"), [
    ("red car", ("red", "car")),
    ("  Red\tCAR\n ", ("red", "car")),
    ("car car CAR", ("car",)),  # a repeated word adds nothing
    ("car red", ("car", "red")),  # order kept
    ("50% off_", ("50%", "off_")),  # LIKE wildcards are plain characters here
    ("a\\b", ("a\\b",)),
    ("Größe", ("größe",)),
    ("GRÖẞE", ("größe",)),  # the capital sharp s lowercases to ß, not "ss"
    ("caf\u0065\u0301", ("caf\u00e9",)),  # NFC, as stored filenames are
    ("a\u00a0b\u3000c", ("a", "b", "c")),  # any Unicode whitespace separates
    ("", ()),
    (" \t\n", ()),
])  # fmt: skip
def test_search_words(text: str, words: tuple[str, ...]) -> None:
    assert search_words(text) == words


@given(st.text(max_size=60))
def test_search_words_are_lowercase_distinct_and_whitespace_free(text: str) -> None:
    words = search_words(text)
    assert len(set(words)) == len(words)
    for word in words:
        assert word
        assert not any(ch.isspace() for ch in word)
        assert word == word.lower()
        assert word == unicodedata.normalize("NFC", word)


def test_text_search_defaults_to_all_modes() -> None:
    assert text_search("Red car") == TextSearch(("red", "car"), "all")
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
    assert text_search(f"  {longest}  ") == TextSearch((longest,), "all")
    with pytest.raises(ValidationFailed) as info:
        text_search(longest + "y")
    assert info.value.details["field"] == "search"


def test_semantic_is_refused_honestly() -> None:
    with pytest.raises(ValidationFailed) as info:
        text_search("red car", "semantic")
    assert info.value.details["field"] == "search_mode"
    assert "not available" in info.value.message
    with pytest.raises(ValidationFailed):
        text_search(None, "semantic")  # refused even without a query: it is never answered


@pytest.mark.parametrize("mode", ["", "ALL", "meta", "fulltext"])
def test_unknown_modes_are_refused(mode: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        file_query(search="x", search_mode=mode)
    assert info.value.details["field"] == "search_mode"
    assert info.value.details["allowed"] == list(SEARCH_MODES)


def test_file_query_carries_the_search() -> None:
    query = file_query(search=" Red  car ", search_mode="metadata", tags=["x"])
    assert query.search == TextSearch(("red", "car"), "metadata")
    assert query.tags == ("x",)
    assert file_query().search is None
