"""API keys: `scopix_<8 alphanumerics>_<secret>`, public prefix, hashed secret, bearer parsing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scopix.server.domain.errors import InvalidApiKey, ValidationFailed
from scopix.server.domain.keys import (
    DEFAULT_SCOPES,
    PREFIX_LENGTH,
    SCOPES,
    KeyState,
    generate_key,
    hash_secret,
    key_state,
    parse_expiry,
    parse_key,
    parse_prefix,
    validate_scopes,
)

GOOD_SECRET = "s" * 43
GOOD_KEY = f"scopix_AbCd1234_{GOOD_SECRET}"


def test_generated_key_shape() -> None:
    key = generate_key()
    assert re.fullmatch(r"scopix_[A-Za-z0-9]{8}_[A-Za-z0-9_-]+", key.plaintext)
    assert PREFIX_LENGTH == 15
    assert len(key.prefix) == 15
    assert key.prefix == key.plaintext[:15]
    assert re.fullmatch(r"scopix_[A-Za-z0-9]{8}", key.prefix)


def test_generated_key_parses_back() -> None:
    for _ in range(50):
        key = generate_key()
        presented = parse_key(key.plaintext)
        assert presented.prefix == key.prefix
        assert key.plaintext == f"{presented.prefix}_{presented.secret}"
        assert presented.matches(key.secret_hash)


def test_stored_hash_is_not_the_secret() -> None:
    key = generate_key()
    secret = parse_key(key.plaintext).secret
    assert key.secret_hash != secret
    assert secret not in key.secret_hash
    assert key.secret_hash not in key.plaintext
    assert re.fullmatch(r"[0-9a-f]{64}", key.secret_hash)
    assert key.secret_hash == hash_secret(secret)


def test_generated_keys_differ() -> None:
    keys = [generate_key() for _ in range(100)]
    assert len({k.plaintext for k in keys}) == 100
    assert len({k.secret_hash for k in keys}) == 100


def test_matches_only_the_right_secret() -> None:
    key = generate_key()
    other = generate_key()
    assert parse_key(key.plaintext).matches(key.secret_hash)
    assert not parse_key(other.plaintext).matches(key.secret_hash)
    presented = parse_key(key.plaintext)
    tampered = presented.secret[:-1] + ("A" if presented.secret[-1] != "A" else "B")
    assert not parse_key(f"{presented.prefix}_{tampered}").matches(key.secret_hash)
    assert not presented.matches(presented.secret)
    assert not presented.matches("")


@given(st.from_regex(r"[A-Za-z0-9_-]{32,128}", fullmatch=True), st.data())
@settings(max_examples=50)
def test_matches_property(secret: str, data: st.DataObject) -> None:
    other = data.draw(st.from_regex(r"[A-Za-z0-9_-]{32,128}", fullmatch=True))
    presented = parse_key(f"scopix_ABCDEFGH_{secret}")
    assert presented.secret == secret
    assert presented.matches(hash_secret(secret))
    assert presented.matches(hash_secret(other)) is (other == secret)


def test_parse_key_accepts_documented_shape() -> None:
    presented = parse_key(GOOD_KEY)
    assert presented.prefix == "scopix_AbCd1234"
    assert presented.secret == GOOD_SECRET
    assert parse_key("scopix_ABCDEFGH_" + "a_b-" * 8).secret == "a_b-" * 8


def test_secret_length_bounds() -> None:
    assert parse_key("scopix_ABCDEFGH_" + "x" * 32).secret == "x" * 32
    assert parse_key("scopix_ABCDEFGH_" + "x" * 128).secret == "x" * 128
    for n in (31, 129):
        with pytest.raises(InvalidApiKey):
            parse_key("scopix_ABCDEFGH_" + "x" * n)


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "scopix_",
        "scopix_AbCd1234",
        "scopix_AbCd1234_",
        f"scopix_AbCd123_{GOOD_SECRET}",
        f"scopix_AbCd12345_{GOOD_SECRET}",
        f"scopix_AbCd-234_{GOOD_SECRET}",
        f"Scopix_AbCd1234_{GOOD_SECRET}",
        f"sk_AbCd1234_{GOOD_SECRET}",
        f" {GOOD_KEY}",
        f"{GOOD_KEY}\n",
        f"{GOOD_KEY} ",
        f"scopix_AbCd1234_{GOOD_SECRET}!",
        f"scopix_AbCd1234_{GOOD_SECRET[:-1]}é",
        f"scopix_ÄbCd1234_{GOOD_SECRET}",
        f"scopix_AbCd1234_{'٣' * 40}",
    ],
)
def test_parse_key_refuses_malformed(raw: str | None) -> None:
    with pytest.raises(InvalidApiKey) as info:
        parse_key(raw)
    assert info.value.code == "INVALID_API_KEY"


@given(st.one_of(st.none(), st.text(max_size=200)))
@settings(max_examples=300)
def test_parse_key_property(raw: str | None) -> None:
    try:
        presented = parse_key(raw)
    except InvalidApiKey:
        return
    assert raw is not None
    assert raw == f"{presented.prefix}_{presented.secret}"
    assert len(presented.prefix) == PREFIX_LENGTH


# --- scopes ------------------------------------------------------------------------------------


def test_scope_names() -> None:
    assert {"read", "write", "admin"} == SCOPES
    assert validate_scopes(list(DEFAULT_SCOPES)) == ("read", "write")


def test_scopes_deduplicated_and_sorted() -> None:
    assert validate_scopes(["write", "read", "write"]) == ("read", "write")
    assert validate_scopes(("admin",)) == ("admin",)
    assert validate_scopes(["write", "admin", "read"]) == ("admin", "read", "write")


@pytest.mark.parametrize("scopes", [[], (), ["delete"], ["read", "Write"], ["read", ""]])
def test_bad_scopes_refused(scopes: list[str]) -> None:
    with pytest.raises(ValidationFailed) as info:
        validate_scopes(scopes)
    assert info.value.details["field"] == "scopes"


@given(st.lists(st.one_of(st.sampled_from(sorted(SCOPES)), st.text(max_size=8)), max_size=6))
@settings(max_examples=200)
def test_scopes_property(scopes: list[str]) -> None:
    try:
        result = validate_scopes(scopes)
    except ValidationFailed as exc:
        assert exc.details["field"] == "scopes"
        assert not scopes or not set(scopes) <= SCOPES
        return
    assert result == tuple(sorted(set(scopes)))
    assert set(result) <= SCOPES and result


# --- prefixes, state, expiry -----------------------------------------------------------------

NOW = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)


def test_a_generated_prefix_is_a_valid_prefix() -> None:
    prefix = generate_key().prefix
    assert parse_prefix(prefix) == prefix


@pytest.mark.parametrize(
    "raw", ["", "scopix_", "scopix_AbCd123", "scopix_AbCd12345", "Scopix_AbCd1234", GOOD_KEY]
)
def test_a_malformed_prefix_is_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_prefix(raw)
    assert info.value.details["field"] == "prefix"


def test_key_state() -> None:
    later = NOW + timedelta(seconds=1)
    assert key_state(None, None, NOW) is KeyState.ACTIVE
    assert key_state(None, later, NOW) is KeyState.ACTIVE
    assert key_state(None, NOW, NOW) is KeyState.EXPIRED  # the expiry is the first refused instant
    assert key_state(None, NOW - timedelta(days=1), NOW) is KeyState.EXPIRED
    assert key_state(NOW, None, NOW) is KeyState.REVOKED
    assert key_state(NOW - timedelta(days=9), NOW - timedelta(days=1), NOW) is KeyState.REVOKED


@given(
    st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
    st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
    st.datetimes(timezones=st.just(UTC)),
)
def test_key_state_property(
    revoked_at: datetime | None, expires_at: datetime | None, now: datetime
) -> None:
    state = key_state(revoked_at, expires_at, now)
    usable = revoked_at is None and (expires_at is None or now < expires_at)
    assert (state is KeyState.ACTIVE) is usable
    assert (state is KeyState.REVOKED) is (revoked_at is not None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("30d", NOW + timedelta(days=30)),
        ("1d", NOW + timedelta(days=1)),
        ("12h", NOW + timedelta(hours=12)),
        (" 7d ", NOW + timedelta(days=7)),
        ("2027-01-31", datetime(2027, 1, 31, tzinfo=UTC)),
        ("2027-01-31T12:00:00Z", datetime(2027, 1, 31, 12, tzinfo=UTC)),
        ("2027-01-31T12:00:00", datetime(2027, 1, 31, 12, tzinfo=UTC)),
        ("2027-01-31T12:00:00+02:00", datetime(2027, 1, 31, 10, tzinfo=UTC)),
    ],
)
def test_parse_expiry(raw: str, expected: datetime) -> None:
    assert parse_expiry(raw, NOW) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "0d",
        "-1d",
        "30",
        "30m",
        "1.5d",
        "d",
        "30 d",
        "100000d",
        "2026-12-04",
        "2020-01-31",
        "2026-12-04T15:30:00Z",
        "2027-02-30",
        "tomorrow",
        "٣d",
    ],
)
def test_parse_expiry_refuses(raw: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_expiry(raw, NOW)
    assert info.value.details["field"] == "expires"


@given(st.integers(1, 99_999), st.sampled_from(["d", "h"]))
def test_parse_expiry_lifetimes(count: int, unit: str) -> None:
    step = timedelta(days=1) if unit == "d" else timedelta(hours=1)
    assert parse_expiry(f"{count}{unit}", NOW) == NOW + count * step


@given(st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.timezones()))
def test_parse_expiry_of_an_iso_time(moment: datetime) -> None:
    try:
        expires = parse_expiry(moment.isoformat(), NOW)
    except ValidationFailed:
        assert moment <= NOW or moment.year == 9999  # past, or beyond datetime in UTC
        return
    assert expires == moment.astimezone(UTC) and expires.tzinfo is UTC and expires > NOW


@given(st.text(max_size=40))
@settings(max_examples=500)
def test_parse_expiry_property(raw: str) -> None:
    try:
        expires = parse_expiry(raw, NOW)
    except ValidationFailed as exc:
        assert exc.details["field"] == "expires"
        return
    assert expires.tzinfo is not None and expires.utcoffset() == timedelta(0)
    assert expires > NOW
