"""Reading, listing, editing and deleting a tenant's files."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from scopix.server.catalog.models import Blob, File, FileEvent, Job
from scopix.server.catalog.repositories import WordsCount
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain import blobkeys
from scopix.server.domain.errors import Conflict, NotFound, SearchUnavailable, ValidationFailed
from scopix.server.domain.fields import validate_tags, validate_title
from scopix.server.domain.ids import looks_like_id
from scopix.server.domain.listing import FileQuery
from scopix.server.domain.ranking import fused_window
from scopix.server.domain.variants import ORIGINAL, is_known_variant
from scopix.server.jobs.records import DESCRIBE
from scopix.server.services.placement import folder_or_404, project_or_404, target
from scopix.server.services.search import SemanticIndex

MAX_BATCH_DELETE = 100
RECOVERABLE_FOR = timedelta(days=30)


@dataclass(frozen=True)
class FileView:
    """A file with what belongs to it, ready to present."""

    file: File
    blob: Blob
    tags: tuple[str, ...]
    history: Sequence[FileEvent] = ()
    #: the uploader's own tags, in details only: the rest came with the description
    user_tags: tuple[str, ...] = ()
    #: in details only, from the file's analysis: where each part of its description came
    #: from, and the boxes of the faces found (None before it is described, or before either
    #: was kept)
    provenance: dict[str, Any] | None = None
    faces: list[dict[str, float]] | None = None


@dataclass(frozen=True)
class ProcessingView:
    """A file and its latest description job."""

    view: FileView
    describe_job: Job | None


@dataclass(frozen=True)
class FilePage:
    """One page of a listing."""

    items: list[FileView]
    total_count: int
    has_more: bool


@dataclass(frozen=True)
class FileEdit:
    """What a PATCH changes: a field left out (`*_given` false, `tags` None) stays as it is.

    `folder_id` moves the file into that folder (and its project); without a folder, the
    file goes to the top level of `project_id` when given, else of its own project.
    """

    title: str | None = None
    title_given: bool = False
    tags: list[str] | None = None
    folder_id: str | None = None
    folder_given: bool = False
    project_id: str | None = None
    project_given: bool = False

    @property
    def moves(self) -> bool:
        return self.folder_given or self.project_given

    def note(self) -> str:
        changed = [
            name
            for name, given in (
                ("title", self.title_given),
                ("tags", self.tags is not None),
                ("folder", self.folder_given),
                ("project", self.project_given),
            )
            if given
        ]
        return ", ".join(changed) or "nothing"


@dataclass(frozen=True)
class BatchDeleteOutcome:
    """Which ids were deleted, which were already gone, which failed and why."""

    deleted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class BlobLocation:
    """Where the bytes of an original or a variant are stored."""

    key: str
    media_type: str
    filename: str
    #: Bytes stored, where the catalog knows (originals), for answering range requests.
    size: int | None = None


class FileService:
    """File use cases; every lookup is scoped to the caller's tenant."""

    def __init__(self, uows: UnitOfWorkFactory, semantic: SemanticIndex | None = None) -> None:
        self.uows = uows
        self.semantic = semantic

    async def get(self, tenant_id: str, file_id: str) -> FileView:
        """One live file with tags and processing history."""
        async with self.uows.read() as uow:
            file = await live_file(uow, tenant_id, file_id)
            return await _view(uow, file, with_history=True)

    async def processing(self, tenant_id: str, file_id: str) -> ProcessingView:
        """A live file with its latest description job."""
        async with self.uows.read() as uow:
            file = await live_file(uow, tenant_id, file_id)
            view = await _view(uow, file, with_history=False)
            job = await uow.jobs.latest_for_file(file.id, DESCRIBE)
        return ProcessingView(view, job)

    async def page(self, tenant_id: str, query: FileQuery) -> FilePage:
        """A page of live files matching `query`: semantic searches rank by meaning, and `all`
        fuses the full-text and the semantic rankings (unless a sort is asked for). A
        folder or project to list in that the tenant does not have is not found."""
        await self._check_scope(tenant_id, query)
        search = query.search
        if search is not None and search.words and self._ranks_by_meaning(query):
            window, total = await self._ranked_by_meaning(tenant_id, query)
            async with self.uows.read() as uow:
                files = await uow.files.in_order(tenant_id, window)
                items = await _views(uow, files)
            return FilePage(items, total, query.offset + len(items) < total)
        async with self.uows.read() as uow:
            matched, total = await uow.files.page(tenant_id, query)
            items = await _views(uow, list(matched))
        return FilePage(items, total, query.offset + len(items) < total)

    async def similar(self, tenant_id: str, file_id: str, limit: int) -> list[FileView]:
        """The live files whose images look most like this one's, most alike first."""
        async with self.uows.read() as uow:
            await live_file(uow, tenant_id, file_id)
        if self.semantic is None:
            raise SearchUnavailable("similar images need the on-device models (SCOPIX_ONDEVICE)")
        found = await self.semantic.similar(tenant_id, file_id, limit)
        if found is None:
            raise Conflict(
                "this file has no image features yet: it is not described (or not an image)",
                file_id=file_id,
            )
        async with self.uows.read() as uow:
            return await _views(uow, await uow.files.in_order(tenant_id, found))

    async def _check_scope(self, tenant_id: str, query: FileQuery) -> None:
        if query.folder_id is None and query.project_id is None:
            return
        async with self.uows.read() as uow:
            if query.folder_id is not None:
                await folder_or_404(uow, tenant_id, query.folder_id)
            if query.project_id is not None:
                await project_or_404(uow, tenant_id, query.project_id)

    def _ranks_by_meaning(self, query: FileQuery) -> bool:
        assert query.search is not None
        if query.search.mode == "semantic":
            if self.semantic is None:
                raise SearchUnavailable(
                    "semantic search needs the on-device embedder (SCOPIX_ONDEVICE)"
                )
            return True
        return query.search.mode == "all" and query.sort_by is None and self.semantic is not None

    async def _ranked_by_meaning(self, tenant_id: str, query: FileQuery) -> tuple[list[str], int]:
        """The query's window of every match, best first, and how many match: the files
        relevant in meaning (above the relevance floor of domain/relevance.py, filtered), fused
        with the full-text matches in `all` mode, so a file that holds none of the words and
        means something else is not listed."""
        assert query.search is not None and self.semantic is not None
        end = query.offset + query.limit
        # The full-text count needs nothing of the meaning ranking: it is read on another
        # connection while the query is embedded and the vectors scanned.
        words = (
            asyncio.ensure_future(self._words_count(tenant_id, query))
            if query.search.mode == "all"
            else None
        )
        try:
            nearest = await self.semantic.ranked(tenant_id, query.search.text)
        except BaseException:
            if words is not None:
                words.cancel()
            raise
        counted = await words if words is not None else None
        async with self.uows.read() as uow:
            passing = await uow.files.passing(tenant_id, query, nearest)
            by_meaning = [file_id for file_id in nearest if file_id in passing]
            if counted is None:
                return by_meaning[query.offset : end], len(by_meaning)
            head, ranks = await uow.files.words_window(tenant_id, query, counted, end, by_meaning)
        fused, count = fused_window(head, counted.total, ranks, by_meaning, end)
        return fused[query.offset :], count

    async def _words_count(self, tenant_id: str, query: FileQuery) -> WordsCount:
        async with self.uows.read() as uow:
            return await uow.files.words_count(tenant_id, query)

    async def update(self, tenant_id: str, file_id: str, edit: FileEdit) -> FileView:
        """Change the title, the tags, and/or where the file is (`FileEdit`)."""
        async with self.uows.write() as uow:
            file = await live_file(uow, tenant_id, file_id)
            now = datetime.now(UTC)
            if edit.title_given:
                file.title = validate_title(edit.title)
            if edit.tags is not None:
                await uow.files.replace_tags(file.id, validate_tags(edit.tags))
            if edit.moves:
                where = await target(
                    uow,
                    tenant_id,
                    edit.folder_id,
                    edit.project_id,
                    project_given=edit.project_given,
                )
                where.place(file, now)
            file.updated_at = now
            uow.files.add_event(file, now, "edited", edit.note())
            await uow.files.reindex(file)
            await uow.commit()
            return await _view(uow, file, with_history=True)

    async def delete(self, tenant_id: str, file_id: str) -> None:
        """Soft-delete: hidden at once, recoverable for 30 days."""
        async with self.uows.write() as uow:
            file = await live_file(uow, tenant_id, file_id)
            await soft_delete(uow, file)
            await uow.commit()

    async def restore(self, tenant_id: str, file_id: str) -> FileView:
        """Bring back a file deleted less than 30 days ago."""
        async with self.uows.write() as uow:
            file = (
                await uow.files.get_deleted(tenant_id, file_id) if looks_like_id(file_id) else None
            )
            now = datetime.now(UTC)
            if file is None or file.deleted_at is None or now - file.deleted_at > RECOVERABLE_FOR:
                raise NotFound("no recoverable deleted file with this id", file_id=file_id)
            file.deleted_at = None
            file.updated_at = now
            uow.files.add_event(file, now, "restored", None)
            await uow.files.reindex(file)
            await uow.commit()
            return await _view(uow, file, with_history=True)

    async def batch_delete(self, tenant_id: str, file_ids: list[str]) -> BatchDeleteOutcome:
        """Soft-delete up to 100 files; unknown ids are reported, not fatal."""
        if not 1 <= len(file_ids) <= MAX_BATCH_DELETE:
            raise ValidationFailed(
                f"file_ids must hold 1 to {MAX_BATCH_DELETE} ids", field="file_ids"
            )
        outcome = BatchDeleteOutcome()
        async with self.uows.write() as uow:
            for file_id in dict.fromkeys(file_ids):
                file = await uow.files.get(tenant_id, file_id) if looks_like_id(file_id) else None
                if file is None:
                    outcome.skipped.append(file_id)
                    continue
                await soft_delete(uow, file)
                outcome.deleted.append(file_id)
            await uow.commit()
        return outcome

    async def locate(self, tenant_id: str, file_id: str, variant: str) -> BlobLocation:
        """Where the original or a variant of a file is stored."""
        if not is_known_variant(variant):
            raise NotFound(f"there is no variant called {variant!r}", variant=variant)
        async with self.uows.read() as uow:
            file = await live_file(uow, tenant_id, file_id)
            blob = await uow.blobs.get(tenant_id, file.sha256)
        if blob is None:
            raise NotFound("file not found")
        if variant == ORIGINAL:
            return BlobLocation(blob.storage_key, blob.mime_type, file.filename, blob.size_bytes)
        if variant not in blob.variants:
            raise NotFound(f"the {variant} variant of this file is not available", variant=variant)
        key = blobkeys.variant_key(tenant_id, file.sha256, variant)
        return BlobLocation(key, "image/webp", f"{file.filename}.{variant}.webp")


