"""Request and response bodies of the REST API (these shape the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from scopix.server.domain.events import EVENT_TYPES
from scopix.server.domain.fields import MAX_TAG_CHARS, MAX_TAGS, MAX_TITLE_CHARS
from scopix.server.domain.listing import MAX_SEARCH_CHARS
from scopix.server.domain.quota import AnalysisLevel
from scopix.server.domain.urls import MAX_URL_CHARS
from scopix.server.domain.variants import VariantState
from scopix.server.services.files import MAX_BATCH_DELETE
from scopix.server.services.quota import MAX_FILE_COUNT

Url = Annotated[str, Field(min_length=1, max_length=MAX_URL_CHARS)]

#: URLs per `POST /files/links/batch`
MAX_LINK_BATCH = 100


class ErrorBody(BaseModel):
    """What went wrong."""

    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorEnvelope(BaseModel):
    """Every error response."""

    error: ErrorBody
    request_id: str


class UploadResultOut(BaseModel):
    """The SDK's `UploadResult`, field for field, plus `session_id` on batch items."""

    image_id: str
    filename: str
    description: str | None = None
    tags: list[str] | None = None
    visible_text: str | None = None
    text_regions: list[dict[str, Any]] | None = None
    confidence_score: float | None = None
    description_status: str = "pending"
    thumbnail_url: str | None = None
    created_at: datetime | None = None
    description_error: str | None = None
    description_error_type: str | None = None
    description_is_retryable: bool | None = None
    deduplicated: bool | None = None
    media_type: str | None = None
    status: str | None = None
    object_key: str | None = None
    session_id: str | None = None


class HistoryEntry(BaseModel):
    """One step of a file's processing history."""

    at: datetime
    event: str
    detail: str | None = None


class VideoMetadataOut(BaseModel):
    """What a video's container says; `rotation` is the clockwise turn a player applies to
    the stored `width` x `height`."""

    duration_seconds: float
    width: int
    height: int
    frame_rate: float | None
    video_codec: str
    audio_codec: str | None
    bit_rate: int | None
    has_audio: bool
    rotation: int


class MatchedSceneOut(BaseModel):
    """The scene of a video a search matched, and its times."""

    scene_index: int
    start_seconds: float
    end_seconds: float


class OpenGraphOut(BaseModel):
    """What a page says about itself in its Open Graph tags; null where it does not say."""

    title: str | None = None
    description: str | None = None
    image: str | None = Field(default=None, description="an absolute URL")
    site_name: str | None = None
    type: str | None = None


class SourceOut(BaseModel):
    """Which analyzer produced a part of a file's description, and how sure it was."""

    analyzer: str = Field(
        description="ondevice:caption, ondevice:tagger, ondevice:ocr/tesseract, "
        "ondevice:ocr/rapidocr, vlm:<model>, "
        "extraction (what a document or video says of itself)...; several joined by + where "
        "a part was put together from several (a video's scenes)"
    )
    confidence: float | None = Field(description="0 to 1; null where the analyzer gives no score")


class TagSourceOut(BaseModel):
    """Where one of the description's tags came from."""

    tag: str
    analyzer: str
    confidence: float | None


class KeyElementSourceOut(BaseModel):
    """Where one of the description's key elements came from."""

    element: str
    analyzer: str


class ProvenanceOut(BaseModel):
    """Where each part of a file's description came from (null parts: there is none)."""

    description: SourceOut | None
    tags: list[TagSourceOut] = Field(description="the description's tags, in order")
    key_elements: list[KeyElementSourceOut]
    visible_text: SourceOut | None
    embedding: SourceOut | None = Field(description="the search embedding's embedder")
    pipeline: str = Field(description="the fingerprint of the models and options used")


class FaceOut(BaseModel):
    """Where a face is in the picture (normalized 0-1, like text regions): never whose."""

    x: float
    y: float
    width: float
    height: float
    confidence: float


