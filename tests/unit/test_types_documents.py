"""The SDK's document types: parsing the API's shapes, tolerating what newer or older
servers send, and the document fields of files and statuses."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.types.documents import (
    ChunkList,
    DocumentChunk,
    DocumentSearchHit,
    DocumentSearchResults,
    DocumentText,
    PageText,
)
from scopix.types.files import FileDetails, FileList, ProcessingStatus

HIT = {
    "chunk_id": "c1",
    "document_id": "d1",
    "document_filename": "report.pdf",
    "content": "Revenue grew.",
    "score": 0.5,
    "chunk_index": 4,
    "page_numbers": [2, 3],
}
DESCRIBED = {"image_id": "d1", "description_status": "completed"}
#: JSON values a newer server might put under a key this SDK does not know.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)
UNKNOWN_KEYS = st.dictionaries(
    st.text(min_size=1).filter(lambda k: k not in HIT and k not in {"text", "pages", "page"}),
    JSON_VALUES,
    max_size=4,
)


def test_text_parses_its_pages_and_finds_one_by_number() -> None:
    text = DocumentText.from_dict(
        {"text": "a\n\nb", "pages": [{"page": 1, "text": "a"}, {"page": 2, "text": None}]}
    )
    assert text.pages == [PageText(1, "a"), PageText(2, "")]
    assert text.page(1).text == "a"
    with pytest.raises(KeyError, match=r"no page 3 \(it has 2\)"):
        text.page(3)
    assert DocumentText.from_dict({}) == DocumentText("", [])


def test_a_hit_reads_every_field_and_a_missing_filename_is_empty() -> None:
    hit = DocumentSearchHit.from_dict(HIT)
    assert hit == DocumentSearchHit("c1", "d1", "report.pdf", "Revenue grew.", 0.5, 4, [2, 3])
    nameless = DocumentSearchHit.from_dict({**HIT, "document_filename": None, "score": 1})
    assert (nameless.document_filename, nameless.score) == ("", 1.0)


@given(extra=UNKNOWN_KEYS)
def test_unknown_keys_are_ignored_everywhere(extra: dict[str, Any]) -> None:
    hit = DocumentSearchHit.from_dict({**HIT, **extra})
    assert hit == DocumentSearchHit.from_dict(HIT)
    results = DocumentSearchResults.from_dict(
        {"items": [{**HIT, **extra}], "total_count": 9, "has_more": True, **extra}
    )
    assert (results.items, results.total_count, results.has_more) == ([hit], 9, True)
    chunk = {k: HIT[k] for k in ("chunk_id", "chunk_index", "content", "page_numbers")}
    assert DocumentChunk.from_dict({**chunk, **extra}) == DocumentChunk(
        "c1", 4, "Revenue grew.", [2, 3]
    )
    text = DocumentText.from_dict(
        {"text": "x", "pages": [{"page": 1, "text": "x", **extra}], **extra}
    )
    assert text == DocumentText("x", [PageText(1, "x")])


def test_pages_of_chunks_default_their_counts_from_the_items() -> None:
    page = ChunkList.from_dict({"items": [{"chunk_id": 7, "chunk_index": "0"}]})
    assert page.items == [DocumentChunk("7", 0, "", [])]
    assert (page.total_count, page.has_more) == (1, False)
    assert DocumentSearchResults.from_dict({}) == DocumentSearchResults([], 0, False)


def test_files_and_statuses_carry_document_fields_and_older_servers_still_parse() -> None:
    fields = {
        "page_count": 12,
        "document_type": "pdf",
        "text_extraction_status": "failed",
        "text_extraction_error": "the PDF is encrypted",
        "chunk_count": None,
    }
    details = FileDetails.from_dict({"id": "d1", "filename": "r.pdf", **fields})
    assert (details.page_count, details.document_type, details.chunk_count) == (12, "pdf", None)
    assert details.text_extraction_error == "the PDF is encrypted"
    listed = FileList.from_dict({"items": [{"id": "d1", **fields, "page_count": "3"}]})
    assert listed.items[0].page_count == 3
    image = FileDetails.from_dict({"id": "i1", "filename": "a.png"})
    assert (image.page_count, image.text_extraction_status, image.chunk_count) == (None,) * 3
    status = ProcessingStatus.from_dict(
        {**DESCRIBED, **fields, "text_extraction_error_type": "validation"}
    )
    assert (status.text_extraction_error_type, status.page_count) == ("validation", 12)
    assert ProcessingStatus.from_dict(DESCRIBED).text_extraction_status is None


@pytest.mark.parametrize(
    ("state", "final"),
    [
        (None, True),
        ("pending", False),
        ("processing", False),
        ("completed", True),
        ("failed", True),
        ("skipped", True),
    ],
)
def test_an_extraction_is_final_once_it_is_not_queued_or_running(
    state: str | None, final: bool
) -> None:
    status = ProcessingStatus.from_dict({**DESCRIBED, "text_extraction_status": state})
    assert status.is_extraction_final is final
