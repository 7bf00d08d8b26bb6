"""Document limits: page and archive checks, and page render scales bounded in pixels."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from docfactory import DEFAULT_LIMITS as LIMITS
from scopix.server.domain.errors import DocumentTooLarge

MiB = 1 << 20
page_sides = st.floats(min_value=1, max_value=14_400)  # PDF's own largest page: 200 inches


def test_pages_up_to_the_limit_pass_and_one_more_is_refused() -> None:
    LIMITS.check_pages(2000)
    with pytest.raises(DocumentTooLarge) as refused:
        LIMITS.check_pages(2001)
    assert refused.value.details == {"page_count": 2001, "max_pages": 2000}


def test_an_archive_over_its_members_or_unpacked_bytes_is_refused() -> None:
    LIMITS.check_archive(10_000, 256 * MiB)
    with pytest.raises(DocumentTooLarge, match="parts"):
        LIMITS.check_archive(10_001, 1)
    with pytest.raises(DocumentTooLarge, match="unpack"):
        LIMITS.check_archive(1, 256 * MiB + 1)


def test_an_a4_page_renders_at_300_dpi_as_asked() -> None:
    scale = LIMITS.render_scale(595.2, 841.92, dpi=300)
    assert (round(595.2 * scale), round(841.92 * scale)) == (2480, 3508)


def test_a_poster_renders_at_fewer_dpi_within_the_pixel_bound() -> None:
    a0 = (2384, 3370)
    scale = LIMITS.render_scale(*a0, dpi=300)
    assert scale < 300 / 72
    assert a0[0] * scale * a0[1] * scale == pytest.approx(LIMITS.max_render_pixels)


@given(page_sides, page_sides, st.floats(min_value=1, max_value=2400))
def test_a_render_never_exceeds_the_pixel_bound_nor_the_asked_resolution(
    width: float, height: float, dpi: float
) -> None:
    scale = LIMITS.render_scale(width, height, dpi=dpi)
    assert 0 < scale <= dpi / 72
    assert width * scale * height * scale <= LIMITS.max_render_pixels * (1 + 1e-9)


@given(page_sides, page_sides, st.integers(min_value=1, max_value=4096))
def test_a_fitted_render_fits_its_side(width: float, height: float, side: int) -> None:
    scale = LIMITS.fit_scale(width, height, side)
    assert max(width, height) * scale <= side * (1 + 1e-9)
    assert width * scale * height * scale <= LIMITS.max_render_pixels * (1 + 1e-9)
    assert math.isfinite(scale) and scale > 0


def test_a_page_without_a_size_has_no_scale() -> None:
    with pytest.raises(ValueError):
        LIMITS.render_scale(0, 842, dpi=300)
