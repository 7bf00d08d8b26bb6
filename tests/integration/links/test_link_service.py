"""Saving links through the real services on a SQLite file and on PostgreSQL: a link is a file
at once (its URL list the placeholder bytes, its crawl queued), the tenant's links are
deduplicated by normalized URL and no other tenant's, a batch refuses its bad URLs one by one,
and a recrawl is refused while one is pending or for a file that was never a link. Nothing is
fetched here (no worker runs): services/crawl.py does that, tests/integration/links/
test_crawl_job.py runs it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from apiclient import Api
from imagefactory import png_bytes
from scopix.server.catalog.models import File, Job
from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.domain.errors import (
    Conflict,
    IdempotencyKeyReused,
    InvalidUrl,
    NotFound,
    UrlRefused,
    ValidationFailed,
    WrongMediaType,
)
from scopix.server.domain.media import URI_LIST_MIME
from scopix.server.jobs.records import CRAWL, DESCRIBE, VARIANTS
from scopix.server.services.links import LinkRequest, placeholder_bytes

URL = "https://News.Example.com:443/otters/../otters/back?id=7#comments"
NORMALIZED = "https://news.example.com/otters/back?id=7"


def _uows(api: Api) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(api.services.database)


async def _tenant(api: Api, name: str) -> str:
    async with _uows(api).read() as uow:
        tenant = await uow.tenants.get_by_name(name)
    assert tenant is not None
    return tenant.id


async def _jobs(api: Api, file_id: str) -> dict[str, str]:
    async with _uows(api).read() as uow:
        rows = await uow.session.scalars(select(Job).where(Job.file_id == file_id))
        return {row.kind: row.state for row in rows}


async def _file(api: Api, file_id: str) -> File:
    async with _uows(api).read() as uow:
        file = await uow.session.get(File, file_id)
    assert file is not None
    return file


async def _finish_crawl(api: Api, file_id: str) -> None:
    """As if the file's crawl had ended (no worker fetches anything in these tests)."""
    async with _uows(api).write() as uow:
        job = await uow.jobs.active_for_file(file_id, CRAWL)
        assert job is not None
        job.state = "failed"
        file = await uow.session.get(File, file_id)
        assert file is not None
        file.crawl_status = "failed"
        await uow.commit()


async def test_a_link_is_a_file_at_once_with_its_crawl_queued(api: Api) -> None:
    acme = await _tenant(api, "acme")
    added = await api.services.links.add(
        acme, LinkRequest(URL, title="  Otters  ", tags=("rivers", "otters"))
    )
    file = added.file
    assert (added.deduplicated, added.skipped) == (False, False)
    assert added.tags == ("rivers", "otters")
    assert (file.media_type, file.mime_type, file.status) == ("link", URI_LIST_MIME, "processing")
    assert (file.source_url, file.domain, file.filename) == (
        NORMALIZED,
        "news.example.com",
        NORMALIZED,
    )
    assert (file.title, file.crawl_status, file.crawled_at) == ("Otters", "pending", None)
    assert file.description_status == "queued"
    assert file.size_bytes == len(placeholder_bytes(NORMALIZED))
    assert await _jobs(api, file.id) == {
        CRAWL: "queued",
        VARIANTS: "queued",
        DESCRIBE: "queued",
    }
    stored = await api.services.store.read_head(added.blob.storage_key, 4096)
    assert stored == NORMALIZED.encode() + b"\r\n"


async def test_the_same_url_is_deduplicated_per_tenant_when_asked(api: Api) -> None:
    acme, globex = await _tenant(api, "acme"), await _tenant(api, "globex")
    links = api.services.links
    first = await links.add(acme, LinkRequest(URL, auto_describe=False))
    # Another spelling of the same page, skipping duplicates: the first link, nothing new.
    again = await links.add(
        acme,
        LinkRequest("https://news.example.com/otters/back?id=7", skip_duplicates=True),
    )
    assert (again.file.id, again.deduplicated, again.skipped) == (first.file.id, True, True)
    # Without skip_duplicates, a second link shares the placeholder's bytes.
    second = await links.add(acme, LinkRequest(URL, auto_describe=False))
    assert second.file.id != first.file.id
    assert (second.deduplicated, second.skipped) == (True, False)
    # Another tenant neither sees nor dedups against acme's link.
    theirs = await links.add(globex, LinkRequest(URL, skip_duplicates=True))
    assert theirs.file.id not in (first.file.id, second.file.id)
    assert (theirs.deduplicated, theirs.skipped) == (False, False)
    assert theirs.file.tenant_id == globex
    # A link found by its URL stays found once its bytes are no longer the placeholder.
    async with _uows(api).write() as uow:
        file = await uow.session.get(File, first.file.id)
        assert file is not None
        file.created_at = datetime.now(UTC) - timedelta(days=1)  # the oldest of acme's two
        await uow.commit()
    found = await links.add(acme, LinkRequest(NORMALIZED, skip_duplicates=True))
    assert found.file.id == first.file.id


async def test_a_deleted_link_is_no_duplicate(api: Api) -> None:
    acme = await _tenant(api, "acme")
    first = await api.services.links.add(acme, LinkRequest(URL, auto_describe=False))
    deleted = await api.client.delete(f"/api/v2/files/{first.file.id}")
    assert deleted.status_code in (200, 204), deleted.text
    again = await api.services.links.add(acme, LinkRequest(URL, skip_duplicates=True))
    assert again.file.id != first.file.id and not again.skipped


