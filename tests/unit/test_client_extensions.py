"""The SDK's folder walk picks up exactly the types the server accepts.

The SDK cannot import the server (``pip install scopix`` has none of it), so it keeps its own
list of extensions; this test holds the two in step.
"""

from __future__ import annotations

from pathlib import Path

from scopix.client._sources import SUPPORTED_EXTENSIONS, collect
from scopix.server.domain.media import (
    ACCEPTED,
    ACCEPTED_DOCUMENTS,
    ACCEPTED_IMAGES,
    ACCEPTED_VIDEOS,
    MARKDOWN_EXTENSIONS,
    MARKDOWN_MIME,
    NOT_YET_ACCEPTED,
)

#: Other spellings of one type's extension, as cameras and tools write them.
ALIASES = {".jpeg": "image/jpeg", ".tif": "image/tiff"}


def _server_types_by_extension() -> dict[str, str]:
    accepted = ACCEPTED_IMAGES | ACCEPTED_DOCUMENTS | ACCEPTED_VIDEOS
    markdown = dict.fromkeys(MARKDOWN_EXTENSIONS, MARKDOWN_MIME)
    return {f".{ext}": mime for mime, ext in accepted.items()} | markdown | ALIASES


def test_every_sdk_extension_names_a_type_the_server_accepts() -> None:
    known = _server_types_by_extension()
    refused = sorted(ext for ext in SUPPORTED_EXTENSIONS if ext not in known)
    assert not refused, f"the SDK would send files the server refuses: {refused}"
    assert {known[ext] for ext in SUPPORTED_EXTENSIONS} <= set(ACCEPTED)


def test_every_type_the_server_accepts_has_its_extension_in_the_sdk() -> None:
    missing = sorted(set(_server_types_by_extension()) - SUPPORTED_EXTENSIONS)
    assert not missing, f"the SDK's folder walk would skip types the server takes: {missing}"


def test_types_the_server_does_not_accept_yet_are_skipped(tmp_path: Path) -> None:
    for mime in NOT_YET_ACCEPTED:
        (tmp_path / f"photo.{mime.split('/')[1]}").write_bytes(b"not sent")
    (tmp_path / "photo.png").write_bytes(b"sent")
    assert [source.filename for source in collect([tmp_path])] == ["photo.png"]


def test_documents_are_picked_up_with_the_images(tmp_path: Path) -> None:
    for name in ("a.pdf", "b.docx", "c.txt", "d.md", "e.MARKDOWN", "f.doc", "g.zip", "h.html"):
        (tmp_path / name).write_bytes(b"x")
    picked = [source.filename for source in collect([tmp_path])]
    assert picked == ["a.pdf", "b.docx", "c.txt", "d.md", "e.MARKDOWN"]


def test_videos_are_picked_up_in_every_container_the_server_takes(tmp_path: Path) -> None:
    for name in ("a.mp4", "b.MOV", "c.m4v", "d.webm", "e.avi", "f.mkv", "g.flv", "h.wmv"):
        (tmp_path / name).write_bytes(b"x")
    picked = [source.filename for source in collect([tmp_path])]
    assert picked == ["a.mp4", "b.MOV", "c.m4v", "d.webm", "e.avi", "f.mkv"]
