"""A link's URL: one spelling per page, only http(s), and no literal inside address in any
spelling before anything is fetched."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.addresses import refusal
from scopix.server.domain.errors import DomainError, InvalidUrl, UrlRefused
from scopix.server.domain.urls import (
    MAX_URL_CHARS,
    normalize_url,
    redirect_target,
    url_domain,
)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("HTTP://Example.COM:80/a/../b#top", "http://example.com/b"),
        ("http://example.com", "http://example.com/"),
        ("https://example.com:443/x", "https://example.com/x"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("http://example.com./x", "http://example.com/x"),
        ("  http://example.com/x?  ", "http://example.com/x"),
        ("http://example.com/%7e%2fx%zz", "http://example.com/~%2Fx%25zz"),
        ("http://example.com/a b?q=ä", "http://example.com/a%20b?q=%C3%A4"),
        ("https://bücher.de/", "https://xn--bcher-kva.de/"),
        ("http://example.com/./a/./b/../../c/", "http://example.com/c/"),
        ("http://[2606:4700:4700:0::1111]:80/", "http://[2606:4700:4700::1111]/"),
        ("http://8.8.8.8/", "http://8.8.8.8/"),
        ("http://134744072/", "http://8.8.8.8/"),
    ],
)
def test_urls_are_normalized(raw: str, normalized: str) -> None:
    assert normalize_url(raw, allow_private=False) == normalized


@pytest.mark.parametrize(
    "raw",
    [
        "file:///etc/passwd",
        "gopher://example.com/",
        "ftp://example.com/",
        "javascript:alert(1)",
        "data:text/html,hi",
        "example.com/page",
        "http://",
        "http:///path",
        "http://user:secret@example.com/",
        "http://example.com:0/",
        "http://example.com:99999/",
        "http://example.com:8o/",
        "http://exa mple.com/",
        "http://example.com/\x00",
        "http://1.2.3.4.5/",
        "http://08.0.0.1/",
        "http://[::1/",
        "http://[fe80::1%25eth0]/",
        "http://-bad-.com/",
        "http://a..b/",
        "http://example.com/" + "a" * MAX_URL_CHARS,
    ],
)
def test_urls_that_cannot_be_fetched_are_invalid(raw: str) -> None:
    with pytest.raises(InvalidUrl) as refused:
        normalize_url(raw, allow_private=True)
    assert refused.value.code == "INVALID_URL"


REFUSED_HOSTS = [
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f.1",
    "0x7f000001",
    "0177.0.0.1",
    "%31%32%37.0.0.1",
    "１２７.０.０.１",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "0",
    "224.0.0.1",
    "240.0.0.1",
    "[::1]",
    "[::]",
    "[::ffff:127.0.0.1]",
    "[::ffff:a9fe:a9fe]",
    "[64:ff9b::7f00:1]",
    "[2002:7f00:1::]",
    "[fe80::1]",
    "[fd00::1]",
    "localhost",
    "api.localhost",
]


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_literal_inside_addresses_are_refused_unless_allowed(host: str) -> None:
    url = f"http://{host}:8080/admin"
    with pytest.raises(UrlRefused) as refused:
        normalize_url(url, allow_private=False)
    assert refused.value.code == "URL_REFUSED"
    assert normalize_url(url, allow_private=True).startswith("http://")


def test_the_domain_is_the_host() -> None:
    assert url_domain("https://www.example.com/a?b") == "www.example.com"
    assert url_domain("http://[2606:4700::1]:8080/") == "2606:4700::1"


def test_redirects_are_resolved_and_checked_like_new_urls() -> None:
    base = "https://example.com/news/today"
    assert redirect_target(base, "../archive#x", allow_private=False) == (
        "https://example.com/archive"
    )
    assert redirect_target(base, "//cdn.example.org/a", allow_private=False) == (
        "https://cdn.example.org/a"
    )
    with pytest.raises(UrlRefused):
        redirect_target(base, "http://169.254.169.254/latest/meta-data/", allow_private=False)
    with pytest.raises(UrlRefused):
        redirect_target(base, "http://0x7f.1/", allow_private=False)
    with pytest.raises(InvalidUrl):
        redirect_target(base, "file:///etc/passwd", allow_private=True)
    with pytest.raises(InvalidUrl):
        redirect_target(base, "gopher://example.com/", allow_private=True)


_HOSTS = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9](\.[a-z]{2,6}){1,2}", fullmatch=True)
_PATHS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)


@given(st.sampled_from(["http", "https", "HTTP"]), _HOSTS, _PATHS, _PATHS)
def test_normalizing_is_idempotent(scheme: str, host: str, path: str, query: str) -> None:
    raw = f"{scheme}://{host}/{path.replace('#', '')}?{query.replace('#', '')}"
    once = normalize_url(raw, allow_private=False)
    assert normalize_url(once, allow_private=False) == once
    assert url_domain(once) == host
    assert once.isascii() and len(once) <= MAX_URL_CHARS


@given(st.text(max_size=300))
def test_any_text_is_a_url_or_a_domain_error(raw: str) -> None:
    try:
        url = normalize_url(raw, allow_private=False)
    except DomainError as error:
        assert error.code in {"INVALID_URL", "URL_REFUSED"}
    else:
        assert url.startswith(("http://", "https://"))
        assert normalize_url(url, allow_private=False) == url


@given(st.integers(0, 2**32 - 1), st.sampled_from(["{}", "{:#x}", "0{:o}"]))
def test_numeric_hosts_are_refused_exactly_when_their_address_is(value: int, form: str) -> None:
    url = f"http://{form.format(value)}/"
    if refusal(IPv4Address(value)) is None:
        assert normalize_url(url, allow_private=False) == f"http://{IPv4Address(value)}/"
    else:
        with pytest.raises(UrlRefused):
            normalize_url(url, allow_private=False)
