"""How the templates show values: sizes, times, statuses, region outlines, a document's, a
video's and a link's facts, a file's extracted fields, the folder tree. No I/O."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from scopix.server.api.schemas import ProvenanceOut, SourceOut, TagSourceOut
from scopix.server.catalog.models import Extraction, File
from scopix.server.domain.variants import ORIGINAL
from scopix.server.domain.videos import VideoMetadata
from scopix.server.services.files import BlobLocation
from scopix.server.services.folders import FolderView

#: Largest first: what the detail view shows, where it exists.
DETAIL_VARIANTS = ("large_1024", "medium_750", "small_256")
#: Description states that will change without anyone asking.
MOVING_STATES = frozenset({"queued", "processing"})
#: Text extraction states that will change without anyone asking.
EXTRACTING_STATES = frozenset({"pending", "processing"})
#: Longest sides of a document's page thumbnails and of the page in the viewer.
PAGE_THUMB_SIZE = 256
PAGE_VIEW_SIZE = 1024
#: The largest page the API renders.
MAX_PAGE_SIZE = 2048
#: A preview variant: a document has them when its pages render (page 1 is the thumbnail).
PREVIEW = "small_256"
_UNITS = ("B", "KB", "MB", "GB", "TB")


def human_size(size: int) -> str:
    """1234567 -> '1.2 MB' and 100 MiB -> '100 MB': powers of 1024, as the limits are set."""
    value = float(size)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            number = f"{value:.1f}".removesuffix(".0")
            return f"{number} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def when(moment: datetime | None) -> str:
    """A UTC time to the minute, or a dash."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def points(polygon: Sequence[Sequence[float]]) -> str:
    """An SVG `points` list for a polygon of normalized corners."""
    return " ".join(f"{x:.5f},{y:.5f}" for x, y in polygon)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def said_by(source: SourceOut | TagSourceOut | None) -> str:
    """Where a part of a description came from, for its hover title: "ondevice:tagger · 91 %";
    "" when it is not known."""
    if source is None:
        return ""
    if source.confidence is None:
        return source.analyzer
    return f"{source.analyzer} · {source.confidence * 100:.0f} %"


def tag_titles(provenance: ProvenanceOut | None) -> dict[str, str]:
    """Each described tag's hover title, by the tag ignoring case (the uploader's own tags
    have none)."""
    if provenance is None:
        return {}
    return {source.tag.casefold(): said_by(source) for source in provenance.tags}


def best_image(variants: Mapping[str, str], shows_original: bool) -> str | None:
    """The variant the detail view shows: the largest made, else the original when it shows
    as a picture (its media handler says); nothing otherwise."""
    for name in DETAIL_VARIANTS:
        if name in variants:
            return name
    return ORIGINAL if shows_original else None


def is_moving(
    upload_status: str, description_status: str, extraction_status: str | None = None
) -> bool:
    """Whether a card will change by itself: its variants are being made, it is being
    described, or its kind's own pipeline (`pipeline_status`: a document's text, a video's
    scenes) is running. The page fetches such a card again when an event about it comes."""
    return (
        upload_status == "processing"
        or description_status in MOVING_STATES
        or extraction_status in EXTRACTING_STATES
    )


@dataclass(frozen=True)
class DocumentFacts:
    """What a card and the detail view say about a document beside what every file has."""

    document_type: str
    page_count: int | None
    extraction_status: str | None
    extraction_error: str | None
    extraction_error_type: str | None
    chunk_count: int | None

    @property
    def label(self) -> str:
        """'PDF · 12 pages': the type and, once known, the length."""
        kind = self.document_type.upper()
        if self.page_count is None:
            return kind
        return f"{kind} · {self.page_count:,} page{'' if self.page_count == 1 else 's'}"


def document_facts(file: File) -> DocumentFacts | None:
    """The document columns of a file, or None for a file that is not a document (they are
    set for documents only)."""
    if file.document_type is None:
        return None
    return DocumentFacts(
        document_type=file.document_type,
        page_count=file.page_count,
        extraction_status=file.text_extraction_status,
        extraction_error=file.text_extraction_error,
        extraction_error_type=file.text_extraction_error_type,
        chunk_count=file.chunk_count,
    )


def pages_render(variants: Mapping[str, str]) -> bool:
    """Whether a document's pages show as pictures: its thumbnails are its first page, so a
    document whose thumbnails were made renders (an encrypted one, for one, does not)."""
    return PREVIEW in variants


