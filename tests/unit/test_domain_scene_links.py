"""Signed links to a video's scene thumbnails: bound to tenant, file, scene and expiry, and no
other kind of link opens one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.errors import InvalidSignature, UrlExpired
from scopix.server.domain.signing import PageGrant, SceneGrant, ViewGrant, sign, verify

SECRET = b"s" * 32


def test_a_scene_link_covers_every_part() -> None:
    grant = SceneGrant("tenant", "file", 1, 7200)
    signature = sign(SECRET, grant)
    verify(SECRET, grant, signature, now=7200)
    for other in (
        SceneGrant("other", "file", 1, 7200),
        SceneGrant("tenant", "elif", 1, 7200),
        SceneGrant("tenant", "file", 2, 7200),
        SceneGrant("tenant", "file", 1, 10800),
    ):
        with pytest.raises(InvalidSignature, match="reload the page"):
            verify(SECRET, other, signature, now=0)
    with pytest.raises(UrlExpired, match="reload the page for fresh image URLs"):
        verify(SECRET, grant, signature, now=7201)


@given(
    st.text(max_size=20),
    st.text(max_size=20),
    st.integers(min_value=0, max_value=10**6),
    st.text(max_size=20),
    st.text(max_size=20),
    st.integers(min_value=1, max_value=10**6),
    st.integers(min_value=1, max_value=4096),
)
def test_no_image_or_page_link_reads_as_a_scene_link(
    tenant: str, file: str, scene: int, other_tenant: str, variant: str, page: int, size: int
) -> None:
    message = SceneGrant(tenant, file, scene, 7200).message()
    assert message != ViewGrant(other_tenant, file, variant, 7200).message()
    assert message != PageGrant(other_tenant, file, page, size, 7200).message()
