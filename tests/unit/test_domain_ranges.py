"""HTTP byte ranges: which bytes a `Range` header asks for, what is ignored, what is past the
end (RFC 9110 section 14)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.ranges import ByteRange, RangeNotSatisfiable, requested_range

SIZES = st.integers(min_value=1, max_value=10**12)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=0-", (0, 999)),  # the whole file, still as a range (Safari wants 206)
        ("bytes=-10", (990, 999)),
        ("bytes=-5000", (0, 999)),  # a suffix longer than the file is all of it
        ("bytes=990-5000", (990, 999)),  # a last byte past the end is cut to the end
        ("BYTES = 5 - 9 ", (5, 9)),
        ("bytes=999-999", (999, 999)),
    ],
)
def test_a_single_range_names_its_bytes(header: str, expected: tuple[int, int]) -> None:
    assert requested_range(header, 1000) == ByteRange(*expected, 1000)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes",
        "bytes=",
        "bytes=-",
        "items=0-5",
        "bytes=0-5,10-20",  # several ranges: the whole file instead
        "bytes=9-5",  # last before first: an invalid header, ignored
        "bytes=a-b",
        "bytes=0-1-2",
        f"bytes=0-{'9' * 5000}",  # no huge number is parsed
    ],
)
def test_headers_that_are_not_one_valid_range_ask_for_the_whole_file(header: str | None) -> None:
    assert requested_range(header, 1000) is None


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=1000-", 1000), ("bytes=-0", 1000), ("bytes=0-", 0), ("bytes=-5", 0)],
)
def test_a_range_past_the_end_cannot_be_satisfied(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as refused:
        requested_range(header, size)
    assert refused.value.size == size


@given(size=SIZES, first=st.integers(min_value=0, max_value=10**13), data=st.data())
def test_a_range_is_inside_the_file_and_starts_where_asked(
    size: int, first: int, data: st.DataObject
) -> None:
    last = data.draw(st.none() | st.integers(min_value=first, max_value=first + 10**13))
    header = f"bytes={first}-{'' if last is None else last}"
    if first >= size:
        with pytest.raises(RangeNotSatisfiable):
            requested_range(header, size)
        return
    chosen = requested_range(header, size)
    assert chosen is not None
    assert chosen.start == first and 0 <= chosen.start <= chosen.end < size
    assert chosen.end == min(size - 1, size - 1 if last is None else last)
    assert chosen.length == chosen.end - chosen.start + 1
    assert chosen.content_range == f"bytes {chosen.start}-{chosen.end}/{size}"


@given(size=SIZES, suffix=st.integers(min_value=1, max_value=10**13))
def test_a_suffix_is_the_last_bytes_of_the_file(size: int, suffix: int) -> None:
    chosen = requested_range(f"bytes=-{suffix}", size)
    assert chosen is not None
    assert (chosen.end, chosen.length) == (size - 1, min(suffix, size))
