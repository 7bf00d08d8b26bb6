"""Signed links to the images of a tenant's files, the pages of its documents and the scenes of its
videos, for web pages whose `<img>` cannot send a key."""

from __future__ import annotations

import time
from dataclasses import dataclass

from scopix.server.domain import signing
from scopix.server.services.files import BlobLocation, FileService


@dataclass(frozen=True)
class ImageLink:
    """The query of a signed image URL."""

    expires: int
    signature: str


class ImageLinks:
    """Signs image links for a tenant and opens the ones presented back."""

    def __init__(self, files: FileService, secret: bytes) -> None:
        self.files = files
        self.secret = secret

    def sign(self, tenant_id: str, file_id: str, variant: str) -> ImageLink:
        expires = signing.view_expiry(time.time())
        grant = signing.ViewGrant(tenant_id, file_id, variant, expires)
        return ImageLink(expires, signing.sign(self.secret, grant))

    def sign_page(self, tenant_id: str, file_id: str, page: int, size: int) -> ImageLink:
        expires = signing.view_expiry(time.time())
        grant = signing.PageGrant(tenant_id, file_id, page, size, expires)
        return ImageLink(expires, signing.sign(self.secret, grant))

    def check_page(self, grant: signing.PageGrant, signature: str) -> None:
        """Refuse a page link that is not genuine or no longer current; what it names is
        then looked up as the tenant's, so a deleted document's pages are gone at once."""
        signing.verify(self.secret, grant, signature, time.time())

    def sign_scene(self, tenant_id: str, file_id: str, scene: int) -> ImageLink:
        expires = signing.view_expiry(time.time())
        grant = signing.SceneGrant(tenant_id, file_id, scene, expires)
        return ImageLink(expires, signing.sign(self.secret, grant))

    def check_scene(self, grant: signing.SceneGrant, signature: str) -> None:
        """Refuse a scene thumbnail link that is not genuine or no longer current; the scene is
        then looked up as the tenant's, as a page is."""
        signing.verify(self.secret, grant, signature, time.time())

    async def open(self, grant: signing.ViewGrant, signature: str) -> BlobLocation:
        """Where the linked image is, once the link is proven genuine and current; a deleted
        file's links stop working at once (404)."""
        signing.verify(self.secret, grant, signature, time.time())
        return await self.files.locate(grant.tenant_id, grant.file_id, grant.variant)
