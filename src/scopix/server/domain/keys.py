"""API keys: `scopix_<8 alphanumerics>_<secret>`; only a hash of the secret is ever stored."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from typing import Final

from scopix.server.domain.errors import InvalidApiKey, ValidationFailed

PREFIX_LENGTH: Final = 15  # "scopix_" + 8
SCOPES: Final = frozenset({"read", "write", "admin"})
DEFAULT_SCOPES: Final = ("read", "write")
_KEY_RE: Final = re.compile(r"scopix_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{32,128})")
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
