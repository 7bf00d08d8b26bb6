"""A document's text in chunks for search: a few hundred words each, cut at a paragraph end,
else a sentence end, else between words, the next one starting with the last few sentences of
the one before (pure).

The text is read as its whitespace-separated words, each with its page and whether it ends a
sentence or a paragraph; a chunk is a run of those words. So every word of the document is in
some chunk, in order, and a chunk's pages are exactly the pages its words came from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Chunk", "chunk_pages"]

#: A word that ends a sentence: its last letter is followed by . ! ? (an ellipsis too), then
#: perhaps closing quotes or brackets.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")
#: Paragraphs are separated by a blank line (spaces allowed on it).
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")


@dataclass(frozen=True)
class Chunk:
    """One passage: its position among the document's chunks, its text (paragraphs kept as
    blank-line breaks), the pages it came from (ascending), and the document's words it holds
    as `span` = (first, end) word offsets."""

    index: int
    content: str
    page_numbers: tuple[int, ...]
    span: tuple[int, int]


@dataclass(frozen=True)
class _Word:
    text: str
    page: int
    ends_sentence: bool
    ends_paragraph: bool


def chunk_pages(
    pages: Sequence[tuple[int, str]], target_words: int, overlap_words: int
) -> list[Chunk]:
    """Cut the pages' text ((page number, text), in page order) into chunks of at most
    `target_words` words, each but the last at least half of that; consecutive chunks share at
    most `overlap_words` words (whole sentences where some fit). No text: no chunk."""
    if target_words < 2:
        raise ValueError(f"target_words must be at least 2, got {target_words}")
    if not 0 <= overlap_words < target_words // 2:
        raise ValueError(
            f"overlap_words must be at least 0 and below half of target_words, got {overlap_words}"
        )
    words = _words(pages)
    chunks: list[Chunk] = []
    start = 0
    while start < len(words):
        end = _cut(words, start, target_words)
        chunks.append(_chunk(len(chunks), words, start, end))
        if end == len(words):
            break
        start = _next_start(words, start, end, overlap_words)
    return chunks


def _words(pages: Sequence[tuple[int, str]]) -> list[_Word]:
    words: list[_Word] = []
    for page, text in pages:
        for paragraph in _PARAGRAPH_BREAK.split(text):
            tokens = paragraph.split()
            for position, token in enumerate(tokens):
                words.append(
                    _Word(
                        token,
                        page,
                        ends_sentence=bool(_SENTENCE_END.search(token)),
                        ends_paragraph=position == len(tokens) - 1,
                    )
                )
    return words


def _cut(words: Sequence[_Word], start: int, target: int) -> int:
    """Where the chunk starting at `start` ends: the end of the text if it is near, else the
    last paragraph end, else the last sentence end, in the back half of the target, else the
    target itself."""
    limit = start + target
    if limit >= len(words):
        return len(words)
    earliest = start + target // 2
    reach = range(limit, earliest - 1, -1)
    paragraph_end = next((end for end in reach if words[end - 1].ends_paragraph), None)
    if paragraph_end is not None:
        return paragraph_end
    return next((end for end in reach if words[end - 1].ends_sentence), limit)


def _next_start(words: Sequence[_Word], start: int, end: int, overlap: int) -> int:
    """Where the next chunk starts: at the earliest sentence start among the last `overlap`
    words of this one, else `overlap` words back."""
    earliest = max(end - overlap, start + 1)
    for candidate in range(earliest, end):
        if words[candidate - 1].ends_sentence:
            return candidate
    return earliest


def _chunk(index: int, words: Sequence[_Word], start: int, end: int) -> Chunk:
    parts: list[str] = []
    for word in words[start:end]:
        parts.append(word.text)
        parts.append("\n\n" if word.ends_paragraph else " ")
    pages = sorted({word.page for word in words[start:end]})
    return Chunk(index, "".join(parts[:-1]), tuple(pages), (start, end))
