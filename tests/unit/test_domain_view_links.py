"""Signed links to a tenant's images: bound to tenant, file, variant and expiry."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.errors import InvalidSignature, UrlExpired
from scopix.server.domain.signing import VIEW_URL_STEP_S, ViewGrant, sign, verify, view_expiry

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
