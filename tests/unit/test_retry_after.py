"""The one Retry-After parser the SDK and the server share: any header reads as None or a sane
number of seconds, never as an exception."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix._retry_after import MAX_RETRY_AFTER_S, parse_retry_after, retry_after_of
from scopix.client import _direct, _transport
from scopix.server.vision.remote import openai_compat

NOW = datetime(2015, 10, 21, 7, 0, 0, tzinfo=UTC)


@given(st.one_of(st.none(), st.text()))
def test_any_value_is_none_or_a_sane_delay(value: str | None) -> None:
    seconds = parse_retry_after(value, now=NOW)
    assert seconds is None or 0 <= seconds <= MAX_RETRY_AFTER_S


@given(st.dictionaries(st.sampled_from(["Retry-After", "retry-after-ms", "x"]), st.text()))
def test_any_headers_are_none_or_a_sane_delay(headers: dict[str, str]) -> None:
    seconds = retry_after_of(headers)
    assert seconds is None or 0 <= seconds <= MAX_RETRY_AFTER_S


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("86400", 86400.0),
        # The form the SDK once turned into a TypeError: "-0000" parses as a naive datetime.
        ("Wed, 21 Oct 2015 07:28:00 -0000", 28 * 60.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 28 * 60.0),
        ("Wed, 21 Oct 2015 08:28:00 +0100", 28 * 60.0),
        ("Wed, 21 Oct 2015 06:00:00 GMT", 0.0),  # already past: retry now
        ("Wednesday, 21-Oct-15 07:00:30 GMT", 30.0),  # RFC 850, which RFC 9110 still allows
    ],
)
def test_seconds_and_http_dates(value: str, seconds: float) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


@pytest.mark.parametrize(
    "value",
    [None, "", "   ", "-5", "nan", "inf", "-inf", "1e9", "86401", "soon", "Mon, 99 Foo", "-"],
)
def test_nonsense_is_no_advice(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW) is None


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"Retry-After-Ms": "250", "Retry-After": "9"}, 0.25),  # the finer one wins
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),  # a bad -ms falls back
        ({"retry-after-ms": "-1", "retry-after": "9"}, 9.0),
        ({"retry-after-ms": str(MAX_RETRY_AFTER_S * 1000 + 1)}, None),
        ({}, None),
    ],
)
def test_headers_prefer_milliseconds(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_of(headers) == seconds


def test_httpx_headers_are_read_case_insensitively() -> None:
    assert retry_after_of(httpx.Headers({"RETRY-AFTER": "3"})) == 3.0


def test_sdk_and_server_share_the_one_parser() -> None:
    assert _transport.retry_after_of is retry_after_of
    assert _direct.retry_after_of is retry_after_of
    assert openai_compat.retry_after_of is retry_after_of


@given(st.integers(min_value=-3600, max_value=24 * 3600))
def test_http_dates_round_trip(offset: int) -> None:
    header = format_datetime(NOW + timedelta(seconds=offset), usegmt=True)
    assert parse_retry_after(header, now=NOW) == max(0, offset)
