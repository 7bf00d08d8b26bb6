"""Turn service views into response bodies, with absolute URLs for this server."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request

from scopix.server.api.schemas import (
    BatchItemOut,
    DirectUploadOut,
    ErrorBody,
    FaceOut,
    FileOut,
    HistoryEntry,
    LinkBatchItemOut,
    LinkBatchOut,
    MatchedSceneOut,
    OpenGraphOut,
    PartUrlOut,
    ProcessingStatusOut,
    ProvenanceOut,
    SceneListOut,
    SceneOut,
    StoredPartOut,
    UploadResultOut,
    UploadSessionOut,
    VideoMetadataOut,
)
from scopix.server.domain.direct_uploads import plan_parts
from scopix.server.domain.errors import DomainError
from scopix.server.domain.scene_match import SceneMatch
from scopix.server.domain.variants import ORIGINAL, THUMBNAIL, variant_state
from scopix.server.media import MediaHandlers
from scopix.server.services.batches import BatchItem, BatchOutcome
from scopix.server.services.direct_uploads import PartTarget, UploadView
from scopix.server.services.files import FileView, ProcessingView
from scopix.server.services.ingest import Ingested
from scopix.server.services.links import LinkOutcome
from scopix.server.services.videos import SceneView

API_PREFIX = "/api/v2"


class UrlMaker:
    """Absolute URLs of files on the server that answered."""

    def __init__(self, request: Request) -> None:
        self.base = str(request.base_url).rstrip("/") + API_PREFIX

    def variant(self, file_id: str, variant: str) -> str:
        return f"{self.base}/files/{file_id}/variant/{variant}"

    def part(self, target: PartTarget) -> str:
        """A presigned storage URL, or this server's own signed URL for the part."""
        if target.url is not None:
            return target.url
        grant = target.grant
        return (
            f"{self.base}/files/direct-uploads/{grant.upload_id}/parts/{grant.number}"
            f"?expires={grant.expires}&signature={target.signature}"
        )

    def scene_thumbnail(self, file_id: str, index: int) -> str:
        return f"{self.base}/files/{file_id}/scenes/{index}/thumbnail"

    def thumbnail(self, view: FileView) -> str | None:
        return self.variant(view.file.id, THUMBNAIL) if THUMBNAIL in view.blob.variants else None


def upload_result(
    view: FileView,
    urls: UrlMaker,
    *,
    deduplicated: bool | None,
    skipped: bool = False,
    object_key: str | None = None,
) -> UploadResultOut:
    """The `UploadResult` of a stored (or skipped) upload."""
    f = view.file
    return UploadResultOut(
        image_id=f.id,
        filename=f.filename,
        description=f.description,
        tags=list(view.tags),
        visible_text=f.visible_text,
        text_regions=f.text_regions,
        confidence_score=f.confidence_score,
        # API.md: a skipped duplicate's own description status is `skipped`; the existing
        # file it points at keeps its own.
        description_status="skipped" if skipped else f.description_status,
        thumbnail_url=urls.thumbnail(view),
        created_at=f.created_at,
        description_error=f.description_error,
        description_error_type=f.description_error_type,
        description_is_retryable=f.description_is_retryable,
        deduplicated=deduplicated,
        media_type=f.media_type,
        status="skipped" if skipped else f.status,
        session_id=f.session_id,
        object_key=object_key,
    )


