"""A signing secret has 32 bytes or more: Settings refuse a shorter one, and nothing signs with
one (an empty or truncated key would make every signature forgeable or meaningless)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from scopix.server.domain.signing import MIN_SECRET_BYTES, ViewGrant, sign
from scopix.server.settings import Settings


def test_a_configured_secret_needs_32_bytes() -> None:
    assert Settings(signing_secret=SecretStr("s" * 32)).signing_secret is not None
    for short in ("", "s", "s" * 31):
        with pytest.raises(ValidationError, match="SCOPIX_SIGNING_SECRET must be at least 32"):
            Settings(signing_secret=SecretStr(short))


def test_the_refusal_never_quotes_the_secret() -> None:
    with pytest.raises(ValidationError) as info:
        Settings(signing_secret=SecretStr("hunter2-hunter2"))
    refusals = info.value.errors(include_url=False, include_input=False)
    assert "hunter2" not in repr(refusals)


def test_the_environment_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCOPIX_SIGNING_SECRET", "too short")
    with pytest.raises(ValidationError, match="SCOPIX_SIGNING_SECRET"):
        Settings()


@given(st.text(max_size=40))
def test_length_counts_bytes_not_characters(secret: str) -> None:
    long_enough = len(secret.encode()) >= MIN_SECRET_BYTES
    try:
        Settings(signing_secret=SecretStr(secret))
    except ValidationError:
        assert not long_enough
    else:
        assert long_enough


@pytest.mark.parametrize("secret", [b"", b"k", b"k" * 31])
def test_nothing_signs_with_a_short_secret(secret: bytes) -> None:
    grant = ViewGrant("tenant", "file", "thumbnail", 7200)
    with pytest.raises(ValueError, match="32 bytes"):
        sign(secret, grant)
    assert len(sign(b"k" * 32, grant)) == 64
