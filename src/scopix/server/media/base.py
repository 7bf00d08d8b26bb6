"""The media seam: what one kind of media does, behind one Protocol (ARCHITECTURE.md).

Ingest, direct uploads, the variants, describe and extract jobs, the presenters and the web views
ask the file's handler (`handler_for(kind)`) and never branch on the kind themselves. Every
method that reads stored bytes runs its decode through the isolation seam (`server.isolation`).

Failures: at upload a handler raises the domain's client errors (CorruptFile, ResourceLimit,
ImageTooLarge, DocumentRefused, ...), which the API turns into a precise 4xx. In a job it raises
`MediaFailed` carrying a classified `Failure`, which the job turns into its failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from scopix.server.domain.failures import Failure
from scopix.server.domain.media import MediaKind, MediaType
from scopix.server.domain.regions import TextRegion
from scopix.server.domain.videos import SceneSpan, VideoMetadata
from scopix.server.imaging.variants import RenderedImage
from scopix.server.vision.base import DecodedImage

#: How a page's text was read.
TextMethod = Literal["text_layer", "ocr", "plain"]


class MediaFailed(Exception):
    """A classified failure of one media operation inside a job (decode, extract, render)."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass(frozen=True)
class Probe:
    """The facts read at upload, cheap and bounded, and the preview variants when asked for.
    `file_fields` are the kind's own columns of the file, set when it is recorded (a
    document's `page_count`, a video's `video_metadata`)."""

    rendered: RenderedImage | None
    file_fields: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class ExtractedPage:
    """One page's text, read from its text layer, by OCR, or as plain text (1-based `number`).
    `width` and `height` are the page's size in pixels at the scale its regions were found at
    (their ratio is what a viewer needs); each region's `page` is `number`."""

    number: int
    text: str
    regions: tuple[TextRegion, ...]
    width: int
    height: int
    method: TextMethod


@dataclass(frozen=True)
class Extracted:
    """A document's text, page by page (one page for TXT, MD, DOCX and a link's page).
    `file_fields` are the kind's own columns read with the text, set on the file when the
    extraction is recorded (a link's `page_title`, `og_metadata`, `favicon_url`, ...)."""

    document_type: str
    title: str | None
    pages: tuple[ExtractedPage, ...]
    file_fields: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Scene:
    """One scene of a video as the scenes job finds it: its span and its keyframe as a WebP
    thumbnail (None when read back from the catalog, which keeps the thumbnail in storage)."""

    span: SceneSpan
    thumbnail: bytes | None = None


@dataclass(frozen=True)
class SceneCut:
    """A video's extraction: its metadata, read again from the whole file, and its scenes in
    order (at least one)."""

    metadata: VideoMetadata
    scenes: tuple[Scene, ...]


#: What a kind's own pipeline job reads: a document's text, a video's scenes.
Extraction = Extracted | SceneCut


@dataclass(frozen=True)
class DescribeInputs:
    """What the analyzers see: an image (a photo, a document's first page, a keyframe), and for
    media with text of their own, that text (the VLM reads it beside the image; the on-device
    caption is built from it), its title and page count. `regions` replace what OCR of the
    image would give (a document's text regions come from extraction, every page of them)."""

    image: DecodedImage
    text: str | None = None
    title: str | None = None
    page_count: int | None = None
    regions: tuple[TextRegion, ...] | None = None
    facts: Mapping[str, object] = field(default_factory=dict)
    #: A media made of parts (a video's scenes): each part's inputs, analysed one by one and
    #: summed up in order. `image` is then the whole's representative picture.
    parts: tuple[DescribeInputs, ...] = ()


class MediaHandler(Protocol):
    """One kind of media: images, documents, videos and links."""

    kind: MediaKind
    #: Whether files of this kind have rendered variants (thumbnails) made by the variants job.
    has_previews: bool
    #: Whether files of this kind get an AI description (a describe job) when asked for.
    describable: bool
    #: The kind's own pipeline job (`jobs.records.EXTRACT`), or None when it has none.
    extract_job: str | None
    #: Whether the original bytes show in a page as a picture (the web view falls back to them
    #: while no variant exists); other originals are only downloaded.
    shows_original: bool

    def probes(self, size_bytes: int) -> bool:
        """Whether an upload of `size_bytes` is probed before it is stored: its bytes are then
        staged on local disk for `probe` (a direct upload's copied from storage). Bytes that
        are not probed are stored as they are, straight from where the client put them."""
        ...

    async def probe(self, path: Path, media: MediaType, sizes: Mapping[str, int] | None) -> Probe:
        """At upload: check the header against the limits, read the cheap facts and, unless
        `sizes` is None, render the preview variants. Raises domain client errors."""
        ...

    async def previews(
        self, path: Path, media: MediaType, sizes: Mapping[str, int]
    ) -> RenderedImage:
        """The variants job: render `sizes` from the stored bytes. Raises MediaFailed."""
        ...

    async def describe_inputs(
        self, path: Path, media: MediaType, max_side: int, extracted: Extraction | None
    ) -> DescribeInputs:
        """The describe job: what the analyzers see, at most `max_side` pixels on a side;
        `extracted` is the kind's extraction when it has one. Raises MediaFailed."""
        ...

    async def extract(self, path: Path, media: MediaType, size_bytes: int) -> Extraction:
        """The kind's own pipeline job (`extract_job`): a document's text, a video's scenes.
        Raises MediaFailed."""
        ...

    async def render_page(self, path: Path, media: MediaType, number: int, max_side: int) -> bytes:
        """Page `number` (1-based) as WebP, at most `max_side` on a side. Raises MediaFailed,
        or WrongMediaType for a kind without pages."""
        ...
