"""File types: a stored file's details, a page of files, its processing status, batch deletes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scopix.types._parse import build, optional_int, parse_datetime, string_list
from scopix.types.describe import DescriptionStatus
from scopix.types.links import OpenGraph
from scopix.types.upload import UploadResult
from scopix.types.videos import MatchedScene, VideoMetadata

__all__ = ["BatchDeleteResult", "FileDetails", "FileList", "ProcessingStatus"]

_IN_FLIGHT = frozenset({DescriptionStatus.QUEUED, DescriptionStatus.PROCESSING})
_EXTRACTION_IN_FLIGHT = frozenset({"pending", "processing"})


def _status(value: Any) -> DescriptionStatus:
    return DescriptionStatus(str(value).lower()) if value else DescriptionStatus.PENDING


def _video_metadata(value: Any) -> VideoMetadata | None:
    return None if value is None else VideoMetadata.from_dict(value)


def _matched_scene(value: Any) -> MatchedScene | None:
    return None if value is None else MatchedScene.from_dict(value)


def _optional_strings(value: Any) -> list[str] | None:
    return None if value is None else string_list(value)


def _optional_object(value: Any) -> dict[str, Any] | None:
    return None if value is None else dict(value)


def _faces(value: Any) -> list[dict[str, float]] | None:
    if value is None:
        return None
    return [{k: float(v) for k, v in face.items()} for face in value]


def _open_graph(value: Any) -> OpenGraph | None:
    return None if value is None else OpenGraph.from_dict(value)


@dataclass(frozen=True)
class FileDetails:
    """A stored file as ``GET /files/{id}`` describes it."""

    id: str
    filename: str
    title: str | None = None
    tags: list[str] = field(default_factory=list)
    content_category: str = "general"
    folder_id: str | None = None
    project_id: str | None = None
    media_type: str | None = None
    mime_type: str | None = None
    size_bytes: int | None = None
    width: int | None = None
    height: int | None = None
    content_hash: str | None = None
    content_created_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    status: str | None = None
    variants: dict[str, str] = field(default_factory=dict)
    variant_error: str | None = None
    thumbnail_url: str | None = None
    blur_hash: str | None = None
    download_url: str | None = None
    auto_describe: bool = True
    description_status: DescriptionStatus = DescriptionStatus.PENDING
    description: str | None = None
    visible_text: str | None = None
    text_regions: list[dict[str, Any]] | None = None
    description_error: str | None = None
    description_error_type: str | None = None
    description_is_retryable: bool | None = None
    key_elements: list[str] | None = None
    confidence_score: float | None = None
    provider_count: int | None = None
    described_at: datetime | None = None
    processing_history: list[dict[str, Any]] | None = None
    # documents (None for other media types, and from servers without documents)
    page_count: int | None = None
    document_type: str | None = None
    text_extraction_status: str | None = None
    text_extraction_error: str | None = None
    chunk_count: int | None = None
    # videos (None for other media types, and from servers without videos)
    video_metadata: VideoMetadata | None = None
    video_analysis_status: str | None = None
    video_analysis_error: str | None = None
    scene_count: int | None = None
    # links (None for other media types, and from servers without links)
    source_url: str | None = None
    domain: str | None = None
    page_title: str | None = None
    og_metadata: OpenGraph | None = None
    favicon_url: str | None = None
    crawl_status: str | None = None
    crawl_error: str | None = None
    crawled_at: datetime | None = None
    extracted_images: list[str] | None = None
    extracted_images_count: int | None = None
    #: In a search's results: the scene of a video that holds the query's words.
    matched_scene: MatchedScene | None = None
    #: Where each part of the description came from (None in lists, before it is described,
    #: and from servers without it): ``description`` and ``visible_text`` are
    #: ``{"analyzer", "confidence"}`` (or None), ``tags`` ``[{"tag", "analyzer",
    #: "confidence"}]``, ``key_elements`` ``[{"element", "analyzer"}]``, ``embedding`` the
    #: embedder's source, ``pipeline`` the fingerprint of the models used. A confidence is 0-1,
    #: or None where the analyzer gives no score.
    provenance: dict[str, Any] | None = None
    #: The faces found in a picture: ``{"x", "y", "width", "height", "confidence"}``, the box
    #: normalized 0-1 like text regions. Where, never whose.
    faces: list[dict[str, float]] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileDetails:
        """Parse the server's JSON; unknown keys are ignored, ``image_id`` stands in for ``id``."""
        merged = {"filename": "", **data, "id": data.get("id") or data.get("image_id")}
        if merged["id"] is None:
            raise ValueError("file details lack an id")
        return build(
            cls,
            merged,
            id=str,
            filename=lambda v: v or "",
            tags=string_list,
            variants=lambda v: dict(v or {}),
            description_status=_status,
            content_created_at=parse_datetime,
            created_at=parse_datetime,
            updated_at=parse_datetime,
            described_at=parse_datetime,
            page_count=optional_int,
            chunk_count=optional_int,
            video_metadata=_video_metadata,
            scene_count=optional_int,
            og_metadata=_open_graph,
            crawled_at=parse_datetime,
            extracted_images=_optional_strings,
            extracted_images_count=optional_int,
            matched_scene=_matched_scene,
            provenance=_optional_object,
            faces=_faces,
        )

    def to_upload_result(self) -> UploadResult:
        """The file as an ``UploadResult`` (``deduplicated`` is only known at upload time)."""
        return UploadResult(
            image_id=self.id,
            filename=self.filename,
            description=self.description,
            tags=list(self.tags),
            visible_text=self.visible_text,
            text_regions=self.text_regions,
            confidence_score=self.confidence_score,
            description_status=self.description_status,
            thumbnail_url=self.thumbnail_url,
            created_at=self.created_at,
            description_error=self.description_error,
            description_error_type=self.description_error_type,
            description_is_retryable=self.description_is_retryable,
            media_type=self.media_type,
            status=self.status,
        )