def file_out(
    view: FileView,
    urls: UrlMaker,
    *,
    with_history: bool = False,
    matched_scene: SceneMatch | None = None,
) -> FileOut:
    """A file's details; in search results, a video's `matched_scene`."""
    f, blob = view.file, view.blob
    variants = {name: urls.variant(f.id, name) for name in blob.variants}
    variants[ORIGINAL] = urls.variant(f.id, ORIGINAL)
    history = [HistoryEntry(at=e.at, event=e.event, detail=e.detail) for e in view.history]
    return FileOut(
        id=f.id,
        image_id=f.id,
        filename=f.filename,
        title=f.title,
        tags=list(view.tags),
        content_category=f.content_category,
        folder_id=f.folder_id,
        project_id=f.project_id,
        media_type=f.media_type,
        mime_type=f.mime_type,
        size_bytes=f.size_bytes,
        width=f.width,
        height=f.height,
        content_hash=f.sha256,
        content_created_at=f.content_created_at,
        created_at=f.created_at,
        updated_at=f.updated_at,
        status=f.status,
        variants=variants,
        variant_error=blob.variant_error,
        thumbnail_url=urls.thumbnail(view),
        blur_hash=blob.blur_hash,
        download_url=f"{urls.base}/files/{f.id}/download",
        auto_describe=f.auto_describe,
        description_status=f.description_status,
        description=f.description,
        visible_text=f.visible_text,
        text_regions=f.text_regions,
        description_error=f.description_error,
        description_error_type=f.description_error_type,
        description_is_retryable=f.description_is_retryable,
        key_elements=f.key_elements,
        confidence_score=f.confidence_score,
        provider_count=f.provider_count,
        described_at=f.described_at,
        processing_history=history if with_history else None,
        page_count=f.page_count,
        document_type=f.document_type,
        text_extraction_status=f.text_extraction_status,
        text_extraction_error=f.text_extraction_error,
        chunk_count=f.chunk_count,
        video_metadata=_video_metadata(f.video_metadata),
        video_analysis_status=f.video_analysis_status,
        video_analysis_error=f.video_analysis_error,
        scene_count=f.scene_count,
        source_url=f.source_url,
        domain=f.domain,
        page_title=f.page_title,
        og_metadata=_open_graph(f.og_metadata),
        favicon_url=f.favicon_url,
        crawl_status=f.crawl_status,
        crawl_error=f.crawl_error,
        crawled_at=f.crawled_at,
        extracted_images=f.extracted_images,
        extracted_images_count=f.extracted_images_count,
        matched_scene=_matched_scene(matched_scene),
        provenance=_provenance(view.provenance),
        faces=None if view.faces is None else [FaceOut.model_validate(f) for f in view.faces],
    )


def _provenance(record: Mapping[str, Any] | None) -> ProvenanceOut | None:
    return None if record is None else ProvenanceOut.model_validate(record)


def _video_metadata(record: Mapping[str, Any] | None) -> VideoMetadataOut | None:
    return None if record is None else VideoMetadataOut.model_validate(record)


def _open_graph(record: Mapping[str, Any] | None) -> OpenGraphOut | None:
    return None if record is None else OpenGraphOut.model_validate(record)


def _matched_scene(match: SceneMatch | None) -> MatchedSceneOut | None:
    if match is None:
        return None
    return MatchedSceneOut(
        scene_index=match.scene_index,
        start_seconds=match.start_seconds,
        end_seconds=match.end_seconds,
    )


def processing_status(processing: ProcessingView, media: MediaHandlers) -> ProcessingStatusOut:
    """Where a file's upload, variants and description stand."""
    f, blob, job = processing.view.file, processing.view.blob, processing.describe_job
    has_previews = media.for_mime(blob.mime_type).has_previews
    waiting = job is not None and job.state == "queued" and job.attempts > 0
    return ProcessingStatusOut(
        image_id=f.id,
        status=f.status,
        variant_status=variant_state(blob.variants, blob.variant_error, has_previews=has_previews),
        variants_ready=list(blob.variants),
        variant_error=blob.variant_error,
        description_status=f.description_status,
        description_attempts=job.attempts if job else 0,
        description_max_attempts=job.max_attempts if job else None,
        next_attempt_at=job.run_after if job and waiting else None,
        description_error=f.description_error,
        description_error_type=f.description_error_type,
        description_is_retryable=f.description_is_retryable,
        provider_count=f.provider_count,
        updated_at=f.updated_at,
        page_count=f.page_count,
        document_type=f.document_type,
        text_extraction_status=f.text_extraction_status,
        text_extraction_error=f.text_extraction_error,
        text_extraction_error_type=f.text_extraction_error_type,
        chunk_count=f.chunk_count,
        video_metadata=_video_metadata(f.video_metadata),
        video_analysis_status=f.video_analysis_status,
        video_analysis_error=f.video_analysis_error,
        video_analysis_error_type=f.video_analysis_error_type,
        scene_count=f.scene_count,
        crawl_status=f.crawl_status,
        crawl_error=f.crawl_error,
        crawl_error_type=f.crawl_error_type,
        crawled_at=f.crawled_at,
    )


