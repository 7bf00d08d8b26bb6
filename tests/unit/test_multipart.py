"""The streaming multipart parser: staged bytes, hashes, heads, limits and clean-up on error."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scopix.server.api.multipart import (
    MAX_FIELD_BYTES,
    MAX_FIELDS,
    WRITE_BUFFER,
    FormLimits,
    ParsedForm,
    parse_form,
)
from scopix.server.domain.errors import (
    DomainError,
    FileTooLarge,
    MalformedRequest,
    ValidationFailed,
)
from scopix.server.domain.media import SNIFF_BYTES

BOUNDARY = "----scopixBoundary7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
SINGLE = FormLimits(
    frozenset({"file"}), max_files=1, max_file_bytes=1 << 30, max_total_bytes=1 << 31
)
BATCH = FormLimits(
    frozenset({"files"}), max_files=10, max_file_bytes=1 << 30, max_total_bytes=1 << 31
)


@dataclass(frozen=True)
class Part:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None


def file_part(data: bytes, filename: str = "photo.jpg", name: str = "file") -> Part:
    return Part(name, data, filename, "application/octet-stream")


def body_of(parts: Sequence[Part], boundary: str = BOUNDARY, *, close: bool = True) -> bytes:
    out = bytearray()
    for part in parts:
        out += f"--{boundary}\r\n".encode()
        disposition = f'form-data; name="{part.name}"'
        if part.filename is not None:
            disposition += f'; filename="{part.filename}"'
        out += f"Content-Disposition: {disposition}\r\n".encode()
        if part.content_type:
            out += f"Content-Type: {part.content_type}\r\n".encode()
        out += b"\r\n" + part.data + b"\r\n"
    if close:
        out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def chunked(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)] or [b""]


def split_at(body: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = [0, *sorted(set(cuts)), len(body)]
    return [body[a:b] for a, b in itertools.pairwise(points)]


async def stream_of(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def path_maker(folder: Path) -> Callable[[], Path]:
    counter = itertools.count()
    return lambda: folder / f"staged-{next(counter)}"


async def parse(
    chunks: Iterable[bytes],
    folder: Path,
    limits: FormLimits = SINGLE,
    content_type: str | None = CONTENT_TYPE,
) -> ParsedForm:
    return await parse_form(content_type, stream_of(chunks), limits, path_maker(folder))


def staged(folder: Path) -> list[Path]:
    return sorted(folder.iterdir())


Summary = tuple[dict[str, str], list[tuple[str, int, str, bytes, bytes]]]


def summary(form: ParsedForm) -> Summary:
    """Everything a form says, with the staged bytes read back (paths left out)."""
    files = [(f.filename, f.size, f.sha256, f.head, f.path.read_bytes()) for f in form.files]
    return dict(form.fields), files


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "staging"
    path.mkdir()
    return path


# --- the normal case ---------------------------------------------------------------------------


async def test_one_file_and_fields(folder: Path) -> None:
    data = os.urandom(20_000)
    body = body_of(
        [
            Part("title", b"Roof survey"),
            Part("tags", "façade,roof".encode()),
            file_part(data, "IMG_0001.jpg"),
            Part("auto_describe", b"false"),
        ]
    )
    form = await parse([body], folder)
    assert form.fields == {"title": "Roof survey", "tags": "façade,roof", "auto_describe": "false"}
    [upload] = form.files
    assert upload.filename == "IMG_0001.jpg"
    assert upload.path.read_bytes() == data
    assert upload.size == len(data) == 20_000
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.head == data[:SNIFF_BYTES]
    assert len(upload.head) == 8192
    assert upload.path.parent == folder
    assert staged(folder) == [upload.path]


async def test_head_of_a_short_file_is_the_whole_file(folder: Path) -> None:
    form = await parse([body_of([file_part(b"\xff\xd8\xff tiny")])], folder)
    assert form.files[0].head == b"\xff\xd8\xff tiny"


async def test_empty_file_is_staged(folder: Path) -> None:
    form = await parse([body_of([file_part(b"")])], folder)
    [upload] = form.files
    assert (upload.size, upload.head, upload.path.read_bytes()) == (0, b"", b"")
    assert upload.sha256 == hashlib.sha256(b"").hexdigest()


async def test_file_larger_than_the_write_buffer(folder: Path) -> None:
    data = os.urandom(WRITE_BUFFER * 2 + 12_345)
    body = body_of([file_part(data)])
    form = await parse(chunked(body, 65_536), folder)
    [upload] = form.files
    assert upload.size == len(data)
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.path.read_bytes() == data
    assert upload.head == data[:SNIFF_BYTES]


async def test_a_file_is_whole_when_the_disk_takes_writes_a_few_bytes_at_a_time(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writev = os.writev

    def short_writes(fd: int, buffers: Sequence[bytes | memoryview]) -> int:
        return writev(fd, [memoryview(buffers[0])[:1000]])  # as a full or busy disk may

    monkeypatch.setattr(os, "writev", short_writes)
    data = os.urandom(WRITE_BUFFER + 12_345)
    form = await parse(chunked(body_of([file_part(data)]), 4096), folder)
    (staged,) = form.files
    assert staged.path.read_bytes() == data
    assert staged.sha256 == hashlib.sha256(data).hexdigest()


async def test_a_small_file_goes_into_a_file_made_ahead_without_a_thread(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = folder / "made-ahead"
    made.touch()

    async def no_thread(*_: object, **__: object) -> None:
        raise AssertionError("a small file written into a made file needs no thread")

    monkeypatch.setattr(anyio.to_thread, "run_sync", no_thread)
    data = os.urandom(20_000)
    form = await parse_form(
        CONTENT_TYPE,
        stream_of([body_of([file_part(data)])]),
        SINGLE,
        path_maker(folder),
        lambda: made,
    )
    (upload,) = form.files
    assert upload.path == made
    assert made.read_bytes() == data
    assert upload.sha256 == hashlib.sha256(data).hexdigest()


async def test_a_small_file_without_a_made_file_is_created_in_a_thread(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops: list[object] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(function: Callable[..., object], *args: object) -> object:
        hops.append(function)
        return await run_sync(function, *args)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    form = await parse([body_of([file_part(b"small")])], folder)
    assert form.files[0].path.read_bytes() == b"small"
    assert len(hops) == 1  # file creation costs the file system: never on the event loop


async def test_file_data_that_looks_like_a_boundary(folder: Path) -> None:
    data = f"\r\n--{BOUNDARY[:-1]}x\r\n--{BOUNDARY[:10]}\r\n\r\n--".encode() * 50
    form = await parse(chunked(body_of([file_part(data)]), 7), folder)
    assert form.files[0].path.read_bytes() == data


async def test_several_files(folder: Path) -> None:
    datas = [os.urandom(n) for n in (0, 1, 9_000, 300)]
    parts = [file_part(d, f"f{i}.png", name="files") for i, d in enumerate(datas)]
    body = body_of([Part("title", b"batch"), *parts])
    form = await parse(chunked(body, 100), folder, BATCH)
    assert form.fields == {"title": "batch"}
    assert [f.filename for f in form.files] == ["f0.png", "f1.png", "f2.png", "f3.png"]
    for upload, data in zip(form.files, datas, strict=True):
        assert upload.path.read_bytes() == data
        assert upload.sha256 == hashlib.sha256(data).hexdigest()
        assert upload.size == len(data)
    assert len({f.path for f in form.files}) == 4
    assert len(staged(folder)) == 4


async def test_discard_removes_staged_files(folder: Path) -> None:
    parts = [file_part(b"a", "a", "files"), file_part(b"b", "b", "files")]
    form = await parse([body_of(parts)], folder, BATCH)
    form.discard()
    assert staged(folder) == []
    form.discard()  # twice is harmless


async def test_text_fields_decode_utf8_and_replace_garbage(folder: Path) -> None:
    body = body_of([Part("title", "東京 café".encode()), Part("tags", b"\xff\xfe"), Part("e", b"")])
    form = await parse([body], folder)
    assert form.fields == {"title": "東京 café", "tags": "\ufffd\ufffd", "e": ""}
    assert form.files == []


async def test_no_parts_gives_an_empty_form(folder: Path) -> None:
    form = await parse([f"--{BOUNDARY}--\r\n".encode()], folder)
    assert (form.fields, form.files) == ({}, [])


@pytest.mark.parametrize(
    "content_type",
    [
        f'multipart/form-data; boundary="{BOUNDARY}"',
        f"Multipart/Form-Data; boundary={BOUNDARY}",
        f"multipart/form-data; charset=utf-8; boundary={BOUNDARY}",
    ],
)
async def test_content_type_variants(folder: Path, content_type: str) -> None:
    form = await parse([body_of([file_part(b"x")])], folder, content_type=content_type)
    assert form.files[0].size == 1


async def test_empty_chunks_are_harmless(folder: Path) -> None:
    body = body_of([Part("title", b"t"), file_part(b"data")])
    chunks = [b""] + [c for piece in chunked(body, 5) for c in (piece, b"")]
    form = await parse(chunks, folder)
    assert summary(form) == (
        {"title": "t"},
        [("photo.jpg", 4, hashlib.sha256(b"data").hexdigest(), b"data", b"data")],
    )


# --- chunking never changes the result ---------------------------------------------------------

SMALL_BODY = body_of(
    [
        Part("title", b"chunks"),
        file_part(bytes(range(256)) + b"\r\n--" + BOUNDARY[:5].encode(), "one.bin", "files"),
        Part("tags", b"a,b"),
        file_part(b"", "empty.bin", "files"),
        file_part(b"\r\n" * 20, "crlf.bin", "files"),
    ]
)


def test_every_chunk_size_gives_the_same_result() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        expected = summary(asyncio.run(parse([SMALL_BODY], Path(tmp), BATCH)))
    assert len(expected[1]) == 3
    for size in range(1, len(SMALL_BODY) + 2):
        with tempfile.TemporaryDirectory() as tmp:
            form = asyncio.run(parse(chunked(SMALL_BODY, size), Path(tmp), BATCH))
            assert summary(form) == expected, size


BIG_DATA = bytes(range(256)) * 40 + b"tail"  # over SNIFF_BYTES, so the head is cut across chunks
BIG_BODY = body_of(
    [Part("title", b"big"), file_part(BIG_DATA, "big.bin", "files"), Part("x", b"y")]
)


def _run_summary(chunks: list[bytes], limits: FormLimits = BATCH) -> Summary:
    with tempfile.TemporaryDirectory() as tmp:
        return summary(asyncio.run(parse(chunks, Path(tmp), limits)))


EXPECTED_BIG = (
    {"title": "big", "x": "y"},
    [
        (
            "big.bin",
            len(BIG_DATA),
            hashlib.sha256(BIG_DATA).hexdigest(),
            BIG_DATA[:SNIFF_BYTES],
            BIG_DATA,
        )
    ],
)


@given(st.lists(st.integers(0, len(BIG_BODY)), max_size=40))
@example([])
@example(list(range(0, len(BIG_BODY), 1)))
@settings(max_examples=100, deadline=None)
def test_arbitrary_chunking_gives_identical_results(cuts: list[int]) -> None:
    assert _run_summary(split_at(BIG_BODY, cuts)) == EXPECTED_BIG


@given(st.lists(st.integers(0, len(SMALL_BODY)), max_size=30))
@settings(max_examples=100, deadline=None)
def test_arbitrary_chunking_of_several_files(cuts: list[int]) -> None:
    assert _run_summary(split_at(SMALL_BODY, cuts)) == _run_summary([SMALL_BODY])


# --- limits ------------------------------------------------------------------------------------


def _limits(**kw: int) -> FormLimits:
    values = {"max_files": 10, "max_file_bytes": 1_000, "max_total_bytes": 10_000} | kw
    return FormLimits(frozenset({"files"}), **values)


@pytest.mark.parametrize("chunk", [1, 64, 100_000])
async def test_file_of_exactly_the_limit_is_accepted(folder: Path, chunk: int) -> None:
    body = body_of([file_part(b"x" * 1_000, name="files")])
    form = await parse(chunked(body, chunk), folder, _limits())
    assert form.files[0].size == 1_000


@pytest.mark.parametrize("chunk", [1, 64, 100_000])
async def test_per_file_limit(folder: Path, chunk: int) -> None:
    body = body_of([file_part(b"x" * 10, "ok", "files"), file_part(b"x" * 1_001, "big", "files")])
    with pytest.raises(FileTooLarge) as info:
        await parse(chunked(body, chunk), folder, _limits())
    assert info.value.code == "FILE_TOO_LARGE"
    assert info.value.details["limit"] == 1_000
    assert "direct-uploads" in info.value.details["suggestion"]
    assert staged(folder) == []


@pytest.mark.parametrize("chunk", [1, 64, 100_000])
async def test_total_limit(folder: Path, chunk: int) -> None:
    parts = [file_part(b"y" * 900, f"f{i}", "files") for i in range(3)]
    with pytest.raises(FileTooLarge) as info:
        await parse(chunked(body_of(parts), chunk), folder, _limits(max_total_bytes=2_000))
    assert info.value.details["limit"] == 2_000
    assert "direct-uploads" in info.value.details["suggestion"]
    assert staged(folder) == []


async def test_total_limit_exactly_reached_is_accepted(folder: Path) -> None:
    parts = [file_part(b"y" * 1_000, f"f{i}", "files") for i in range(2)]
    form = await parse(chunked(body_of(parts), 50), folder, _limits(max_total_bytes=2_000))
    assert [f.size for f in form.files] == [1_000, 1_000]


@pytest.mark.parametrize("chunk", [1, 64])
async def test_too_many_files(folder: Path, chunk: int) -> None:
    parts = [file_part(b"z", f"f{i}", "files") for i in range(3)]
    with pytest.raises(ValidationFailed) as info:
        await parse(chunked(body_of(parts), chunk), folder, _limits(max_files=2))
    assert info.value.details["max_files"] == 2
    assert staged(folder) == []


@pytest.mark.parametrize("count", [1, 2, 3])
async def test_exactly_max_files_accepted_in_small_chunks(folder: Path, count: int) -> None:
    parts = [file_part(b"z", f"f{i}", "files") for i in range(count)]
    form = await parse(chunked(body_of(parts), 1), folder, _limits(max_files=count))
    assert len(form.files) == count


async def test_exactly_max_files_accepted_in_one_chunk(folder: Path) -> None:
    parts = [file_part(b"z", f"f{i}", "files") for i in range(2)]
    form = await parse([body_of(parts)], folder, _limits(max_files=2))
    assert len(form.files) == 2


async def test_single_upload_route_takes_one_file(folder: Path) -> None:
    body = body_of([file_part(b"a"), file_part(b"b")])
    with pytest.raises(ValidationFailed):
        await parse(chunked(body, 8), folder, SINGLE)
    assert staged(folder) == []


@pytest.mark.parametrize("chunk", [1, 100_000])
async def test_unexpected_file_field(folder: Path, chunk: int) -> None:
    body = body_of([file_part(b"ok", "a.jpg", "files"), file_part(b"no", "b.jpg", "attachment")])
    with pytest.raises(ValidationFailed) as info:
        await parse(chunked(body, chunk), folder, BATCH)
    assert info.value.details["field"] == "attachment"
    assert staged(folder) == []


async def test_file_field_without_filename_is_a_text_field(folder: Path) -> None:
    form = await parse([body_of([Part("file", b"not a file")])], folder)
    assert form.fields == {"file": "not a file"}
    assert form.files == []
    assert staged(folder) == []


async def test_text_field_too_long(folder: Path) -> None:
    body = body_of([file_part(b"data"), Part("title", b"t" * (MAX_FIELD_BYTES + 1))])
    with pytest.raises(ValidationFailed) as info:
        await parse(chunked(body, 4_096), folder)
    assert info.value.details["field"] == "title"
    assert staged(folder) == []


async def test_text_field_of_exactly_the_limit(folder: Path) -> None:
    form = await parse([body_of([Part("title", b"t" * MAX_FIELD_BYTES)])], folder)
    assert len(form.fields["title"]) == MAX_FIELD_BYTES


async def test_too_many_text_fields(folder: Path) -> None:
    ok = [Part(f"f{i}", b"v") for i in range(MAX_FIELDS)]
    assert len((await parse([body_of(ok)], folder)).fields) == MAX_FIELDS
    with pytest.raises(ValidationFailed):
        await parse([body_of([file_part(b"x"), *ok, Part("one_more", b"v")])], folder)
    assert staged(folder) == []


# --- malformed requests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain; boundary=abc",
        "multipart/mixed; boundary=abc",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        'multipart/form-data; boundary=""',
        "multipart/form-data; charset=utf-8",
    ],
)
async def test_not_multipart_or_no_boundary(folder: Path, content_type: str | None) -> None:
    with pytest.raises(MalformedRequest) as info:
        await parse([body_of([file_part(b"x")])], folder, content_type=content_type)
    assert info.value.code == "VALIDATION_ERROR"
    assert staged(folder) == []


async def test_part_without_name(folder: Path) -> None:
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; filename="a"\r\n\r\n'
        f"x\r\n--{BOUNDARY}--\r\n"
    )
    with pytest.raises(MalformedRequest):
        await parse([body.encode()], folder)
    assert staged(folder) == []


async def test_part_without_disposition(folder: Path) -> None:
    body = f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{BOUNDARY}--\r\n"
    with pytest.raises(MalformedRequest):
        await parse([body.encode()], folder)


async def test_header_too_long(folder: Path) -> None:
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="t"\r\n'
        f"X-Junk: {'j' * (MAX_FIELD_BYTES + 1)}\r\n\r\nx\r\n--{BOUNDARY}--\r\n"
    )
    with pytest.raises(MalformedRequest):
        await parse(chunked(body.encode(), 1_000), folder)


async def test_garbage_after_boundary_is_malformed(folder: Path) -> None:
    body = f"--{BOUNDARY}\r\nno colon here\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode()
    with pytest.raises(MalformedRequest):
        await parse([body], folder)


FULL = body_of([Part("title", b"t"), file_part(os.urandom(3_000), "a.jpg", "files")], close=False)
FILE_START = FULL.index(b"\r\n\r\n", FULL.index(b"a.jpg")) + 4


@pytest.mark.parametrize("cut", [FILE_START, FILE_START + 1, FILE_START + 1_500, len(FULL) - 3])
@pytest.mark.parametrize("chunk", [1, 256, 100_000])
async def test_body_ending_mid_file(folder: Path, cut: int, chunk: int) -> None:
    with pytest.raises(MalformedRequest):
        await parse(chunked(FULL[:cut], chunk), folder, BATCH)
    assert staged(folder) == []


@given(st.integers(FILE_START, len(FULL) - 3), st.integers(1, 4_000))
@settings(max_examples=60, deadline=None)
def test_any_cut_inside_the_file_is_malformed(cut: int, chunk: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with pytest.raises(MalformedRequest):
            asyncio.run(parse(chunked(FULL[:cut], chunk), folder, BATCH))
        assert staged(folder) == []


TWO = body_of([file_part(b"first", "a.jpg", "files"), file_part(b"second", "b.jpg", "files")])
SECOND_HEADERS = TWO.index(b"b.jpg") - 20


@pytest.mark.parametrize("cut", [SECOND_HEADERS, len(TWO) - len(f"--{BOUNDARY}--\r\n") - 10])
async def test_body_ending_before_the_closing_boundary(folder: Path, cut: int) -> None:
    with pytest.raises(MalformedRequest):
        await parse([TWO[:cut]], folder, BATCH)
    assert staged(folder) == []


class Disconnected(Exception):
    pass


async def test_stream_failure_leaves_nothing(folder: Path) -> None:
    body = body_of([file_part(b"a" * 100, "a", "files"), file_part(b"b" * 5_000, "b", "files")])

    async def broken() -> AsyncIterator[bytes]:
        yield body[:200]  # the first file is complete
        yield body[200:2_000]
        raise Disconnected

    with pytest.raises(Disconnected):
        await parse_form(CONTENT_TYPE, broken(), BATCH, path_maker(folder))
    assert staged(folder) == []


async def test_cancellation_leaves_nothing(folder: Path) -> None:
    body = body_of([file_part(b"a" * 100, "a", "files"), file_part(b"b" * 5_000, "b", "files")])
    gate = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        yield body[:2_000]
        gate.set()
        await asyncio.sleep(3_600)
        yield body[2_000:]

    task = asyncio.create_task(parse_form(CONTENT_TYPE, stalled(), BATCH, path_maker(folder)))
    await gate.wait()
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert staged(folder) == []


# --- robustness --------------------------------------------------------------------------------

HEADER_LINES = [
    b'Content-Disposition: form-data; name="files"; filename="a.jpg"',
    b'Content-Disposition: form-data; name="file"; filename="a.jpg"',
    b'Content-Disposition: form-data; name="title"',
    b'Content-Disposition: form-data; name="other"; filename="x"',
    b"Content-Disposition: form-data",
    b"content-disposition: attachment; name=files; filename=b",
    b"Content-Disposition: form-data; name=\"files\"; filename*=UTF-8''%E2%82%AC.jpg",
    b'Content-Disposition: form-data; name="files"; filename="C:\\dir\\a.jpg"',
    b'Content-Disposition: form-data; name="\xff\xfe"; filename="\xe2\x82"',
    b"Content-Type: image/jpeg",
    b": ",
    b"X-Empty:",
    b"no colon",
]
FRAGMENTS = [
    f"--{BOUNDARY}".encode(),
    f"--{BOUNDARY}--".encode(),
    f"\r\n--{BOUNDARY}".encode(),
    b"\r\n",
    b"\r\n\r\n",
    b"--",
    *HEADER_LINES,
    b"x" * 40,
    b"\xff\xd8\xff\x00",
]
noise = st.binary(max_size=12)
part_st = st.tuples(
    st.one_of(
        st.lists(st.sampled_from(HEADER_LINES[:3]), min_size=1, max_size=1),
        st.lists(st.sampled_from(HEADER_LINES[:3]), min_size=1, max_size=1),
        st.lists(st.one_of(st.sampled_from(HEADER_LINES), noise), max_size=3),
    ),
    st.one_of(st.binary(max_size=80), st.sampled_from([b"", b"x" * 40, b"\r\n--"])),
    st.sampled_from([b"\r\n"] * 8 + [b"", b"\n"]),
)


def _structured(parts: list[tuple[list[bytes], bytes, bytes]], ending: bytes) -> bytes:
    out = bytearray()
    for headers, data, eol in parts:
        out += f"--{BOUNDARY}\r\n".encode() + b"".join(h + eol for h in headers)
        out += b"\r\n" + data + b"\r\n"
    return bytes(out + ending)


structured_bodies = st.builds(
    _structured,
    st.lists(part_st, max_size=5),
    st.sampled_from([f"--{BOUNDARY}--\r\n".encode(), b"", f"--{BOUNDARY}".encode(), b"--"]),
)
bodies = st.one_of(
    st.binary(max_size=600),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), noise), max_size=30).map(b"".join),
    structured_bodies,
    structured_bodies,
)


def _robust_once(body: bytes, chunk: int, limits: FormLimits) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        try:
            form = asyncio.run(parse(chunked(body, chunk), folder, limits))
        except DomainError:
            assert staged(folder) == [], "a refused request left staged files"
            return
        assert len(form.files) <= limits.max_files
        assert sorted(f.path for f in form.files) == staged(folder)
        for upload in form.files:
            data = upload.path.read_bytes()
            assert upload.size == len(data) <= limits.max_file_bytes
            assert upload.sha256 == hashlib.sha256(data).hexdigest()
            assert upload.head == data[:SNIFF_BYTES]


LIMITS_ST = st.sampled_from(
    [
        BATCH,
        SINGLE,
        FormLimits(frozenset({"files"}), max_files=2, max_file_bytes=30, max_total_bytes=50),
    ]
)


@given(bodies, st.integers(1, 700), LIMITS_ST)
@example(b"", 1, BATCH)
@example(f"--{BOUNDARY}\r\n".encode(), 1, BATCH)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_arbitrary_bodies_are_refused_cleanly_or_parsed(
    body: bytes, chunk: int, limits: FormLimits
) -> None:
    _robust_once(body, chunk, limits)


@given(
    st.sampled_from([SMALL_BODY, BIG_BODY[:2_000] + BIG_BODY[-200:]]),
    st.lists(st.tuples(st.integers(0, 2_400), st.binary(min_size=0, max_size=4)), max_size=6),
    st.integers(1, 500),
)
@settings(max_examples=200, deadline=None)
def test_mutated_valid_bodies(body: bytes, edits: list[tuple[int, bytes]], chunk: int) -> None:
    mutated = bytearray(body)
    for where, replacement in edits:
        at = where % (len(mutated) + 1)
        mutated[at : at + len(replacement) // 2 + 1] = replacement
    _robust_once(bytes(mutated), chunk, BATCH)