class FileOut(BaseModel):
    """A file's details."""

    id: str
    image_id: str
    filename: str
    title: str | None
    tags: list[str]
    content_category: str
    folder_id: str | None
    project_id: str | None
    media_type: str
    mime_type: str
    size_bytes: int
    width: int | None
    height: int | None
    content_hash: str
    content_created_at: datetime | None
    created_at: datetime
    updated_at: datetime
    status: str
    variants: dict[str, str]
    variant_error: str | None
    thumbnail_url: str | None
    blur_hash: str | None
    download_url: str
    auto_describe: bool
    description_status: str
    description: str | None
    visible_text: str | None
    text_regions: list[dict[str, Any]] | None
    description_error: str | None
    description_error_type: str | None
    description_is_retryable: bool | None
    key_elements: list[str] | None = None
    confidence_score: float | None = None
    provider_count: int | None = None
    described_at: datetime | None = None
    processing_history: list[HistoryEntry] | None = None
    # A document's own fields (null for other kinds).
    page_count: int | None = None
    document_type: str | None = Field(default=None, description="pdf, docx, txt or md")
    text_extraction_status: str | None = Field(
        default=None, description="pending, processing, completed, failed or skipped"
    )
    text_extraction_error: str | None = None
    chunk_count: int | None = None
    # A video's own fields (null for other kinds).
    video_metadata: VideoMetadataOut | None = None
    video_analysis_status: str | None = Field(
        default=None, description="pending, processing, completed or failed"
    )
    video_analysis_error: str | None = None
    scene_count: int | None = None
    # A link's own fields (null for other kinds).
    source_url: str | None = Field(default=None, description="the URL saved, normalized")
    domain: str | None = None
    page_title: str | None = None
    og_metadata: OpenGraphOut | None = None
    favicon_url: str | None = None
    crawl_status: str | None = Field(
        default=None, description="pending, processing, completed or failed"
    )
    crawl_error: str | None = None
    crawled_at: datetime | None = None
    extracted_images: list[str] | None = Field(
        default=None, description="the article's images, absolute URLs in page order"
    )
    extracted_images_count: int | None = None
    matched_scene: MatchedSceneOut | None = Field(
        default=None,
        description="in search results: the scene of a video whose description or visible "
        "text holds the most of the query's words",
    )
    provenance: ProvenanceOut | None = Field(
        default=None,
        description="in a file's details: where each part of its description came from; null "
        "in lists, before it is described, and for descriptions made before it was kept",
    )
    faces: list[FaceOut] | None = Field(
        default=None,
        description="in a picture's details: the faces found in it, where and how sure, never "
        "whose; null in lists, for videos and for descriptions made before faces were sought",
    )


class ProcessingStatusOut(BaseModel):
    """Where a file stands: its upload, its variants and its description."""

    image_id: str
    status: str = Field(description="the upload: processing until its variants exist")
    variant_status: VariantState
    variants_ready: list[str]
    variant_error: str | None
    description_status: str
    description_attempts: int = Field(description="attempts of the latest description job")
    description_max_attempts: int | None
    next_attempt_at: datetime | None = Field(description="when a queued retry is due")
    description_error: str | None
    description_error_type: str | None
    description_is_retryable: bool | None
    provider_count: int | None
    updated_at: datetime
    # A document's own pipeline (null for other kinds).
    page_count: int | None = None
    document_type: str | None = None
    text_extraction_status: str | None = None
    text_extraction_error: str | None = None
    text_extraction_error_type: str | None = None
    chunk_count: int | None = None
    # A video's own pipeline (null for other kinds).
    video_metadata: VideoMetadataOut | None = None
    video_analysis_status: str | None = None
    video_analysis_error: str | None = None
    video_analysis_error_type: str | None = None
    scene_count: int | None = None
    # A link's own pipeline, its fetch (null for other kinds).
    crawl_status: str | None = None
    crawl_error: str | None = None
    crawl_error_type: str | None = None
    crawled_at: datetime | None = None


class FileListOut(BaseModel):
    """A page of files."""

    items: list[FileOut]
    total_count: int
    has_more: bool
    limit: int
    offset: int


