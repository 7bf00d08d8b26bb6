"""Text files and Markdown as the document decoders read them, and the DOCX zip pre-pass."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import docfactory
from docfactory import DEFAULT_LIMITS as LIMITS
from scopix.server.domain.errors import CorruptFile, DocumentTooLarge, ResourceLimit
from scopix.server.media.documents.docx import check_archive, read_docx
from scopix.server.media.documents.text import decode_text, markdown_to_text, read_text_file

MiB = 1 << 20


@pytest.mark.parametrize(
    "data",
    [
        "naïve café 東京 🙂".encode(),
        codecs.BOM_UTF8 + "naïve café 東京 🙂".encode(),
        "naïve café 東京 🙂".encode("utf-16"),
        "naïve café 東京 🙂".encode("utf-32"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-bom", "utf-32-bom"],
)
def test_unicode_text_decodes_by_its_bom_else_as_utf8(data: bytes) -> None:
    assert decode_text(data) == "naïve café 東京 🙂"


def test_latin1_text_comes_out_right() -> None:
    assert decode_text(docfactory.latin1_text()).splitlines() == list(docfactory.LATIN1_SENTENCES)


@pytest.mark.parametrize(
    "data",
    [docfactory.binary_text(), bytes(range(1, 32)) * 50, b"\x00" * 100],
    ids=["text-then-binary", "control-characters", "nul-bytes"],
)
def test_binary_bytes_are_not_text(data: bytes) -> None:
    with pytest.raises(CorruptFile, match="binary"):
        decode_text(data)


def test_the_head_of_a_file_may_end_inside_a_character() -> None:
    head = "Ça commence — et ça continue".encode()[:-2] + "—".encode()[:2]
    assert read_text_file(head, "txt", complete=False).text.endswith("ça contin")


def test_line_ends_of_every_system_become_newlines() -> None:
    assert read_text_file(b"one\r\ntwo\rthree\n", "txt").text == "one\ntwo\nthree\n"


def test_markdown_keeps_words_and_drops_markup() -> None:
    plain = markdown_to_text(
        "# Title *here*\n\nSee [the docs](https://x.org) and ![a fern](f.png).\n\n"
        "| Name | Size |\n|---|---|\n| Bracken | 2 m |\n\n<div>raw html</div>\n\n1. one\n2. two\n"
    )
    assert plain.title == "Title here"
    assert plain.text.split("\n\n") == [
        "Title here",
        "See the docs and a fern.",
        "Name | Size",
        "Bracken | 2 m",
        "one",
        "two",
    ]


WORDS = st.lists(st.from_regex(r"[A-Za-z0-9]{1,8}", fullmatch=True), min_size=1, max_size=6)
MARKUP = {
    "paragraph": "{}",
    "heading": "## {}",
    "bullet": "- {}",
    "strong": "**{}**",
    "emphasis": "*{}*",
    "link": "[{}](https://example.org/page)",
    "code": "`{}`",
}


@given(st.lists(st.tuples(st.sampled_from(sorted(MARKUP)), WORDS), min_size=1, max_size=8))
def test_marked_up_words_come_out_as_the_same_words_without_markup(
    blocks: list[tuple[str, list[str]]],
) -> None:
    source = "\n\n".join(MARKUP[kind].format(" ".join(words)) for kind, words in blocks)
    plain = markdown_to_text(source)
    assert plain.text.split() == [word for _, words in blocks for word in words]
    headings = [" ".join(words) for kind, words in blocks if kind == "heading"]
    assert plain.title == (headings[0] if headings else None)


@given(st.binary(max_size=600))
def test_any_bytes_decode_to_text_or_are_refused_as_binary(data: bytes) -> None:
    try:
        text = decode_text(data)
    except CorruptFile:
        return
    assert isinstance(text, str)


def test_a_real_docx_passes_the_pre_pass_and_reads_in_order(tmp_path: Path) -> None:
    path = tmp_path / "real.docx"
    path.write_bytes(
        docfactory.docx_bytes(
            headings=[(1, "Notes")], paragraphs=["First.", ""], table=[["a", ""], ["", ""]]
        )
    )
    assert check_archive(path, LIMITS) > 0
    plain = read_docx(path, LIMITS)
    assert (plain.title, plain.text) == ("Notes", "Notes\n\nFirst.\n\na | ")


@pytest.mark.parametrize(
    ("data", "refusal"),
    [
        (docfactory.docx_declaring(300 * MiB), DocumentTooLarge),
        (docfactory.docx_inflating_past(64 * MiB), ResourceLimit),
        (docfactory.plain_zip(), CorruptFile),
        (b"PK\x03\x04 not really a zip", CorruptFile),
    ],
    ids=["declares-too-much", "lies-about-its-size", "plain-zip", "broken-zip"],
)
def test_the_pre_pass_refuses_before_python_docx_opens(
    tmp_path: Path, data: bytes, refusal: type[Exception]
) -> None:
    path = tmp_path / "hostile.docx"
    path.write_bytes(data)
    with pytest.raises(refusal):
        check_archive(path, LIMITS)


def test_a_member_that_unpacks_a_thousand_times_its_size_is_a_bomb(tmp_path: Path) -> None:
    """Honestly declared, under the unpacked cap, but at a ratio no document has."""
    path = tmp_path / "ratio.docx"
    path.write_bytes(docfactory.docx_declaring(100 * MiB))
    with pytest.raises(ResourceLimit, match="times its stored size"):
        check_archive(path, LIMITS)
