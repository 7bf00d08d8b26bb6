"""Documents in the catalog, on a real SQLite file and a real PostgreSQL database: pages and
chunks, the chunk index, tenant walls, and a description waiting for its document's text."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from alembic import command
from sqlalchemy import delete, func, select, text

from catalogrows import blob_row, tenant_row
from scopix.server.catalog.migrate import alembic_config, upgrade
from scopix.server.catalog.models import File, Job
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain.chunking import chunk_pages
from scopix.server.domain.failures import Failure, RetryPolicy
from scopix.server.domain.ids import new_id
from scopix.server.domain.regions import BoundingBox, TextRegion
from scopix.server.jobs.handler import JobFailed
from scopix.server.jobs.records import DESCRIBE, EXTRACT, VARIANTS, new_job
from scopix.server.jobs.runner import JobRunner, LeaseSettings
from scopix.server.media.base import ExtractedPage
from scopix.types.describe import DescriptionErrorType

# They step the schema through old revisions: a database with none to begin with.
pytestmark = pytest.mark.fresh_catalog

PAGES = (
    "The harbour master logs every vessel.\n\nTides are read at dawn.",
    "Quarterly revenue grew by twelve percent in the northern region.",
)


def test_the_documents_revision_migrates_down_and_up_again(database_url: str) -> None:
    upgrade(database_url)
    config = alembic_config(database_url)
    command.downgrade(config, "0011")
    command.upgrade(config, "head")
    command.check(config)


async def _tenant(uow: UnitOfWork) -> str:
    tenant = tenant_row()
    await uow.tenants.add(tenant)
    return tenant.id


def _document(tenant_id: str, sha: str, now: datetime) -> File:
    return File(
        id=new_id(),
        tenant_id=tenant_id,
        sha256=sha,
        filename="report.pdf",
        media_type="document",
        mime_type="application/pdf",
        size_bytes=1,
        status="completed",
        description_status="pending",
        document_type="pdf",
        text_extraction_status="pending",
        created_at=now,
        updated_at=now,
    )


def _pages() -> list[ExtractedPage]:
    region = TextRegion("The harbour", 1.0, BoundingBox(0.1, 0.1, 0.3, 0.02), (), page=1)
    return [
        ExtractedPage(n, body, (region,) if n == 1 else (), 612, 792, "text_layer")
        for n, body in enumerate(PAGES, start=1)
    ]


def _vector(seed: int) -> bytes:
    vector = np.random.default_rng(seed).standard_normal(8).astype("<f4")
    return (vector / np.linalg.norm(vector)).astype("<f4").tobytes()


async def _extracted_document(uows: UnitOfWorkFactory, tenant_id: str | None = None) -> File:
    """A document whose extraction completed: two pages, one chunk per page."""
    now = datetime.now(UTC)
    async with uows.write() as uow:
        tenant_id = tenant_id or await _tenant(uow)
        sha = new_id().replace("-", "").ljust(64, "0")
        await uow.blobs.add_if_absent(blob_row(tenant_id, sha))
        file = _document(tenant_id, sha, now)
        uow.files.add(file, ())
        await uow.session.flush()
        chunks = chunk_pages([(n, body) for n, body in enumerate(PAGES, start=1)], 12, 0)
        await uow.documents.replace(file, _pages(), chunks, [_vector(c.index) for c in chunks])
        file.text_extraction_status = "completed"
        file.document_title = "Harbour report"
        await uow.commit()
    return file


async def test_an_extraction_comes_back_page_by_page_with_its_regions(
    uows: UnitOfWorkFactory,
) -> None:
    file = await _extracted_document(uows)
    async with uows.read() as uow:
        extracted = await uow.documents.extracted(file.tenant_id, file.id)
        chunks, total = await uow.documents.chunks(file.tenant_id, file.id, limit=1, offset=1)
    assert extracted is not None
    assert (extracted.document_type, extracted.title) == ("pdf", "Harbour report")
    assert [p.text for p in extracted.pages] == list(PAGES)
    assert extracted.pages[0].regions[0].page == 1
    assert extracted.pages[0].regions[0].text == "The harbour"
    assert total >= 2 and chunks[0].chunk_index == 1


async def test_one_page_is_read_alone_within_the_tenant(uows: UnitOfWorkFactory) -> None:
    file = await _extracted_document(uows)
    other = await _extracted_document(uows)  # another tenant's
    async with uows.read() as uow:
        first = await uow.documents.page(file.tenant_id, file.id, 1)
        past_the_end = await uow.documents.page(file.tenant_id, file.id, len(PAGES) + 1)
        theirs = await uow.documents.page(file.tenant_id, other.id, 1)
    assert first is not None and first.text == PAGES[0]
    assert first.regions[0]["page"] == 1
    assert past_the_end is None and theirs is None


async def test_a_document_whose_extraction_is_not_done_has_none(uows: UnitOfWorkFactory) -> None:
    file = await _extracted_document(uows)
    async with uows.write() as uow:
        stored = await uow.files.by_id(file.tenant_id, file.id)
        assert stored is not None
        stored.text_extraction_status = "processing"
        await uow.commit()
    async with uows.read() as uow:
        assert await uow.documents.extracted(file.tenant_id, file.id) is None


async def test_search_finds_chunks_by_their_words_within_the_tenant(
    uows: UnitOfWorkFactory,
) -> None:
    file = await _extracted_document(uows)
    other = await _extracted_document(uows)
    async with uows.read() as uow:
        found = await uow.documents.matching(file.tenant_id, ["revenue", "northern"], 10)
        hits = await uow.documents.with_documents(file.tenant_id, found)
        stemmed = await uow.documents.matching(file.tenant_id, ["tide"], 10)
        absent = await uow.documents.matching(file.tenant_id, ["submarine"], 10)
        filtered = await uow.documents.matching(file.tenant_id, ["tides"], 10, [other.id])
        foreign = await uow.documents.with_documents(other.tenant_id, found)
    assert [(c.file_id, c.page_numbers, name) for c, name in hits] == [(file.id, [2], "report.pdf")]
    assert len(stemmed) == 1
    assert absent == [] and filtered == [] and foreign == []


async def test_re_extraction_replaces_the_chunks_and_their_index(uows: UnitOfWorkFactory) -> None:
    file = await _extracted_document(uows)
    async with uows.write() as uow:
        chunks = chunk_pages([(1, "A single page about lighthouses.")], 250, 40)
        page = ExtractedPage(1, "A single page about lighthouses.", (), 10, 10, "plain")
        await uow.documents.replace(file, [page], chunks, [None])
        await uow.commit()
    async with uows.read() as uow:
        old = await uow.documents.matching(file.tenant_id, ["revenue"], 10)
        new = await uow.documents.matching(file.tenant_id, ["lighthouses"], 10)
        pages = await uow.documents.pages(file.tenant_id, file.id)
        vectors = await uow.documents.embeddings(file.tenant_id)
    assert old == [] and len(new) == 1
    assert [p.page_number for p in pages] == [1]
    assert vectors == []


async def test_deleted_documents_are_out_of_every_read_and_purged_with_their_index(
    uows: UnitOfWorkFactory,
) -> None:
    file = await _extracted_document(uows)
    deleted_at = datetime.now(UTC) - timedelta(days=40)
    async with uows.write() as uow:
        stored = await uow.files.by_id(file.tenant_id, file.id)
        assert stored is not None
        stored.deleted_at = deleted_at
        await uow.commit()
    async with uows.read() as uow:
        assert await uow.documents.matching(file.tenant_id, ["revenue"], 10) == []
        assert await uow.documents.embeddings(file.tenant_id) == []
        assert await uow.documents.pages(file.tenant_id, file.id) == []
        assert (await uow.documents.chunks(file.tenant_id, file.id, 10, 0))[1] == 0
    async with uows.write() as uow:
        assert await uow.files.remove_deleted([file.id], datetime.now(UTC)) == [file.id]
        await uow.commit()
    async with uows.read() as uow:
        index = "chunk_fts" if uow.session.get_bind().dialect.name == "sqlite" else "chunk_search"
        left = await uow.session.scalar(text(f"SELECT count(*) FROM {index}"))
    assert left == 0


async def test_chunk_embeddings_are_the_tenants_own(uows: UnitOfWorkFactory) -> None:
    file = await _extracted_document(uows)
    await _extracted_document(uows)
    async with uows.read() as uow:
        rows = await uow.documents.embeddings(file.tenant_id)
        only = await uow.documents.embeddings(file.tenant_id, [file.id])
    assert len(rows) == len(only) >= 2
    assert all(len(r.embedding) == 32 for r in rows)


# A description waits for its document's text.


@dataclass
class _Recorder:
    """A job handler of one kind that records what ran; `failures` fail the next attempts."""

    kind: str
    failures: list[Failure] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)

    async def started(self, uow: UnitOfWork, job: Job) -> None:
        pass

    async def execute(self, job: Job) -> None:
        self.executed.append(job.kind)
        if self.failures:
            raise JobFailed(self.failures.pop(0))

    async def succeeded(self, uow: UnitOfWork, job: Job, result: None) -> None:
        pass

    async def retrying(
        self, uow: UnitOfWork, job: Job, failure: Failure, run_after: datetime
    ) -> None:
        pass

    async def requeued(self, uow: UnitOfWork, job: Job, reason: str) -> None:
        pass

    async def failed(self, uow: UnitOfWork, job: Job, failure: Failure) -> None:
        pass


async def _document_jobs(uows: UnitOfWorkFactory) -> dict[str, str]:
    """A document just uploaded: its variants, extract and describe jobs, by kind."""
    now = datetime.now(UTC)
    async with uows.write() as uow:
        tenant_id = await _tenant(uow)
        await uow.blobs.add_if_absent(blob_row(tenant_id, "cd" * 32))
        file = _document(tenant_id, "cd" * 32, now)
        uow.files.add(file, ())
        await uow.session.flush()
        jobs = {
            kind: new_job(kind, file, max_attempts=3, now=now)
            for kind in (VARIANTS, EXTRACT, DESCRIBE)
        }
        for job in jobs.values():
            uow.jobs.add(job)
        await uow.commit()
    return {kind: job.id for kind, job in jobs.items()}


def _runner(uows: UnitOfWorkFactory, extract: _Recorder) -> JobRunner:
    handlers = {kind: _Recorder(kind) for kind in (VARIANTS, DESCRIBE)}
    return JobRunner(
        uows,
        {**handlers, EXTRACT: extract},
        lease=LeaseSettings(30.0),
        retry=RetryPolicy(base_delay_s=0.0, max_delay_s=0.0),
        owner="w1",
    )


async def _state(uows: UnitOfWorkFactory, job_id: str) -> str:
    async with uows.read() as uow:
        state = await uow.session.scalar(select(Job.state).where(Job.id == job_id))
    return str(state)


async def test_a_description_waits_for_its_documents_extraction(uows: UnitOfWorkFactory) -> None:
    jobs = await _document_jobs(uows)
    runner = _runner(uows, _Recorder(EXTRACT))
    assert await runner.claim(preferred=jobs[DESCRIBE]) is not None  # not it: the oldest due
    assert await _state(uows, jobs[DESCRIBE]) == "queued"
    extract = await runner.claim(preferred=jobs[EXTRACT])
    assert extract is not None and extract.kind == EXTRACT
    assert await runner.claim(preferred=jobs[DESCRIBE]) is None  # extract runs: it waits
    assert await runner.claim([DESCRIBE]) is None
    assert await runner.run(extract) == [jobs[DESCRIBE]]  # dispatched the moment it may run
    describe = await runner.claim(preferred=jobs[DESCRIBE])
    assert describe is not None and describe.id == jobs[DESCRIBE]


async def test_a_retrying_extraction_still_holds_the_description_back(
    uows: UnitOfWorkFactory,
) -> None:
    jobs = await _document_jobs(uows)
    flaky = Failure(DescriptionErrorType.TIMEOUT, "storage was slow")
    permanent = Failure(DescriptionErrorType.VALIDATION_ERROR, "the PDF is encrypted")
    runner = _runner(uows, _Recorder(EXTRACT, failures=[flaky, permanent]))
    extract = await runner.claim([EXTRACT])
    assert extract is not None
    assert await runner.run(extract) == []  # queued again: the description keeps waiting
    assert await runner.claim([DESCRIBE]) is None
    extract = await runner.claim([EXTRACT])
    assert extract is not None
    assert await runner.run(extract) == [jobs[DESCRIBE]]  # failed for good: describe runs
    assert await _state(uows, jobs[EXTRACT]) == "failed"
    assert await runner.claim([DESCRIBE]) is not None


async def test_images_descriptions_wait_for_nothing(uows: UnitOfWorkFactory) -> None:
    jobs = await _document_jobs(uows)
    async with uows.write() as uow:
        await uow.session.execute(delete(Job).where(Job.id == jobs[EXTRACT]))
        await uow.commit()
    runner = _runner(uows, _Recorder(EXTRACT))
    describe = await runner.claim(preferred=jobs[DESCRIBE])
    assert describe is not None and describe.id == jobs[DESCRIBE]
    async with uows.read() as uow:
        count = await uow.session.scalar(select(func.count()).select_from(Job))
    assert count == 2