class FileUpdateIn(BaseModel):
    """Editable fields; absent ones stay as they are."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=MAX_TITLE_CHARS)
    tags: list[Annotated[str, Field(max_length=MAX_TAG_CHARS)]] | None = Field(
        default=None, max_length=MAX_TAGS
    )
    folder_id: str | None = Field(default=None, max_length=64)
    project_id: str | None = Field(default=None, max_length=64)


class ProjectIn(BaseModel):
    """A project to create, or a project's new name."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        description=(
            "1-255 characters once trimmed, no control characters, unique among the tenant's "
            "projects in any letter case"
        )
    )


class ProjectOut(BaseModel):
    """A project: a named workspace of the tenant's."""

    id: str
    name: str
    created_at: datetime
    updated_at: datetime


class ProjectListOut(BaseModel):
    """A page of projects, by name."""

    items: list[ProjectOut]
    total_count: int
    has_more: bool
    limit: int
    offset: int


_NAME_RULE = "1-255 characters once trimmed, no control characters"


class FolderIn(BaseModel):
    """A folder to create: under a parent (it takes the parent's project), or at the top
    level of a project, or outside any project."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description=f"{_NAME_RULE}, unique among its siblings in any letter case")
    parent_id: str | None = Field(default=None, max_length=64)
    project_id: str | None = Field(
        default=None, max_length=64, description="with parent_id, it must be the parent's"
    )


class FolderRenameIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description=f"{_NAME_RULE}, unique among its siblings in any letter case")


class FolderMoveIn(BaseModel):
    """The folder's new parent, in its own project; null puts it at the project's top level."""

    model_config = ConfigDict(extra="forbid")

    parent_id: str | None = Field(max_length=64)


class FolderOut(BaseModel):
    """A folder, with what it holds directly."""

    id: str
    name: str
    parent_id: str | None
    project_id: str | None
    depth: int = Field(description="0 at the top level")
    file_count: int = Field(description="live files directly in it")
    subfolder_count: int = Field(description="folders directly in it")
    created_at: datetime
    updated_at: datetime


class FolderListOut(BaseModel):
    """The tenant's folders as a flat list, top levels first: the tree is in `parent_id`."""

    items: list[FolderOut]
    total_count: int
    has_more: bool


class BreadcrumbOut(BaseModel):
    id: str
    name: str
    depth: int


class BreadcrumbsOut(BaseModel):
    """The folders from the top level down to this one, itself last."""

    breadcrumbs: list[BreadcrumbOut]


class FolderDetailOut(BaseModel):
    """A folder, the way to it, its subfolders and a page of its files."""

    folder: FolderOut
    breadcrumbs: list[BreadcrumbOut]
    subfolders: list[FolderOut]
    files: list[FileOut]
    total_files: int
    has_more_files: bool


class MoveFilesIn(BaseModel):
    """Files to put into a folder, or at the top level of a project."""

    model_config = ConfigDict(extra="forbid")

    file_ids: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=100)
    folder_id: str | None = Field(max_length=64)
    project_id: str | None = Field(
        default=None,
        max_length=64,
        description=(
            "with folder_id, it must be the folder's; with folder_id null, the project whose "
            "top level the files go to (null: none), each file's own when left out"
        ),
    )


class MoveFilesOut(BaseModel):
    moved: list[str]
    skipped: list[str] = Field(description="ids of no live file of the tenant's")


class EventOut(BaseModel):
    """Something that happened: the Standard Webhooks payload shape."""

    id: str = Field(description="the same on every delivery of this event")
    type: str
    timestamp: datetime
    data: dict[str, Any]


class EventPageOut(BaseModel):
    """Events in order, and the cursor to ask after next (the same one when none came)."""

    items: list[EventOut]
    next_cursor: str


class WebhookIn(BaseModel):
    """An endpoint to deliver events to."""

    model_config = ConfigDict(extra="forbid")

    url: Url = Field(description="http or https, on an address the server may reach")
    events: list[str] = Field(
        min_length=1,
        max_length=len(EVENT_TYPES),
        description="event types to deliver",
        json_schema_extra={"items": {"type": "string", "enum": list(EVENT_TYPES)}},
    )


