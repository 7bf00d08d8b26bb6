"""Search vectors kept on disk between starts: the snapshot files themselves, and a second
process's semantic index that maps them and reads only what changed in the catalog since."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, update

from apiclient import Api
from catalogrows import give_analysis
from imagefactory import jpeg_bytes
from scopix.server.catalog.models import File
from scopix.server.catalog.vector_snapshots import Snapshot, VectorSnapshots
from scopix.server.services.search import SemanticIndex
from scopix.server.services.vector_index import TenantRows, VectorIndex

SEEN = datetime(2026, 12, 1, tzinfo=UTC)


def rows_of(count: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    return [f"file-{seed}-{n}" for n in range(count)], rng.normal(size=(count, 8)).astype("f4")


def snapshot_of(index: VectorIndex, tenant: str = "t") -> Snapshot:
    rows = index.rows(tenant)
    assert rows is not None and rows.centre is not None
    arrays = {"matrix": rows.matrix, "scale": rows.scale, "payload": rows.payload}
    return Snapshot(rows.ids, {**arrays, "centre": rows.centre}, SEEN)


def as_rows(loaded: Snapshot) -> TenantRows:
    a = loaded.arrays
    return TenantRows(loaded.ids, a["matrix"], a["scale"], a["centre"], a["payload"])


def quantized(count: int = 50) -> VectorIndex:
    index = VectorIndex(8, payload_width=2, quantized=True)
    ids, vectors = rows_of(count)
    index.put("t", ids, vectors, np.arange(2 * count, dtype="f4").reshape(count, 2))
    return index


def test_a_snapshot_reads_back_mapped_and_answers_as_the_index_did(tmp_path: Path) -> None:
    index = quantized()
    snapshots = VectorSnapshots(tmp_path)
    snapshots.save("t", "text", "fp", snapshot_of(index))

    loaded = snapshots.load("t", "text", "fp")

    assert loaded is not None and loaded.seen_until == SEEN
    assert isinstance(loaded.arrays["matrix"], np.memmap)
    restored = VectorIndex(8, payload_width=2, quantized=True)
    restored.adopt("t", as_rows(loaded))
    query = rows_of(1, seed=9)[1][0]
    assert restored.nearest("t", query, 10) == index.nearest("t", query, 10)
    assert restored.mapped_nbytes() > 0


def test_changing_adopted_rows_never_writes_the_file(tmp_path: Path) -> None:
    snapshots = VectorSnapshots(tmp_path)
    snapshots.save("t", "text", "fp", snapshot_of(quantized()))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    loaded = snapshots.load("t", "text", "fp")
    assert loaded is not None
    index = VectorIndex(8, payload_width=2, quantized=True)
    index.adopt("t", as_rows(loaded))

    index.remove("t", loaded.ids[:10])  # moves the last rows into the holes
    index.put("t", *rows_of(3, seed=5))  # replaces nothing, grows past the mapped rows

    assert index.count("t") == 43
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_new_snapshot_replaces_the_old_one_whose_files_are_removed(tmp_path: Path) -> None:
    snapshots = VectorSnapshots(tmp_path)
    snapshots.save("t", "text", "fp", snapshot_of(quantized(50)))
    snapshots.save("t", "text", "fp", snapshot_of(quantized(20)))
    snapshots.save("other", "text", "fp", snapshot_of(quantized(5), "t"))

    loaded = snapshots.load("t", "text", "fp")

    assert loaded is not None and len(loaded.ids) == 20
    assert len(list(tmp_path.glob("t.text.*.npy"))) == 4  # one set of arrays
    assert snapshots.load("other", "text", "fp") is not None
    assert snapshots.load("t", "image", "fp") is None


@pytest.mark.parametrize("damage", ["fingerprint", "record", "arrays", "ids", "format"])
def test_a_snapshot_that_does_not_fit_is_ignored(tmp_path: Path, damage: str) -> None:
    snapshots = VectorSnapshots(tmp_path)
    snapshots.save("t", "text", "fp", snapshot_of(quantized()))
    record = tmp_path / "t.text.json"
    fingerprint = "fp"
    if damage == "fingerprint":
        fingerprint = "another embedder"
    elif damage == "record":
        record.write_bytes(record.read_bytes()[:20])
    elif damage == "arrays":
        next(tmp_path.glob("t.text.*.matrix.npy")).write_bytes(b"\x93NUMPY garbage")
    elif damage == "ids":
        ids = next(tmp_path.glob("t.text.*.ids"))
        ids.write_text("\n".join(ids.read_text().split("\n")[:-1]))
    else:
        record.write_text(record.read_text().replace('"format": 1', '"format": 99'))

    assert snapshots.load("t", "text", fingerprint) is None


def test_a_crash_before_the_record_leaves_the_previous_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshots = VectorSnapshots(tmp_path)
    snapshots.save("t", "text", "fp", snapshot_of(quantized(50)))

    def crash(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("scopix.server.catalog.vector_snapshots.os.replace", crash)
    with pytest.raises(OSError):
        snapshots.save("t", "text", "fp", snapshot_of(quantized(20)))
    monkeypatch.undo()

    loaded = snapshots.load("t", "text", "fp")
    assert loaded is not None and len(loaded.ids) == 50


async def upload(api: Api, seed: int) -> str:
    response = await api.client.post(
        "/api/v2/files/upload", files={"file": (f"{seed}.jpg", jpeg_bytes(40, 30, seed=seed))}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["image_id"])


async def describe(api: Api, file_id: str, seed: int) -> np.ndarray:
    """Give the file an analysis with a text embedding of its own, as a description would."""
    embedding = np.random.default_rng(seed).normal(size=384).astype("f4")
    await give_analysis(
        api, file_id, pipeline=f"p{seed}", embedding=embedding, class_scores=[[seed, 0.5]]
    )
    return embedding


async def test_a_restarted_index_maps_the_snapshot_and_reads_the_changes_since(
    api: Api, tmp_path: Path
) -> None:
    semantic = api.services.files.semantic
    assert semantic is not None
    ids = [await upload(api, seed) for seed in range(6)]
    vectors = {i: await describe(api, i, seed) for seed, i in enumerate(ids)}
    async with api.services.ingest.uows.read() as uow:
        tenant = (await uow.session.get(File, ids[0])).tenant_id  # type: ignore[union-attr]
    folder = tmp_path / "vectors"
    first = SemanticIndex(semantic.uows, semantic.embedder, None, VectorSnapshots(folder), 1)
    await first.refresh(tenant)
    first.wait_for_snapshots()
    gone, deleted, *kept = ids
    # After the snapshot: one file purged outright, one deleted, one described anew.
    late = await upload(api, 7)
    vectors[late] = await describe(api, late, 7)
    async with api.services.ingest.uows.write() as uow:
        await uow.session.execute(delete(File).where(File.id == gone))
        now = datetime.now(UTC) + timedelta(seconds=1)
        await uow.session.execute(
            update(File).where(File.id == deleted).values(deleted_at=now, updated_at=now)
        )
        await uow.commit()

    second = SemanticIndex(semantic.uows, semantic.embedder, None, VectorSnapshots(folder), 1)
    await second.refresh(tenant)

    assert second.texts.mapped_nbytes() > 0  # the snapshot's rows, not a read of every row
    assert second.texts.count(tenant) == len(kept) + 1
    for file_id in [*kept, late]:
        assert second.texts.nearest(tenant, vectors[file_id], 1)[0][0] == file_id
    assert second.texts.get(tenant, gone) is None and second.texts.get(tenant, deleted) is None


def test_large_arrays_grow_into_unnamed_files_and_small_ones_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshots = VectorSnapshots(tmp_path)
    index = VectorIndex(1024, quantized=True, allocate=snapshots.allocate)
    ids, _ = rows_of(5000)
    vectors = np.random.default_rng(3).normal(size=(5000, 1024)).astype("f4")

    index.put("t", ids[:10], vectors[:10])
    assert index.mapped_nbytes() == 0  # 64 rows: the process's own memory
    index.put("t", ids, vectors)

    assert index.mapped_nbytes() > 4 << 20
    assert list(tmp_path.iterdir()) == []  # unlinked at once: nothing to clean up
    assert index.nearest("t", vectors[4321], 1)[0][0] == ids[4321]

    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("scopix.server.catalog.vector_snapshots.os.posix_fallocate", full)
    array = snapshots.allocate((5000, 1024), np.int8)
    assert not isinstance(array, np.memmap) and array.shape == (5000, 1024) and not array.any()
