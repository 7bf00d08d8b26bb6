"""Damaged documents, byte by byte: the decoders either read them or refuse them with a domain
error (CorruptFile, DocumentTooLarge, ResourceLimit); no other exception escapes."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import docfactory
from docfactory import DEFAULT_LIMITS as LIMITS
from scopix.server.domain.errors import CorruptFile, DocumentTooLarge, ResourceLimit
from scopix.server.media.documents import docx, pdf

REFUSALS = (CorruptFile, DocumentTooLarge, ResourceLimit)
PDF = docfactory.text_pdf([["Fuzzed page one", "and its second line"], ["page two"]], title="T")
DOCX = docfactory.docx_bytes(headings=[(1, "Fuzz")], paragraphs=["text"], table=[["a", "b"]])


def damaged(original: bytes) -> st.SearchStrategy[bytes]:
    """The document with some bytes overwritten, or cut short."""
    edits = st.lists(
        st.tuples(st.integers(0, len(original) - 1), st.binary(min_size=1, max_size=8)),
        min_size=1,
        max_size=6,
    )

    def apply(changes: list[tuple[int, bytes]], cut: int) -> bytes:
        data = bytearray(original)
        for at, new in changes:
            data[at : at + len(new)] = new
        return bytes(data[:cut])

    return st.builds(apply, edits, st.integers(len(original) // 3, len(original)))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(damaged(PDF))
def test_a_damaged_pdf_is_read_or_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.pdf"
    path.write_bytes(data)
    pdf._prescanned.clear()
    try:
        read = pdf.pdf_text(path, LIMITS)
    except REFUSALS:
        return
    assert all(page.number == index for index, page in enumerate(read.pages, start=1))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(damaged(DOCX))
def test_a_damaged_docx_is_read_or_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.docx"
    path.write_bytes(data)
    try:
        docx.read_docx(path, LIMITS)
    except REFUSALS:
        return