def clock(seconds: float) -> str:
    """A time in a video as players show it: 0:07, 12:30, 1:02:03 (whole seconds, rounded
    down, so a scene's label never names a moment after its start)."""
    whole = int(max(seconds, 0.0))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


@dataclass(frozen=True)
class VideoFacts:
    """What a card and the detail view say about a video beside what every file has."""

    #: the container's facts, or None when the probe left none (a video stored as it was)
    metadata: VideoMetadata | None
    analysis_status: str | None
    analysis_error: str | None
    analysis_error_type: str | None
    scene_count: int | None

    @property
    def label(self) -> str:
        """'Video · 1:05': the kind and, once known, the length."""
        if self.metadata is None:
            return "Video"
        return f"Video · {clock(self.metadata.duration_seconds)}"

    @property
    def codecs(self) -> str:
        """'h264 · aac', or 'h264 · no sound'."""
        if self.metadata is None:
            return "—"
        sound = self.metadata.audio_codec if self.metadata.has_audio else None
        return f"{self.metadata.video_codec} · {sound or 'no sound'}"


def video_facts(file: File) -> VideoFacts | None:
    """The video columns of a file, or None for a file that is not a video (its scenes job sets
    `video_analysis_status` from the upload on, for videos only)."""
    if file.video_analysis_status is None:
        return None
    record = file.video_metadata
    return VideoFacts(
        metadata=VideoMetadata.from_record(record) if record is not None else None,
        analysis_status=file.video_analysis_status,
        analysis_error=file.video_analysis_error,
        analysis_error_type=file.video_analysis_error_type,
        scene_count=file.scene_count,
    )


@dataclass(frozen=True)
class LinkFacts:
    """What a card and the detail view say about a saved link beside what every file has. Every
    string here came from a fetched page: the templates escape them like any other."""

    source_url: str
    domain: str | None
    site_name: str | None
    page_title: str | None
    #: the site's icon, only when it is an http(s) URL (the page shows it as an `<img>`)
    favicon_url: str | None
    crawl_status: str | None
    crawl_error: str | None
    crawl_error_type: str | None
    crawled_at: datetime | None
    #: where reading the fetched page's text stands (a document's extraction)
    text_status: str | None

    @property
    def site(self) -> str:
        """The site's own name, else its domain, else the URL's host."""
        return self.site_name or self.domain or urlsplit(self.source_url).hostname or ""

    @property
    def status(self) -> str | None:
        """The crawl until it completed, then the reading of its text."""
        if self.crawl_status != "completed":
            return self.crawl_status
        return self.text_status


def link_facts(file: File) -> LinkFacts | None:
    """The link columns of a file, or None for a file not saved from a URL (a URL that served a
    PDF is a document with these facts too)."""
    if file.source_url is None:
        return None
    og = file.og_metadata or {}
    site_name = og.get("site_name")
    return LinkFacts(
        source_url=file.source_url,
        domain=file.domain,
        site_name=site_name if isinstance(site_name, str) and site_name else None,
        page_title=file.page_title,
        favicon_url=file.favicon_url if _is_web_url(file.favicon_url) else None,
        crawl_status=file.crawl_status,
        crawl_error=file.crawl_error,
        crawl_error_type=file.crawl_error_type,
        crawled_at=file.crawled_at,
        text_status=file.text_extraction_status,
    )


def _is_web_url(url: str | None) -> bool:
    """Only http(s) goes into a `src`: a page's `data:` or `javascript:` icon does not."""
    return url is not None and urlsplit(url).scheme in ("http", "https")


def pipeline_status(
    document: DocumentFacts | None, video: VideoFacts | None, link: LinkFacts | None = None
) -> str | None:
    """Where the kind's own pipeline stands (a link's crawl, a document's text, a video's
    scenes), or None for a kind without one: a card follows it like its description."""
    if link is not None and (link.crawl_status != "completed" or document is None):
        return link.status
    if document is not None:
        return document.extraction_status
    if video is not None:
        return video.analysis_status
    return None


def shows_inline(location: BlobLocation) -> bool:
    """Only images open in the page; any other original is downloaded, never rendered by the
    browser on this origin."""
    return location.media_type.startswith("image/")


@dataclass(frozen=True)
class SourceBox:
    """Where an extracted value was read: its box on the image, or on page `page` of a document.
    The overlay draws it beside the text boxes, lit while its field's row is hovered or focused
    (the row and the box share `key`)."""

    key: str
    page: int | None
    polygon: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class FieldView:
    """One extracted field as its table row shows it; `value` is text, escaped like any other."""

    path: str
    value: str
    confidence: float | None
    source: SourceBox | None


