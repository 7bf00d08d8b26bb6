"""Documents (PDF, DOCX, TXT, MD): checked at upload, page-1 thumbnails, text extraction with
OCR of scanned pages, a first page and the text for the analyzers, and page renders.

Every decode runs in the isolated pool (`media.documents.isolated`); OCR runs here, in the
worker, on pixels the child rendered, under the inference limiter the analyzers share.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Final, TypeVar

import anyio
import anyio.to_thread

from scopix.server.domain.errors import (
    CorruptFile,
    DocumentTooLarge,
    NotFound,
    ResourceLimit,
)
from scopix.server.domain.failures import Failure
from scopix.server.domain.limits import DocumentLimits
from scopix.server.domain.media import MediaKind, MediaType
from scopix.server.domain.regions import join_text
from scopix.server.imaging.variants import RenderedImage
from scopix.server.isolation import DecodeResourceLimit, IsolatedPool, IsolationLimits
from scopix.server.jobs.records import EXTRACT
from scopix.server.media.base import (
    DescribeInputs,
    Extracted,
    ExtractedPage,
    Extraction,
    MediaFailed,
    Probe,
)
from scopix.server.media.documents.isolated import (
    document_text,
    page_image,
    page_pixels,
    page_variants,
    page_webp,
    probe_document,
)
from scopix.server.vision.base import AnalyzerError, DecodedImage
from scopix.server.vision.ondevice.ocr_router import OcrRouter
from scopix.types.describe import DescriptionErrorType

__all__ = ["DocumentHandler"]

T = TypeVar("T")
log = logging.getLogger("scopix.media.document")

#: A title made of a document's first line is cut to this many characters.
_TITLE_MAX_CHARS: Final = 120


class DocumentHandler:
    """PDF, DOCX, TXT and MD files: their text is extracted by the extract job."""

    kind: MediaKind = "document"
    #: Page 1's thumbnails: a PDF's first page, or the start of a DOCX's, TXT's or MD's text
    #: set on a page.
    has_previews = True
    describable = True
    extract_job: str | None = EXTRACT
    shows_original = False

    def __init__(
        self,
        pool: IsolatedPool,
        isolation: IsolationLimits,
        limits: DocumentLimits,
        reader: OcrRouter | None,
        inference: anyio.CapacityLimiter,
    ) -> None:
        """`reader` reads scanned pages (None: they keep their empty text layer); `inference`
        is the limiter every model run of this process shares."""
        self.pool = pool
        self.isolation = isolation
        self.limits = limits
        self.reader = reader
        self.inference = inference

    def probes(self, size_bytes: int) -> bool:
        """Documents whose text will be extracted are checked at upload; larger ones are
        stored as they are (their extraction fails at once)."""
        return size_bytes <= self.limits.max_extract_bytes

    async def probe(self, path: Path, media: MediaType, sizes: Mapping[str, int] | None) -> Probe:
        """The header checks (a PDF's pre-scan and page count, a DOCX's zip directory and
        members) and page 1's previews, in one isolated call. An encrypted PDF passes: it is
        kept, and its extraction says why it cannot be read."""
        try:
            probed = await self._run(probe_document, path, media.extension, sizes, stage="upload")
        except DecodeResourceLimit as exc:
            raise ResourceLimit(f"the document could not be decoded within limits: {exc}") from None
        return Probe(probed.rendered, {"page_count": probed.page_count})

    async def previews(
        self, path: Path, media: MediaType, sizes: Mapping[str, int]
    ) -> RenderedImage:
        return await self._in_job(page_variants, path, media.extension, sizes, stage="variants")

    async def describe_inputs(
        self, path: Path, media: MediaType, max_side: int, extracted: Extraction | None
    ) -> DescribeInputs:
        """Page 1 as the image; with the extraction, the whole text in reading order, the
        title, the page count and every page's regions."""
        image = await self._in_job(page_image, path, media.extension, 1, max_side, stage="analysis")
        facts = {"document_type": media.extension}
        if not isinstance(extracted, Extracted):
            return DescribeInputs(image, facts=facts)
        text = "\n\n".join(page.text.strip() for page in extracted.pages if page.text.strip())
        return DescribeInputs(
            image,
            text=text or None,
            title=extracted.title,
            page_count=len(extracted.pages),
            regions=tuple(region for page in extracted.pages for region in page.regions),
            facts=facts,
        )

    async def extract(self, path: Path, media: MediaType, size_bytes: int) -> Extracted:
        """The text layer of every page in one isolated call, then each scanned page rendered
        at the OCR resolution (one call each, so that one page's pixels are held at a time) and
        read by OCR."""
        if size_bytes > self.limits.max_extract_bytes:
            raise MediaFailed(
                Failure(
                    DescriptionErrorType.RESOURCE_LIMIT,
                    f"the document is larger than {self.limits.max_extract_bytes:,} bytes: "
                    "it is stored, its text was not extracted",
                )
            )
        read = await self._in_job(document_text, path, media.extension, stage="extract")
        pages = read.extracted_pages()
        if self.reader is not None:
            for number in read.scanned:
                pages[number - 1] = await self._read_scan(path, pages[number - 1], self.reader)
        return Extracted(media.extension, read.title or _first_line(pages), tuple(pages))

    async def render_page(self, path: Path, media: MediaType, number: int, max_side: int) -> bytes:
        """Page `number` as WebP; NotFound past the last page."""
        return await self._in_job(page_webp, path, media.extension, number, max_side, stage="page")

    async def _read_scan(
        self, path: Path, layer: ExtractedPage, reader: OcrRouter
    ) -> ExtractedPage:
        """A scanned page read by OCR; its text layer stays when OCR cannot read it."""
        pixels = await self._in_job(
            page_pixels, path, "pdf", layer.number, self.limits.ocr_dpi, stage="ocr"
        )
        try:
            regions = await anyio.to_thread.run_sync(
                reader.read, DecodedImage(pixels, jpeg=b""), limiter=self.inference
            )
        except AnalyzerError as exc:
            log.warning("OCR of page %d failed: %s", layer.number, exc)
            return layer
        paged = tuple(replace(region, page=layer.number) for region in regions)
        height, width = pixels.shape[:2]
        return ExtractedPage(layer.number, join_text(paged), paged, width, height, "ocr")

    async def _run(
        self, fn: Callable[..., T], path: Path, document_type: str, *args: object, stage: str
    ) -> T:
        """`fn(path, document_type, limits, *args)` in the isolated pool."""
        return await self.pool.run(
            fn, path, document_type, self.limits, *args, limits=self.isolation, stage=stage
        )

    async def _in_job(
        self, fn: Callable[..., T], path: Path, document_type: str, *args: object, stage: str
    ) -> T:
        """An isolated decode whose refusals are a job's classified failure: bytes that are not
        what they claim (or are encrypted) are `validation`; a document over the limits, a bomb
        or a decoder that crashed or overran twice `resource_limit` (the same bytes cost the
        same next time). A page the document does not have is NotFound."""
        try:
            return await self._run(fn, path, document_type, *args, stage=stage)
        except CorruptFile as exc:
            raise MediaFailed(Failure(DescriptionErrorType.VALIDATION_ERROR, exc.message)) from None
        except (DocumentTooLarge, ResourceLimit) as exc:
            raise MediaFailed(Failure(DescriptionErrorType.RESOURCE_LIMIT, exc.message)) from None
        except DecodeResourceLimit as exc:
            raise MediaFailed(
                Failure(
                    DescriptionErrorType.RESOURCE_LIMIT,
                    f"the document could not be decoded within limits: {exc}",
                )
            ) from None
        except IndexError as exc:
            raise NotFound(str(exc)) from None


def _first_line(pages: list[ExtractedPage]) -> str | None:
    """A title for a document that names none: its first line of text."""
    for page in pages:
        for line in page.text.splitlines():
            if line.strip():
                return line.strip()[:_TITLE_MAX_CHARS]
    return None
