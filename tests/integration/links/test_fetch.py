"""The link fetcher against a real local site: pages in every encoding and charset, redirects,
and the traps (compression bombs, a slow drip, a 50 MB page, 404/500, TLS to a plain server,
other schemes), each ending as a FetchFailed of the right kind with memory and time bounded."""

from __future__ import annotations

import pickle
import socket
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace

import pytest

from docfactory import text_pdf
from linkserver import (
    ARTICLE_TITLE,
    LATIN1_TEXT,
    PDF_LINES,
    PLAIN_TEXT,
    SHIFT_JIS_TEXT,
    LinkSite,
)
from scopix.server.isolation import IsolatedPool, IsolationLimits
from scopix.server.media.links.fetch import Fetched, FetchFailed, FetchRules, fetch, is_html

MiB = 1 << 20
#: The tests' site is on 127.0.0.1: these tests lift the address rule (test_ssrf.py keeps it).
RULES = FetchRules(allow_private=True, deadline_seconds=1.5, user_agent="ScopixBot/test")


@pytest.fixture(scope="module")
def site() -> Iterator[LinkSite]:
    with LinkSite() as site:
        yield site


def _fails(url: str, rules: FetchRules = RULES, max_bytes: int | None = None) -> FetchFailed:
    with pytest.raises(FetchFailed) as failed:
        fetch(url, rules, max_bytes)
    return failed.value


def test_an_article_comes_back_with_its_type_and_charset(site: LinkSite) -> None:
    fetched = fetch(site.url("/article"), RULES)

    assert fetched.status_code == 200
    assert (fetched.content_type, fetched.charset) == ("text/html", "utf-8")
    assert ARTICLE_TITLE.encode() in fetched.body
    assert fetched.url == site.url("/article") and fetched.redirects == ()
    assert is_html(fetched)
    sent = site.requests[-1].headers
    assert sent["User-Agent"] == "ScopixBot/test"
    assert sent["Accept-Encoding"] == "gzip, deflate, br"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate", "br"])
def test_compressed_pages_are_inflated(site: LinkSite, encoding: str) -> None:
    plain = fetch(site.url("/article"), RULES).body

    assert fetch(site.url(f"/article?encoding={encoding}"), RULES).body == plain


def test_a_redirect_chain_is_followed_and_recorded(site: LinkSite) -> None:
    fetched = fetch(site.url("/redirect/3"), RULES)

    assert fetched.url == site.url("/article")
    assert fetched.redirects == tuple(site.url(f"/redirect/{n}") for n in (3, 2, 1))


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_every_redirect_status_is_followed(site: LinkSite, status: int) -> None:
    fetched = fetch(site.url(f"/redirect-to?url=/plain.txt&status={status}"), RULES)

    assert fetched.body == PLAIN_TEXT.encode()


def test_five_redirects_are_followed_and_a_sixth_is_refused_before_it_is_requested(
    site: LinkSite,
) -> None:
    assert len(fetch(site.url("/redirect/5"), RULES).redirects) == 5
    before = len(site.requests)

    failed = _fails(site.url("/redirect/6"))

    assert failed.kind == "refused" and "more than 5 redirects" in failed.reason
    assert len(site.requests) - before == 6  # /redirect/6 ... /redirect/1, never /article
    assert _fails(site.url("/redirect/1"), replace(RULES, max_redirects=0)).kind == "refused"


@pytest.mark.parametrize(
    "target", ["file:///etc/passwd", "gopher://127.0.0.1:70/", "ftp://127.0.0.1/", "data:,x"]
)
def test_a_redirect_to_another_scheme_is_refused(site: LinkSite, target: str) -> None:
    failed = _fails(site.url(f"/redirect-to?url={target}"))

    assert failed.kind == "refused"
    assert "only http and https" in failed.reason


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "gopher://127.0.0.1/", "ftp://127.0.0.1/", "javascript:1"]
)
def test_other_schemes_are_refused_before_any_connection(url: str) -> None:
    assert _fails(url).kind == "refused"