@dataclass(frozen=True)
class FileList:
    """One page of files; ``has_more`` says whether a later page exists."""

    items: list[FileDetails]
    total_count: int
    has_more: bool
    limit: int
    offset: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileList:
        """Parse a page of ``GET /files``."""
        items = [FileDetails.from_dict(item) for item in data.get("items") or []]
        return cls(
            items=items,
            total_count=int(data.get("total_count", len(items))),
            has_more=bool(data.get("has_more", False)),
            limit=int(data.get("limit", len(items))),
            offset=int(data.get("offset", 0)),
        )


@dataclass(frozen=True)
class ProcessingStatus:
    """Where one file stands: its upload, its variants, its description, and a document's
    text extraction, a video's scene analysis or a link's crawl."""

    image_id: str
    status: str
    description_status: DescriptionStatus
    variant_status: str | None = None
    variants_ready: list[str] = field(default_factory=list)
    variant_error: str | None = None
    description_attempts: int = 0
    description_max_attempts: int | None = None
    next_attempt_at: datetime | None = None
    description_error: str | None = None
    description_error_type: str | None = None
    description_is_retryable: bool | None = None
    provider_count: int | None = None
    updated_at: datetime | None = None
    # documents (None for other media types, and from servers without documents)
    page_count: int | None = None
    document_type: str | None = None
    text_extraction_status: str | None = None
    text_extraction_error: str | None = None
    text_extraction_error_type: str | None = None
    chunk_count: int | None = None
    # videos (None for other media types, and from servers without videos)
    video_metadata: VideoMetadata | None = None
    video_analysis_status: str | None = None
    video_analysis_error: str | None = None
    video_analysis_error_type: str | None = None
    scene_count: int | None = None
    # links (None for other media types, and from servers without links)
    crawl_status: str | None = None
    crawl_error: str | None = None
    crawl_error_type: str | None = None
    crawled_at: datetime | None = None

    @property
    def is_description_final(self) -> bool:
        """True once the description will not change without a new request.

        PENDING counts as final: nothing will happen until ``describe`` is called.
        """
        return self.description_status not in _IN_FLIGHT

    @property
    def is_extraction_final(self) -> bool:
        """True unless a document's text is still to be extracted (files that are not
        documents have no extraction: always True). A PENDING extraction is queued."""
        return self.text_extraction_status not in _EXTRACTION_IN_FLIGHT

    @property
    def is_video_analysis_final(self) -> bool:
        """True unless a video's scenes are still to be found (files that are not videos
        have no video analysis: always True). A PENDING analysis is queued."""
        return self.video_analysis_status not in _EXTRACTION_IN_FLIGHT

    @property
    def is_crawl_final(self) -> bool:
        """True unless a link's page is still to be fetched (files that are not links are
        never crawled: always True). A PENDING crawl is queued."""
        return self.crawl_status not in _EXTRACTION_IN_FLIGHT

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProcessingStatus:
        """Parse ``GET /files/{id}/status``."""
        return build(
            cls,
            {"status": "", **data},
            description_status=_status,
            variants_ready=string_list,
            description_attempts=lambda v: int(v or 0),
            description_max_attempts=optional_int,
            next_attempt_at=parse_datetime,
            updated_at=parse_datetime,
            page_count=optional_int,
            chunk_count=optional_int,
            video_metadata=_video_metadata,
            scene_count=optional_int,
            crawled_at=parse_datetime,
        )


@dataclass(frozen=True)
class BatchDeleteResult:
    """What a batch delete did: ids deleted, ids skipped (already deleted), failures."""

    deleted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)

    @property
    def deleted_count(self) -> int:
        """Number of files deleted."""
        return len(self.deleted)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BatchDeleteResult:
        """Parse ``POST /files/batch-delete``."""
        return cls(
            deleted=string_list(data.get("deleted")),
            skipped=string_list(data.get("skipped")),
            failed=[dict(f) for f in data.get("failed") or []],
        )

    def merged(self, other: BatchDeleteResult) -> BatchDeleteResult:
        """Both results together (the SDK splits large deletes into several requests)."""
        return BatchDeleteResult(
            self.deleted + other.deleted, self.skipped + other.skipped, self.failed + other.failed
        )