async def test_a_batch_refuses_its_bad_urls_one_by_one(api: Api) -> None:
    acme = await _tenant(api, "acme")
    requests = [
        LinkRequest("http://one.example/a", auto_describe=False),
        LinkRequest("ftp://files.example/otters.txt", auto_describe=False),
        LinkRequest("http://127.1/admin", auto_describe=False),
        LinkRequest("http://[::ffff:10.0.0.1]/", auto_describe=False),
        LinkRequest("http://two.example/b", title="x" * 300, auto_describe=False),
        LinkRequest("HTTP://TWO.example/b", auto_describe=False),
    ]
    outcomes = await api.services.links.add_batch(acme, requests)
    assert [o.url for o in outcomes] == [r.url for r in requests]
    assert [type(o.error) for o in outcomes] == [
        type(None),
        InvalidUrl,
        UrlRefused,
        UrlRefused,
        ValidationFailed,
        type(None),
    ]
    saved = [o.ingested for o in outcomes if o.ingested is not None]
    assert [i.file.source_url for i in saved] == ["http://one.example/a", "http://two.example/b"]
    async with _uows(api).read() as uow:
        rows = await uow.session.scalars(select(File.id).where(File.tenant_id == acme))
        assert len(list(rows)) == 2  # nothing of the refused ones was recorded


async def test_a_recrawl_waits_for_the_crawl_pending_and_needs_a_link(api: Api) -> None:
    acme, globex = await _tenant(api, "acme"), await _tenant(api, "globex")
    links = api.services.links
    added = await links.add(acme, LinkRequest(URL, auto_describe=False))
    with pytest.raises(Conflict) as conflict:
        await links.recrawl(acme, added.file.id)  # its first crawl is still queued
    assert conflict.value.details["crawl_status"] == "pending"
    await _finish_crawl(api, added.file.id)
    with pytest.raises(NotFound):
        await links.recrawl(globex, added.file.id)  # another tenant's link is not there
    recrawled = await links.recrawl(acme, added.file.id)
    assert recrawled.crawl_status == "pending"
    assert (await _jobs(api, added.file.id))[CRAWL] == "queued"
    with pytest.raises(Conflict):
        await links.recrawl(acme, added.file.id)
    # An uploaded picture was never a link.
    sent = await api.client.post(
        "/api/v2/files/upload",
        files={"file": ("p.png", png_bytes(40, 30))},
        data={"auto_describe": "false"},
    )
    assert sent.status_code == 201, sent.text
    with pytest.raises(WrongMediaType):
        await links.recrawl(acme, sent.json()["image_id"])
    with pytest.raises(NotFound):
        await links.recrawl(acme, "not-an-id")


async def test_links_due_are_recrawled_by_the_sweep(api: Api) -> None:
    acme = await _tenant(api, "acme")
    links = api.services.links
    old = await links.add(acme, LinkRequest("http://one.example/old", auto_describe=False))
    fresh = await links.add(acme, LinkRequest("http://one.example/fresh", auto_describe=False))
    pending = await links.add(acme, LinkRequest("http://one.example/pending", auto_describe=False))
    for added, hours in ((old, 30), (fresh, 1)):
        await _finish_crawl(api, added.file.id)
        async with _uows(api).write() as uow:
            file = await uow.session.get(File, added.file.id)
            assert file is not None
            file.crawled_at = datetime.now(UTC) - timedelta(hours=hours)
            await uow.commit()
    maintenance = api.services.maintenance
    assert maintenance.recrawl_after is None  # off by default: the sweep recrawls nothing
    assert (await maintenance.sweep()).recrawled_links == 0
    maintenance.recrawl_after = timedelta(hours=24)
    assert (await maintenance.sweep()).recrawled_links == 1
    assert (await _file(api, old.file.id)).crawl_status == "pending"
    assert (await _file(api, fresh.file.id)).crawl_status == "failed"
    assert (await _jobs(api, pending.file.id))[CRAWL] == "queued"  # never queued twice
    assert (await maintenance.sweep()).recrawled_links == 0  # the old one is pending now


async def test_a_keyed_retry_finds_the_link_its_first_attempt_saved(api: Api) -> None:
    acme = await _tenant(api, "acme")
    first = await api.services.links.add(acme, LinkRequest(URL, upload_ref="record-1:0"))

    again = await api.services.links.add(acme, LinkRequest(NORMALIZED, upload_ref="record-1:0"))

    assert again.file.id == first.file.id
    async with _uows(api).read() as uow:
        links = await uow.session.scalars(select(File.id).where(File.source_url == NORMALIZED))
        assert list(links) == [first.file.id]
    with pytest.raises(IdempotencyKeyReused):
        await api.services.links.add(
            acme, LinkRequest("https://news.example.com/other", upload_ref="record-1:0")
        )


async def test_a_recrawl_waits_while_a_job_reads_the_page_it_would_replace(api: Api) -> None:
    acme = await _tenant(api, "acme")
    added = await api.services.links.add(acme, LinkRequest(URL, auto_describe=False))
    await _finish_crawl(api, added.file.id)
    async with _uows(api).write() as uow:
        variants = await uow.jobs.active_for_file(added.file.id, VARIANTS)
        assert variants is not None
        variants.state = "running"  # as a worker holds it
        await uow.commit()

    with pytest.raises(Conflict):
        await api.services.links.recrawl(acme, added.file.id)

    async with _uows(api).write() as uow:
        variants = await uow.jobs.active_for_file(added.file.id, VARIANTS)
        assert variants is not None
        variants.state = "queued"  # a queued job waits for the crawl and follows its bytes
        await uow.commit()
    assert (await api.services.links.recrawl(acme, added.file.id)).crawl_status == "pending"