@pytest.mark.parametrize("path", ["/gzip-bomb", "/deflate-bomb", "/brotli-bomb"])
def test_compression_bombs_stop_at_the_cap_with_memory_bounded(site: LinkSite, path: str) -> None:
    _fails(site.url(path))  # the site builds its bomb once, outside the measurement
    tracemalloc.start()
    try:
        failed = _fails(site.url(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert failed.kind == "too_large"
    assert peak < 3 * RULES.max_body_bytes + 4 * MiB  # of a 1 GiB bomb


@pytest.mark.parametrize("path", ["/huge", "/huge?chunked=1"])
def test_a_50_mb_page_is_refused_by_the_cap_with_memory_bounded(site: LinkSite, path: str) -> None:
    tracemalloc.start()
    try:
        failed = _fails(site.url(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert failed.kind == "too_large"
    assert peak < 3 * RULES.max_body_bytes + 4 * MiB


def test_a_smaller_cap_applies_to_one_fetch(site: LinkSite) -> None:
    assert _fails(site.url("/photo.jpg"), max_bytes=1000).kind == "too_large"
    assert fetch(site.url("/photo.jpg"), RULES).content_type == "image/jpeg"


@pytest.mark.parametrize("path", ["/slow-drip", "/slow-headers"])
def test_a_slow_server_ends_at_the_deadline(site: LinkSite, path: str) -> None:
    # A drip of 1 MB at a byte per 0.1 s would take a day; the fetch ends at its 1.5 s deadline.
    failed = _fails(site.url(path))

    assert failed.kind == "timeout"
    assert "1.5 s" in failed.reason


@pytest.mark.parametrize(
    ("path", "charset", "text"),
    [("/latin1", "iso-8859-1", LATIN1_TEXT), ("/shift_jis", "shift_jis", SHIFT_JIS_TEXT)],
)
def test_pages_in_odd_encodings_come_back_with_their_charset(
    site: LinkSite, path: str, charset: str, text: str
) -> None:
    fetched = fetch(site.url(path), RULES)

    assert fetched.charset == charset
    assert text in fetched.body.decode(charset)


def test_a_charset_only_in_the_page_is_left_to_the_reader(site: LinkSite) -> None:
    fetched = fetch(site.url("/meta-charset"), RULES)

    assert (fetched.content_type, fetched.charset) == ("text/html", None)
    assert SHIFT_JIS_TEXT in fetched.body.decode("shift_jis")


def test_an_untyped_page_is_html_by_its_start(site: LinkSite) -> None:
    fetched = fetch(site.url("/untyped"), RULES)

    assert fetched.content_type == "" and is_html(fetched)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/doc.pdf", "application/pdf"), ("/plain.txt", "text/plain"), ("/og.png", "image/png")],
)
def test_other_types_are_fetched_as_they_are(site: LinkSite, path: str, content_type: str) -> None:
    fetched = fetch(site.url(path), RULES)

    assert fetched.content_type == content_type
    assert not is_html(fetched)


def test_a_pdf_arrives_byte_for_byte(site: LinkSite) -> None:
    assert fetch(site.url("/doc.pdf"), RULES).body == text_pdf(PDF_LINES, title="Otter census")


@pytest.mark.parametrize(
    ("path", "kind"),
    [("/404", "client"), ("/status/403", "client"), ("/500", "server"), ("/status/429", "server")],
)
def test_error_statuses_fail_with_their_kind(site: LinkSite, path: str, kind: str) -> None:
    failed = _fails(site.url(path))

    assert failed.kind == kind
    assert path.rsplit("/", 1)[-1] in failed.reason


def test_tls_to_a_plain_http_server_is_a_tls_failure(site: LinkSite) -> None:
    failed = _fails(site.url("/article", scheme="https"))

    assert failed.kind == "client" and "TLS" in failed.reason


def test_a_closed_port_is_a_network_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    assert _fails(f"http://127.0.0.1:{port}/").kind == "network"


def test_a_name_without_addresses_is_a_network_failure() -> None:
    rules = replace(RULES, hosts={"gone.test": ()})

    assert _fails("http://gone.test/", rules).kind == "network"


def test_failures_and_pages_cross_processes_intact(site: LinkSite) -> None:
    failed = FetchFailed("the site answered 404", kind="client")
    copy = pickle.loads(pickle.dumps(failed))
    rules = replace(RULES, hosts={"news.test": ("127.0.0.1",)})

    assert (copy.reason, copy.kind) == (failed.reason, failed.kind)
    assert pickle.loads(pickle.dumps(rules)) == rules


async def test_fetch_runs_in_the_isolated_pool(site: LinkSite) -> None:
    limits = IsolationLimits(
        address_space_bytes=1536 * MiB, cpu_seconds=30, wall_seconds=30.0, scratch_bytes=8 * MiB
    )
    pool = IsolatedPool(1, 256 * MiB)
    try:
        fetched = await pool.run(fetch, site.url("/article"), RULES, limits=limits, stage="crawl")
        with pytest.raises(FetchFailed) as failed:
            await pool.run(fetch, site.url("/gzip-bomb"), RULES, limits=limits, stage="crawl")
    finally:
        await pool.aclose()

    assert isinstance(fetched, Fetched) and ARTICLE_TITLE.encode() in fetched.body
    assert failed.value.kind == "too_large"
