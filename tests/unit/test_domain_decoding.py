"""Decode cost rules: memory estimates, reservations, the interlaced cap, why a decoder stopped,
and client messages without server paths."""

from __future__ import annotations

import signal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.decoding import (
    DECODE_MEMORY_FLOOR,
    decode_memory_estimate,
    out_of_memory_reason,
    reservation,
    stop_reason,
)
from scopix.server.domain.errors import ImageTooLarge
from scopix.server.domain.failures import resource_limit_failure
from scopix.server.domain.limits import ImageLimits
from scopix.server.imaging.probe import without_paths
from scopix.types.describe import DescriptionErrorType

MiB = 1024 * 1024
LIMITS = ImageLimits(max_pixels=100_000_000, max_side=16_384, max_interlaced_pixels=50_000_000)


def test_the_estimate_is_the_whole_frame_at_its_depth() -> None:
    # The bomb: an interlaced 100 MP PNG, 16-bit RGBA, decodes to about 0.8 GB.
    assert decode_memory_estimate(10_000, 10_000, 4, 2) == 800_000_000
    assert decode_memory_estimate(4000, 3000, 3, 1) == 36_000_000


def test_a_small_image_reserves_the_floor() -> None:
    assert decode_memory_estimate(64, 64, 3, 1) == DECODE_MEMORY_FLOOR
    assert decode_memory_estimate(0, 0, 0, 0) == DECODE_MEMORY_FLOOR


@given(
    st.integers(0, 70_000),
    st.integers(0, 70_000),
    st.integers(1, 5),
    st.sampled_from([1, 2, 4, 8]),
)
def test_the_estimate_never_undercounts_a_frame(w: int, h: int, bands: int, size: int) -> None:
    estimate = decode_memory_estimate(w, h, bands, size)
    assert estimate >= w * h * bands * size
    assert estimate >= DECODE_MEMORY_FLOOR


@given(st.integers(0, 1 << 40), st.integers(1, 1 << 36))
def test_a_reservation_never_exceeds_the_budget(estimate: int, budget: int) -> None:
    taken = reservation(estimate, budget)
    assert taken == min(estimate, budget)


def test_interlaced_images_have_a_lower_pixel_cap() -> None:
    LIMITS.check(8000, 7000, interlaced=False)  # 56 MP streams: fine
    with pytest.raises(ImageTooLarge, match="interlaced or progressive") as refused:
        LIMITS.check(8000, 7000, interlaced=True)
    assert refused.value.details["max_pixels"] == 50_000_000
    LIMITS.check(7000, 7000, interlaced=True)  # 49 MP


def test_the_general_limits_still_hold_for_interlaced_images() -> None:
    with pytest.raises(ImageTooLarge, match="on a side"):
        LIMITS.check(20_000, 10, interlaced=True)


@given(st.integers(1, 20_000), st.integers(1, 20_000), st.booleans())
def test_the_limits_refuse_exactly_what_exceeds_them(w: int, h: int, interlaced: bool) -> None:
    cap = LIMITS.max_interlaced_pixels if interlaced else LIMITS.max_pixels
    fits = w * h <= cap and max(w, h) <= LIMITS.max_side
    try:
        LIMITS.check(w, h, interlaced=interlaced)
    except ImageTooLarge:
        assert not fits
    else:
        assert fits


@pytest.mark.parametrize(
    ("exitcode", "overran", "expected"),
    [
        (None, True, "decoding took longer than 2.5 s"),
        (-signal.SIGSEGV, False, "the decoder crashed (SIGSEGV)"),
        (-signal.SIGKILL, False, "the decoder crashed (SIGKILL)"),
        (-signal.SIGXCPU, False, "decoding used more CPU time than allowed"),
        (-signal.SIGXFSZ, False, "decoding wrote more scratch data than allowed"),
        (1, False, "the decoder exited unexpectedly"),
        (None, False, "the decoder exited unexpectedly"),
    ],
)
def test_why_a_decoder_stopped(exitcode: int | None, overran: bool, expected: str) -> None:
    assert stop_reason(exitcode, wall_seconds=2.5, overran=overran) == expected


def test_out_of_memory_names_the_limit_in_mib() -> None:
    assert out_of_memory_reason(768 * MiB) == "decoding needed more than 768 MiB of memory"


def test_a_resource_limit_failure_is_permanent() -> None:
    failure = resource_limit_failure("the decoder crashed (SIGSEGV)")
    assert failure.error_type is DescriptionErrorType.RESOURCE_LIMIT
    assert not failure.retryable
    assert failure.message.endswith("the decoder crashed (SIGSEGV)")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            'VipsForeignLoad: "/srv/scopix data/blobs/.staging/0b1c.part" is not a known file '
            "format",
            "VipsForeignLoad: the file is not a known file format",
        ),
        ("jpegload: /tmp/tmpab12/original: premature end", "jpegload: the file: premature end"),
        ("tiff2vips: 'C:\\data\\x.tif' bad", "tiff2vips: the file bad"),
        ("out of order read at line 12 of 1/2", "out of order read at line 12 of 1/2"),
        ("gifload: no frames in GIF", "gifload: no frames in GIF"),
    ],
)
def test_decoder_messages_lose_their_paths(message: str, expected: str) -> None:
    assert without_paths(message) == expected


path_part = st.text(st.characters(categories=("L", "N"), include_characters="._-"), min_size=1)


@given(st.lists(path_part, min_size=1, max_size=5), st.booleans())
def test_no_absolute_path_survives(parts: list[str], quoted: bool) -> None:
    path = "/" + "/".join(parts)
    shown = f'"{path}"' if quoted else path
    scrubbed = without_paths(f"pngload: {shown} is not a known file format")
    assert path not in scrubbed
    assert scrubbed.startswith("pngload: the file")
