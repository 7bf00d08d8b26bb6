"""Signed links to a tenant's images: bound to tenant, file, variant and expiry."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.errors import InvalidSignature, UrlExpired
from scopix.server.domain.signing import (
    VIEW_URL_STEP_S,
    PageGrant,
    ViewGrant,
    sign,
    verify,
    view_expiry,
)

SECRET = b"s" * 32


@given(st.integers(min_value=0, max_value=2**40))
def test_a_link_lives_between_one_and_two_steps(now: int) -> None:
    expires = view_expiry(now)
    assert now + VIEW_URL_STEP_S <= expires <= now + 2 * VIEW_URL_STEP_S
    assert expires % VIEW_URL_STEP_S == 0  # the same link all through a step: cacheable


def test_the_signature_covers_every_part() -> None:
    grant = ViewGrant("tenant", "file", "small_256", 7200)
    signature = sign(SECRET, grant)
    verify(SECRET, grant, signature, now=7200)
    for other in (
        ViewGrant("other", "file", "small_256", 7200),
        ViewGrant("tenant", "elif", "small_256", 7200),
        ViewGrant("tenant", "file", "original", 7200),
        ViewGrant("tenant", "file", "small_256", 10800),
    ):
        with pytest.raises(InvalidSignature, match="reload the page"):
            verify(SECRET, other, signature, now=0)


def test_an_expired_link_says_how_to_get_a_fresh_one() -> None:
    grant = ViewGrant("tenant", "file", "small_256", 100)
    with pytest.raises(UrlExpired, match="reload the page for fresh image URLs"):
        verify(SECRET, grant, sign(SECRET, grant), now=101)


def test_a_page_link_covers_page_and_size_and_opens_nothing_else() -> None:
    grant = PageGrant("tenant", "file", 2, 1024, 7200)
    signature = sign(SECRET, grant)
    verify(SECRET, grant, signature, now=7200)
    for other in (
        PageGrant("other", "file", 2, 1024, 7200),
        PageGrant("tenant", "elif", 2, 1024, 7200),
        PageGrant("tenant", "file", 3, 1024, 7200),
        PageGrant("tenant", "file", 2, 2048, 7200),
        PageGrant("tenant", "file", 2, 1024, 10800),
    ):
        with pytest.raises(InvalidSignature, match="reload the page"):
            verify(SECRET, other, signature, now=0)
    # Neither kind of link stands in for the other, whatever its fields say.
    view = ViewGrant("tenant", "file", "2", 7200)
    with pytest.raises(InvalidSignature):
        verify(SECRET, view, signature, now=0)
    with pytest.raises(InvalidSignature):
        verify(SECRET, grant, sign(SECRET, view), now=0)


@given(
    st.text(max_size=20),
    st.text(max_size=20),
    st.integers(min_value=1, max_value=10**6),
    st.integers(min_value=1, max_value=4096),
    st.text(max_size=20),
    st.text(max_size=20),
)
def test_no_page_link_reads_as_an_image_link(
    tenant: str, file: str, page: int, size: int, view_tenant: str, variant: str
) -> None:
    page_message = PageGrant(tenant, file, page, size, 7200).message()
    assert page_message != ViewGrant(view_tenant, file, variant, 7200).message()
