"""The local blob store and the sweeps that keep it equal to the catalog."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scopix.server.catalog.db import Database, connect
from scopix.server.catalog.migrate import upgrade
from scopix.server.catalog.models import Blob, Tenant
from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.domain import blobkeys
from scopix.server.domain.ids import new_id
from scopix.server.services.maintenance import Maintenance
from scopix.server.storage.base import BlobNotFound
from scopix.server.storage.local import LocalBlobStore

SHA = "cd" * 32


async def test_promote_is_atomic_and_consumes_the_staged_file(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    staged = store.new_staging_path()
    staged.write_bytes(b"x" * 1000)
    await store.promote(staged, "t/cd/" + SHA + "/original")
    assert not staged.exists()
    assert await store.exists("t/cd/" + SHA + "/original")
    chunks = [c async for c in store.iter_bytes("t/cd/" + SHA + "/original", chunk_size=300)]
    assert b"".join(chunks) == b"x" * 1000 and len(chunks) == 4


async def test_put_bytes_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    await store.put_bytes("t/v.webp", b"data")
    await store.put_bytes("t/v.webp", b"newer")
    assert (tmp_path / "blobs/t/v.webp").read_bytes() == b"newer"
    assert list(store.staging.iterdir()) == []


@pytest.mark.parametrize("key", ["../escape", "a/../../b", "/abs", ".staging/x", "a//b", "a\\b"])
async def test_unsafe_keys_are_refused(tmp_path: Path, key: str) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(ValueError, match="unsafe"):
        await store.put_bytes(key, b"x")


async def test_missing_blob_raises(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(BlobNotFound):
        async for _ in store.iter_bytes("t/missing"):
            pass


async def _tenant_with_blob(database: Database, sha256: str) -> str:
    tenant_id, now = new_id(), datetime.now(UTC)
    async with UnitOfWorkFactory(database).write() as uow:
        await uow.tenants.add(
            Tenant(id=tenant_id, name="t", tier="free", prepaid_credits=0, created_at=now)
        )
        uow.session.add(
            Blob(
                tenant_id=tenant_id,
                sha256=sha256,
                storage_key=blobkeys.original_key(tenant_id, sha256),
                size_bytes=10,
                mime_type="image/png",
                variants=[],
                created_at=now,
            )
        )
        await uow.commit()
    return tenant_id


def _age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    for p in [path, *path.rglob("*")]:
        os.utime(p, (past, past))


async def test_sweep_removes_old_orphans_and_staging_but_not_catalogued_blobs(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    upgrade(url)
    database = connect(url)
    store = LocalBlobStore(tmp_path / "blobs")
    try:
        orphan = blobkeys.original_key("tenant", SHA)
        await store.put_bytes(orphan, b"never committed")
        fresh = blobkeys.original_key("tenant", "ef" * 32)
        await store.put_bytes(fresh, b"row about to commit")
        kept = blobkeys.original_key(await _tenant_with_blob(database, "ab" * 32), "ab" * 32)
        await store.put_bytes(kept, b"catalogued")
        stale_staging = store.new_staging_path()
        stale_staging.write_bytes(b"abandoned")
        _age(tmp_path / "blobs", 7200)
        _age(tmp_path / "blobs" / "tenant" / "ef", -60)
        _age(stale_staging, 7200)

        report = await Maintenance(UnitOfWorkFactory(database), store, 3600).sweep()

        assert (report.staging_files, report.orphan_blobs) == (1, 1)
        assert not await store.exists(orphan)
        assert await store.exists(fresh)  # younger than the grace period
        assert await store.exists(kept)
        assert not stale_staging.exists()
    finally:
        await database.dispose()
