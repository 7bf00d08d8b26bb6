"""Purging deleted files for good, on SQLite and PostgreSQL with the local store: what goes,
what stays, uploads of the same bytes racing a purge, two purges at once, and `scopix purge`."""

from __future__ import annotations

import copy
import hashlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import anyio
import boto3  # type: ignore[import-untyped]
import numpy as np
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from apiclient import Api, running_api
from catalogrows import give_analysis
from imagefactory import jpeg_bytes, mp4_bytes
from s3server import S3Storage
from scopix.cli.render import human_size
from scopix.server.catalog.models import Analysis, Blob, File, FileEvent, FileTag, Job
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain import blobkeys
from scopix.server.domain.fields import UploadOptions
from scopix.server.domain.purge import MARK_LEASE, BlobState
from scopix.server.services import ingest as ingest_module
from scopix.server.services.ingest import StagedUpload
from scopix.server.services.purge import Purger
from scopix.server.settings import Settings
from scopix.server.storage.base import BlobStore
from scopix.server.testing import SCOPIX

PERIOD = timedelta(days=30)
#: A racing step that takes longer than this is stuck: fail rather than hang.
STEP_S = 30


@dataclass
class Gate:
    """A point a task stops at (`reached`) until the test lets it through (`opened`)."""

    reached: anyio.Event = field(default_factory=anyio.Event)
    opened: anyio.Event = field(default_factory=anyio.Event)

    async def pass_through(self) -> None:
        self.reached.set()
        await self.opened.wait()


class PausedDeletes:
    """The real store, except that deleting a blob's folder first waits at a gate: a purge
    stops there with its blob marked `purging` and its bytes still stored."""

    def __init__(self, store: BlobStore, gate: Gate) -> None:
        self.store = store
        self.gate = gate

    async def delete_prefix(self, prefix: str) -> None:
        await self.gate.pass_through()
        await self.store.delete_prefix(prefix)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


class FailingDeletes(PausedDeletes):
    """The real store, except that deleting a blob's folder fails: a purge that dies there."""

    async def delete_prefix(self, prefix: str) -> None:
        raise OSError("storage went away")


class _HeldWrite(UnitOfWork):
    def __init__(self, sessions: Callable[[], AsyncSession], gate: Gate) -> None:
        super().__init__(sessions)
        self.gate = gate

    async def __aenter__(self) -> UnitOfWork:
        await self.gate.pass_through()
        return await super().__aenter__()


class HeldWrites(UnitOfWorkFactory):
    """Units of work whose writing ones wait at a gate before they begin."""

    def __init__(self, uows: UnitOfWorkFactory, gate: Gate) -> None:
        super().__init__(uows.database)
        self.gate = gate

    def write(self) -> UnitOfWork:
        return _HeldWrite(self.database.writer, self.gate)


def uows_of(api: Api) -> UnitOfWorkFactory:
    return api.services.ingest.uows


def purger(api: Api, store: object | None = None, batch_size: int = 100) -> Purger:
    semantic = api.services.files.semantic
    return Purger(
        uows_of(api),
        cast(BlobStore, store or api.services.store),
        semantic.forget if semantic else None,
        batch_size,
    )


