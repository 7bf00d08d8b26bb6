"""What ``upload`` accepts: folders walked with their rules, and parts that rewind for retries."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.client._sources import MAX_FILES_PER_CALL, collect, file_parts, one
from scopix.errors import ValidationError


def tree(root: Path) -> None:
    for name in ("a.jpg", "b.PNG", "notes.csv", ".hidden.png", "sub/c.webp", ".cache/d.png"):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(name.encode())


def test_folders_keep_supported_visible_files_in_order(tmp_path: Path) -> None:
    tree(tmp_path)
    names = [s.filename for s in collect([tmp_path])]
    assert names == ["a.jpg", "b.PNG", "c.webp"]
    assert [s.filename for s in collect([tmp_path], recursive=False)] == ["a.jpg", "b.PNG"]
    hidden = [s.filename for s in collect([tmp_path], include_hidden=True)]
    assert hidden == ["d.png", ".hidden.png", "a.jpg", "b.PNG", "c.webp"]


def test_named_files_bytes_and_handles_are_taken_as_given(tmp_path: Path) -> None:
    tree(tmp_path)
    sources = collect([tmp_path / "notes.csv", b"raw", io.BytesIO(b"handle")])
    assert [(s.filename, s.size) for s in sources] == [
        ("notes.csv", 9),
        ("upload", 3),
        ("upload", 6),
    ]
    with pytest.raises(ValidationError, match="no such file"):
        collect([tmp_path / "missing.jpg"])
    with pytest.raises(ValidationError, match="folder"):
        one(tmp_path)


def test_too_many_files_are_refused_before_anything_is_sent() -> None:
    with pytest.raises(ValidationError, match="10,000"):
        collect([b"x"] * (MAX_FILES_PER_CALL + 1))


@given(data=st.binary(max_size=300_000), rewinds=st.integers(min_value=1, max_value=3))
def test_a_part_resends_the_same_bytes_and_progress_adds_up(data: bytes, rewinds: int) -> None:
    counted: list[int] = []
    parts = file_parts("file", collect([data]), counted.append)
    request = None
    for _ in range(rewinds):  # httpx builds a request per attempt from the same parts
        request = httpx.Request("POST", "http://h/", files=parts)
        body = b"".join(request.stream)  # type: ignore[arg-type]
        assert data in body
        assert int(request.headers["content-length"]) == len(body)
    assert request is not None
    assert sum(counted) == len(data), "a rewind takes back what the dropped attempt counted"


def test_a_callers_file_object_is_not_closed_and_starts_where_it_was(tmp_path: Path) -> None:
    handle = io.BytesIO(b"skip|payload")
    handle.seek(5)
    (source,) = collect([handle])
    part = source.part()
    assert part.read() == b"payload"
    part.seek(0)
    assert part.read(3) == b"pay"
    assert not handle.closed
