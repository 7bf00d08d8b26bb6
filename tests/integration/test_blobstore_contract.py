"""One contract, two stores: every test runs on local disk and on S3 (moto's real server)."""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx
import pytest

from s3server import S3Storage
from scopix.server.storage.base import (
    BlobNotFound,
    BlobStore,
    HeldUpload,
    PartReceiver,
    PartSizeMismatch,
    StoredPart,
)
from scopix.server.storage.local import WRITE_BATCH, LocalBlobStore
from scopix.server.storage.s3 import S3BlobStore, S3Location

MiB = 1 << 20
PART = 5 * MiB  # the smallest part S3 takes, but for the last
KEY = "t/ab/upload/original"


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    s3: S3Storage = request.getfixturevalue("s3_storage")
    return S3BlobStore(S3Location.parse(s3.url), tmp_path / "staging")


@pytest.fixture
def local(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def _random_bytes(size: int, seed: int = 5) -> bytes:
    return random.Random(seed).randbytes(size)


def _split(data: bytes, part_size: int = PART) -> list[bytes]:
    return [data[start : start + part_size] for start in range(0, len(data), part_size)]


async def _chunks(data: bytes, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk_size):
        yield data[start : start + chunk_size]


async def _send(store: BlobStore, upload_id: str, number: int, data: bytes, key: str = KEY) -> None:
    """Send one part the way a client would: to the server (local) or straight to S3."""
    if isinstance(store, PartReceiver):  # every part but the last is PART long
        await store.receive_part(upload_id, number, (number - 1) * PART, len(data), _chunks(data))
        return
    url = store.part_url(key, upload_id, number, 600)
    assert url is not None
    async with httpx.AsyncClient() as client:
        response = await client.put(url, content=data)
    response.raise_for_status()


async def _read(store: BlobStore, key: str, chunk_size: int = 1 << 20) -> bytes:
    return b"".join([chunk async for chunk in store.iter_bytes(key, chunk_size)])


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _assert_parts(store: BlobStore, parts: Sequence[StoredPart], pieces: Sequence[bytes]) -> None:
    """`parts` are `pieces`: S3's etag is a part's MD5; a local one names the copy stored."""
    assert [(p.number, p.size) for p in parts] == [(n, len(b)) for n, b in enumerate(pieces, 1)]
    if not isinstance(store, PartReceiver):
        assert [p.etag for p in parts] == [_md5(piece) for piece in pieces]


def _upload_folder(local: LocalBlobStore) -> Path:
    (folder,) = (local.root / ".parts").iterdir()
    return folder


def _held(held: Sequence[HeldUpload]) -> list[tuple[str, str]]:
    return sorted((h.key, h.store_upload_id) for h in held)


# Plain blobs


async def test_promote_consumes_the_staged_file(store: BlobStore) -> None:
    staged = store.new_staging_path()
    staged.write_bytes(b"x" * 1000)
    await store.promote(staged, KEY)
    assert not staged.exists()
    assert await store.exists(KEY)
    chunks = [chunk async for chunk in store.iter_bytes(KEY, chunk_size=300)]
    assert b"".join(chunks) == b"x" * 1000 and len(chunks) == 4


async def test_promote_stores_the_small_bytes_beside_then_the_original(store: BlobStore) -> None:
    staged = store.new_staging_path()
    staged.write_bytes(b"original bytes")
    beside = {"t/ab/upload/tiny_64.webp": b"tiny", "t/ab/upload/small_256.webp": b"small"}
    stored = await store.promote(staged, KEY, beside)
    assert stored == list(beside)
    assert not staged.exists()
    assert await _read(store, KEY) == b"original bytes"
    for key, data in beside.items():
        assert await _read(store, key) == data
    assert list(store.new_staging_path().parent.iterdir()) == []


async def test_promote_stops_at_a_refused_preview_and_keeps_the_original(
    local: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_whole = local._write_whole

    def refuse_small(final: Path, data: bytes) -> None:
        if final.name == "small_256.webp":
            raise OSError(28, "No space left on device")
        write_whole(final, data)

    monkeypatch.setattr(local, "_write_whole", refuse_small)
    staged = local.new_staging_path()
    staged.write_bytes(b"original bytes")
    beside = {
        "t/ab/upload/tiny_64.webp": b"tiny",
        "t/ab/upload/small_256.webp": b"small",
        "t/ab/upload/large_1024.webp": b"large",
    }
    assert await local.promote(staged, KEY, beside) == ["t/ab/upload/tiny_64.webp"]
    assert await _read(local, KEY) == b"original bytes"
    assert not await local.exists("t/ab/upload/large_1024.webp")


async def test_put_bytes_replaces_and_leaves_no_staging_file(store: BlobStore) -> None:
    await store.put_bytes("t/v.webp", b"data")
    await store.put_bytes("t/v.webp", b"newer")
    assert await _read(store, "t/v.webp") == b"newer"
    assert list(store.new_staging_path().parent.iterdir()) == []


async def test_a_range_of_a_blob_is_just_those_bytes(store: BlobStore) -> None:
    data = bytes(range(256)) * 4
    await store.put_bytes(KEY, data)

    async def read(start: int, length: int | None, chunk_size: int = 100) -> list[bytes]:
        ranged = store.iter_bytes(KEY, chunk_size, start=start, length=length)
        return [chunk async for chunk in ranged]

    chunks = await read(10, 250)
    assert b"".join(chunks) == data[10:260] and max(map(len, chunks)) <= 100
    assert b"".join(await read(1000, None)) == data[1000:]
    assert b"".join(await read(0, len(data), 1 << 20)) == data
    assert b"".join(await read(5, 0)) == b""
    with pytest.raises(BlobNotFound):
        await _read_range(store, "t/missing", 0, 1)


async def _read_range(store: BlobStore, key: str, start: int, length: int) -> bytes:
    return b"".join([c async for c in store.iter_bytes(key, start=start, length=length)])


async def test_a_missing_blob(store: BlobStore) -> None:
    assert not await store.exists(KEY)
    with pytest.raises(BlobNotFound):
        await _read(store, KEY)
    with pytest.raises(BlobNotFound):
        await store.read_head(KEY, 10)
    with pytest.raises(BlobNotFound):
        await store.move(KEY, "t/elsewhere")
    await store.delete(KEY)  # absent is fine


async def test_read_head(store: BlobStore) -> None:
    await store.put_bytes(KEY, b"0123456789")
    await store.put_bytes("t/empty", b"")
    assert await store.read_head(KEY, 4) == b"0123"
    assert await store.read_head(KEY, 100) == b"0123456789"
    assert await store.read_head(KEY, 0) == b""
    assert await store.read_head("t/empty", 16) == b""


async def test_move_replaces_the_target_and_frees_the_source(store: BlobStore) -> None:
    await store.put_bytes(KEY, b"moved")
    await store.put_bytes("t/cd/final/original", b"older")
    await store.move(KEY, "t/cd/final/original")
    assert not await store.exists(KEY)
    assert await _read(store, "t/cd/final/original") == b"moved"
    await store.move("t/cd/final/original", "t/cd/final/original")
    assert await _read(store, "t/cd/final/original") == b"moved"


async def test_delete_removes_one_blob(store: BlobStore) -> None:
    await store.put_bytes(KEY, b"a")
    await store.put_bytes("t/ab/upload/preview", b"b")
    await store.delete(KEY)
    assert not await store.exists(KEY)
    assert await store.exists("t/ab/upload/preview")


async def test_delete_prefix_removes_a_folder_and_nothing_beside_it(store: BlobStore) -> None:
    for key in ("t/ab/1/original", "t/ab/2/preview", "t/abc/3/original", "u/ab/4/original"):
        await store.put_bytes(key, b"x")
    await store.delete_prefix("t/ab")
    assert [await store.exists(k) for k in ("t/ab/1/original", "t/ab/2/preview")] == [False] * 2
    assert await store.exists("t/abc/3/original")
    assert await store.exists("u/ab/4/original")


async def test_list_stale_prefixes_groups_blobs_and_skips_working_folders(
    store: BlobStore,
) -> None:
    await store.put_bytes("t/aa/x/original", b"1")
    await store.put_bytes("t/aa/x/preview", b"2")
    await store.put_bytes("t/bb/y/original", b"3")
    await store.put_bytes("t/top", b"a blob at depth 2, not a folder")
    await store.begin_parts("t/cc/z/original", multipart=True)  # a .parts folder on local disk
    store.new_staging_path().write_bytes(b"staged")
    # A negative age puts the cutoff in the future: every folder is old enough.
    assert await store.list_stale_prefixes(3, -60) == ["t/aa/x", "t/bb/y"]
    assert await store.list_stale_prefixes(1, -60) == ["t"]
    assert await store.list_stale_prefixes(3, 3600) == []


async def test_sweep_staging_removes_only_old_files(store: BlobStore) -> None:
    old, fresh = store.new_staging_path(), store.new_staging_path()
    old.write_bytes(b"abandoned")
    fresh.write_bytes(b"arriving")
    past = time.time() - 7200
    os.utime(old, (past, past))
    assert await store.sweep_staging(3600) == 1
    assert not old.exists() and fresh.exists()


UNSAFE_KEYS = ["../escape", "a/../../b", "/abs", "a//b", "a\\b", "a/./b", "trailing/"]


@pytest.mark.parametrize("key", UNSAFE_KEYS)
async def test_unsafe_keys_are_refused(store: BlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="unsafe"):
        await store.put_bytes(key, b"x")
    with pytest.raises(ValueError, match="unsafe"):
        await store.begin_parts(key, multipart=True)
    await store.put_bytes(KEY, b"x")
    with pytest.raises(ValueError, match="unsafe"):
        await store.move(KEY, key)


@pytest.mark.parametrize("key", [".parts/x", "t/.parts/y", ".staging/x", "t/.staging"])
async def test_local_working_folders_are_never_keys(local: LocalBlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="unsafe"):
        await local.put_bytes(key, b"x")
    with pytest.raises(ValueError, match="unsafe"):
        await local.delete_prefix(key)


# Direct uploads


async def test_multipart_upload_round_trip(store: BlobStore) -> None:
    data = _random_bytes(2 * PART + MiB)
    pieces = _split(data)
    upload_id = await store.begin_parts(KEY, multipart=True)
    assert await store.list_parts(KEY, upload_id) == []
    async with anyio.create_task_group() as tg:  # parts arrive together, in any order
        for number in (3, 1):
            piece = pieces[number - 1]
            tg.start_soon(_send, store, upload_id, number, piece)
    await _send(store, upload_id, 2, _random_bytes(PART, seed=9))  # a first, wrong copy
    await _send(store, upload_id, 2, pieces[1])  # sent again: the last copy wins
    parts = await store.list_parts(KEY, upload_id)
    _assert_parts(store, parts, pieces)
    assert not await store.exists(KEY)

    await store.seal_parts(KEY, upload_id, parts)

    stored = await _read(store, KEY)
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest()
    assert await store.list_parts(KEY, upload_id) == []


async def test_single_upload_round_trip(store: BlobStore) -> None:
    data = _random_bytes(3 * MiB + 7)
    upload_id = await store.begin_parts(KEY, multipart=False)
    assert await store.list_parts(KEY, upload_id) == []
    await _send(store, upload_id, 1, data)
    parts = await store.list_parts(KEY, upload_id)
    _assert_parts(store, parts, [data])
    await store.seal_parts(KEY, upload_id, parts)
    assert await _read(store, KEY) == data


async def test_abort_frees_everything_and_is_idempotent(store: BlobStore) -> None:
    pieces = _split(_random_bytes(PART + 10))
    upload_id = await store.begin_parts(KEY, multipart=True)
    await _send(store, upload_id, 1, pieces[0])
    await store.abort_parts(KEY, upload_id)
    assert await store.list_parts(KEY, upload_id) == []
    assert not await store.exists(KEY)
    await store.abort_parts(KEY, upload_id)


async def test_abort_of_a_sealed_upload_deletes_the_object(store: BlobStore) -> None:
    upload_id = await store.begin_parts(KEY, multipart=False)
    await _send(store, upload_id, 1, b"sealed")
    await store.seal_parts(KEY, upload_id, await store.list_parts(KEY, upload_id))
    await store.abort_parts(KEY, upload_id)
    assert not await store.exists(KEY)


async def test_a_part_sent_after_abort_is_refused(store: BlobStore) -> None:
    upload_id = await store.begin_parts(KEY, multipart=True)
    await store.abort_parts(KEY, upload_id)
    if isinstance(store, PartReceiver):
        with pytest.raises(BlobNotFound):
            await _send(store, upload_id, 1, b"late")
    else:
        with pytest.raises(httpx.HTTPStatusError) as refused:
            await _send(store, upload_id, 1, b"late")
        # S3 answers 404 NoSuchUpload; moto (5.2) fails with a KeyError, a 500.
        assert refused.value.response.status_code in (404, 500)
    assert await store.list_parts(KEY, upload_id) == []


async def test_a_part_sent_after_sealing_never_changes_the_object(store: BlobStore) -> None:
    upload_id = await store.begin_parts(KEY, multipart=False)
    await _send(store, upload_id, 1, b"sealed")
    await store.seal_parts(KEY, upload_id, await store.list_parts(KEY, upload_id))
    if isinstance(store, PartReceiver):
        with pytest.raises(BlobNotFound):
            await _send(store, upload_id, 1, b"swap!!")
    else:
        await _send(store, upload_id, 1, b"swap!!")  # the presigned URL is still valid...
    assert await _read(store, KEY) == b"sealed"  # ...but names another key


async def test_held_uploads_name_every_upload_storage_keeps_bytes_of(store: BlobStore) -> None:
    single, multi = "uploads/t/single", "uploads/t/multi"
    single_id = await store.begin_parts(single, multipart=False)
    multi_id = await store.begin_parts(multi, multipart=True)
    await store.put_bytes("t/ab/blob/original", b"not an upload")
    await _send(store, single_id, 1, b"late", single)
    await _send(store, multi_id, 1, _random_bytes(PART), multi)
    held = await store.list_held_uploads("uploads/")
    listed = _held(held)
    if isinstance(store, PartReceiver):  # every upload has a working folder
        assert listed == [(multi, multi_id), (single, single_id)]
    else:  # a single part is an object, a multipart upload is S3's own
        assert listed == [(multi, multi_id), (single, "")]
    assert all(h.modified <= datetime.now(UTC) for h in held)

    for h in held:
        await store.abort_parts(h.key, h.store_upload_id)
    assert await store.list_held_uploads("uploads/") == []
    assert await store.exists("t/ab/blob/original")


async def test_a_sealed_upload_is_held_until_freed(store: BlobStore) -> None:
    key = "uploads/t/sealed"
    upload_id = await store.begin_parts(key, multipart=False)
    await _send(store, upload_id, 1, b"bytes", key)
    await store.seal_parts(key, upload_id, await store.list_parts(key, upload_id))
    assert _held(await store.list_held_uploads("uploads/")) == [(key, "")]
    await store.abort_parts(key, "")
    assert await store.list_held_uploads("uploads/") == []


async def test_seal_refuses_a_part_that_is_not_stored(store: BlobStore) -> None:
    upload_id = await store.begin_parts(KEY, multipart=True)
    await _send(store, upload_id, 1, b"only part")
    with pytest.raises(ValueError, match="part"):
        await store.seal_parts(KEY, upload_id, [StoredPart(1, 9, _md5(b"other one"))])
    assert not await store.exists(KEY)


# Local disk only: the server receives the parts itself


async def test_local_parts_come_to_the_server(local: LocalBlobStore) -> None:
    upload_id = await local.begin_parts(KEY, multipart=True)
    assert local.part_url(KEY, upload_id, 1, 600) is None
    assert isinstance(local, PartReceiver)


@pytest.mark.parametrize("body", [b"short", b"far too long"], ids=["short", "long"])
async def test_a_wrong_sized_resend_keeps_the_earlier_copy(
    local: LocalBlobStore, body: bytes
) -> None:
    upload_id = await local.begin_parts(KEY, multipart=True)
    stored = await local.receive_part(upload_id, 1, 0, 8, _chunks(b"12345678"))
    with pytest.raises(PartSizeMismatch):
        # The resend wrote a file of its own: the earlier copy was never touched.
        await local.receive_part(upload_id, 1, 0, 8, _chunks(body, chunk_size=3))
    assert await local.list_parts(KEY, upload_id) == [stored]
    assert [p.name for p in _upload_folder(local).glob("*.tmp")] == []
    await local.seal_parts(KEY, upload_id, await local.list_parts(KEY, upload_id))
    assert await _read(local, KEY) == b"12345678"


async def test_a_part_still_arriving_when_the_upload_is_sealed_changes_nothing(
    local: LocalBlobStore,
) -> None:
    """The stalled PUT of the bug report: it used to write into the sealed blob."""
    upload_id = await local.begin_parts(KEY, multipart=True)
    await local.receive_part(upload_id, 1, 0, 8, _chunks(b"12345678"))
    await local.receive_part(upload_id, 2, 8, 4, _chunks(b"abcd"))
    halfway, release = anyio.Event(), anyio.Event()

    async def stalled_body() -> AsyncIterator[bytes]:
        yield b"XXXX"
        halfway.set()
        await release.wait()
        yield b"YYYY"

    async def late_put() -> None:
        with pytest.raises(BlobNotFound):
            await local.receive_part(upload_id, 1, 0, 8, stalled_body())

    async with anyio.create_task_group() as tg:
        tg.start_soon(late_put)
        await halfway.wait()
        await local.seal_parts(KEY, upload_id, await local.list_parts(KEY, upload_id))
        release.set()
    assert await _read(local, KEY) == b"12345678abcd"
    assert list((local.root / ".parts").iterdir()) == []


async def test_a_resend_racing_the_seal_is_either_joined_or_refused(
    local: LocalBlobStore,
) -> None:
    upload_id = await local.begin_parts(KEY, multipart=False)
    await local.receive_part(upload_id, 1, 0, 4, _chunks(b"1234"))
    listed = await local.list_parts(KEY, upload_id)
    await local.receive_part(upload_id, 1, 0, 4, _chunks(b"5678"))  # replaced after listing
    with pytest.raises(ValueError, match="part 1"):
        await local.seal_parts(KEY, upload_id, listed)
    # Nothing was joined and the upload takes parts again.
    await local.receive_part(upload_id, 1, 0, 4, _chunks(b"abcd"))
    await local.seal_parts(KEY, upload_id, await local.list_parts(KEY, upload_id))
    assert await _read(local, KEY) == b"abcd"


async def test_sweep_staging_removes_working_folders_a_crash_left_closed(
    local: LocalBlobStore,
) -> None:
    upload_id = await local.begin_parts(KEY, multipart=False)
    closed = local.root / ".parts" / f"{upload_id}.closed-{'0' * 32}"
    (local.root / ".parts" / upload_id).rename(closed)  # as if the seal died right after
    assert await local.sweep_staging(3600) == 0
    past = time.time() - 7200
    for path in (closed, closed / "key"):
        os.utime(path, (past, past))
    assert await local.sweep_staging(3600) == 1
    assert not closed.exists()


async def test_local_unknown_upload_ids(local: LocalBlobStore) -> None:
    for upload_id in ("0" * 32, "../../etc", ""):
        with pytest.raises(BlobNotFound):
            await local.receive_part(upload_id, 1, 0, 1, _chunks(b"x"))
        with pytest.raises(BlobNotFound):
            await local.seal_parts(KEY, upload_id, [])
        assert await local.list_parts(KEY, upload_id) == []
        await local.abort_parts(KEY, upload_id)


async def test_local_seal_renames_the_data_and_removes_the_working_folder(
    local: LocalBlobStore,
) -> None:
    upload_id = await local.begin_parts(KEY, multipart=True)
    await local.receive_part(upload_id, 1, 0, 3, _chunks(b"abc"))
    await local.seal_parts(KEY, upload_id, await local.list_parts(KEY, upload_id))
    assert list((local.root / ".parts").iterdir()) == []
    assert (local.root / KEY).read_bytes() == b"abc"


async def test_local_parts_are_written_in_place_and_sealed_without_a_copy(
    local: LocalBlobStore,
) -> None:
    upload_id = await local.begin_parts(KEY, multipart=True)
    await local.receive_part(upload_id, 2, 4, 3, _chunks(b"efg"))  # any order
    await local.receive_part(upload_id, 1, 0, 4, _chunks(b"abcd"))
    data = _upload_folder(local) / "data"
    assert data.read_bytes() == b"abcdefg"
    inode = data.stat().st_ino
    await local.seal_parts(KEY, upload_id, await local.list_parts(KEY, upload_id))
    assert (local.root / KEY).stat().st_ino == inode
    assert (local.root / KEY).read_bytes() == b"abcdefg"


async def test_local_each_copy_of_a_part_has_its_own_etag(local: LocalBlobStore) -> None:
    upload_id = await local.begin_parts(KEY, multipart=False)
    first = await local.receive_part(upload_id, 1, 0, 4, _chunks(b"same"))
    again = await local.receive_part(upload_id, 1, 0, 4, _chunks(b"same"))
    assert (first.size, again.size) == (4, 4)
    assert first.etag != again.etag
    assert await local.list_parts(KEY, upload_id) == [again]


async def test_local_a_first_copy_still_arriving_never_reaches_the_sealed_object(
    local: LocalBlobStore,
) -> None:
    """It writes into `data` itself, but not once the upload is sealed."""
    upload_id = await local.begin_parts(KEY, multipart=True)
    await local.receive_part(upload_id, 1, 0, 4, _chunks(b"abcd"))
    halfway, release = anyio.Event(), anyio.Event()

    async def stalled_body() -> AsyncIterator[bytes]:
        yield b"ef" * (WRITE_BATCH // 2)  # one batch written into `data`
        halfway.set()
        await release.wait()
        yield b"gh"

    async def late_put() -> None:
        with pytest.raises(BlobNotFound):
            await local.receive_part(upload_id, 2, 4, WRITE_BATCH + 2, stalled_body())

    async with anyio.create_task_group() as tg:
        tg.start_soon(late_put)
        await halfway.wait()
        await local.seal_parts(KEY, upload_id, await local.list_parts(KEY, upload_id))
        release.set()
    assert await _read(local, KEY) == b"abcd"


async def test_local_a_resend_takes_over_a_first_copy_that_stalls(
    local: LocalBlobStore,
) -> None:
    upload_id = await local.begin_parts(KEY, multipart=False)
    halfway, release = anyio.Event(), anyio.Event()

    async def stalled_body() -> AsyncIterator[bytes]:
        yield b"ol"
        halfway.set()
        await release.wait()
        yield b"d!"

    async def stalled_put() -> None:
        with pytest.raises(BlobNotFound):  # its range was taken over
            await local.receive_part(upload_id, 1, 0, 4, stalled_body())

    async with anyio.create_task_group() as tg:
        tg.start_soon(stalled_put)
        await halfway.wait()
        resent = await local.receive_part(upload_id, 1, 0, 4, _chunks(b"new!"))
        release.set()
    assert await local.list_parts(KEY, upload_id) == [resent]
    await local.seal_parts(KEY, upload_id, [resent])
    assert await _read(local, KEY) == b"new!"


async def test_local_read_part_passes_the_stored_copy(local: LocalBlobStore) -> None:
    upload_id = await local.begin_parts(KEY, multipart=True)
    await local.receive_part(upload_id, 2, 4, 2, _chunks(b"ef"))
    stored = await local.receive_part(upload_id, 1, 0, 4, _chunks(b"abcd"))
    got: list[bytes] = []
    assert await local.read_part(upload_id, 1, lambda view: got.append(bytes(view))) == stored
    assert b"".join(got) == b"abcd"
    assert await local.read_part(upload_id, 3, got.append) is None
    await local.abort_parts(KEY, upload_id)
    assert await local.read_part(upload_id, 1, got.append) is None
    assert await local.read_part("../../etc", 1, got.append) is None


# S3 only


async def test_s3_moves_large_objects_in_parts(s3_storage: S3Storage, tmp_path: Path) -> None:
    store = S3BlobStore(S3Location.parse(s3_storage.url), tmp_path / "staging")
    store.copy_object_limit, store.copy_part_size = 0, PART  # as if the object were over 5 GiB
    data = _random_bytes(2 * PART + 3)
    await store.put_bytes(KEY, data)
    await store.move(KEY, "t/cd/final/original")
    assert await _read(store, "t/cd/final/original") == data
    assert not await store.exists(KEY)


async def test_s3_keys_live_under_the_prefix(s3_storage: S3Storage, tmp_path: Path) -> None:
    store = S3BlobStore(S3Location.parse(s3_storage.url), tmp_path / "staging")
    await store.put_bytes(KEY, b"x")
    url = store.part_url(KEY, "", 1, 60)
    assert url is not None and f"/{s3_storage.bucket}/{s3_storage.prefix}/{KEY}/incoming?" in url
    with pytest.raises(ValueError, match="part 1"):
        store.part_url(KEY, "", 2, 60)
