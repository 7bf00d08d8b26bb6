"""Links: a saved web page. Its bytes are a URL list until the crawl job fetches the page, then
an MHTML archive of the page and its preview image (media.links.archive). The archive's page
gives the text and chunks (one plain page, as a TXT document's), its image the thumbnails and
the analyzers' picture; a page without an image shows its title and lead set on a page.

Every read of an archive runs in the isolated pool (`media.links.isolated`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from scopix.server.domain.errors import CorruptFile, DocumentTooLarge, ResourceLimit, WrongMediaType
from scopix.server.domain.failures import Failure, resource_limit_failure
from scopix.server.domain.limits import DocumentLimits
from scopix.server.domain.media import URI_LIST_MIME, MediaKind, MediaType
from scopix.server.domain.urls import url_domain
from scopix.server.imaging.checked import ImageDecoders
from scopix.server.imaging.variants import RenderedImage
from scopix.server.isolation import DecodeResourceLimit
from scopix.server.jobs.records import CRAWL
from scopix.server.media.base import (
    DescribeInputs,
    Extracted,
    ExtractedPage,
    Extraction,
    MediaFailed,
    Probe,
)
from scopix.server.media.links.isolated import archive_inputs, archive_page, archive_variants
from scopix.types.describe import DescriptionErrorType

__all__ = ["LinkHandler"]

T = TypeVar("T")

#: The document type a link's text and description carry.
PAGE_TYPE = "html"


class LinkHandler:
    """Saved web pages: crawled by the crawl job, then read like a one-page document."""

    kind: MediaKind = "link"
    has_previews = True
    describable = True
    #: The crawl job fetches the page; the extract job it queues reads the archive's text.
    extract_job: str | None = CRAWL
    shows_original = False

    def __init__(self, decoders: ImageDecoders, documents: DocumentLimits) -> None:
        """The archive's image is decoded under `decoders`' limits, in their pool; a page
        without one is set on a card under `documents`."""
        self.decoders = decoders
        self.documents = documents

    def probes(self, size_bytes: int) -> bool:
        """Never: links are not uploaded, the link service writes their URL list."""
        return False

    async def probe(self, path: Path, media: MediaType, sizes: Mapping[str, int] | None) -> Probe:
        """Nothing to check: the bytes were written by the link service, not a client."""
        return Probe(None)

    async def previews(
        self, path: Path, media: MediaType, sizes: Mapping[str, int]
    ) -> RenderedImage:
        """The page's image, or its title and lead on a page."""
        _check_fetched(media)
        image = self.decoders.image
        return await self._in_job(
            archive_variants, path, image, self.documents, sizes, stage="variants"
        )

    async def describe_inputs(
        self, path: Path, media: MediaType, max_side: int, extracted: Extraction | None
    ) -> DescribeInputs:
        """The page's picture, its main text (from the extraction, else read now), its title,
        and its site."""
        _check_fetched(media)
        image, url, page = await self._in_job(
            archive_inputs, path, self.decoders.image, self.documents, max_side, stage="analysis"
        )
        text = extracted.pages[0].text if isinstance(extracted, Extracted) else page.text
        return DescribeInputs(
            image,
            text=text.strip() or None,
            title=page.title,
            facts={
                "document_type": PAGE_TYPE,
                "site_name": page.og.site_name,
                "domain": url_domain(url),
            },
        )

    async def extract(self, path: Path, media: MediaType, size_bytes: int) -> Extracted:
        """The page's main text as one plain page, and the page's own columns of the file."""
        _check_fetched(media)
        _, page = await self._in_job(archive_page, path, stage="extract")
        return Extracted(
            document_type=PAGE_TYPE,
            title=page.title,
            pages=(ExtractedPage(1, page.text, (), 0, 0, "plain"),),
            file_fields={
                "page_title": page.title,
                "og_metadata": page.og.as_record(),
                "favicon_url": page.favicon_url,
                "extracted_images": list(page.images),
                "extracted_images_count": len(page.images),
            },
        )

    async def render_page(self, path: Path, media: MediaType, number: int, max_side: int) -> bytes:
        raise WrongMediaType("a link has no pages; its variants are its renderings")

    async def _in_job(self, fn: Callable[..., T], *args: object, stage: str) -> T:
        """`fn(*args)` in the isolated pool, its refusals a job's classified failure: bytes
        that are not a page archive are `validation`; a decode over the limits, or one that
        crashed or overran twice, `resource_limit`."""
        try:
            return await self.decoders.pool.run(fn, *args, limits=self.decoders.limits, stage=stage)
        except CorruptFile as exc:
            raise MediaFailed(Failure(DescriptionErrorType.VALIDATION_ERROR, exc.message)) from None
        except (DocumentTooLarge, ResourceLimit) as exc:
            raise MediaFailed(Failure(DescriptionErrorType.RESOURCE_LIMIT, exc.message)) from None
        except DecodeResourceLimit as exc:
            raise MediaFailed(resource_limit_failure(str(exc))) from None


def _check_fetched(media: MediaType) -> None:
    """A link whose page has not been fetched (its bytes are still its URL) has nothing to read."""
    if media.mime == URI_LIST_MIME:
        raise MediaFailed(
            Failure(DescriptionErrorType.VALIDATION_ERROR, "the page has not been fetched")
        )
