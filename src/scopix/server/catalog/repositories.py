"""Repositories: the only place that speaks SQL to the catalog."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, make_transient_to_detached

from scopix.server.catalog.events import EventRepository
from scopix.server.catalog.loop_session import ON_DRIVER
from scopix.server.catalog.models import (
    ACTIVE_JOB_STATES,
    Analysis,
    ApiKey,
    Blob,
    DirectUpload,
    DocumentChunk,
    DocumentPage,
    File,
    FileEvent,
    FileTag,
    Folder,
    IdempotencyKey,
    Job,
    StorageReservation,
    Tenant,
    UploadSession,
    UploadSessionItem,
    Usage,
    VideoScene,
)
from scopix.server.catalog.search_index import (
    MatchKeys,
    chunk_matches,
    count_and_keys,
    count_matches,
    index_chunks,
    index_file,
    key_ranks,
    match_ranks,
    matches,
    matching_ids,
    unindex_chunks_of,
    unindex_files,
)
from scopix.server.domain.chunking import Chunk
from scopix.server.domain.events import event_of_history
from scopix.server.domain.ids import new_id
from scopix.server.domain.listing import FileQuery
from scopix.server.domain.media import URI_LIST_MIME
from scopix.server.domain.purge import BlobState
from scopix.server.domain.regions import as_record, from_record
from scopix.server.domain.tiers import TIERS
from scopix.server.domain.videos import SceneSpan, VideoMetadata
from scopix.server.jobs.records import CRAWL, DESCRIBE, EXTRACT, FIELDS, SCENES, VARIANTS
from scopix.server.media.base import Extracted, ExtractedPage, Scene, SceneCut

# Statements every upload or request runs, built once: building one and its cache key cost more
# CPU than running it (bench/uploads.py; about 80 us a statement).
_TENANTS = cast(Table, Tenant.__table__)
_RESERVATIONS = cast(Table, StorageReservation.__table__)
_BLOBS = cast(Table, Blob.__table__)
_KEYS = cast(Table, ApiKey.__table__)
_TIER = select(_TENANTS.c.tier).where(_TENANTS.c.id == bindparam("tenant_id"))
_ADD_STORAGE = (
    update(_TENANTS)
    .where(_TENANTS.c.id == bindparam("tenant_id"))
    .values(storage_bytes=_TENANTS.c.storage_bytes + bindparam("nbytes"))
    .execution_options(**ON_DRIVER)
)
#: The tenant's tier's quota, read in the reserving UPDATE itself (one statement, where a
#: SELECT of the tier came first): each tier's limit is a parameter, NULL for none; a tier
#: this process does not know fits nothing.
_TIER_LIMIT = case(
    {name: bindparam(f"limit_{name}", type_=BigInteger) for name in TIERS},
    value=_TENANTS.c.tier,
    else_=-1,
)
_ADD_STORAGE_WITHIN_TIER = _ADD_STORAGE.where(
    or_(_TIER_LIMIT.is_(None), _TENANTS.c.storage_bytes + bindparam("nbytes") <= _TIER_LIMIT)
)
_RESERVE = insert(_RESERVATIONS).execution_options(**ON_DRIVER)
_END_RESERVATION = (
    delete(_RESERVATIONS)
    .where(_RESERVATIONS.c.id == bindparam("reservation_id"))
    .execution_options(**ON_DRIVER)
)
_INSERT_BLOB_IF_ABSENT = {
    "sqlite": sqlite_insert(_BLOBS).on_conflict_do_nothing().execution_options(**ON_DRIVER),
    "postgresql": postgresql_insert(_BLOBS).on_conflict_do_nothing(),
}
_BLOB_BY_KEY = select(Blob).where(
    Blob.tenant_id == bindparam("tenant_id"), Blob.sha256 == bindparam("sha256")
)
_BLOB_KEY = (
    select(_BLOBS.c.sha256)
    .where(_BLOBS.c.tenant_id == bindparam("tenant_id"), _BLOBS.c.sha256 == bindparam("sha256"))
    .execution_options(**ON_DRIVER)
)
# Plain columns, not entities: no ORM loading on every request (135 against 205 us a lookup).
_CREDENTIALS = (
    select(
        _KEYS.c.id.label("key_id"),
        _KEYS.c.secret_hash,
        _KEYS.c.scopes,
        _KEYS.c.revoked_at,
        _KEYS.c.expires_at,
        _TENANTS.c.id.label("tenant_id"),
        _TENANTS.c.name.label("tenant_name"),
        _TENANTS.c.tier,
    )
    .join_from(_KEYS, _TENANTS, _KEYS.c.tenant_id == _TENANTS.c.id)
    .where(_KEYS.c.prefix == bindparam("prefix"))
    .execution_options(**ON_DRIVER)
)


@dataclass(frozen=True)
class Credentials:
    """What authenticating a request needs of a key and its tenant."""

    key_id: str
    secret_hash: str
    scopes: str
    revoked_at: datetime | None
    expires_at: datetime | None
    tenant_id: str
    tenant_name: str
    tier: str


class TenantRepository:
    """Tenants."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tenant_id: str) -> Tenant | None:
        return await self.session.get(Tenant, tenant_id)

    async def tier(self, tenant_id: str) -> str | None:
        """The tenant's tier's name (None: no such tenant)."""
        return await self.session.scalar(_TIER, {"tenant_id": tenant_id})

    async def get_by_name(self, name: str) -> Tenant | None:
        return await self.session.scalar(select(Tenant).where(Tenant.name == name))

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(Tenant)) or 0)

    async def add(self, tenant: Tenant) -> None:
        self.session.add(tenant)
        await self.session.flush()  # rows that refer to the tenant may follow in this unit

    async def reserve_storage(
        self, reservation: StorageReservation, limits: Mapping[str, int | None]
    ) -> bool:
        """Count the reservation's bytes as stored if they stay within the tenant's tier's limit
        (`limits`: each tier's, None for none) and record it; False when they do not fit. One
        conditional UPDATE: two concurrent reservations are ordered by the row's lock, and the
        second sees the first (domain.storage_quota.after_reserve)."""
        params: dict[str, object] = {f"limit_{name}": limits.get(name) for name in TIERS}
        params.update(tenant_id=reservation.tenant_id, nbytes=reservation.nbytes)
        result = await self.session.execute(_ADD_STORAGE_WITHIN_TIER, params)
        if int(getattr(result, "rowcount", 0) or 0) != 1:
            return False
        columns = ("id", "tenant_id", "nbytes", "expires_at")
        await self.session.execute(_RESERVE, {c: getattr(reservation, c) for c in columns})
        return True

    async def settle_storage(
        self, reservation_id: str, tenant_id: str, nbytes: int, *, keep: bool
    ) -> None:
        """End an upload's reservation: its bytes stay counted when the upload kept them, and
        are given back when it did not. One reclaimed as expired meanwhile gave its room back
        then, so bytes kept after all are counted again, whatever the limit: they are stored."""
        removed = await self.session.execute(_END_RESERVATION, {"reservation_id": reservation_id})
        held = int(getattr(removed, "rowcount", 0) or 0) == 1
        if held and not keep:
            await self.release_storage(tenant_id, nbytes)
        elif keep and not held:
            await self._add_storage(tenant_id, nbytes)

    async def reclaim_expired_storage(self, tenant_id: str, now: datetime) -> int:
        """Give back the room of the tenant's reservations past their expiry (their uploads
        died with their process); the bytes reclaimed."""
        expired = await self.session.scalars(
            delete(StorageReservation)
            .where(StorageReservation.tenant_id == tenant_id, StorageReservation.expires_at <= now)
            .returning(StorageReservation.nbytes)
            .execution_options(synchronize_session=False)
        )
        reclaimed = sum(expired.all())
        if reclaimed:
            await self.release_storage(tenant_id, reclaimed)
        return reclaimed

    async def tenants_with_expired_storage(self, now: datetime) -> Sequence[str]:
        """The tenants holding reservations past their expiry (`reclaim_expired_storage`)."""
        rows = await self.session.scalars(
            select(StorageReservation.tenant_id)
            .where(StorageReservation.expires_at <= now)
            .distinct()
        )
        return rows.all()

    async def _add_storage(self, tenant_id: str, nbytes: int) -> None:
        await self.session.execute(_ADD_STORAGE, {"tenant_id": tenant_id, "nbytes": nbytes})

    async def release_storage(self, tenant_id: str, nbytes: int) -> None:
        """Give back `nbytes` stored bytes: a failed upload's reservation, or a purged blob's
        size. Never below zero (domain.storage_quota.after_release)."""
        remaining = Tenant.storage_bytes - nbytes
        await self.session.execute(
            update(Tenant)
            .where(Tenant.id == tenant_id)
            .values(storage_bytes=case((remaining > 0, remaining), else_=0))
            .execution_options(synchronize_session=False)
        )

    async def storage_used(self, tenant_id: str) -> int:
        """Bytes the tenant stores and reserves now."""
        used = await self.session.scalar(select(Tenant.storage_bytes).where(Tenant.id == tenant_id))
        return int(used or 0)


