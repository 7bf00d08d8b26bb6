"""The SDK reads where a description came from, and the faces found, from a file's details."""

from __future__ import annotations

from scopix.types.files import FileDetails

PROVENANCE = {
    "description": {"analyzer": "ondevice:caption", "confidence": 0.62},
    "tags": [{"tag": "cat", "analyzer": "ondevice:tagger", "confidence": 0.91}],
    "key_elements": [{"element": "cat", "analyzer": "ondevice:caption"}],
    "visible_text": None,
    "embedding": {"analyzer": "ondevice:embedder/e5", "confidence": None},
    "pipeline": "3233049c",
}


def test_file_details_carry_provenance_and_face_boxes() -> None:
    details = FileDetails.from_dict(
        {
            "id": "f1",
            "filename": "cat.png",
            "provenance": PROVENANCE,
            "faces": [{"x": 0.3, "y": 0.1, "width": 0.2, "height": 0.2, "confidence": 1}],
        }
    )
    assert details.provenance == PROVENANCE
    assert details.faces == [{"x": 0.3, "y": 0.1, "width": 0.2, "height": 0.2, "confidence": 1.0}]


def test_a_server_without_them_gives_none() -> None:
    older = FileDetails.from_dict({"id": "f1", "filename": "cat.png"})
    assert (older.provenance, older.faces) == (None, None)
    listed = FileDetails.from_dict({"id": "f1", "provenance": None, "faces": None})
    assert (listed.provenance, listed.faces) == (None, None)