class WebhookOut(BaseModel):
    """An endpoint; its secret is shown only when it is created."""

    id: str
    url: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None = Field(description="why deliveries stopped, when they did")
    created_at: datetime
    updated_at: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="`whsec_` + base64: verifies `webhook-signature`; shown once")


class WebhookListOut(BaseModel):
    items: list[WebhookOut]


class WebhookDeliveryOut(BaseModel):
    """One attempt to deliver one event."""

    id: str
    event_id: str
    event_type: str
    attempt: int
    succeeded: bool
    status_code: int | None
    error: str | None
    duration_ms: int
    created_at: datetime


class WebhookDeliveryListOut(BaseModel):
    """Delivery attempts, newest first."""

    items: list[WebhookDeliveryOut]
    total_count: int
    has_more: bool
    limit: int
    offset: int


class BatchDeleteIn(BaseModel):
    """Ids to soft-delete."""

    model_config = ConfigDict(extra="forbid")

    file_ids: list[Annotated[str, Field(max_length=64)]] = Field(
        min_length=1, max_length=MAX_BATCH_DELETE
    )


class BatchDeleteOut(BaseModel):
    """What a batch delete did."""

    deleted: list[str]
    skipped: list[str]
    failed: list[dict[str, str]]
    deleted_count: int


class BatchItemOut(BaseModel):
    """One file of a batch."""

    position: int
    filename: str
    outcome: str
    result: UploadResultOut | None = None
    error: ErrorBody | None = None


class UploadSessionOut(BaseModel):
    """A batch upload session."""

    session_id: str
    status: str
    total_files: int
    succeeded: int
    failed: int
    created_at: datetime
    completed_at: datetime | None
    results: list[BatchItemOut] | None = None


class QuotaInfoOut(BaseModel):
    """The SDK's `QuotaInfo`, field for field."""

    can_proceed: bool
    requested: int
    available: int
    monthly_limit: int
    current_usage: int
    message: str | None = None
    max_batch_size: int | None = None
    prepaid_credits: int = 0
    max_concurrent_uploads: int | None = None
    storage_used_bytes: int = Field(description="bytes of originals stored, each once")
    storage_limit_bytes: int | None = Field(description="the storage quota; null: no limit")
    storage_available_bytes: int | None = Field(
        description="bytes that still fit in the storage quota; null: no limit"
    )


class UsageCheckIn(BaseModel):
    """Work a client is about to ask for."""

    model_config = ConfigDict(extra="forbid")

    item_count: int = Field(ge=1, le=MAX_FILE_COUNT)
    analysis_level: AnalysisLevel = Field(
        default="standard", description="every level costs one credit per item"
    )


class UsageCheckOut(BaseModel):
    """Whether the work fits in the tenant's credits."""

    can_proceed: bool
    available_credits: int
    message: str


class HealthOut(BaseModel):
    """Liveness and the state of each dependency."""

    status: str
    version: str
    checks: dict[str, str]


class DirectUploadIn(BaseModel):
    """Start a direct upload of one file, sent straight to storage in parts."""

    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=255)
    size_bytes: int = Field(ge=1, description="the exact size of the file; at most 5 TiB")
    sha256: str | None = Field(
        default=None,
        description="the file's SHA-256 (hex): a known one answers deduplicated=true at once, "
        "and completion checks the stored bytes against it",
    )
    title: str | None = Field(default=None, max_length=MAX_TITLE_CHARS)
    tags: list[Annotated[str, Field(max_length=MAX_TAG_CHARS)]] | str | None = Field(
        default=None, description=f"a list or a comma-separated string, at most {MAX_TAGS}"
    )
    auto_describe: bool = True
    skip_duplicates: bool = False
    content_category: str = "general"
    folder_id: str | None = Field(default=None, max_length=64)
    project_id: str | None = Field(default=None, max_length=64)
    custom_schema_id: str | None = Field(default=None, max_length=64)


