"""Chunks of a document's text: every word once in order (overlaps aside), near the target
size, cut where the text breaks, with the right pages."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.chunking import chunk_pages

_word = st.text(alphabet="abcXYZé0123456789-'", min_size=1, max_size=8)
_punctuated = st.tuples(_word, st.sampled_from(["", "", "", ".", "!", "?", '."', ","])).map("".join)
_separator = st.sampled_from([" ", " ", " ", "\n", "\n\n", "\n \n", "\t"])


@st.composite
def _page_text(draw: st.DrawFn) -> str:
    words = draw(st.lists(_punctuated, max_size=120))
    parts: list[str] = [draw(st.sampled_from(["", "  ", "\n"]))]
    for word in words:
        parts.extend([word, draw(_separator)])
    return "".join(parts)


_pages = st.lists(_page_text(), min_size=1, max_size=5).map(
    lambda texts: [(number, text) for number, text in enumerate(texts, start=1)]
)
_sizes = st.integers(min_value=4, max_value=60).flatmap(
    lambda target: st.tuples(st.just(target), st.integers(0, target // 2 - 1))
)


def _words_with_pages(pages: list[tuple[int, str]]) -> list[tuple[str, int]]:
    return [(word, number) for number, text in pages for word in text.split()]


@given(_pages, _sizes)
def test_every_word_is_in_a_chunk_in_order_and_chunks_overlap_a_little(
    pages: list[tuple[int, str]], sizes: tuple[int, int]
) -> None:
    target, overlap = sizes
    words = _words_with_pages(pages)
    chunks = chunk_pages(pages, target, overlap)
    if not words:
        assert chunks == []
        return
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert chunks[0].span[0] == 0
    assert chunks[-1].span[1] == len(words)
    for before, after in pairwise(chunks):
        shared = before.span[1] - after.span[0]
        assert 0 <= shared <= overlap
        assert after.span[0] > before.span[0]
    for chunk in chunks:
        start, end = chunk.span
        assert chunk.content.split() == [word for word, _ in words[start:end]]
        assert chunk.page_numbers == tuple(sorted({page for _, page in words[start:end]}))


@given(_pages, _sizes)
def test_chunks_stay_near_the_target_and_none_is_empty(
    pages: list[tuple[int, str]], sizes: tuple[int, int]
) -> None:
    target, overlap = sizes
    chunks = chunk_pages(pages, target, overlap)
    for chunk in chunks:
        assert chunk.content.strip()
        assert len(chunk.content.split()) <= target
    for chunk in chunks[:-1]:
        assert len(chunk.content.split()) >= target // 2


@given(_pages, _sizes)
def test_chunking_is_deterministic(pages: list[tuple[int, str]], sizes: tuple[int, int]) -> None:
    assert chunk_pages(pages, *sizes) == chunk_pages(pages, *sizes)


def test_a_chunk_ends_at_a_paragraph_end_when_one_is_in_its_back_half() -> None:
    first = " ".join(f"w{i}." for i in range(7))
    second = " ".join(f"v{i}" for i in range(10))
    chunks = chunk_pages([(1, f"{first}\n\n{second}")], target_words=10, overlap_words=0)
    assert chunks[0].content == first
    assert chunks[1].content.startswith("v0")


def test_a_chunk_ends_at_a_sentence_end_when_no_paragraph_ends_in_reach() -> None:
    text = "one two three four five six. seven eight nine ten eleven twelve"
    chunks = chunk_pages([(1, text)], target_words=8, overlap_words=0)
    assert chunks[0].content == "one two three four five six."
    assert chunks[1].content == "seven eight nine ten eleven twelve"


def test_the_overlap_is_whole_sentences_where_one_fits() -> None:
    text = "a b c d e f. g h. i j k l m n o p q r s t"
    chunks = chunk_pages([(1, text)], target_words=10, overlap_words=3)
    assert chunks[0].content == "a b c d e f. g h."
    assert chunks[1].content.startswith("g h. i j")


def test_a_chunk_spanning_a_page_break_names_both_pages() -> None:
    chunks = chunk_pages([(3, "end of one page"), (4, "and the next")], 20, 2)
    assert [(c.content, c.page_numbers) for c in chunks] == [
        ("end of one page\n\nand the next", (3, 4))
    ]


def test_empty_pages_give_no_chunks() -> None:
    assert chunk_pages([(1, ""), (2, "  \n\n ")], 250, 40) == []


@pytest.mark.parametrize(("target", "overlap"), [(1, 0), (10, 5), (10, -1)])
def test_sizes_that_cannot_progress_are_refused(target: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_pages([(1, "some words")], target, overlap)