async def upload(api: Api, data: bytes, name: str = "photo.jpg") -> dict[str, Any]:
    response = await api.client.post(
        "/api/v2/files/upload",
        files={"file": (name, data)},
        data={"auto_describe": "false", "tags": "kept,purged"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    body["sha256"] = hashlib.sha256(data).hexdigest()
    return body


async def delete(api: Api, file_id: str, days_ago: float) -> None:
    """Delete through the API, then move the deletion `days_ago` into the past."""
    assert (await api.client.delete(f"/api/v2/files/{file_id}")).status_code == 204
    await deleted_days_ago(api, [file_id], days_ago)


async def deleted_days_ago(api: Api, file_ids: list[str], days: float) -> None:
    async with uows_of(api).write() as uow:
        when = datetime.now(UTC) - timedelta(days=days)
        await uow.session.execute(update(File).where(File.id.in_(file_ids)).values(deleted_at=when))
        await uow.commit()


async def downloaded_sha256(api: Api, file_id: str) -> str:
    response = await api.client.get(f"/api/v2/files/{file_id}/download")
    assert response.status_code == 200, response.text
    return hashlib.sha256(response.content).hexdigest()


async def file_row(api: Api, file_id: str) -> File | None:
    async with uows_of(api).read() as uow:
        return await uow.session.get(File, file_id)


async def blob_row(api: Api, tenant_id: str, sha256: str) -> Blob | None:
    async with uows_of(api).read() as uow:
        return await uow.blobs.get(tenant_id, sha256)


async def rows_naming(api: Api, file_id: str) -> dict[str, int]:
    """How many rows of each kind still name the file (the search index's own table too)."""
    counts = {}
    async with uows_of(api).read() as uow:
        for owned in (FileTag, FileEvent, Job):
            stmt = select(func.count()).where(owned.file_id == file_id)
            counts[owned.__tablename__] = int(await uow.session.scalar(stmt) or 0)
        search = "file_fts_keys" if api.services.database.is_sqlite else "file_search"
        found = await uow.session.scalar(
            text(f"SELECT count(*) FROM {search} WHERE file_id = :id"), {"id": file_id}
        )
        counts[search] = int(found or 0)
    return counts


async def storage_used(api: Api, tenant_id: str) -> int:
    async with uows_of(api).read() as uow:
        return await uow.tenants.storage_used(tenant_id)


async def analyses_of(api: Api, tenant_id: str, sha256: str) -> int:
    async with uows_of(api).read() as uow:
        stmt = select(func.count()).where(
            Analysis.tenant_id == tenant_id, Analysis.sha256 == sha256
        )
        return int(await uow.session.scalar(stmt) or 0)


async def analyse(api: Api, file_id: str) -> File:
    """Give a file an analysis with vectors, as a description would, and return its row."""
    return await give_analysis(
        api, file_id, embedding=np.ones(384, np.float32), image_features=np.ones(1280, np.float32)
    )


async def stored_keys(api: Api, tenant_id: str, sha256: str, variants: Iterable[str]) -> set[str]:
    keys = [blobkeys.original_key(tenant_id, sha256)]
    keys += [blobkeys.variant_key(tenant_id, sha256, name) for name in variants]
    return {key for key in keys if await api.services.store.exists(key)}


class UploadWaiting(logging.Handler):
    """Sees the line an upload logs when it waits for a purge of the same bytes."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen = anyio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "being purged" in record.getMessage():
            self.seen.set()


@pytest.fixture
def upload_waiting() -> Iterator[UploadWaiting]:
    logger = logging.getLogger("scopix.ingest")
    handler, level = UploadWaiting(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_files_deleted_over_the_period_go_with_rows_index_analyses_and_bytes(
    api: Api,
) -> None:
    old = await upload(api, jpeg_bytes(64, 48, seed=1))
    recent = await upload(api, jpeg_bytes(64, 48, seed=2))
    live = await upload(api, jpeg_bytes(64, 48, seed=3))
    await api.drain("variants")
    row = await analyse(api, old["image_id"])
    tenant, sha = row.tenant_id, row.sha256
    blob = await blob_row(api, tenant, sha)
    assert blob is not None and blob.variants
    assert len(await stored_keys(api, tenant, sha, blob.variants)) == 1 + len(blob.variants)
    await delete(api, old["image_id"], days_ago=31)
    await delete(api, recent["image_id"], days_ago=29)
    stored_before = await storage_used(api, tenant)

    report = await api.services.maintenance.sweep()

    assert (report.purged_files, report.purged_blobs) == (1, 1)
    assert await storage_used(api, tenant) == stored_before - blob.size_bytes
    assert await file_row(api, old["image_id"]) is None
    assert set((await rows_naming(api, old["image_id"])).values()) == {0}
    assert await blob_row(api, tenant, sha) is None
    assert await analyses_of(api, tenant, sha) == 0
    assert await stored_keys(api, tenant, sha, blob.variants) == set()
    restored = await api.client.post(f"/api/v2/files/{recent['image_id']}/restore")
    assert restored.status_code == 200
    assert await downloaded_sha256(api, recent["image_id"]) == recent["sha256"]
    assert await downloaded_sha256(api, live["image_id"]) == live["sha256"]
    again = await api.services.maintenance.sweep()
    assert (again.purged_files, again.purged_blobs) == (0, 0)


async def test_bytes_another_file_still_names_stay(api: Api) -> None:
    data = jpeg_bytes(80, 60, seed=4)
    first, second = await upload(api, data, "a.jpg"), await upload(api, data, "b.jpg")
    row = await file_row(api, first["image_id"])
    assert row is not None
    await delete(api, first["image_id"], days_ago=31)
    await delete(api, second["image_id"], days_ago=29)

    report = await purger(api).purge(PERIOD)  # the recent deletion keeps the bytes

    assert (report.files, report.blobs) == (1, 0)
    assert await blob_row(api, row.tenant_id, row.sha256) is not None
    third = await upload(api, data, "c.jpg")
    await deleted_days_ago(api, [second["image_id"]], 31)

    report = await purger(api).purge(PERIOD)  # now a live file keeps them

    assert (report.files, report.blobs) == (1, 0)
    assert await downloaded_sha256(api, third["image_id"]) == third["sha256"]
    await delete(api, third["image_id"], days_ago=31)
    report = await purger(api).purge(PERIOD)
    assert (report.files, report.blobs, report.bytes) == (1, 1, len(data))
    assert await blob_row(api, row.tenant_id, row.sha256) is None


async def test_a_purged_file_leaves_the_vector_index_of_this_process(api: Api) -> None:
    semantic = api.services.files.semantic
    assert semantic is not None
    posted = await upload(api, jpeg_bytes(64, 48, seed=5))
    row = await analyse(api, posted["image_id"])
    await semantic.refresh(row.tenant_id)
    await semantic.refresh(row.tenant_id, images=True)  # read on the first similar-images ask
    assert semantic.images.get(row.tenant_id, row.id) is not None
    # Deleted and purged with no query in between: no refresh ever saw the deletion.
    await delete(api, row.id, days_ago=31)

    await purger(api).purge(PERIOD)

    await semantic.refresh(row.tenant_id)
    await semantic.refresh(row.tenant_id, images=True)
    assert semantic.images.get(row.tenant_id, row.id) is None
    assert semantic.texts.count(row.tenant_id) == 0


async def test_an_upload_of_bytes_being_purged_stores_them_anew(
    api: Api, upload_waiting: UploadWaiting
) -> None:
    data = jpeg_bytes(96, 64, seed=6)
    old = await upload(api, data, "old.jpg")
    await delete(api, old["image_id"], days_ago=31)
    row = await file_row(api, old["image_id"])
    assert row is not None
    gate = Gate()
    answers: list[Any] = []

    async def upload_again() -> None:
        answers.append(
            await api.client.post("/api/v2/files/upload", files={"file": ("n.jpg", data)})
        )

    with anyio.fail_after(STEP_S):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(purger(api, PausedDeletes(api.services.store, gate)).purge, PERIOD)
            await gate.reached.wait()  # marked `purging`, bytes still there
            marked = await blob_row(api, row.tenant_id, row.sha256)
            assert marked is not None and marked.state == BlobState.PURGING
            tasks.start_soon(upload_again)
            await upload_waiting.seen.wait()  # the upload waits for the purge
            gate.opened.set()

    (response,) = answers
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["deduplicated"] is False
    assert await downloaded_sha256(api, body["image_id"]) == hashlib.sha256(data).hexdigest()
    blob = await blob_row(api, row.tenant_id, row.sha256)
    assert blob is not None and blob.state == BlobState.LIVE


async def test_an_upload_that_found_the_bytes_live_stores_them_anew_when_a_purge_marks_them(
    api: Api, upload_waiting: UploadWaiting
) -> None:
    data = jpeg_bytes(96, 64, seed=7)
    old = await upload(api, data, "old.jpg")
    await delete(api, old["image_id"], days_ago=31)
    row = await file_row(api, old["image_id"])
    assert row is not None
    recording, deleting = Gate(), Gate()
    ingest = copy.copy(api.services.ingest)
    ingest.uows = HeldWrites(uows_of(api), recording)
    staged = api.services.store.new_staging_path()
    staged.write_bytes(data)
    upload_ = StagedUpload(staged, "new.jpg", len(data), row.sha256, data[:4096])
    results: list[Any] = []

    async def ingest_again() -> None:
        options = UploadOptions(auto_describe=False)
        results.append(await ingest.ingest(row.tenant_id, upload_, options))

    with anyio.fail_after(STEP_S):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(ingest_again)
            await recording.reached.wait()  # it found the bytes stored and live, and waits
            purge = purger(api, PausedDeletes(api.services.store, deleting)).purge
            tasks.start_soon(purge, PERIOD)
            await deleting.reached.wait()  # marked `purging`, bytes still there
            recording.opened.set()  # the upload locks the blob now and finds it marked
            await upload_waiting.seen.wait()
            deleting.opened.set()

    (ingested,) = results
    assert ingested.deduplicated is False and not ingested.skipped
    assert await downloaded_sha256(api, ingested.file.id) == row.sha256
    assert await file_row(api, old["image_id"]) is None


async def test_a_direct_upload_declaring_bytes_being_purged_is_asked_to_send_them(
    api: Api,
) -> None:
    data = mp4_bytes(300_000, seed=8)
    old = await upload(api, data, "clip.mp4")
    await delete(api, old["image_id"], days_ago=31)
    gate = Gate()
    start = {"filename": "clip.mp4", "size_bytes": len(data), "sha256": old["sha256"]}

    with anyio.fail_after(STEP_S):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(purger(api, PausedDeletes(api.services.store, gate)).purge, PERIOD)
            await gate.reached.wait()
            started = await api.client.post("/api/v2/files/direct-uploads", json=start)
            gate.opened.set()

    assert started.status_code == 201, started.text
    body = started.json()
    assert body["deduplicated"] is False and body["upload_id"]
    for part in body["part_urls"]:
        offset = (part["part_number"] - 1) * body["part_size"]
        chunk = data[offset : offset + body["part_size"]]
        sent = await api.client.put(part["url"], content=chunk, headers={"Authorization": ""})
        assert sent.status_code == 200, sent.text
    done = await api.client.post(f"/api/v2/files/direct-uploads/{body['upload_id']}/complete")
    assert done.status_code in (200, 201), done.text
    file_id = done.json()["image_id"]
    assert await downloaded_sha256(api, file_id) == old["sha256"]


async def test_a_purge_that_died_after_marking_is_finished_by_a_later_one(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_module, "PURGE_WAIT_S", 0.3)
    data = jpeg_bytes(72, 40, seed=9)
    old = await upload(api, data)
    await delete(api, old["image_id"], days_ago=31)
    row = await file_row(api, old["image_id"])
    assert row is not None
    with pytest.raises(OSError):
        await purger(api, FailingDeletes(api.services.store, Gate())).purge(PERIOD)
    # Meanwhile the bytes are neither shared nor stored again: come back later.
    refused = await api.client.post("/api/v2/files/upload", files={"file": ("n.jpg", data)})
    assert refused.status_code == 503, refused.text
    early = await purger(api).purge(PERIOD)  # the mark is fresh: its purge may still be at it
    assert early.blobs == 0
    async with uows_of(api).write() as uow:
        long_ago = datetime.now(UTC) - MARK_LEASE - timedelta(minutes=1)
        await uow.session.execute(
            update(Blob).where(Blob.sha256 == row.sha256).values(purge_started_at=long_ago)
        )
        await uow.commit()

    late = await purger(api).purge(PERIOD)

    assert (late.files, late.blobs) == (0, 1)
    assert await blob_row(api, row.tenant_id, row.sha256) is None
    assert await stored_keys(api, row.tenant_id, row.sha256, ()) == set()
    again = await upload(api, data)
    assert await downloaded_sha256(api, again["image_id"]) == row.sha256


async def test_two_purges_at_once_remove_everything_once(api: Api) -> None:
    shared = jpeg_bytes(50, 50, seed=10)
    posted = [await upload(api, jpeg_bytes(50, 40, seed=20 + n)) for n in range(5)]
    posted += [await upload(api, shared, "s1.jpg"), await upload(api, shared, "s2.jpg")]
    for item in posted:
        await delete(api, item["image_id"], days_ago=40)

    reports = []

    async def purge() -> None:
        reports.append(await purger(api, batch_size=2).purge(PERIOD))

    with anyio.fail_after(STEP_S):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(purge)
            tasks.start_soon(purge)

    assert sum(r.files for r in reports) == 7
    assert sum(r.blobs for r in reports) == 6
    async with uows_of(api).read() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(File)) == 0
        assert await uow.session.scalar(select(func.count()).select_from(Blob)) == 0


async def test_scopix_purge_says_what_it_would_remove_then_removes_it(
    settings: Settings, database_url: str
) -> None:
    async with running_api(settings) as api:
        old = await upload(api, jpeg_bytes(64, 64, seed=11))
        kept = await upload(api, jpeg_bytes(64, 64, seed=12))
        await delete(api, old["image_id"], days_ago=12)
        await delete(api, kept["image_id"], days_ago=8)
    env = {
        **os.environ,
        "SCOPIX_DATA_DIR": str(settings.data_dir),
        "SCOPIX_DATABASE_URL": database_url,
    }

    async def purge(*args: str) -> str:
        done = await anyio.run_process([*SCOPIX, "purge", *args], env=env, check=False)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    size = human_size(len(jpeg_bytes(64, 64, seed=11)))
    preview = await purge("--older-than", "10", "--dry-run")
    assert "would remove 1 file(s) deleted over 10 day(s) ago and 1 stored blob(s)" in preview
    assert size in preview
    assert "removed 1 file(s)" in await purge("--older-than", "10")
    assert "removed 0 file(s)" in await purge("--older-than", "10")
    async with running_api(settings) as api:
        assert await file_row(api, old["image_id"]) is None
        assert await file_row(api, kept["image_id"]) is not None
    refused = await anyio.run_process([*SCOPIX, "purge", "--older-than", "-1"], check=False)
    assert refused.returncode == 2


@pytest.fixture
async def s3_api(s3_storage: S3Storage, tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings(
        data_dir=tmp_path / "data", storage_url=s3_storage.url, workers=0, retry_base_seconds=0
    )
    async with running_api(settings) as api:
        yield api


def bucket_keys(s3: S3Storage, under: str) -> list[str]:
    client = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1")
    listed = client.list_objects_v2(Bucket=s3.bucket, Prefix=f"{s3.prefix}/{under}/")
    return sorted(o["Key"].rsplit("/", 1)[-1] for o in listed.get("Contents", []))


async def test_on_s3_the_purge_empties_the_blob_folder_and_a_racing_upload_keeps_its_bytes(
    s3_api: Api, s3_storage: S3Storage, upload_waiting: UploadWaiting
) -> None:
    api = s3_api
    data = jpeg_bytes(96, 64, seed=13)
    old = await upload(api, data)
    row = await file_row(api, old["image_id"])
    assert row is not None
    folder = blobkeys.blob_prefix(row.tenant_id, row.sha256)
    uploaded = bucket_keys(s3_storage, folder)  # the original and the upload's own preview
    await api.drain("variants")
    assert len(bucket_keys(s3_storage, folder)) > len(uploaded)
    await delete(api, old["image_id"], days_ago=31)
    gate = Gate()
    answers: list[Any] = []

    async def upload_again() -> None:
        posted = await api.client.post("/api/v2/files/upload", files={"file": ("n.jpg", data)})
        answers.append(posted)

    with anyio.fail_after(STEP_S):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(purger(api, PausedDeletes(api.services.store, gate)).purge, PERIOD)
            await gate.reached.wait()
            tasks.start_soon(upload_again)
            await upload_waiting.seen.wait()
            gate.opened.set()

    (response,) = answers
    assert response.status_code == 201, response.text
    # The variants job's variants went with the purge; the upload stored its own anew.
    assert bucket_keys(s3_storage, folder) == uploaded
    assert await downloaded_sha256(api, response.json()["image_id"]) == row.sha256