@dataclass(frozen=True)
class ExtractionView:
    """What one schema pulled out of a file, as the detail view lists it."""

    name: str
    status: str
    confidence: float | None
    fields: tuple[FieldView, ...]
    error: str | None
    error_type: str | None
    completed_at: datetime | None

    @property
    def moving(self) -> bool:
        """Whether it will change by itself (queued or running)."""
        return self.status in MOVING_STATES


def extraction_view(row: Extraction, name: str) -> ExtractionView:
    """An extraction as the detail view shows it, under its schema's `name`."""
    return ExtractionView(
        name=name,
        status=row.status,
        confidence=row.confidence_score,
        fields=tuple(_field_view(f"{row.id}-{i}", f) for i, f in enumerate(row.fields or [])),
        error=row.error,
        error_type=row.error_type,
        completed_at=row.completed_at,
    )


def sources_on(extractions: Sequence[ExtractionView], page: int | None) -> list[SourceBox]:
    """The source boxes to draw over an image (`page` None) or over one page of a document."""
    return [
        field.source
        for extraction in extractions
        for field in extraction.fields
        if field.source is not None and field.source.page == page
    ]


def value_text(value: Any) -> str:
    """An extracted value as text: a string as it is, anything else as JSON; "—" for none."""
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _field_view(key: str, record: Mapping[str, Any]) -> FieldView:
    confidence = record.get("confidence")
    return FieldView(
        path=str(record.get("path", "")),
        value=value_text(record.get("value")),
        confidence=float(confidence) if isinstance(confidence, int | float) else None,
        source=_source_box(key, record.get("source")),
    )


def _source_box(key: str, source: object) -> SourceBox | None:
    """The box of a field's `source` record as a rectangle; None when it has none."""
    if not isinstance(source, Mapping) or not isinstance(box := source.get("bbox"), Mapping):
        return None
    try:
        x, y = float(box["x"]), float(box["y"])
        right, bottom = x + float(box["width"]), y + float(box["height"])
    except (KeyError, TypeError, ValueError):
        return None
    page = source.get("page")
    return SourceBox(
        key=key,
        page=page if isinstance(page, int) else None,
        polygon=((x, y), (right, y), (right, bottom), (x, bottom)),
    )


@dataclass(frozen=True)
class FolderNode:
    """One folder of the tree panel, with the folders directly under it."""

    id: str
    name: str
    #: the files directly in it
    file_count: int
    children: tuple[FolderNode, ...]


@dataclass(frozen=True)
class FolderTree:
    """A tenant's folders as the panel shows them: top levels first, siblings by name."""

    roots: tuple[FolderNode, ...]

    def walk(self) -> Iterator[tuple[FolderNode, int]]:
        """Every folder with its level (0 at the top), each before the folders under it."""
        stack = [(node, 0) for node in reversed(self.roots)]
        while stack:
            node, level = stack.pop()
            yield node, level
            stack.extend((child, level + 1) for child in reversed(node.children))

    def path(self, folder_id: str) -> list[FolderNode]:
        """The folders from the top level down to `folder_id`, itself last; [] when it is not
        in the tree (deleted since the page opened it)."""
        parents: dict[str, FolderNode | None] = {}
        nodes: dict[str, FolderNode] = {}
        for node, _ in self.walk():
            nodes[node.id] = node
            parents.update((child.id, node) for child in node.children)
        found: list[FolderNode] = []
        step = nodes.get(folder_id)
        while step is not None:
            found.append(step)
            step = parents.get(step.id)
        return found[::-1]


def folder_tree(folders: Sequence[FolderView]) -> FolderTree:
    """The flat listing as a tree by `parent_id`, keeping the listing's order among siblings
    (by name). A folder whose parent is not listed is shown at the top level."""
    listed = {view.folder.id for view in folders}
    below: dict[str | None, list[FolderView]] = {}
    for view in folders:
        parent = view.folder.parent_id
        below.setdefault(parent if parent in listed else None, []).append(view)

    def build(parent: str | None) -> tuple[FolderNode, ...]:
        return tuple(
            FolderNode(view.folder.id, view.folder.name, view.file_count, build(view.folder.id))
            for view in below.get(parent, [])
        )

    return FolderTree(build(None))