class ApiKeyRepository:
    """API keys, looked up by their public prefix."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_by_prefix(self, prefix: str) -> ApiKey | None:
        return await self.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))

    async def credentials(self, prefix: str) -> Credentials | None:
        """The key with this prefix and its tenant, in one statement (every request asks)."""
        row = (await self.session.execute(_CREDENTIALS, {"prefix": prefix})).mappings().first()
        return None if row is None else Credentials(**row)

    async def listed(self, tenant_id: str | None = None) -> Sequence[tuple[ApiKey, str]]:
        """Every key (or one tenant's) with its tenant's name, oldest first."""
        stmt = select(ApiKey, Tenant.name).join(Tenant, Tenant.id == ApiKey.tenant_id)
        if tenant_id is not None:
            stmt = stmt.where(ApiKey.tenant_id == tenant_id)
        rows = await self.session.execute(stmt.order_by(ApiKey.created_at, ApiKey.prefix))
        return [(key, name) for key, name in rows]

    def add(self, key: ApiKey) -> None:
        self.session.add(key)


class BlobRepository:
    """Stored bytes per tenant and hash."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tenant_id: str, sha256: str) -> Blob | None:
        # A statement built once: `session.get` builds its own on every call (80 µs more).
        return await self.session.scalar(_BLOB_BY_KEY, {"tenant_id": tenant_id, "sha256": sha256})

    async def has(self, tenant_id: str, sha256: str) -> bool:
        """Whether the tenant has these bytes: a lookup of the key alone, with no entity loaded
        (an upload asks first, and most uploads bring new bytes; the ORM's empty `get` took 5 %
        of the event loop's time under the small-upload bench)."""
        params = {"tenant_id": tenant_id, "sha256": sha256}
        return await self.session.scalar(_BLOB_KEY, params) is not None

    async def add_if_absent(self, blob: Blob) -> tuple[Blob, bool]:
        """Insert `blob`, or lock the row already there; True when this call inserted it.

        Either way the row stays locked until commit, so uploads of the same bytes record their
        files one after the other and each sees the files of the others.
        """
        if await self._insert_if_absent(blob):
            return blob, True
        existing = await self.lock(blob.tenant_id, blob.sha256)
        if existing is None:  # pragma: no cover - the conflicting row is not deleted meanwhile
            raise IntegrityError("blob insert", None, Exception("conflicting blob row vanished"))
        return existing, False

    async def _insert_if_absent(self, blob: Blob) -> bool:
        """INSERT ... ON CONFLICT DO NOTHING: one statement where a savepoint around the
        ORM's insert took three. The inserted row joins the session as if it was loaded."""
        blob.state = blob.state or BlobState.LIVE
        blob.variants = blob.variants or []
        values = {column.key: getattr(blob, column.key) for column in _BLOBS.columns}
        for key, value in values.items():  # each one set: nothing is left for a lazy load
            setattr(blob, key, value)
        statement = _INSERT_BLOB_IF_ABSENT[self.session.get_bind().dialect.name]
        result = await self.session.execute(statement, values)
        if int(getattr(result, "rowcount", 0) or 0) != 1:
            return False
        make_transient_to_detached(blob)
        self.session.add(blob)
        return True

    async def lock(self, tenant_id: str, sha256: str) -> Blob | None:
        """The blob row, locked until commit (SQLite's writer lock already covers it)."""
        return await self.session.scalar(
            select(Blob)
            .where(Blob.tenant_id == tenant_id, Blob.sha256 == sha256)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def lock_many(self, keys: Collection[tuple[str, str]]) -> list[Blob]:
        """The blob rows of these (tenant, sha256) keys that exist, locked in key order, so
        two transactions locking overlapping sets never wait on each other in a cycle."""
        locked = [await self.lock(tenant_id, sha256) for tenant_id, sha256 in sorted(set(keys))]
        return [blob for blob in locked if blob is not None]

    async def abandoned_marks(self, marked_before: datetime, limit: int) -> list[tuple[str, str]]:
        """(tenant, sha256) of blobs marked for purging before `marked_before` and still there."""
        rows = await self.session.execute(
            select(Blob.tenant_id, Blob.sha256)
            .where(Blob.state == BlobState.PURGING, Blob.purge_started_at < marked_before)
            .order_by(Blob.purge_started_at)
            .limit(limit)
        )
        return [(row.tenant_id, row.sha256) for row in rows]

    async def replaced_url_lists(self, limit: int) -> list[tuple[str, str]]:
        """(tenant, sha256) of live link URL lists that no file names any more: each link's
        crawl moved its file onto the page it fetched (services/crawl.py)."""
        named = exists().where(File.tenant_id == Blob.tenant_id, File.sha256 == Blob.sha256)
        rows = await self.session.execute(
            select(Blob.tenant_id, Blob.sha256)
            .where(Blob.mime_type == URI_LIST_MIME, Blob.state == BlobState.LIVE, ~named)
            .limit(limit)
        )
        return [(row.tenant_id, row.sha256) for row in rows]

    async def remove(self, blob: Blob) -> None:
        """Delete the blob's row and the analyses of its bytes (keyed by tenant and hash)."""
        await self.session.execute(
            delete(Analysis).where(
                Analysis.tenant_id == blob.tenant_id, Analysis.sha256 == blob.sha256
            )
        )
        await self.session.delete(blob)
        await self.session.flush()


@dataclass(frozen=True)
class WordsCount:
    """How many files match a full-text search, whether they rank by relevance, every match
    when the query's filters made the catalog list them all, and the matches' keys when
    PostgreSQL lists them newest first (`search_index.count_and_keys`)."""

    total: int
    by_relevance: bool
    every: list[str] | None
    keys: MatchKeys | None = None


class FileRepository:
    """Files, their tags and their history; deleted files are invisible unless asked for."""

    def __init__(self, session: AsyncSession, outbox: EventRepository) -> None:
        self.session = session
        self.outbox = outbox

    async def get(self, tenant_id: str, file_id: str) -> File | None:
        return await self.session.scalar(
            select(File).where(
                File.id == file_id, File.tenant_id == tenant_id, File.deleted_at.is_(None)
            )
        )

    async def lock(self, tenant_id: str, file_id: str) -> File | None:
        """A live file, locked until commit, so concurrent state changes see each other."""
        return await self.session.scalar(
            select(File)
            .where(File.id == file_id, File.tenant_id == tenant_id, File.deleted_at.is_(None))
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def get_deleted(self, tenant_id: str, file_id: str) -> File | None:
        return await self.session.scalar(
            select(File).where(
                File.id == file_id, File.tenant_id == tenant_id, File.deleted_at.is_not(None)
            )
        )

    async def find_live_by_hash(self, tenant_id: str, sha256: str) -> File | None:
        return await self.session.scalar(
            select(File)
            .where(File.tenant_id == tenant_id, File.sha256 == sha256, File.deleted_at.is_(None))
            .order_by(File.created_at)
            .limit(1)
        )

    async def live_link(self, tenant_id: str, source_url: str) -> File | None:
        """The tenant's oldest live file saved from this (normalized) URL."""
        return await self.session.scalar(
            select(File)
            .where(
                File.tenant_id == tenant_id,
                File.source_url == source_url,
                File.deleted_at.is_(None),
            )
            .order_by(File.created_at, File.id)
            .limit(1)
        )

    async def due_for_recrawl(self, crawled_before: datetime, limit: int) -> Sequence[Any]:
        """(tenant_id, id) of live links last crawled (or, never fetched, added) before
        `crawled_before`, with no crawl queued or running, longest waiting first."""
        crawling = exists().where(
            Job.file_id == File.id, Job.kind == CRAWL, Job.state.in_(ACTIVE_JOB_STATES)
        )
        last = func.coalesce(File.crawled_at, File.created_at)
        rows = await self.session.execute(
            select(File.tenant_id, File.id)
            .where(
                File.source_url.is_not(None),
                File.deleted_at.is_(None),
                last < crawled_before,
                ~crawling,
            )
            .order_by(last, File.id)
            .limit(limit)
        )
        return rows.all()

    async def refers_to(self, tenant_id: str, sha256: str) -> bool:
        """Whether any file row, live or deleted, names these bytes."""
        found = await self.session.scalar(
            select(exists().where(File.tenant_id == tenant_id, File.sha256 == sha256))
        )
        return bool(found)

    async def deleted_before(self, cutoff: datetime, limit: int) -> Sequence[Any]:
        """(id, tenant_id, sha256) of files deleted before `cutoff`, longest deleted first."""
        rows = await self.session.execute(
            select(File.id, File.tenant_id, File.sha256)
            .where(File.deleted_at.is_not(None), File.deleted_at < cutoff)
            .order_by(File.deleted_at, File.id)
            .limit(limit)
        )
        return rows.all()

    async def remove_deleted(self, file_ids: Collection[str], cutoff: datetime) -> list[str]:
        """Delete for good those of `file_ids` still deleted before `cutoff` (a restore may have
        come first), with their tags, history, jobs and search rows; the ids deleted."""
        due = list(
            await self.session.scalars(
                select(File.id)
                .where(File.id.in_(file_ids), File.deleted_at < cutoff)
                .with_for_update()
            )
        )
        if not due:
            return []
        await unindex_files(self.session, due)
        await unindex_chunks_of(self.session, due)
        for owned in (FileTag, FileEvent, Job, DocumentChunk, DocumentPage, VideoScene):
            await self.session.execute(delete(owned).where(owned.file_id.in_(due)))
        await self.session.execute(delete(File).where(File.id.in_(due)))
        return due

    async def purge_preview(self, cutoff: datetime) -> tuple[int, int, int]:
        """What purging at `cutoff` would remove: (files, blobs, bytes of those blobs)."""
        files = await self.session.scalar(
            select(func.count()).where(File.deleted_at.is_not(None), File.deleted_at < cutoff)
        )
        due = (
            select(File.tenant_id, File.sha256)
            .where(File.deleted_at.is_not(None), File.deleted_at < cutoff)
            .distinct()
            .subquery()
        )
        kept = aliased(File)
        still_named = exists().where(
            kept.tenant_id == Blob.tenant_id,
            kept.sha256 == Blob.sha256,
            or_(kept.deleted_at.is_(None), kept.deleted_at >= cutoff),
        )
        blobs = await self.session.execute(
            select(func.count(), func.coalesce(func.sum(Blob.size_bytes), 0))
            .select_from(Blob)
            .join(due, and_(Blob.tenant_id == due.c.tenant_id, Blob.sha256 == due.c.sha256))
            .where(~still_named)
        )
        count, size = blobs.one()
        return int(files or 0), int(count), int(size)

    async def by_upload_ref(self, tenant_id: str, ref: str) -> File | None:
        """The file a keyed upload stored at this reference, deleted or not."""
        return await self.session.scalar(
            select(File).where(File.tenant_id == tenant_id, File.upload_ref == ref)
        )

    async def stored_refs(self, tenant_id: str, refs: Collection[str]) -> set[str]:
        """Which of `refs` already name a file (deleted or not)."""
        if not refs:
            return set()
        rows = await self.session.scalars(
            select(File.upload_ref).where(File.tenant_id == tenant_id, File.upload_ref.in_(refs))
        )
        return {ref for ref in rows if ref is not None}

    async def by_id(self, tenant_id: str, file_id: str) -> File | None:
        """A file whether deleted or not (jobs finish their work on deleted files too)."""
        return await self.session.scalar(
            select(File).where(File.id == file_id, File.tenant_id == tenant_id)
        )

    async def awaiting_variants(self, tenant_id: str, sha256: str) -> Sequence[File]:
        """Files of these bytes whose variants are still being made."""
        rows = await self.session.scalars(
            select(File).where(
                File.tenant_id == tenant_id, File.sha256 == sha256, File.status == "processing"
            )
        )
        return rows.all()

    def add(self, file: File, tags: Sequence[str]) -> None:
        self.session.add(file)
        self.session.add_all(
            FileTag(file_id=file.id, tag=t, position=i) for i, t in enumerate(tags)
        )

    async def index_new(self, file: File, tags: Sequence[str]) -> None:
        """Write the full-text row of a file `add`ed in this transaction with `tags`: it has
        no row yet and its tags are known, so nothing is read first (`reindex` reads both)."""
        await index_file(self.session, file, tags, new=True)

    async def replace_tags(self, file_id: str, tags: Sequence[str]) -> None:
        """Replace the uploader's tags; a description's tags stay unless the user now owns them."""
        await self.session.execute(
            delete(FileTag).where(
                FileTag.file_id == file_id,
                or_(FileTag.source == "user", FileTag.tag.in_(tags)),
            )
        )
        await self.session.flush()
        self.session.add_all(
            FileTag(file_id=file_id, tag=t, position=i) for i, t in enumerate(tags)
        )

    async def replace_ai_tags(self, file_id: str, tags: Sequence[str]) -> None:
        """Replace a description's tags, leaving the uploader's (and their duplicates) alone."""
        await self.session.execute(
            delete(FileTag).where(FileTag.file_id == file_id, FileTag.source == "ai")
        )
        owned = set(
            await self.session.scalars(select(FileTag.tag).where(FileTag.file_id == file_id))
        )
        self.session.add_all(
            FileTag(file_id=file_id, tag=t, position=i, source="ai")
            for i, t in enumerate(tags)
            if t not in owned
        )

    async def tags_for(
        self, file_ids: Sequence[str], source: str | None = None
    ) -> dict[str, list[str]]:
        """The tags of each file (only the uploader's, or a description's, if `source` says)."""
        stmt = (
            select(FileTag.file_id, FileTag.tag)
            .where(FileTag.file_id.in_(file_ids))
            # the uploader's tags first ("user" sorts after "ai"), then the description's
            .order_by(FileTag.file_id, FileTag.source.desc(), FileTag.position)
        )
        if source is not None:
            stmt = stmt.where(FileTag.source == source)
        rows = await self.session.execute(stmt)
        tags: dict[str, list[str]] = defaultdict(list)
        for file_id, tag in rows:
            tags[file_id].append(tag)
        return tags

    def add_event(self, file: File, at: datetime, event: str, detail: str | None = None) -> None:
        """A line of the file's history; a line that is an event of the API goes to the
        events outbox too, in the same transaction."""
        self.session.add(FileEvent(file_id=file.id, at=at, event=event, detail=detail))
        api_event = event_of_history(event)
        if api_event is not None:
            self.outbox.record(file.tenant_id, api_event, at, file_event_data(file), file.id)

    async def events_for(self, file_id: str) -> Sequence[FileEvent]:
        rows = await self.session.scalars(
            select(FileEvent).where(FileEvent.file_id == file_id).order_by(FileEvent.id)
        )
        return rows.all()

    async def blobs_for(self, files: Sequence[File]) -> dict[str, Blob]:
        if not files:
            return {}
        tenant_id = files[0].tenant_id
        rows = await self.session.scalars(
            select(Blob).where(
                Blob.tenant_id == tenant_id, Blob.sha256.in_({f.sha256 for f in files})
            )
        )
        return {b.sha256: b for b in rows}

    async def reindex(self, file: File) -> None:
        """Bring the file's full-text row up to date (in this transaction)."""
        tags = await self.tags_for([file.id])
        await index_file(self.session, file, tags.get(file.id, []))

    async def ranked_ids(self, tenant_id: str, query: FileQuery) -> list[str]:
        """Every file matching the query's filters and words, in the order of `page`."""
        search = query.search
        if search is None or not search.words:
            return []
        if query.filtered:
            counted, _ = self._join_matches(tenant_id, query, ranked=False)
            total = await self._count(counted)
            stmt = self._filtered_matches(tenant_id, query, total).with_only_columns(File.id)
            return list(await self.session.scalars(stmt))
        total = await count_matches(self.session, tenant_id, search)
        return await matching_ids(
            self.session,
            tenant_id,
            search,
            by_relevance=query.ranks_by_relevance(total),
            descending=query.descending,
            limit=None,
        )

    async def words_ranking(
        self, tenant_id: str, query: FileQuery, end: int, among: Sequence[str]
    ) -> tuple[list[str], int, dict[str, int]]:
        """The first `end` ids of `ranked_ids`, how many it holds, and the rank (1 = first) in
        it of each of `among` that it holds: what `domain.ranking.fused_window` needs. With
        only the tenant and the words, the index answers without listing every match. In two
        parts, `words_count` and `words_window`: the count needs no `among`, so it can be read
        while `among` is being found."""
        counted = await self.words_count(tenant_id, query)
        head, ranks = await self.words_window(tenant_id, query, counted, end, among)
        return head, counted.total, ranks

    async def words_count(self, tenant_id: str, query: FileQuery) -> WordsCount:
        """How many files `ranked_ids` holds, and how they are ordered (see `words_ranking`)."""
        search = query.search
        if search is None or not search.words:
            return WordsCount(0, by_relevance=False, every=[])
        if query.filtered:
            every = await self.ranked_ids(tenant_id, query)
            return WordsCount(len(every), by_relevance=False, every=every)
        total, keys = await count_and_keys(self.session, tenant_id, search)
        by_relevance = query.ranks_by_relevance(total)
        return WordsCount(total, by_relevance, every=None, keys=None if by_relevance else keys)

    async def words_window(
        self,
        tenant_id: str,
        query: FileQuery,
        counted: WordsCount,
        end: int,
        among: Sequence[str],
    ) -> tuple[list[str], dict[str, int]]:
        """The first `end` ids of `ranked_ids` and the rank in it of each of `among` that it
        holds, from one numbering of the matches (see `words_ranking`)."""
        if counted.every is not None:
            wanted = set(among)
            ranks = {i: n for n, i in enumerate(counted.every, start=1) if i in wanted}
            return counted.every[:end], ranks
        assert query.search is not None
        if counted.keys is not None:
            head = await matching_ids(
                self.session,
                tenant_id,
                query.search,
                by_relevance=False,
                descending=query.descending,
                limit=end,
            )
            ranks = await key_ranks(
                self.session,
                tenant_id,
                query.search,
                counted.keys,
                among,
                descending=query.descending,
            )
            return head, ranks
        numbered = await match_ranks(
            self.session,
            tenant_id,
            query.search,
            among,
            by_relevance=counted.by_relevance,
            descending=query.descending,
            first=end,
        )
        head = sorted((i for i, n in numbered.items() if n <= end), key=numbered.__getitem__)
        wanted = set(among)
        return head, {i: n for i, n in numbered.items() if i in wanted}

    async def passing(self, tenant_id: str, query: FileQuery, ids: Sequence[str]) -> set[str]:
        """Which of `ids` are live files of the tenant that pass the query's filters."""
        if not query.filtered:
            # By primary key alone, checked here (see in_order); three columns, no objects.
            rows = await self.session.execute(
                select(File.id, File.tenant_id, File.deleted_at).where(File.id.in_(ids))
            )
            return {r.id for r in rows if r.tenant_id == tenant_id and r.deleted_at is None}
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            stmt = _filtered(tenant_id, query).with_only_columns(File.id)
            found.update(await self.session.scalars(stmt.where(File.id.in_(chunk))))
        return found

    async def in_order(self, tenant_id: str, ids: Sequence[str]) -> list[File]:
        """The tenant's live files with these ids, in the order given."""
        if not ids:
            return []
        # By primary key alone, then checked here: cheaper than asking the planner to weigh a
        # tenant index against 100 key lookups.
        rows = await self.session.scalars(select(File).where(File.id.in_(ids)))
        by_id = {f.id: f for f in rows if f.tenant_id == tenant_id and f.deleted_at is None}
        return [by_id[i] for i in ids if i in by_id]

    async def live_ids(self, tenant_id: str) -> Sequence[str]:
        """The ids of the tenant's files not deleted."""
        stmt = select(File.id).where(File.tenant_id == tenant_id, File.deleted_at.is_(None))
        return list(await self.session.scalars(stmt))

    async def vectors_since(
        self, tenant_id: str, since: datetime | None, *, images: bool = False
    ) -> Sequence[Any]:
        """Files changed at or after `since` (all live ones when None) with the vectors of
        their analysis: (id, deleted_at, updated_at, embedding, class_scores), or with
        `images` (id, deleted_at, updated_at, image_features)."""
        joined = and_(
            Analysis.tenant_id == File.tenant_id,
            Analysis.sha256 == File.sha256,
            Analysis.pipeline == File.analysis_pipeline,
        )
        vectors = (
            [Analysis.image_features] if images else [Analysis.embedding, Analysis.class_scores]
        )
        stmt = (
            select(File.id, File.deleted_at, File.updated_at, *vectors)
            .outerjoin(Analysis, joined)
            .where(File.tenant_id == tenant_id)
        )
        if since is None:
            stmt = stmt.where(File.deleted_at.is_(None))
        else:
            stmt = stmt.where(File.updated_at >= since)
        return list((await self.session.execute(stmt)).all())

    async def page(self, tenant_id: str, query: FileQuery) -> tuple[Sequence[File], int]:
        """One page of a listing and the total count of matches; a search without an explicit
        sort comes best match first (newest first past `MAX_RANKED_MATCHES` matches)."""
        search = query.search
        if search is None or search.mode == "semantic":
            listed = _filtered(tenant_id, query).order_by(*_listing_order(query))
            return await self._window(listed, query), await self._count(listed)
        if not search.words:
            return [], 0
        if query.filtered or query.sort_by is not None:
            counted, _ = self._join_matches(tenant_id, query, ranked=False)
            total = await self._count(counted)
            return await self._window(self._filtered_matches(tenant_id, query, total), query), total
        # Only the tenant and the words: the index alone counts and pages the matches.
        total = await count_matches(self.session, tenant_id, search)
        ids = await matching_ids(
            self.session,
            tenant_id,
            search,
            by_relevance=query.ranks_by_relevance(total),
            descending=query.descending,
            limit=query.limit,
            offset=query.offset,
        )
        return await self.in_order(tenant_id, ids), total

    async def _count(self, stmt: Select[File]) -> int:
        counted = select(func.count()).select_from(stmt.order_by(None).subquery())
        return int(await self.session.scalar(counted) or 0)

    async def _window(self, stmt: Select[File], query: FileQuery) -> Sequence[File]:
        return (await self.session.scalars(stmt.limit(query.limit).offset(query.offset))).all()

    def _filtered_matches(self, tenant_id: str, query: FileQuery, total: int) -> Select[File]:
        """The matches that pass the filters, in listing order (best first when ranked)."""
        ranked = query.ranks_by_relevance(total)
        stmt, rank = self._join_matches(tenant_id, query, ranked=ranked)
        return stmt.order_by(*([rank.asc()] if ranked else []), *_listing_order(query))

    def _join_matches(
        self, tenant_id: str, query: FileQuery, *, ranked: bool
    ) -> tuple[Select[File], ColumnElement[float]]:
        assert query.search is not None
        found = matches(self.session, tenant_id, query.search, ranked=ranked)
        subquery = found.columns(file_id=String(), rank=Float()).subquery("matches")
        joined = _filtered(tenant_id, query).join(subquery, subquery.c.file_id == File.id)
        return joined, subquery.c.rank


#: Sort columns that may be NULL, which come last either way (SQLite and PostgreSQL disagree
#: on where NULLs sort, and NULLS LAST on a NOT NULL column would stop an index being used).
_NULLABLE_SORTS = frozenset({"content_created_at", "title"})


def _listing_order(query: FileQuery) -> list[ColumnElement[Any]]:
    field = query.sort_by or "created_at"
    column = getattr(File, field)
    ordered = column.desc() if query.descending else column.asc()
    if field in _NULLABLE_SORTS:
        ordered = ordered.nulls_last()
    return [ordered, File.id.desc() if query.descending else File.id.asc()]


def _filtered(tenant_id: str, query: FileQuery) -> Select[File]:
    stmt = select(File).where(File.tenant_id == tenant_id, File.deleted_at.is_(None))
    for tag in query.tags:
        stmt = stmt.where(exists().where(and_(FileTag.file_id == File.id, FileTag.tag == tag)))
    if query.media_types:
        stmt = stmt.where(File.media_type.in_(query.media_types))
    if query.date_from:
        stmt = stmt.where(File.created_at >= query.date_from)
    if query.date_to:
        stmt = stmt.where(File.created_at <= query.date_to)
    if query.has_description is True:
        stmt = stmt.where(File.description.is_not(None))
    elif query.has_description is False:
        stmt = stmt.where(File.description.is_(None))
    if query.ids:
        stmt = stmt.where(File.id.in_(query.ids))
    if query.folder_id is not None:
        stmt = stmt.where(_in_folder(tenant_id, query.folder_id, query.include_subfolders))
    if query.project_id is not None:
        stmt = stmt.where(File.project_id == query.project_id)
    return stmt


def _in_folder(tenant_id: str, folder_id: str, below_too: bool) -> ColumnElement[bool]:
    if not below_too:
        return File.folder_id == folder_id
    top = select(Folder.path).where(Folder.id == folder_id, Folder.tenant_id == tenant_id)
    below = select(Folder.id).where(
        Folder.tenant_id == tenant_id,
        or_(Folder.id == folder_id, Folder.path.startswith(top.scalar_subquery() + "/")),
    )
    return File.folder_id.in_(below)


class SessionRepository:
    """Batch upload sessions and their items."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, upload_session: UploadSession, items: Sequence[UploadSessionItem]) -> None:
        self.session.add(upload_session)
        self.session.add_all(items)

    async def get(self, tenant_id: str, session_id: str) -> UploadSession | None:
        return await self.session.scalar(
            select(UploadSession).where(
                UploadSession.id == session_id, UploadSession.tenant_id == tenant_id
            )
        )

    async def remove(self, tenant_id: str, session_id: str) -> None:
        """Delete a session and its items (a retried batch records its session afresh)."""
        owned = select(UploadSession.id).where(
            UploadSession.id == session_id, UploadSession.tenant_id == tenant_id
        )
        await self.session.execute(
            delete(UploadSessionItem).where(UploadSessionItem.session_id.in_(owned))
        )
        await self.session.execute(
            delete(UploadSession).where(
                UploadSession.id == session_id, UploadSession.tenant_id == tenant_id
            )
        )

    async def items(self, session_id: str) -> Sequence[UploadSessionItem]:
        rows = await self.session.scalars(
            select(UploadSessionItem)
            .where(UploadSessionItem.session_id == session_id)
            .order_by(UploadSessionItem.position)
        )
        return rows.all()


class UsageRepository:
    """Monthly description counters."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def used(self, tenant_id: str, period: str) -> int:
        usage = await self.session.get(Usage, (tenant_id, period))
        return 0 if usage is None else usage.descriptions_used

    async def lock_tenant(self, tenant_id: str) -> Tenant | None:
        """The tenant row, locked so concurrent charges and reservations see each other.

        FOR NO KEY UPDATE (PostgreSQL; SQLite serializes writers anyway): it still orders two
        charges, but does not wait on the key-share locks that inserting rows which refer to
        the tenant (files, analyses) takes, so two such transactions cannot deadlock.
        """
        return await self.session.scalar(
            select(Tenant)
            .where(Tenant.id == tenant_id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )

    async def charge(self, tenant: Tenant, period: str, monthly_limit: int) -> None:
        """Charge one description: the monthly allowance first, then a prepaid credit."""
        usage = await self.session.get(Usage, (tenant.id, period), with_for_update=True)
        if usage is None:
            usage = Usage(tenant_id=tenant.id, period=period, descriptions_used=0)
            self.session.add(usage)
        if usage.descriptions_used >= monthly_limit and tenant.prepaid_credits > 0:
            tenant.prepaid_credits -= 1
        usage.descriptions_used += 1


class JobRepository:
    """Durable jobs: claims with leases, heartbeats, guarded completion, expiry."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, job: Job) -> None:
        self.session.add(job)

    async def latest_for_file(self, file_id: str, kind: str) -> Job | None:
        return await self.session.scalar(
            select(Job)
            .where(Job.file_id == file_id, Job.kind == kind)
            .order_by(Job.created_at.desc(), Job.id.desc())
            .limit(1)
        )

    async def active_for_file(self, file_id: str, kind: str) -> Job | None:
        """The file's queued or running job of `kind` (there is at most one)."""
        return await self.session.scalar(
            select(Job).where(
                Job.file_id == file_id, Job.kind == kind, Job.state.in_(ACTIVE_JOB_STATES)
            )
        )

    async def running_for_file(self, file_id: str) -> bool:
        """Whether a worker runs one of the file's jobs now."""
        found = await self.session.scalar(
            select(exists().where(Job.file_id == file_id, Job.state == "running"))
        )
        return bool(found)

    async def repoint_file(self, file_id: str, sha256: str) -> None:
        """Point the file's queued jobs at its new bytes (a crawl replaced them), so that what
        waited for the crawl works on what it fetched."""
        await self.session.execute(
            update(Job)
            .where(Job.file_id == file_id, Job.state == "queued")
            .values(sha256=sha256)
            .execution_options(synchronize_session="fetch")
        )

    async def reserved(self, tenant_id: str, kind: str) -> int:
        """How many jobs of `kind` are queued or running for the tenant."""
        count = await self.session.scalar(
            select(func.count()).where(
                Job.tenant_id == tenant_id, Job.kind == kind, Job.state.in_(ACTIVE_JOB_STATES)
            )
        )
        return int(count or 0)

    async def next_ready(self, now: datetime, kinds: Collection[str] | None = None) -> Job | None:
        """The oldest due queued job, locked; other PostgreSQL workers skip past it.

        A job waits while another of its kind runs on the same bytes, so identical bytes are
        analysed once and the second job finds the first one's cached result.
        """
        ready = _ready(now)
        if kinds is not None:
            ready = ready.where(Job.kind.in_(kinds))
        return await self.session.scalar(
            ready.order_by(Job.run_after, Job.id).limit(1).with_for_update(skip_locked=True)
        )

    async def claimable(self, job_id: str, now: datetime) -> Job | None:
        """This job, locked, if it is queued and due and no job on its bytes runs; else None
        (also when another worker holds its lock: SKIP LOCKED)."""
        return await self.session.scalar(
            _ready(now).where(Job.id == job_id).with_for_update(skip_locked=True)
        )

    async def hold_bytes(self, job: Job) -> bool:
        """Whether this transaction may start `job` with no other job of its kind running on
        the same bytes, and keeps that true until it commits.

        `_ready` alone is not enough on PostgreSQL: two claims whose snapshots precede each
        other's commit both see no running job. A transaction-scoped advisory lock per
        (tenant, bytes, kind) orders them, and a fresh look after taking it sees the other's
        committed claim. SQLite runs one writer at a time, so `_ready` already holds there."""
        if self.session.get_bind().dialect.name != "postgresql":
            return True
        key = f"{job.tenant_id}:{job.sha256}:{job.kind}"
        locked = await self.session.scalar(
            select(func.pg_try_advisory_xact_lock(func.hashtextextended(key, 0)))
        )
        if not locked:
            return False
        running = aliased(Job)
        other_running = await self.session.scalar(
            select(
                exists().where(
                    running.tenant_id == job.tenant_id,
                    running.sha256 == job.sha256,
                    running.kind == job.kind,
                    running.state == "running",
                    running.id != job.id,
                )
            )
        )
        return not other_running

    async def held_back_by(self, job: Job, now: datetime) -> list[str]:
        """The due jobs that waited while `job` ran on the same bytes, and, once `job` is
        finished, those of its file that waited for it (`WAITS_FOR`)."""
        same_bytes = and_(
            Job.tenant_id == job.tenant_id, Job.sha256 == job.sha256, Job.kind == job.kind
        )
        waiting = [kind for kind, awaited in WAITS_FOR.items() if job.kind in awaited]
        if waiting and job.state not in ACTIVE_JOB_STATES:
            same_bytes = or_(same_bytes, and_(Job.file_id == job.file_id, Job.kind.in_(waiting)))
        return list(
            await self.session.scalars(
                select(Job.id).where(same_bytes, Job.state == "queued", Job.run_after <= now)
            )
        )

    async def undispatched(
        self, now: datetime, unanswered_since: datetime, limit: int
    ) -> Sequence[Job]:
        """Due queued jobs, locked, whose message was never sent since they became due, or was
        sent before `unanswered_since` and never answered."""
        rows = await self.session.scalars(
            select(Job)
            .where(
                Job.state == "queued",
                Job.run_after <= now,
                or_(
                    Job.dispatched_at.is_(None),
                    Job.dispatched_at < Job.run_after,
                    Job.dispatched_at < unanswered_since,
                ),
            )
            .order_by(Job.run_after, Job.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return rows.all()

    async def lock(self, job_id: str) -> Job | None:
        return await self.session.scalar(
            select(Job)
            .where(Job.id == job_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def lock_leased(self, job_id: str, token: str) -> Job | None:
        """The job, locked, only while `token` still holds its lease."""
        return await self.session.scalar(
            select(Job)
            .where(Job.id == job_id, Job.lease_token == token, Job.state == "running")
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def extend_lease(self, job_id: str, token: str, expires_at: datetime) -> bool:
        """Push the lease's expiry; False when the lease is no longer this token's."""
        result = await self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.lease_token == token, Job.state == "running")
            .values(lease_expires_at=expires_at)
        )
        return bool(getattr(result, "rowcount", 0))

    async def expired(self, now: datetime, limit: int = 100) -> Sequence[Job]:
        """Running jobs whose lease ran out, locked."""
        rows = await self.session.scalars(
            select(Job)
            .where(Job.state == "running", Job.lease_expires_at < now)
            .order_by(Job.lease_expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return rows.all()

    async def has_due(self, now: datetime) -> bool:
        return bool(
            await self.session.scalar(
                select(exists().where(Job.state == "queued", Job.run_after <= now))
            )
        )


#: Job kinds that wait while a job of their file of one of these kinds is queued or running:
#: a document's description reads what its extraction found, a video's the scenes found in it.
#: A link's bytes are a placeholder until its crawl replaces them, so nothing reads them while
#: a crawl may still do so; and what a crawl queues for the bytes it fetched (variants, their
#: kind's own job, a description) is dispatched as it finishes (`held_back_by`).
WAITS_FOR: dict[str, tuple[str, ...]] = {
    DESCRIBE: (EXTRACT, SCENES, CRAWL),
    VARIANTS: (CRAWL,),
    EXTRACT: (CRAWL,),
    SCENES: (CRAWL,),
    # Custom extraction reads the text the description found (services/custom_extraction.py).
    FIELDS: (DESCRIBE, EXTRACT, SCENES, CRAWL),
}


def _ready(now: datetime) -> Select[Job]:
    """Queued, due jobs no other job of their kind holds back by running on the same bytes,
    and none waits for (`WAITS_FOR`) while it is still to finish."""
    running = aliased(Job)
    same_bytes_running = exists().where(
        running.tenant_id == Job.tenant_id,
        running.sha256 == Job.sha256,
        running.kind == Job.kind,
        running.state == "running",
    )
    awaited = aliased(Job)
    waits = [
        and_(
            Job.kind == kind,
            exists().where(
                awaited.file_id == Job.file_id,
                awaited.kind.in_(kinds),
                awaited.state.in_(ACTIVE_JOB_STATES),
            ),
        )
        for kind, kinds in WAITS_FOR.items()
    ]
    return select(Job).where(
        Job.state == "queued", Job.run_after <= now, ~same_bytes_running, ~or_(*waits)
    )


class AnalysisRepository:
    """The analysis cache: one merged description per tenant, content hash and pipeline."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tenant_id: str, sha256: str, pipeline: str) -> Analysis | None:
        return await self.session.get(Analysis, (tenant_id, sha256, pipeline))

    async def add_if_absent(self, analysis: Analysis) -> Analysis:
        """Store `analysis` unless the same key is already there; return the stored one."""
        existing = await self.get(analysis.tenant_id, analysis.sha256, analysis.pipeline)
        if existing is not None:
            return existing
        self.session.add(analysis)
        return analysis


class IdempotencyRepository:
    """Idempotency keys: claimed under a lease, finished with the first response, purged."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, api_key_id: str, key: str) -> IdempotencyKey | None:
        """The API key's record of `key`, locked until commit."""
        return await self.session.scalar(
            select(IdempotencyKey)
            .where(IdempotencyKey.api_key_id == api_key_id, IdempotencyKey.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def add(self, record: IdempotencyKey) -> None:
        """Insert; IntegrityError when a concurrent request inserted the same key first."""
        self.session.add(record)
        await self.session.flush()

    async def remove(self, record: IdempotencyKey) -> None:
        await self.session.delete(record)
        await self.session.flush()

    async def extend(self, record_id: str, token: str, until: datetime) -> bool:
        """Push the lease's end; False when the lease is no longer this token's."""
        return await self._update_leased(record_id, token, locked_until=until)

    async def note_body(self, record_id: str, token: str, body_sha256: str) -> bool:
        """Record the body's hash once an attempt has read all of it."""
        return await self._update_leased(record_id, token, body_sha256=body_sha256)

    async def finish(
        self,
        record_id: str,
        token: str,
        *,
        status: int,
        headers: dict[str, str],
        body: bytes,
        body_sha256: str,
    ) -> bool:
        """Store the first response; False when the lease is no longer this token's."""
        return await self._update_leased(
            record_id,
            token,
            state="done",
            lease_token=None,
            response_status=status,
            response_headers=headers,
            response_body=body,
            body_sha256=body_sha256,
        )

    async def lapse(self, record_id: str, token: str, now: datetime) -> bool:
        """End the lease now, keeping the record, so a retry takes over at once."""
        return await self._update_leased(record_id, token, lease_token=None, locked_until=now)

    async def purge_expired(self, now: datetime) -> int:
        """Delete records past retention; how many."""
        result = await self.session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.expires_at < now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def _update_leased(self, record_id: str, token: str, **values: object) -> bool:
        result = await self.session.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.id == record_id,
                IdempotencyKey.lease_token == token,
                IdempotencyKey.state == "running",
            )
            .values(**values)
        )
        return bool(getattr(result, "rowcount", 0))


class DirectUploadRepository:
    """Direct uploads: found by tenant, by content for resuming, and by expiry for sweeping."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, upload: DirectUpload) -> None:
        self.session.add(upload)

    async def get(self, tenant_id: str, upload_id: str) -> DirectUpload | None:
        upload = await self.session.get(DirectUpload, upload_id)
        return upload if upload is not None and upload.tenant_id == tenant_id else None

    async def get_any_tenant(self, upload_id: str) -> DirectUpload | None:
        """For a signed part URL, whose signature stands in for the key."""
        return await self.session.get(DirectUpload, upload_id)

    async def lock(self, tenant_id: str, upload_id: str) -> DirectUpload | None:
        """The tenant's upload, locked until commit."""
        return await self.session.scalar(
            select(DirectUpload)
            .where(DirectUpload.id == upload_id, DirectUpload.tenant_id == tenant_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def resumable(
        self, tenant_id: str, sha256: str, size_bytes: int, now: datetime
    ) -> Sequence[DirectUpload]:
        """Active, unexpired uploads of these bytes, newest first."""
        rows = await self.session.scalars(
            select(DirectUpload)
            .where(
                DirectUpload.tenant_id == tenant_id,
                DirectUpload.sha256 == sha256,
                DirectUpload.size_bytes == size_bytes,
                DirectUpload.state == "active",
                DirectUpload.expires_at > now,
            )
            .order_by(DirectUpload.created_at.desc())
        )
        return rows.all()

    async def update_claimed(self, upload_id: str, token: str, **values: object) -> bool:
        """Change an upload only while `token` holds its completion claim."""
        result = await self.session.execute(
            update(DirectUpload)
            .where(DirectUpload.id == upload_id, DirectUpload.claim_token == token)
            .values(**values)
        )
        return bool(getattr(result, "rowcount", 0))

    async def lapsed(self, now: datetime, limit: int = 100) -> Sequence[DirectUpload]:
        """Uploads past their expiry that nobody is completing."""
        rows = await self.session.scalars(
            select(DirectUpload)
            .where(
                DirectUpload.expires_at < now,
                or_(
                    DirectUpload.state == "active",
                    and_(DirectUpload.state == "completing", DirectUpload.claimed_until < now),
                ),
            )
            .limit(limit)
        )
        return rows.all()

    async def unfreed(self, limit: int = 100) -> Sequence[DirectUpload]:
        """Uploads that will never complete whose bytes are still held."""
        rows = await self.session.scalars(
            select(DirectUpload)
            .where(
                DirectUpload.state.in_(("aborted", "expired", "failed")),
                DirectUpload.freed_at.is_(None),
            )
            .limit(limit)
        )
        return rows.all()


class DocumentRepository:
    """A document's pages and chunks, and search over the chunks; every read is the tenant's
    and leaves deleted files out."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def replace(
        self,
        file: File,
        pages: Sequence[ExtractedPage],
        chunks: Sequence[Chunk],
        embeddings: Sequence[bytes | None],
    ) -> None:
        """Store an extraction's pages and chunks (with their embeddings, in chunk order) in
        place of any earlier one's, and index the chunks."""
        await self.remove(file.id)
        self.session.add_all(
            DocumentPage(
                file_id=file.id,
                page_number=page.number,
                text=page.text,
                regions=[as_record(region) for region in page.regions],
                width=page.width,
                height=page.height,
                method=page.method,
            )
            for page in pages
        )
        rows = [
            DocumentChunk(
                id=new_id(),
                tenant_id=file.tenant_id,
                file_id=file.id,
                chunk_index=chunk.index,
                content=chunk.content,
                page_numbers=list(chunk.page_numbers),
                embedding=embedding,
            )
            for chunk, embedding in zip(chunks, embeddings, strict=True)
        ]
        self.session.add_all(rows)
        await self.session.flush()
        await index_chunks(
            self.session,
            [{"chunk_id": r.id, "tenant": r.tenant_id, "content": r.content} for r in rows],
        )

    async def remove(self, file_id: str) -> None:
        """Drop a document's pages and chunks (and the chunks' index rows)."""
        await unindex_chunks_of(self.session, [file_id])
        await self.session.execute(delete(DocumentChunk).where(DocumentChunk.file_id == file_id))
        await self.session.execute(delete(DocumentPage).where(DocumentPage.file_id == file_id))

    async def pages(self, tenant_id: str, file_id: str) -> Sequence[DocumentPage]:
        """The pages of the tenant's live document, in order."""
        rows = await self.session.scalars(
            select(DocumentPage)
            .join(File, File.id == DocumentPage.file_id)
            .where(_live_of(tenant_id), DocumentPage.file_id == file_id)
            .order_by(DocumentPage.page_number)
        )
        return rows.all()

    async def page(self, tenant_id: str, file_id: str, number: int) -> DocumentPage | None:
        """Page `number` of the tenant's live document, or None when it has no such page."""
        return await self.session.scalar(
            select(DocumentPage)
            .join(File, File.id == DocumentPage.file_id)
            .where(
                _live_of(tenant_id),
                DocumentPage.file_id == file_id,
                DocumentPage.page_number == number,
            )
        )

    async def extracted(self, tenant_id: str, file_id: str) -> Extracted | None:
        """The tenant's document as its extraction found it (deleted or not: a job finishes
        on it either way); None until its extraction completed."""
        file = await self.session.scalar(
            select(File).where(File.id == file_id, File.tenant_id == tenant_id)
        )
        if file is None or file.text_extraction_status != "completed":
            return None
        rows = await self.session.scalars(
            select(DocumentPage)
            .where(DocumentPage.file_id == file_id)
            .order_by(DocumentPage.page_number)
        )
        pages = tuple(
            ExtractedPage(
                number=row.page_number,
                text=row.text,
                regions=tuple(from_record(record) for record in row.regions),
                width=row.width,
                height=row.height,
                method=row.method,  # type: ignore[arg-type]  # written from a TextMethod
            )
            for row in rows
        )
        return Extracted(file.document_type or "", file.document_title, pages)

    async def chunks(
        self, tenant_id: str, file_id: str, limit: int, offset: int
    ) -> tuple[Sequence[DocumentChunk], int]:
        """One window of the tenant's live document's chunks in order, and how many it has."""
        owned = (
            select(DocumentChunk)
            .join(File, File.id == DocumentChunk.file_id)
            .where(_live_of(tenant_id), DocumentChunk.file_id == file_id)
        )
        total = await self.session.scalar(select(func.count()).select_from(owned.subquery()))
        rows = await self.session.scalars(
            owned.order_by(DocumentChunk.chunk_index).limit(limit).offset(offset)
        )
        return rows.all(), int(total or 0)

    async def matching(
        self,
        tenant_id: str,
        words: Sequence[str],
        limit: int,
        file_ids: Collection[str] | None = None,
    ) -> list[str]:
        """Ids of the tenant's live chunks holding every word, best match first."""
        found = chunk_matches(self.session, tenant_id, words)
        subquery = found.columns(chunk_id=String(), rank=Float()).subquery("matches")
        stmt = (
            select(DocumentChunk.id)
            .join(subquery, subquery.c.chunk_id == DocumentChunk.id)
            .join(File, File.id == DocumentChunk.file_id)
            .where(_live_of(tenant_id))
            .order_by(subquery.c.rank, DocumentChunk.file_id, DocumentChunk.chunk_index)
            .limit(limit)
        )
        if file_ids is not None:
            stmt = stmt.where(DocumentChunk.file_id.in_(file_ids))
        return list(await self.session.scalars(stmt))

    async def embeddings(
        self, tenant_id: str, file_ids: Collection[str] | None = None
    ) -> Sequence[Any]:
        """(id, embedding) of the tenant's live chunks that have an embedding."""
        stmt = (
            select(DocumentChunk.id, DocumentChunk.embedding)
            .join(File, File.id == DocumentChunk.file_id)
            .where(_live_of(tenant_id), DocumentChunk.embedding.is_not(None))
        )
        if file_ids is not None:
            stmt = stmt.where(DocumentChunk.file_id.in_(file_ids))
        return (await self.session.execute(stmt)).all()

    async def with_documents(
        self, tenant_id: str, chunk_ids: Sequence[str]
    ) -> list[tuple[DocumentChunk, str]]:
        """The tenant's live chunks with these ids and their documents' filenames, in the
        order given."""
        if not chunk_ids:
            return []
        rows = await self.session.execute(
            select(DocumentChunk, File.filename)
            .join(File, File.id == DocumentChunk.file_id)
            .where(_live_of(tenant_id), DocumentChunk.id.in_(chunk_ids))
        )
        by_id = {chunk.id: (chunk, filename) for chunk, filename in rows}
        return [by_id[i] for i in chunk_ids if i in by_id]


class VideoRepository:
    """A video's scenes; reads for the API are the tenant's and leave deleted files out."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def replace(
        self, file: File, spans: Sequence[SceneSpan], thumbnail_keys: Sequence[str | None]
    ) -> None:
        """Store a video's scenes (with their thumbnails' keys, in scene order) in place of any
        earlier cut's."""
        await self.remove(file.id)
        self.session.add_all(
            VideoScene(
                file_id=file.id,
                scene_index=span.index,
                tenant_id=file.tenant_id,
                start_seconds=span.start_seconds,
                end_seconds=span.end_seconds,
                keyframe_seconds=span.keyframe_seconds,
                thumbnail_key=key,
            )
            for span, key in zip(spans, thumbnail_keys, strict=True)
        )
        await self.session.flush()

    async def remove(self, file_id: str) -> None:
        """Drop a video's scenes (their thumbnails stay with the blob: other files share them)."""
        await self.session.execute(delete(VideoScene).where(VideoScene.file_id == file_id))

    async def scenes(self, tenant_id: str, file_id: str) -> Sequence[VideoScene]:
        """The scenes of the tenant's live video, in order."""
        rows = await self.session.scalars(
            select(VideoScene)
            .join(File, File.id == VideoScene.file_id)
            .where(_live_of(tenant_id), VideoScene.file_id == file_id)
            .order_by(VideoScene.scene_index)
        )
        return rows.all()

    async def cut(self, tenant_id: str, file_id: str) -> SceneCut | None:
        """The tenant's video as its scenes job cut it (deleted or not: a job finishes on it
        either way), thumbnails left in storage; None until that job completed."""
        file = await self.session.scalar(
            select(File).where(File.id == file_id, File.tenant_id == tenant_id)
        )
        if file is None or file.video_analysis_status != "completed" or file.video_metadata is None:
            return None
        rows = await self.session.scalars(
            select(VideoScene).where(VideoScene.file_id == file_id).order_by(VideoScene.scene_index)
        )
        scenes = tuple(
            Scene(
                SceneSpan(row.scene_index, row.start_seconds, row.end_seconds, row.keyframe_seconds)
            )
            for row in rows
        )
        return SceneCut(VideoMetadata.from_record(file.video_metadata), scenes)


def _live_of(tenant_id: str) -> ColumnElement[bool]:
    return and_(File.tenant_id == tenant_id, File.deleted_at.is_(None))


def file_event_data(file: File) -> dict[str, Any]:
    """What an event about a file says of it (`data` of the Standard Webhooks payload)."""
    return {
        "file_id": file.id,
        "filename": file.filename,
        "media_type": file.media_type,
        "folder_id": file.folder_id,
        "project_id": file.project_id,
        "description_status": file.description_status,
    }