class DirectUploadCompleteIn(BaseModel):
    """Optionally, the SHA-256 the stored bytes must have (if not declared at the start)."""

    model_config = ConfigDict(extra="forbid")

    sha256: str | None = None


class StoredPartOut(BaseModel):
    """A part storage holds."""

    part_number: int
    size: int
    etag: str


class PartUrlOut(BaseModel):
    """Where to PUT one missing part, with no Authorization header, before `expires_at`."""

    part_number: int
    url: str
    method: str = "PUT"
    expires_at: datetime


class DirectUploadOut(BaseModel):
    """A direct upload: its plan, the parts received, and signed URLs for missing parts."""

    upload_id: str | None
    state: str
    method: str
    size_bytes: int
    sha256: str | None = None
    part_size: int
    part_count: int
    expires_at: datetime | None = None
    parts: list[StoredPartOut] = Field(default_factory=list)
    part_urls: list[PartUrlOut] = Field(default_factory=list)
    next_part: int | None = Field(
        default=None, description="more URLs for missing parts: GET with first_part=next_part"
    )
    resumed: bool = False
    deduplicated: bool = False
    result: UploadResultOut | None = None


class PageTextOut(BaseModel):
    """One page's text."""

    page: int
    text: str


class DocumentTextOut(BaseModel):
    """A document's text, whole and page by page."""

    text: str
    pages: list[PageTextOut]


class DocumentChunkOut(BaseModel):
    """A passage of a document, as search reads it."""

    chunk_id: str
    chunk_index: int
    content: str
    page_numbers: list[int]


class ChunkListOut(BaseModel):
    """A window of a document's chunks, in order."""

    items: list[DocumentChunkOut]
    total_count: int
    has_more: bool


class DocumentSearchIn(BaseModel):
    """A search over the chunks of the tenant's documents."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_SEARCH_CHARS)
    limit: int = Field(default=10, ge=1, le=50)
    search_mode: Literal["hybrid", "text", "semantic"] = Field(
        default="hybrid",
        description=(
            "`text`: chunks holding every word; `semantic`: the nearest in meaning; `hybrid`: "
            "both rankings fused"
        ),
    )
    file_ids: list[str] | None = Field(
        default=None, max_length=500, description="only these documents' chunks"
    )


class DocumentSearchHitOut(BaseModel):
    """A chunk a search found."""

    chunk_id: str
    document_id: str
    document_filename: str
    content: str
    score: float = Field(ge=0, le=1)
    chunk_index: int
    page_numbers: list[int]


class DocumentSearchOut(BaseModel):
    """The best chunks for a search."""

    items: list[DocumentSearchHitOut]
    total_count: int
    has_more: bool


class SceneOut(BaseModel):
    """One scene of a video; what it shows is null until the video is described."""

    scene_index: int
    start_seconds: float
    end_seconds: float
    description: str | None
    tags: list[str]
    visible_text: str | None
    thumbnail_url: str | None


class SceneListOut(BaseModel):
    """A video's scenes, in order."""

    items: list[SceneOut]


#: Tags as a JSON list, or one comma-separated string as upload forms send them.
TagsIn = list[Annotated[str, Field(max_length=MAX_TAG_CHARS)]] | str | None


class LinkIn(BaseModel):
    """A web page to save."""

    model_config = ConfigDict(extra="forbid")

    url: Url = Field(description="http or https; the server fetches it, never the client")
    title: str | None = Field(default=None, max_length=MAX_TITLE_CHARS)
    tags: TagsIn = Field(
        default=None, description=f"a list or a comma-separated string, at most {MAX_TAGS}"
    )
    auto_describe: bool = True
    skip_duplicates: bool = Field(
        default=False, description="a URL the tenant saved already gives that link back"
    )
    folder_id: str | None = Field(
        default=None, max_length=64, description="the folder to put it in (and so its project)"
    )
    project_id: str | None = Field(
        default=None, max_length=64, description="the project to put it in, at its top level"
    )
    custom_schema_id: str | None = Field(
        default=None, max_length=64, description="a schema to extract with after the description"
    )


