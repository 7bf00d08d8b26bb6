"""Signed, expiring URLs for the parts of a direct upload on local storage.

The signature covers the method, the upload, the part number and the expiry, so a URL cannot be
reused for another part, another upload or a later time.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from scopix.server.domain.errors import InvalidSignature, UrlExpired


@dataclass(frozen=True)
class PartGrant:
    """What a signed part URL allows: PUT part `number` of `upload_id` until `expires` (unix s)."""

    upload_id: str
    number: int
    expires: int

    def message(self) -> bytes:
        return f"PUT\n{self.upload_id}\n{self.number}\n{self.expires}".encode()


def sign(secret: bytes, grant: PartGrant) -> str:
    """The hex signature of `grant`."""
    return hmac.new(secret, grant.message(), hashlib.sha256).hexdigest()


def verify(secret: bytes, grant: PartGrant, signature: str, now: float) -> None:
    """Refuse a tampered or expired URL; tampering is reported first, since a forged expiry
    is not worth telling apart."""
    presented = signature.lower().encode("utf-8", "surrogatepass")  # any text a client sends
    if not hmac.compare_digest(sign(secret, grant).encode(), presented):
        raise InvalidSignature("the URL's signature does not match; ask for fresh part URLs")
    if now > grant.expires:
        raise UrlExpired(
            "this part URL has expired; GET the upload for fresh part URLs",
            expired_at=grant.expires,
        )