async def live_file(uow: UnitOfWork, tenant_id: str, file_id: str) -> File:
    """The tenant's file that is not deleted; NotFound for any other id, ill-formed ones too."""
    file = await uow.files.get(tenant_id, file_id) if looks_like_id(file_id) else None
    if file is None:
        raise NotFound("file not found", file_id=file_id)
    return file


async def _view(uow: UnitOfWork, file: File, *, with_history: bool) -> FileView:
    blob = await uow.blobs.get(file.tenant_id, file.sha256)
    if blob is None:
        raise NotFound("file not found", file_id=file.id)
    tags = await uow.files.tags_for([file.id])
    if not with_history:
        return FileView(file, blob, tuple(tags.get(file.id, ())))
    history = await uow.files.events_for(file.id)
    owned = await uow.files.tags_for([file.id], source="user")
    analysis = None
    if file.analysis_pipeline is not None:
        analysis = await uow.analyses.get(file.tenant_id, file.sha256, file.analysis_pipeline)
    return FileView(
        file,
        blob,
        tuple(tags.get(file.id, ())),
        history,
        tuple(owned.get(file.id, ())),
        provenance=analysis.provenance if analysis else None,
        faces=analysis.faces if analysis else None,
    )


async def soft_delete(uow: UnitOfWork, file: File) -> None:
    """Hide the file now, recoverable for 30 days (`FileService.restore`)."""
    now = datetime.now(UTC)
    file.deleted_at = now
    file.updated_at = now
    uow.files.add_event(file, now, "deleted", None)
    await uow.files.reindex(file)  # out of the search index in the same transaction


async def _views(uow: UnitOfWork, files: list[File]) -> list[FileView]:
    blobs = await uow.files.blobs_for(files)
    tags = await uow.files.tags_for([f.id for f in files])
    return [FileView(f, blobs[f.sha256], tuple(tags.get(f.id, ()))) for f in files]
