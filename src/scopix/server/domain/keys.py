"""API keys: `scopix_<8 alphanumerics>_<secret>`; only a hash of the secret is ever stored.
A key works until it is revoked or its optional expiry passes."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from scopix.server.domain.errors import InvalidApiKey, ValidationFailed

PREFIX_LENGTH: Final = 15  # "scopix_" + 8
SCOPES: Final = frozenset({"read", "write", "admin"})
DEFAULT_SCOPES: Final = ("read", "write")
_KEY_RE: Final = re.compile(r"scopix_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{32,128})")
_PREFIX_RE: Final = re.compile(r"scopix_[A-Za-z0-9]{8}")
#: `--expires 30d` or `12h`; five digits reach 270 years, far inside what a datetime holds.
_LIFETIME_RE: Final = re.compile(r"([1-9][0-9]{0,4})([dh])")
_LIFETIME_UNITS: Final = {"d": timedelta(days=1), "h": timedelta(hours=1)}
_ALNUM: Final = string.ascii_letters + string.digits


@dataclass(frozen=True)
class NewKey:
    """A freshly made key: `plaintext` is shown once, the rest is stored."""

    plaintext: str
    prefix: str
    secret_hash: str


@dataclass(frozen=True)
class PresentedKey:
    """A key as a client sent it, split into its public prefix and secret."""

    prefix: str
    secret: str

    def matches(self, secret_hash: str) -> bool:
        """Constant-time check of the secret against a stored hash."""
        return hmac.compare_digest(hash_secret(self.secret), secret_hash)


def hash_secret(secret: str) -> str:
    """The stored form of a secret (256 random bits need no slow hash)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_key() -> NewKey:
    """A new random key."""
    public = "".join(secrets.choice(_ALNUM) for _ in range(8))
    secret = secrets.token_urlsafe(32)
    plaintext = f"scopix_{public}_{secret}"
    return NewKey(plaintext, plaintext[:PREFIX_LENGTH], hash_secret(secret))


def parse_key(raw: str | None) -> PresentedKey:
    """Split a presented key, refusing anything not of the documented shape."""
    match = _KEY_RE.fullmatch(raw or "")
    if match is None:
        raise InvalidApiKey("the API key is missing or malformed")
    return PresentedKey(f"scopix_{match.group(1)}", match.group(2))


def validate_scopes(scopes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Known scopes, deduplicated and sorted."""
    unknown = set(scopes) - SCOPES
    if unknown or not scopes:
        raise ValidationFailed("scopes must be read, write and/or admin", field="scopes")
    return tuple(sorted(set(scopes)))


def parse_prefix(raw: str) -> str:
    """A key's public prefix (`scopix_` and 8 alphanumerics), as an operator names a key."""
    if _PREFIX_RE.fullmatch(raw) is None:
        raise ValidationFailed(
            "a key prefix is 'scopix_' and 8 letters or digits, e.g. scopix_AbCd1234",
            field="prefix",
        )
    return raw


class KeyState(StrEnum):
    """Whether a key still opens the API, and if not, why."""

    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


def key_state(revoked_at: datetime | None, expires_at: datetime | None, now: datetime) -> KeyState:
    """A revoked key stays revoked whatever its expiry; an expiry is the first instant at which
    the key no longer works."""
    if revoked_at is not None:
        return KeyState.REVOKED
    if expires_at is not None and now >= expires_at:
        return KeyState.EXPIRED
    return KeyState.ACTIVE


def parse_expiry(raw: str, now: datetime) -> datetime:
    """When a key made at `now` stops working: `30d` and `12h` count from `now`; a date
    (`2027-01-31`) means 00:00 UTC that day; a date and time without an offset is UTC.
    The result is always later than `now`."""
    text = raw.strip()
    lifetime = _LIFETIME_RE.fullmatch(text)
    if lifetime is not None:
        return now + int(lifetime.group(1)) * _LIFETIME_UNITS[lifetime.group(2)]
    expires = _utc_instant(text)
    if expires <= now:
        raise ValidationFailed(f"the expiry {text!r} is not in the future", field="expires")
    return expires


def _utc_instant(text: str) -> datetime:
    """`text` as an ISO 8601 date or date-time, in UTC."""
    try:
        given = datetime.fromisoformat(text)  # a bare date is that day's 00:00
        return (given if given.tzinfo else given.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValidationFailed(
            f"the expiry {text!r} is neither a lifetime like 30d or 12h nor a date like "
            "2027-01-31 (or 2027-01-31T12:00:00Z)",
            field="expires",
        ) from None
