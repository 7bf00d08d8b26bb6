"""How the web page shows a saved link: its site, its favicon, where its crawl stands."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from scopix.server.catalog.models import File
from scopix.server.web.views import DocumentFacts, link_facts, pipeline_status

URL = "https://news.example.com/otters"


def link(**columns: object) -> File:
    fields: dict[str, object] = {
        "media_type": "link",
        "source_url": URL,
        "domain": "news.example.com",
        "crawl_status": "completed",
    }
    fields.update(columns)
    return File(**fields)


def test_a_file_not_saved_from_a_url_has_no_link_facts() -> None:
    assert link_facts(File(media_type="image")) is None


def test_a_link_names_its_site_by_its_own_name_else_its_domain() -> None:
    named = link_facts(link(og_metadata={"site_name": "Riverside Journal", "title": "Otters"}))
    assert named is not None and named.site == "Riverside Journal"
    unnamed = link_facts(link(og_metadata={"site_name": None}))
    assert unnamed is not None and unnamed.site == "news.example.com"
    bare = link_facts(link(domain=None, og_metadata=None))
    assert bare is not None and bare.site == "news.example.com"


def test_a_crawled_link_carries_its_page_facts() -> None:
    crawled = datetime(2026, 12, 5, 13, 0, tzinfo=UTC)
    facts = link_facts(
        link(
            page_title="Otters return",
            favicon_url="https://news.example.com/favicon.ico",
            crawled_at=crawled,
            text_extraction_status="completed",
        )
    )
    assert facts is not None
    assert (facts.source_url, facts.page_title, facts.crawled_at) == (
        URL,
        "Otters return",
        crawled,
    )
    assert facts.favicon_url == "https://news.example.com/favicon.ico"


@given(
    st.sampled_from(["javascript:", "data:image/png;base64,", "file:///", "ftp://h/", "//h/", ""]),
    st.text(max_size=20),
)
def test_only_a_web_favicon_goes_into_the_page(prefix: str, rest: str) -> None:
    facts = link_facts(link(favicon_url=prefix + rest))
    assert facts is not None and facts.favicon_url is None


def test_a_link_card_follows_its_crawl_then_its_text() -> None:
    def status(crawl: str, text: str | None) -> str | None:
        facts = link_facts(link(crawl_status=crawl, text_extraction_status=text))
        return pipeline_status(None, None, facts)

    assert status("pending", None) == "pending"
    assert status("processing", None) == "processing"
    assert status("failed", None) == "failed"
    assert status("completed", "pending") == "pending"
    assert status("completed", "completed") == "completed"


def test_a_url_that_served_a_pdf_follows_the_documents_text_once_fetched() -> None:
    document = DocumentFacts("pdf", 2, "processing", None, None, None)
    fetched = link_facts(link(media_type="document", text_extraction_status="processing"))
    assert pipeline_status(document, None, fetched) == "processing"
    fetching = link_facts(link(media_type="link", crawl_status="processing"))
    assert pipeline_status(None, None, fetching) == "processing"
