"""The crawl job against a real local web site (tests/linkserver.py), through the real services
and their isolated children, on a SQLite file and on PostgreSQL: an article becomes an MHTML
archive that replaces the link's placeholder, whose variants and text then follow; a PDF URL
becomes a document; a 404, a 500 and a gzip bomb end as a failed crawl with the right error
type, and the description that waited fails too; a recrawl of an unchanged page only says so;
and nothing reads the placeholder while its crawl is queued."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from apiclient import Api, running_api
from linkserver import ARTICLE_TITLE, LinkSite
from scopix.server.catalog.models import File, FileEvent, Job
from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.domain import blobkeys
from scopix.server.domain.media import PAGE_ARCHIVE_MIME, URI_LIST_MIME
from scopix.server.jobs.records import CRAWL, DESCRIBE, EXTRACT, VARIANTS
from scopix.server.services.ingest import Ingested
from scopix.server.services.links import LinkRequest
from scopix.server.services.purge import Purger
from scopix.server.settings import Settings


@pytest.fixture
def site() -> Iterator[LinkSite]:
    with LinkSite() as running:
        yield running


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    """The app with links allowed to reach 127.0.0.1, where the test site runs."""
    async with running_api(settings.model_copy(update={"links_allow_private": True})) as running:
        yield running


def _uows(api: Api) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(api.services.database)


async def _acme(api: Api) -> str:
    async with _uows(api).read() as uow:
        tenant = await uow.tenants.get_by_name("acme")
    assert tenant is not None
    return tenant.id


async def _add(api: Api, url: str, *, describe: bool = False) -> Ingested:
    return await api.services.links.add(await _acme(api), LinkRequest(url, auto_describe=describe))


async def _file(api: Api, file_id: str) -> File:
    async with _uows(api).read() as uow:
        file = await uow.session.get(File, file_id)
    assert file is not None
    return file


async def _jobs(api: Api, file_id: str) -> list[Job]:
    async with _uows(api).read() as uow:
        rows = await uow.session.scalars(
            select(Job).where(Job.file_id == file_id).order_by(Job.created_at, Job.id)
        )
        return list(rows)


async def _events(api: Api, file_id: str, prefix: str) -> list[FileEvent]:
    async with _uows(api).read() as uow:
        events = await uow.files.events_for(file_id)
    return [e for e in events if e.event.startswith(prefix)]


async def test_an_article_becomes_an_archive_then_its_variants_and_text(
    api: Api, site: LinkSite
) -> None:
    added = await _add(api, site.url("/article"))
    placeholder = added.file.sha256
    assert await api.drain(CRAWL) == 1
    file = await _file(api, added.file.id)
    assert (file.crawl_status, file.crawl_error, file.crawl_error_type) == ("completed", None, None)
    assert (file.media_type, file.mime_type) == ("link", PAGE_ARCHIVE_MIME)
    assert file.sha256 != placeholder and file.crawled_at is not None
    assert file.document_type is None
    key = blobkeys.original_key(file.tenant_id, file.sha256)
    archive = await api.services.store.read_head(key, 1 << 16)
    assert b"multipart/related" in archive.lower()
    # What waited for the crawl now works on the archive.
    waiting = {job.kind: job for job in await _jobs(api, file.id) if job.state == "queued"}
    assert set(waiting) == {VARIANTS, EXTRACT}
    assert {job.sha256 for job in waiting.values()} == {file.sha256}
    assert file.status == "processing" and file.text_extraction_status == "pending"
    assert [r.path for r in site.requests][:2] == ["/article", "/og.png"]

    assert await api.drain() == 2
    file = await _file(api, added.file.id)
    assert file.status == "completed"
    assert file.text_extraction_status == "completed", file.text_extraction_error
    assert file.page_title is not None and file.page_title.startswith(ARTICLE_TITLE)
    assert file.visible_text is not None and "otters" in file.visible_text.lower()
    blob = (await api.services.files.get(file.tenant_id, file.id)).blob
    assert "small_256" in blob.variants
    assert [e.event for e in await _events(api, file.id, "crawl_")] == [
        "crawl_queued",
        "crawl_started",
        "crawl_completed",
    ]


async def test_a_pdf_url_becomes_a_document(api: Api, site: LinkSite) -> None:
    added = await _add(api, site.url("/doc.pdf"))
    assert await api.drain(CRAWL) == 1
    file = await _file(api, added.file.id)
    assert (file.media_type, file.mime_type, file.document_type) == (
        "document",
        "application/pdf",
        "pdf",
    )
    assert file.crawl_status == "completed" and file.source_url == site.url("/doc.pdf")
    await api.drain()
    file = await _file(api, added.file.id)
    assert (file.text_extraction_status, file.page_count) == ("completed", 2)


async def test_a_url_list_no_file_names_after_its_crawl_is_purged_and_its_room_given_back(
    api: Api, site: LinkSite
) -> None:
    url = site.url("/article")
    crawled = await _add(api, url)
    placeholder = crawled.file.sha256
    key = blobkeys.original_key(crawled.file.tenant_id, placeholder)
    assert await api.drain(CRAWL) == 1
    purger = Purger(_uows(api), api.services.store)
    async with _uows(api).read() as uow:
        used = await uow.tenants.storage_used(crawled.file.tenant_id)

    report = await purger.purge(timedelta(days=30))

    assert (report.blobs, report.bytes) == (1, crawled.blob.size_bytes)
    assert not await api.services.store.exists(key)
    async with _uows(api).read() as uow:
        assert await uow.blobs.get(crawled.file.tenant_id, placeholder) is None
        assert await uow.tenants.storage_used(crawled.file.tenant_id) == used - report.bytes
    # The same URL saved again is stored anew, and kept while its own crawl has not run.
    again = await _add(api, url)
    assert again.file.sha256 == placeholder
    assert (await purger.purge(timedelta(days=30))).blobs == 0
    assert await api.services.store.exists(key)


async def test_a_keyed_retry_after_the_crawl_finds_the_same_link(api: Api, site: LinkSite) -> None:
    request = LinkRequest(site.url("/article"), auto_describe=False, upload_ref="record-7:0")
    first = await api.services.links.add(await _acme(api), request)
    assert await api.drain(CRAWL) == 1

    again = await api.services.links.add(await _acme(api), request)

    assert again.file.id == first.file.id
    assert again.file.sha256 != first.file.sha256  # the page's archive, no longer the URL list


@pytest.mark.parametrize(
    ("path", "error_type", "attempts"),
    [("/404", "validation", 1), ("/500", "timeout", 3), ("/gzip-bomb", "resource_limit", 1)],
)
async def test_a_page_that_cannot_be_had_fails_its_crawl_and_its_description(
    api: Api, site: LinkSite, path: str, error_type: str, attempts: int
) -> None:
    added = await _add(api, site.url(path), describe=True)
    assert await api.drain(CRAWL) == attempts
    file = await _file(api, added.file.id)
    assert (file.crawl_status, file.crawl_error_type) == ("failed", error_type)
    assert file.crawl_error
    assert (file.media_type, file.mime_type) == ("link", URI_LIST_MIME)
    assert file.status == "completed"  # the upload is done; its crawl says how it went
    assert [r.path for r in site.requests] == [path] * attempts

    await api.drain()  # the description waited for the crawl: it fails on the placeholder
    file = await _file(api, added.file.id)
    assert file.description_status == "failed"
    assert file.description_error_type == "validation"
    assert file.description is None


async def test_a_recrawl_of_an_unchanged_page_only_says_so(api: Api, site: LinkSite) -> None:
    added = await _add(api, site.url("/plain.txt"))
    assert await api.drain(CRAWL) == 1
    first = await _file(api, added.file.id)
    assert (first.media_type, first.document_type) == ("document", "txt")
    await api.drain()
    recrawled = await api.services.links.recrawl(first.tenant_id, first.id)
    assert recrawled.crawl_status == "pending"
    assert await api.drain() == 1  # the crawl alone: nothing new to extract or render
    again = await _file(api, added.file.id)
    assert again.sha256 == first.sha256 and again.crawl_status == "completed"
    assert first.crawled_at is not None and again.crawled_at is not None
    assert again.crawled_at > first.crawled_at
    assert (again.text_extraction_status, again.status) == ("completed", "completed")
    completed = await _events(api, first.id, "crawl_completed")
    assert completed[-1].detail is not None and completed[-1].detail.startswith("unchanged")


async def test_variants_and_description_wait_while_the_crawl_is_queued(
    api: Api, site: LinkSite
) -> None:
    added = await _add(api, site.url("/photo.jpg"), describe=True)
    runner = api.services.workers.runner
    assert await runner.claim([VARIANTS]) is None
    assert await runner.claim([DESCRIBE]) is None
    crawl = await runner.claim([CRAWL])
    assert crawl is not None
    released = await runner.run(crawl)  # what the queue dispatches as the crawl ends
    waiting = {job.kind: job.id for job in await _jobs(api, added.file.id) if job.state == "queued"}
    assert set(released) == set(waiting.values()) and set(waiting) == {VARIANTS, DESCRIBE}
    file = await _file(api, added.file.id)
    assert (file.media_type, file.mime_type) == ("image", "image/jpeg")
    assert (file.width, file.height) == (640, 480)
    variants = await runner.claim([VARIANTS])
    assert variants is not None and variants.file_id == file.id
    assert variants.sha256 == file.sha256
    await runner.run(variants)
    describe = await runner.claim([DESCRIBE])
    assert describe is not None and describe.sha256 == file.sha256


async def test_a_page_past_the_storage_quota_fails_its_crawl_and_holds_no_room(
    settings: Settings, site: LinkSite
) -> None:
    limited = settings.model_copy(
        update={"links_allow_private": True, "storage_quota_bytes": {"starter": 4096}}
    )
    async with running_api(limited) as api:
        added = await _add(api, site.url("/photo.jpg"))
        assert await api.drain(CRAWL) == 1  # permanent: never retried
        file = await _file(api, added.file.id)
        assert (file.crawl_status, file.crawl_error_type) == ("failed", "resource_limit")
        assert file.sha256 == added.file.sha256
        standing = await api.services.ingest.room.quota.standing(file.tenant_id)
        assert standing.used == added.blob.size_bytes  # the placeholder's bytes alone


async def test_a_recrawl_that_finds_new_content_reads_and_describes_it_again(
    api: Api, site: LinkSite
) -> None:
    added = await _add(api, site.url("/plain.txt"), describe=True)
    assert await api.drain(CRAWL, EXTRACT) == 2
    # As if its description had failed, and the page had moved.
    async with _uows(api).write() as uow:
        describe = await uow.jobs.active_for_file(added.file.id, DESCRIBE)
        assert describe is not None
        describe.state = "failed"
        file = await uow.session.get(File, added.file.id)
        assert file is not None
        file.description_status = "failed"
        file.source_url = site.url("/doc.pdf")
        await uow.commit()
    before = await _file(api, added.file.id)
    await api.services.links.recrawl(before.tenant_id, before.id)
    assert await api.drain(CRAWL) == 1
    after = await _file(api, added.file.id)
    assert (after.media_type, after.document_type) == ("document", "pdf")
    assert after.sha256 != before.sha256
    queued = {job.kind: job for job in await _jobs(api, after.id) if job.state == "queued"}
    # The text's variants job, never run, now makes the PDF's.
    assert set(queued) == {VARIANTS, EXTRACT, DESCRIBE}
    assert {job.sha256 for job in queued.values()} == {after.sha256}
    assert after.description_status == "queued"
