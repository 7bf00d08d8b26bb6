"""The catalog's tables. Content facts live on `blobs`; per-upload facts on `files`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base with stable constraint names for migrations."""

    metadata = MetaData(naming_convention=NAMING)


class Tenant(Base):
    """An isolated customer: files, keys and usage never cross tenants."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    tier: Mapped[str] = mapped_column(String(20))
    prepaid_credits: Mapped[int] = mapped_column(Integer, default=0)
    #: sizes of the tenant's blobs, each once, plus uploads reserving room for new ones
    storage_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ApiKey(Base):
    """A key of one tenant; only the hash of its secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(15), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(50))
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Project(Base):
    """A tenant's workspace of folders and files, named uniquely within the tenant."""

    __tablename__ = "projects"
    __table_args__ = (
        # Unique by the name's key (case-folded): "Photos" and "photos" are one name. The
        # listing reads this index in name order.
        Index("ux_projects_tenant_name_key", "tenant_id", "name_key", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    #: case-folding may lengthen a name (ß -> ss): room for four times its characters
    name_key: Mapped[str] = mapped_column(String(1020))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Folder(Base):
    """A named folder of a tenant's files, in a project or outside any, under a parent or at
    the top level.

    `path` holds the ids from the top-level folder down to this one, joined by "/": a
    subtree is one prefix match, breadcrumbs one lookup by ids, and a move rewrites the
    prefixes below it. Files name their folder in `files.folder_id` without a foreign key:
    the services lock the folder row instead (services/folders.py), which adding a key to
    the files table would not spare.
    """

    __tablename__ = "folders"
    __table_args__ = (
        # Sibling names are unique by key; `siblings` names the parent, or the project's top
        # level, as NULLs would be distinct in a unique index on parent_id.
        Index("ux_folders_tenant_siblings_name", "tenant_id", "siblings", "name_key", unique=True),
        Index("ix_folders_tenant_path", "tenant_id", "path"),
        Index("ix_folders_tenant_project", "tenant_id", "project_id", "depth"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id"))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("folders.id"))
    #: the parent's id, or `top:<project id>` (`top:` outside any project)
    siblings: Mapped[str] = mapped_column(String(48))
    name: Mapped[str] = mapped_column(String(255))
    name_key: Mapped[str] = mapped_column(String(1020))
    path: Mapped[str] = mapped_column(String(800))
    depth: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ExtractionSchema(Base):
    """A tenant's named JSON Schema of fields to pull out of files (custom extraction)."""

    __tablename__ = "extraction_schemas"
    __table_args__ = (
        Index("ux_extraction_schemas_tenant_name_key", "tenant_id", "name_key", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    name_key: Mapped[str] = mapped_column(String(1020))
    description: Mapped[str | None] = mapped_column(Text)
    schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    prompt_hint: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Extraction(Base):
    """The fields one schema pulled out of one file: the latest request and its result.

    The schema and prompt are copied when the extraction is requested, so an edit or deletion
    of the named schema never changes what a queued or finished extraction means; an inline
    schema's `schema_id` is derived from its content. `job_id` names the job that may write
    the result: a newer request points it at its own job, and the older one's result is dropped.
    """

    __tablename__ = "extractions"
    __table_args__ = (Index("ux_extractions_file_schema", "file_id", "schema_id", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    file_id: Mapped[str] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"))
    #: no foreign key: results outlive a deleted schema, and inline schemas have no row
    schema_id: Mapped[str] = mapped_column(String(64))
    schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    prompt: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    fields: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    confidence_score: Mapped[float | None] = mapped_column(Float)
    extractor: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    error_type: Mapped[str | None] = mapped_column(String(20))
    job_id: Mapped[str | None] = mapped_column(String(36))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Event(Base):
    """Something the API exposes happened (an outbox row, written in the transaction that made
    the change): what `GET /events` streams and webhooks deliver.

    Events are read in the order of (`txid`, `seq`). On PostgreSQL `txid` is the writing
    transaction's id and readers take only events of transactions older than every one still
    running (catalog/events.py), so an event never appears behind one already read; SQLite
    has one writer at a time, so `seq` alone is commit order and `txid` is 0.
    """

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_tenant_position", "tenant_id", "txid", "seq"),)

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    #: the event's stable id: the same on every delivery of it (`webhook-id`)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    txid: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(40))
    #: no foreign key: an event outlives the file it tells of
    file_id: Mapped[str | None] = mapped_column(String(36))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Webhook(Base):
    """An endpoint of a tenant's that gets the events it asked for, in order, signed.

    `cursor_txid`/`cursor_seq` is the position of the last event handled (delivered, or not of
    a type it wants); `failures` counts the failed attempts at the next one. A deliverer holds
    it with a lease while it delivers (jobs/webhooks.py).
    """

    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_due", "enabled", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(JSON)
    #: `whsec_` + base64: the HMAC key every delivery is signed with, shown once
    secret: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    cursor_txid: Mapped[int] = mapped_column(BigInteger)
    cursor_seq: Mapped[int] = mapped_column(BigInteger)
    failures: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    lease_token: Mapped[str | None] = mapped_column(String(36))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WebhookDelivery(Base):
    """One attempt to deliver one event to one endpoint: the delivery log."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_webhook", "webhook_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer)
    succeeded: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Blob(Base):
    """Stored bytes, once per tenant and SHA-256, with what was learnt from decoding them."""

    __tablename__ = "blobs"
    __table_args__ = (
        # Marks a purge left unfinished, found again by the next purge (services/purge.py).
        Index(
            "ix_blobs_purging",
            "purge_started_at",
            sqlite_where=text("state = 'purging'"),
            postgresql_where=text("state = 'purging'"),
        ),
        # Links' URL lists, which a crawl leaves unnamed for the purge to remove
        # (services/purge.py); no other blob is in it.
        Index(
            "ix_blobs_url_lists",
            "tenant_id",
            "sha256",
            sqlite_where=text("mime_type = 'text/uri-list'"),
            postgresql_where=text("mime_type = 'text/uri-list'"),
        ),
    )

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    storage_key: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str] = mapped_column(String(100))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    content_created_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    blur_hash: Mapped[str | None] = mapped_column(String(100))
    variants: Mapped[list[str]] = mapped_column(JSON, default=list)
    variant_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    #: `live`, or `purging` while a purge removes the bytes: no upload attaches to them then
    #: (domain.purge)
    state: Mapped[str] = mapped_column(String(10), default="live", server_default="live")
    #: when a purge marked the blob; a later purge takes over a mark older than its lease
    purge_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class File(Base):
    """One upload as the user sees it; several files may share a blob."""

    __tablename__ = "files"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "sha256"], ["blobs.tenant_id", "blobs.sha256"]),
        # A listing: the tenant's live files in listing order (newest first, then by id), read
        # from the index; counting them reads the index alone. Partial, not keyed on
        # deleted_at: PostgreSQL does not take `IS NULL` as an equality that keeps index order.
        Index(
            "ix_files_tenant_live_created",
            "tenant_id",
            "created_at",
            "id",
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_files_tenant_sha256", "tenant_id", "sha256"),
        # A folder's and a project's files (listings, counts, moves); most files are in none.
        Index(
            "ix_files_tenant_folder",
            "tenant_id",
            "folder_id",
            sqlite_where=text("folder_id IS NOT NULL"),
            postgresql_where=text("folder_id IS NOT NULL"),
        ),
        Index(
            "ix_files_tenant_project",
            "tenant_id",
            "project_id",
            sqlite_where=text("project_id IS NOT NULL"),
            postgresql_where=text("project_id IS NOT NULL"),
        ),
        # Deleted files in the order they fall due for purging; live files are not in it.
        Index(
            "ix_files_deleted_at",
            "deleted_at",
            sqlite_where=text("deleted_at IS NOT NULL"),
            postgresql_where=text("deleted_at IS NOT NULL"),
        ),
        # What changed since a search index last looked (services/search.py).
        Index("ix_files_tenant_updated", "tenant_id", "updated_at"),
        # One file per keyed upload position: a retried request finds it instead of adding one.
        # NULLs are distinct on SQLite and PostgreSQL, so unkeyed uploads never collide.
        Index("ux_files_tenant_upload_ref", "tenant_id", "upload_ref", unique=True),
        # A tenant's links by the URL they were saved from (dedup, recrawl); files that were
        # uploaded are not in it.
        Index(
            "ix_files_tenant_source_url",
            "tenant_id",
            "source_url",
            sqlite_where=text("source_url IS NOT NULL"),
            postgresql_where=text("source_url IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(255))
    content_category: Mapped[str] = mapped_column(String(40), default="general")
    folder_id: Mapped[str | None] = mapped_column(String(64))
    project_id: Mapped[str | None] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(20))
    mime_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    content_created_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(20))
    auto_describe: Mapped[bool] = mapped_column(Boolean, default=True)
    description_status: Mapped[str] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)
    visible_text: Mapped[str | None] = mapped_column(Text)
    text_regions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    description_error: Mapped[str | None] = mapped_column(Text)
    description_error_type: Mapped[str | None] = mapped_column(String(20))
    description_is_retryable: Mapped[bool | None] = mapped_column(Boolean)
    key_elements: Mapped[list[str] | None] = mapped_column(JSON)
    confidence_score: Mapped[float | None] = mapped_column(Float)
    provider_count: Mapped[int | None] = mapped_column(Integer)
    #: the pipeline fingerprint of the analysis the description came from (see `Analysis`)
    analysis_pipeline: Mapped[str | None] = mapped_column(String(64))
    described_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    session_id: Mapped[str | None] = mapped_column(String(36))
    #: `<idempotency record id>:<position>` for uploads sent with an Idempotency-Key
    upload_ref: Mapped[str | None] = mapped_column(String(80))
    #: A document's own facts (null for other kinds): `pdf`, `docx`, `txt` or `md`, its pages,
    #: and how extracting its text went (`pending`, `processing`, `completed`, `failed`,
    #: `skipped`) into how many chunks (services/extract.py).
    document_type: Mapped[str | None] = mapped_column(String(10))
    #: the title the document gives itself (PDF metadata, a first heading): its description
    #: names it; the file's `title` stays the uploader's
    document_title: Mapped[str | None] = mapped_column(Text)
    page_count: Mapped[int | None] = mapped_column(Integer)
    text_extraction_status: Mapped[str | None] = mapped_column(String(20))
    text_extraction_error: Mapped[str | None] = mapped_column(Text)
    text_extraction_error_type: Mapped[str | None] = mapped_column(String(20))
    chunk_count: Mapped[int | None] = mapped_column(Integer)
    #: A video's own facts (null for other kinds): what its container says
    #: (domain.videos.VideoMetadata as a record, set at upload and refreshed by the scenes
    #: job), how cutting it into scenes went (`pending`, `processing`, `completed`, `failed`)
    #: and into how many scenes (services/scenes.py).
    video_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    video_analysis_status: Mapped[str | None] = mapped_column(String(16))
    video_analysis_error: Mapped[str | None] = mapped_column(Text)
    video_analysis_error_type: Mapped[str | None] = mapped_column(String(32))
    scene_count: Mapped[int | None] = mapped_column(Integer)
    #: A link's own facts (null for other kinds, and for a file that was uploaded): the
    #: normalized URL it was saved from (the tenant's links are deduplicated by it) and its
    #: host, how fetching it went (`pending`, `processing`, `completed`, `failed`; its error
    #: and error type) and when it last succeeded (services/crawl.py); what the page said of
    #: itself (title, Open Graph, favicon) and its article's images, set by its extraction.
    source_url: Mapped[str | None] = mapped_column(Text)
    domain: Mapped[str | None] = mapped_column(String(255))
    page_title: Mapped[str | None] = mapped_column(Text)
    og_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    favicon_url: Mapped[str | None] = mapped_column(Text)
    crawl_status: Mapped[str | None] = mapped_column(String(20))
    crawl_error: Mapped[str | None] = mapped_column(Text)
    crawl_error_type: Mapped[str | None] = mapped_column(String(32))
    crawled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    extracted_images: Mapped[list[str] | None] = mapped_column(JSON)
    extracted_images_count: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class FileTag(Base):
    """A tag on a file; a table of its own so tag filters are indexed on every database."""

    __tablename__ = "file_tags"
    __table_args__ = (Index("ix_file_tags_tag", "tag", "file_id"),)

    file_id: Mapped[str] = mapped_column(
        ForeignKey("files.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    #: `user` tags are the uploader's (PATCH replaces them); `ai` tags come from a description
    source: Mapped[str] = mapped_column(String(10), default="user", server_default="user")


class FileEvent(Base):
    """One line of a file's processing history."""

    __tablename__ = "file_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    file_id: Mapped[str] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    event: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)


class DocumentPage(Base):
    """One page of a document's extracted text, with its text regions (domain.regions records,
    normalized to the page) and the page's size in pixels at the scale they were found at."""

    __tablename__ = "document_pages"

    file_id: Mapped[str] = mapped_column(
        ForeignKey("files.id", ondelete="CASCADE"), primary_key=True
    )
    page_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    regions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    #: `text_layer`, `ocr` or `plain` (media.base.TextMethod)
    method: Mapped[str] = mapped_column(String(20))


class DocumentChunk(Base):
    """A passage of a document, a few hundred words, searched by its words (the chunk
    full-text index, catalog/search_index.py) and by its meaning (`embedding`)."""

    __tablename__ = "document_chunks"
    __table_args__ = (
        UniqueConstraint("file_id", "chunk_index"),
        Index("ix_document_chunks_tenant", "tenant_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    file_id: Mapped[str] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"))
    chunk_index: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    #: the pages the chunk's text came from, ascending
    page_numbers: Mapped[list[int]] = mapped_column(JSON)
    #: float32 little-endian, unit length; None when no text embedder is configured
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)


class VideoScene(Base):
    """One scene of a video: its times in seconds (0-based `scene_index`, in order), the time of
    its keyframe, and where its WebP thumbnail is stored (domain.blobkeys.scene_thumbnail_key;
    shared by every file of the same bytes, removed with the blob)."""

    __tablename__ = "video_scenes"

    file_id: Mapped[str] = mapped_column(
        ForeignKey("files.id", ondelete="CASCADE"), primary_key=True
    )
    scene_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    start_seconds: Mapped[float] = mapped_column(Float)
    end_seconds: Mapped[float] = mapped_column(Float)
    keyframe_seconds: Mapped[float] = mapped_column(Float)
    thumbnail_key: Mapped[str | None] = mapped_column(String(200))


class UploadSession(Base):
    """A batch upload request and its tallies."""

    __tablename__ = "upload_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    total_files: Mapped[int] = mapped_column(Integer)
    succeeded: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class UploadSessionItem(Base):
    """What became of one file of a batch."""

    __tablename__ = "upload_session_items"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("upload_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    file_id: Mapped[str | None] = mapped_column(String(36))
    deduplicated: Mapped[bool | None] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)


class Usage(Base):
    """Descriptions charged to a tenant in one month."""

    __tablename__ = "usage"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    descriptions_used: Mapped[int] = mapped_column(Integer, default=0)


class StorageReservation(Base):
    """Room an upload holds in its tenant's `storage_bytes` while it keeps new bytes. Settled
    with the file that keeps them (or given back); one past `expires_at` was left by a process
    that died mid-upload, and its room is reclaimed."""

    __tablename__ = "storage_reservations"
    __table_args__ = (Index("ix_storage_reservations_expiry", "tenant_id", "expires_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    nbytes: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


ACTIVE_JOB_STATES = ("queued", "running")


class Job(Base):
    """Durable work: the source of truth for what must run; queues only wake workers.

    A job row is written in the same transaction as the file it works on. A worker claims it with
    a lease (`lease_token`, `lease_expires_at`) and commits its result only while the token is
    still its own, so a job that outlived its worker runs again and is committed exactly once.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_ready", "state", "run_after"),
        Index("ix_jobs_tenant_kind_state", "tenant_id", "kind", "state"),
        # At most one queued or running job of a kind per file; a file's `fields` jobs are
        # one per schema, each named by its extraction row instead.
        Index(
            "ux_jobs_active_per_file",
            "file_id",
            "kind",
            unique=True,
            sqlite_where=text("state IN ('queued', 'running') AND kind <> 'fields'"),
            postgresql_where=text("state IN ('queued', 'running') AND kind <> 'fields'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    file_id: Mapped[str] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    run_after: Mapped[datetime] = mapped_column(UtcDateTime())
    lease_token: Mapped[str | None] = mapped_column(String(36))
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: When its message last went to the queue: a due job not dispatched since it became due,
    #: or whose message is long unanswered, is dispatched again by the sweeper.
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_type: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Analysis(Base):
    """The merged description of some bytes under one pipeline configuration: the analysis cache.

    Scoped to the tenant on purpose: a cache shared across tenants would tell one tenant, by a
    fast answer, that another already holds the same bytes.
    """

    __tablename__ = "analyses"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "sha256"], ["blobs.tenant_id", "blobs.sha256"]),
    )

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON)
    key_elements: Mapped[list[str]] = mapped_column(JSON)
    visible_text: Mapped[str | None] = mapped_column(Text)
    text_regions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    confidence_score: Mapped[float | None] = mapped_column(Float)
    providers: Mapped[list[str]] = mapped_column(JSON)
    #: float32 little-endian, unit length; the embedder is part of the pipeline fingerprint
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: the tagger's pooled features, float32 little-endian, unit length (image similarity)
    image_features: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: the top ImageNet classes as [index, probability], most probable first (the tag bridge)
    class_scores: Mapped[list[list[float]] | None] = mapped_column(JSON)
    timings_ms: Mapped[dict[str, float]] = mapped_column(JSON)
    #: a media made of parts (a video's scenes): each part's own results in order, as
    #: `{"description", "tags", "visible_text", "text_regions"}`; None for a single picture
    parts: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    #: where each part came from: `{"description": {...}, "tags": [...], "visible_text": {...},
    #: "embedding": {...}, "pipeline": fingerprint}`, each part naming its analyzer and its
    #: confidence; None for analyses made before provenance was kept
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: the faces found, `[{"x", "y", "width", "height", "confidence"}]` normalized 0-1: where,
    #: never who; None for analyses made before faces were looked for
    faces: Mapped[list[dict[str, float]] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IdempotencyKey(Base):
    """A write sent with an `Idempotency-Key`: running under a lease, then its first response.

    The id is what the request's work is stored under (`File.upload_ref`), so it survives a
    take-over: a retry after a crash continues the first attempt instead of starting afresh.
    `lease_token` fences the attempts: only the one holding the lease may finish or release.
    """

    __tablename__ = "idempotency_keys"
    #: per API key, not per tenant: a key (of whatever scope) never meets another key's answers
    __table_args__ = (UniqueConstraint("api_key_id", "key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    api_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    #: SHA-256 of method, path, query, content type and length (domain.idempotency)
    request_signature: Mapped[str] = mapped_column(String(64))
    #: SHA-256 of the body, once an attempt has read all of it
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(10))  # "running" or "done"
    lease_token: Mapped[str | None] = mapped_column(String(36))
    locked_until: Mapped[datetime] = mapped_column(UtcDateTime())
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class DirectUpload(Base):
    """A large file a client sends straight to storage in parts, until it completes.

    `storage_key` holds the bytes while they arrive (the store's own multipart upload is
    `store_upload_id`); completion verifies them and ingest moves them to their content address.
    `claim_token` fences completions: only the one holding the claim may finish it.
    """

    __tablename__ = "direct_uploads"
    __table_args__ = (
        Index("ix_direct_uploads_tenant_sha256", "tenant_id", "sha256"),
        Index("ix_direct_uploads_state_expires", "state", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(12))
    filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    #: what the client declared, checked at completion
    sha256: Mapped[str | None] = mapped_column(String(64))
    #: the validated upload options (title, tags, auto_describe, ...)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    part_size: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(200))
    store_upload_id: Mapped[str] = mapped_column(String(1024))
    #: the parts were joined into one object at storage_key (S3 forgets the parts then)
    sealed: Mapped[bool] = mapped_column(Boolean, default=False)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    file_id: Mapped[str | None] = mapped_column(String(36))
    error: Mapped[str | None] = mapped_column(Text)
    #: when the bytes of an upload that will never complete were freed
    freed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