class LinkBatchIn(BaseModel):
    """Web pages to save, each with the same tags and options."""

    model_config = ConfigDict(extra="forbid")

    urls: list[Url] = Field(min_length=1, max_length=MAX_LINK_BATCH)
    tags: TagsIn = Field(
        default=None, description=f"a list or a comma-separated string, at most {MAX_TAGS}"
    )
    auto_describe: bool = True
    skip_duplicates: bool = False
    folder_id: str | None = Field(
        default=None, max_length=64, description="the folder to put it in (and so its project)"
    )
    project_id: str | None = Field(
        default=None, max_length=64, description="the project to put it in, at its top level"
    )
    custom_schema_id: str | None = Field(
        default=None, max_length=64, description="a schema to extract with after the description"
    )


class LinkBatchItemOut(BaseModel):
    """One URL of a batch: its link, or why it was refused."""

    url: str
    file: UploadResultOut | None = None
    error: ErrorBody | None = None


class LinkBatchOut(BaseModel):
    """One result per URL, in the order sent."""

    results: list[LinkBatchItemOut]


class RecrawlOut(BaseModel):
    """A fetch of a link's page, queued."""

    file_id: str
    crawl_status: str


_SCHEMA_RULES = (
    "a JSON Schema whose root is an object: at most 3 levels deep, 50 properties per object, "
    "200 nodes and 32 KB; types string, integer, number, boolean, array and object; anyOf is "
    "the only composition ($ref, allOf and oneOf are refused)"
)


class ExtractionSchemaIn(BaseModel):
    """A custom extraction schema to create."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255, description="unique among the tenant's schemas")
    description: str | None = Field(default=None, max_length=1000)
    json_schema: dict[str, Any] = Field(alias="schema", description=_SCHEMA_RULES)
    prompt_hint: str | None = Field(
        default=None, max_length=2000, description="told to the extractor"
    )


class ExtractionSchemaPatch(BaseModel):
    """What to change of a schema: only the fields given (null clears a text field)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=1000)
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    prompt_hint: str | None = Field(default=None, max_length=2000)


class ExtractionSchemaOut(BaseModel):
    """A custom extraction schema of the tenant's."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    name: str
    description: str | None
    json_schema: dict[str, Any] = Field(alias="schema")
    prompt_hint: str | None
    created_at: datetime
    updated_at: datetime


class ExtractionSchemaListOut(BaseModel):
    """A page of schemas, by name."""

    items: list[ExtractionSchemaOut]
    total_count: int
    has_more: bool
    limit: int
    offset: int


class ExtractIn(BaseModel):
    """What to extract: a stored schema by id, or a schema given inline; `prompt` adds to the
    stored schema's hint."""

    model_config = ConfigDict(extra="forbid")

    schema_id: str | None = Field(default=None, max_length=64)
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    prompt: str | None = Field(default=None, max_length=2000)


class ExtractionStartedOut(BaseModel):
    """A queued extraction: poll `GET /files/{id}/extractions/{schema_id}`."""

    schema_id: str
    status: str


class BoxOut(BaseModel):
    """A normalized (0-1) box of the image, or of its page."""

    x: float
    y: float
    width: float
    height: float


class FieldSourceOut(BaseModel):
    """Where a value was read: a text region (its page for documents, else null)."""

    page: int | None
    bbox: BoxOut
    text: str


class ExtractedFieldOut(BaseModel):
    """One leaf field the extractor found: dotted path, value, confidence and source."""

    path: str
    value: Any
    confidence: float
    source: FieldSourceOut | None
    extractor: str


class ExtractionOut(BaseModel):
    """An extraction of a file with one schema; `data` follows the schema, null where nothing
    supports a field."""

    schema_id: str
    status: Literal["queued", "processing", "completed", "failed"]
    data: dict[str, Any] | None
    fields: list[ExtractedFieldOut]
    confidence_score: float | None
    error: str | None
    error_type: str | None
    extractor: str | None
    requested_at: datetime
    completed_at: datetime | None


class ExtractionListOut(BaseModel):
    """A file's extractions, the latest requested first."""

    items: list[ExtractionOut]