def scene_list(file_id: str, scenes: list[SceneView], urls: UrlMaker) -> SceneListOut:
    """A video's scenes, each with its thumbnail's URL and what it shows."""
    return SceneListOut(
        items=[
            SceneOut(
                scene_index=view.scene.scene_index,
                start_seconds=view.scene.start_seconds,
                end_seconds=view.scene.end_seconds,
                description=view.description,
                tags=view.tags,
                visible_text=view.visible_text,
                thumbnail_url=None
                if view.scene.thumbnail_key is None
                else urls.scene_thumbnail(file_id, view.scene.scene_index),
            )
            for view in scenes
        ]
    )


def ingested_result(done: Ingested, urls: UrlMaker) -> UploadResultOut:
    """The `UploadResult` of a file the ingest (or the link service through it) recorded."""
    view = FileView(done.file, done.blob, done.tags)
    return upload_result(view, urls, deduplicated=done.deduplicated, skipped=done.skipped)


def link_batch(outcomes: Sequence[LinkOutcome], urls: UrlMaker) -> LinkBatchOut:
    """One result per URL sent, in order: its link's upload result, or its refusal."""
    return LinkBatchOut(results=[_link_item(outcome, urls) for outcome in outcomes])


def _link_item(outcome: LinkOutcome, urls: UrlMaker) -> LinkBatchItemOut:
    done, refused = outcome.ingested, outcome.error
    return LinkBatchItemOut(
        url=outcome.url,
        file=None if done is None else ingested_result(done, urls),
        error=None if refused is None else _error_body(refused),
    )


def _error_body(error: DomainError) -> ErrorBody:
    return ErrorBody(code=error.code, message=error.message, details=dict(error.details))


def batch_item(item: BatchItem, urls: UrlMaker) -> BatchItemOut:
    """One file of a batch."""
    result = None
    if item.view is not None:
        result = upload_result(
            item.view, urls, deduplicated=item.deduplicated, skipped=item.outcome == "skipped"
        )
    error = None
    if item.error_code:
        error = ErrorBody(code=item.error_code, message=item.error_message or "")
    return BatchItemOut(
        position=item.position,
        filename=item.filename,
        outcome=item.outcome,
        result=result,
        error=error,
    )


def upload_session(
    outcome: BatchOutcome, urls: UrlMaker, *, with_results: bool
) -> UploadSessionOut:
    """A batch session, with or without its per-file results."""
    s = outcome.session
    return UploadSessionOut(
        session_id=s.id,
        status=s.status,
        total_files=s.total_files,
        succeeded=s.succeeded,
        failed=s.failed,
        created_at=s.created_at,
        completed_at=s.completed_at,
        results=[batch_item(i, urls) for i in outcome.items] if with_results else None,
    )


def direct_upload_out(view: UploadView, urls: UrlMaker) -> DirectUploadOut:
    """A direct upload with its parts and the URLs to send the missing ones to."""
    upload, plan = view.upload, view.plan
    return DirectUploadOut(
        upload_id=upload.id,
        state=upload.state,
        method=plan.method,
        size_bytes=plan.size,
        sha256=upload.sha256,
        part_size=plan.part_size,
        part_count=plan.part_count,
        expires_at=upload.expires_at,
        parts=[StoredPartOut(part_number=p.number, size=p.size, etag=p.etag) for p in view.parts],
        part_urls=[
            PartUrlOut(part_number=t.number, url=urls.part(t), expires_at=t.expires_at)
            for t in view.targets
        ],
        next_part=view.next_part,
        resumed=view.resumed,
    )


def deduplicated_start(
    done: Ingested, urls: UrlMaker, size_bytes: int, sha256: str | None
) -> DirectUploadOut:
    """The answer to a start whose bytes the tenant already holds: no upload, the file."""
    plan = plan_parts(size_bytes)
    result = upload_result(
        FileView(done.file, done.blob, done.tags),
        urls,
        deduplicated=True,
        skipped=done.skipped,
        object_key=done.blob.storage_key,
    )
    return DirectUploadOut(
        upload_id=None,
        state="completed",
        method=plan.method,
        size_bytes=done.blob.size_bytes,
        sha256=sha256,
        part_size=plan.part_size,
        part_count=plan.part_count,
        deduplicated=True,
        result=result,
    )
