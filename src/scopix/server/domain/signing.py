"""Signed, expiring URLs: for the parts of a direct upload on local storage, and for the images,
document pages, videos and scene thumbnails the web page shows (an `<img>` cannot send an API key).

A signature covers everything its grant names and the expiry, so a URL cannot be reused for
another part, another file, another tenant or a later time.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol

from scopix.server.domain.errors import InvalidSignature, UrlExpired

#: Image URLs stay the same for a whole hour, so the browser's cache serves a page seen again.
VIEW_URL_STEP_S = 3600
#: HMAC-SHA256's own block of strength: a shorter key (an empty or truncated one above all) is
#: refused wherever a secret comes from.
MIN_SECRET_BYTES = 32


class Grant(Protocol):
    """What a signed URL allows, until `expires` (unix seconds)."""

    @property
    def expires(self) -> int: ...

    #: what to do once the URL has expired, for the error message
    renewal: str

    def message(self) -> bytes: ...


@dataclass(frozen=True)
class PartGrant:
    """PUT part `number` of `upload_id` until `expires`."""

    upload_id: str
    number: int
    expires: int
    renewal = "GET the upload for fresh part URLs"

    def message(self) -> bytes:
        return f"PUT\n{self.upload_id}\n{self.number}\n{self.expires}".encode()


@dataclass(frozen=True)
class ViewGrant:
    """GET `variant` of `tenant_id`'s file `file_id` until `expires`."""

    tenant_id: str
    file_id: str
    variant: str
    expires: int
    renewal = "reload the page for fresh image URLs"

    def message(self) -> bytes:
        return f"GET\n{self.tenant_id}\n{self.file_id}\n{self.variant}\n{self.expires}".encode()


@dataclass(frozen=True)
class PageGrant:
    """GET page `page` (1-based) of `tenant_id`'s document `file_id`, rendered at most `size`
    pixels on a side, until `expires`. Its message starts apart from a ViewGrant's, so neither
    signature opens the other."""

    tenant_id: str
    file_id: str
    page: int
    size: int
    expires: int
    renewal = "reload the page for fresh image URLs"

    def message(self) -> bytes:
        fields = (self.tenant_id, self.file_id, self.page, self.size, self.expires)
        return "\n".join(["GET PAGE", *map(str, fields)]).encode()


@dataclass(frozen=True)
class SceneGrant:
    """GET the thumbnail of scene `scene` (0-based) of `tenant_id`'s video `file_id` until
    `expires`. Its message starts apart from the other grants', so no other signature opens it."""

    tenant_id: str
    file_id: str
    scene: int
    expires: int
    renewal = "reload the page for fresh image URLs"

    def message(self) -> bytes:
        fields = (self.tenant_id, self.file_id, self.scene, self.expires)
        return "\n".join(["GET SCENE", *map(str, fields)]).encode()


def view_expiry(now: float) -> int:
    """An expiry between one and two steps away, the same for every URL made in one step."""
    return (int(now) // VIEW_URL_STEP_S + 2) * VIEW_URL_STEP_S


def sign(secret: bytes, grant: Grant) -> str:
    """The hex signature of `grant`; a secret under MIN_SECRET_BYTES is a wiring mistake, never
    a key to sign with."""
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"a signing secret needs {MIN_SECRET_BYTES} bytes or more")
    return hmac.new(secret, grant.message(), hashlib.sha256).hexdigest()


def verify(secret: bytes, grant: Grant, signature: str, now: float) -> None:
    """Refuse a tampered or expired URL; tampering is reported first, since a forged expiry
    is not worth telling apart."""
    presented = signature.lower().encode("utf-8", "surrogatepass")  # any text a client sends
    if not hmac.compare_digest(sign(secret, grant).encode(), presented):
        raise InvalidSignature(f"the URL's signature does not match; {grant.renewal}")
    if now > grant.expires:
        raise UrlExpired(f"this URL has expired; {grant.renewal}", expired_at=grant.expires)
