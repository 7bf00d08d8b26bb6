"""Custom extraction: a tenant's schemas of fields, extraction requests, and the `fields` job
that fills a schema from a file with the configured extractor (vision/fields/).

An extraction is one row per file and schema, holding a copy of the schema and prompt as they
were asked for; its job runs after the file's description (jobs wait for it: `WAITS_FOR`), so
the on-device extractor reads the text the description found. A new request for the same
file and schema replaces the row's request and names its own job; the older job then finds no
row of its own and writes nothing, so a result always answers the latest request.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import EllipsisType
from typing import Any, Final

from scopix.server.catalog.models import Extraction, ExtractionSchema, File, Job
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain import extraction_schemas as rules
from scopix.server.domain.errors import Conflict, NotFound, ValidationFailed
from scopix.server.domain.failures import Failure
from scopix.server.domain.fields import name_key
from scopix.server.domain.ids import looks_like_id, new_id
from scopix.server.domain.regions import TextRegion, as_record, from_record
from scopix.server.jobs.handler import JobFailed
from scopix.server.jobs.queue import JobQueue
from scopix.server.jobs.records import FIELDS, new_job
from scopix.server.media import MediaHandlers
from scopix.server.media.base import MediaFailed
from scopix.server.services.describe import read_inputs
from scopix.server.storage.base import BlobNotFound, BlobStore
from scopix.server.vision.base import AnalyzerError
from scopix.server.vision.fields.base import FieldExtractor, FieldRequest, FieldsFound
from scopix.types.describe import DescriptionErrorType, DescriptionStatus

log = logging.getLogger("scopix.fields")

#: Attempts of one extraction: a VLM that is busy, slow or answers off-schema gets a few more.
FIELDS_MAX_ATTEMPTS: Final = 3
INLINE_PREFIX: Final = "inline_"

_DELETED = Failure(DescriptionErrorType.VALIDATION_ERROR, "the file was deleted first")


@dataclass(frozen=True)
class SchemaEdit:
    """A PATCH of a schema: only the fields given change (`...` marks one not given)."""

    name: str | None = None
    description: str | EllipsisType | None = ...
    schema: Mapping[str, Any] | None = None
    prompt_hint: str | EllipsisType | None = ...


@dataclass(frozen=True)
class SchemaPage:
    items: Sequence[ExtractionSchema]
    total_count: int


class SchemaService:
    """Creates, lists, edits and deletes a tenant's extraction schemas."""

    def __init__(self, uows: UnitOfWorkFactory) -> None:
        self.uows = uows

    async def create(
        self,
        tenant_id: str,
        name: str,
        schema: Mapping[str, Any],
        description: str | None,
        prompt_hint: str | None,
    ) -> ExtractionSchema:
        """A new schema; 422 naming the rule it breaks, 409 when the name is taken."""
        name = _checked_name(name)
        _check_schema(schema)
        now = datetime.now(UTC)
        row = ExtractionSchema(
            id=new_id(),
            tenant_id=tenant_id,
            name=name,
            name_key=name_key(name),
            description=_checked_text(rules.check_description, description, "description"),
            schema=dict(schema),
            prompt_hint=_checked_text(rules.check_prompt_hint, prompt_hint, "prompt_hint"),
            created_at=now,
            updated_at=now,
        )
        async with self.uows.write() as uow:
            await _refuse_taken(uow, tenant_id, name)
            uow.extraction_schemas.add(row)
            await uow.commit_unique(_taken(name))
        return row

    async def page(self, tenant_id: str, limit: int, offset: int) -> SchemaPage:
        async with self.uows.read() as uow:
            rows = await uow.extraction_schemas.page(tenant_id, limit, offset)
            return SchemaPage(rows, await uow.extraction_schemas.count(tenant_id))

    async def get(self, tenant_id: str, schema_id: str) -> ExtractionSchema:
        async with self.uows.read() as uow:
            return await schema_or_404(uow, tenant_id, schema_id)

    async def edit(self, tenant_id: str, schema_id: str, edit: SchemaEdit) -> ExtractionSchema:
        """Change what the edit gives; extractions already asked for keep their copy."""
        async with self.uows.write() as uow:
            row = await schema_or_404(uow, tenant_id, schema_id)
            if edit.name is not None:
                name = _checked_name(edit.name)
                if name_key(name) != row.name_key:
                    await _refuse_taken(uow, tenant_id, name)
                row.name, row.name_key = name, name_key(name)
            if edit.schema is not None:
                _check_schema(edit.schema)
                row.schema = dict(edit.schema)
            if not isinstance(edit.description, EllipsisType):
                row.description = _checked_text(
                    rules.check_description, edit.description, "description"
                )
            if not isinstance(edit.prompt_hint, EllipsisType):
                row.prompt_hint = _checked_text(
                    rules.check_prompt_hint, edit.prompt_hint, "prompt_hint"
                )
            row.updated_at = datetime.now(UTC)
            await uow.commit_unique(_taken(row.name))
            return row

    async def delete(self, tenant_id: str, schema_id: str) -> None:
        """Delete the schema; the results it gave stay with their files."""
        async with self.uows.write() as uow:
            await uow.extraction_schemas.remove(await schema_or_404(uow, tenant_id, schema_id))
            await uow.commit()


@dataclass(frozen=True)
class Wanted:
    """What an extraction request asks for: a stored schema's id, or a schema given inline."""

    schema_id: str | None = None
    schema: Mapping[str, Any] | None = None
    prompt: str | None = None


class ExtractionService:
    """`POST /files/{id}/extract` and the results: one extraction per file and schema."""

    def __init__(self, uows: UnitOfWorkFactory, queue: JobQueue) -> None:
        self.uows = uows
        self.queue = queue

    async def request(self, tenant_id: str, file_id: str, wanted: Wanted) -> Extraction:
        """Queue an extraction of the file (it runs once the file's description settles)."""
        async with self.uows.write() as uow:
            file = await uow.files.lock(tenant_id, file_id) if looks_like_id(file_id) else None
            if file is None or file.deleted_at is not None:
                raise NotFound("file not found", file_id=file_id)
            schema_id, schema, prompt = await resolve(uow, tenant_id, wanted)
            extraction, job = await queue_extraction(uow, file, schema_id, schema, prompt)
            await uow.commit()
        await self.queue.dispatch([job.id])
        return extraction

    async def results(self, tenant_id: str, file_id: str) -> Sequence[Extraction]:
        async with self.uows.read() as uow:
            await _live_file(uow, tenant_id, file_id)
            return await uow.extractions.of_file(tenant_id, file_id)

    async def result(self, tenant_id: str, file_id: str, schema_id: str) -> Extraction:
        async with self.uows.read() as uow:
            await _live_file(uow, tenant_id, file_id)
            found = await uow.extractions.get(tenant_id, file_id, schema_id)
            if found is None:
                raise NotFound(
                    "the file has no extraction with this schema",
                    file_id=file_id,
                    schema_id=schema_id,
                )
            return found


async def resolve(
    uow: UnitOfWork, tenant_id: str, wanted: Wanted
) -> tuple[str, dict[str, Any], str | None]:
    """The schema id, schema and prompt an extraction copies: a stored schema's (its hint
    first, then the request's prompt), or an inline schema's, id'd by its content."""
    prompt = _checked_text(rules.check_prompt_hint, wanted.prompt, "prompt")
    if (wanted.schema_id is None) == (wanted.schema is None):
        raise ValidationFailed("give exactly one of schema_id and schema", field="schema_id")
    if wanted.schema is not None:
        _check_schema(wanted.schema)
        return inline_schema_id(wanted.schema), dict(wanted.schema), prompt
    assert wanted.schema_id is not None
    stored = await schema_or_404(uow, tenant_id, wanted.schema_id, field="schema_id")
    hints = "\n".join(p for p in (stored.prompt_hint, prompt) if p)
    return stored.id, dict(stored.schema), hints or None


async def queue_extraction(
    uow: UnitOfWork, file: File, schema_id: str, schema: dict[str, Any], prompt: str | None
) -> tuple[Extraction, Job]:
    """Ask for the file's extraction with this schema in the caller's transaction: a new row,
    or the file's row for the schema, taken over by a new job."""
    now = datetime.now(UTC)
    job = new_job(FIELDS, file, max_attempts=FIELDS_MAX_ATTEMPTS, now=now)
    uow.jobs.add(job)
    extraction = await uow.extractions.get(file.tenant_id, file.id, schema_id)
    if extraction is None:
        extraction = Extraction(id=new_id(), tenant_id=file.tenant_id, file_id=file.id)
        extraction.schema_id = schema_id
        uow.extractions.add(extraction)
    extraction.schema, extraction.prompt = schema, prompt
    extraction.status, extraction.job_id = "queued", job.id
    extraction.data = extraction.fields = extraction.confidence_score = None
    extraction.extractor = extraction.error = extraction.error_type = None
    extraction.requested_at = extraction.updated_at = now
    extraction.completed_at = None
    uow.files.add_event(file, now, "extraction_queued", f"schema {schema_id}")
    return extraction, job


async def queue_stored_schema(uow: UnitOfWork, file: File, schema: ExtractionSchema) -> Job:
    """Ask for a new file's extraction with a stored schema, as its upload asked."""
    _, job = await queue_extraction(uow, file, schema.id, dict(schema.schema), schema.prompt_hint)
    return job


async def schema_or_404(
    uow: UnitOfWork, tenant_id: str, schema_id: str, *, field: str = "id"
) -> ExtractionSchema:
    row = (
        await uow.extraction_schemas.get(tenant_id, schema_id) if looks_like_id(schema_id) else None
    )
    if row is None:
        raise NotFound("no extraction schema with this id", field=field, schema_id=schema_id)
    return row


def inline_schema_id(schema: Mapping[str, Any]) -> str:
    """An inline schema's id: the same schema (whatever its keys' order) gets the same one,
    so asking again replaces its result instead of piling up new ones."""
    canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return INLINE_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()[:32]


class FieldsHandler:
    """The `fields` job: fill one extraction's schema with the configured extractor."""

    kind = FIELDS

    def __init__(
        self,
        uows: UnitOfWorkFactory,
        store: BlobStore,
        media: MediaHandlers,
        extractor: FieldExtractor,
        max_side: int,
    ) -> None:
        self.uows = uows
        self.store = store
        self.media = media
        self.extractor = extractor
        self.max_side = max_side

    async def started(self, uow: UnitOfWork, job: Job) -> None:
        extraction = await uow.extractions.of_job(job.tenant_id, job.id)
        if extraction is not None:
            extraction.status, extraction.updated_at = "processing", datetime.now(UTC)

    async def execute(self, job: Job) -> FieldsFound | None:
        async with self.uows.read() as uow:
            file = await uow.files.by_id(job.tenant_id, job.file_id)
            extraction = await uow.extractions.of_job(job.tenant_id, job.id)
        if extraction is None:
            return None  # a newer request took the extraction over: its job answers it
        if file is None or file.deleted_at is not None:
            raise JobFailed(_DELETED)
        request = await self._request(job, file, extraction)
        try:
            return await self.extractor.extract(request)
        except AnalyzerError as exc:
            raise JobFailed(Failure(exc.error_type, exc.message, exc.retry_after)) from None

    async def _request(self, job: Job, file: File, extraction: Extraction) -> FieldRequest:
        regions = tuple(from_record(r) for r in file.text_regions or ())
        if not self.extractor.needs_image:
            _check_text_read(file)
            return FieldRequest(extraction.schema, extraction.prompt, regions, file.visible_text)
        try:
            inputs = await read_inputs(
                self.uows, self.store, self.media, file, job.sha256, self.max_side
            )
        except MediaFailed as exc:
            raise JobFailed(exc.failure) from None
        except BlobNotFound:
            missing = "the stored original is missing"
            raise JobFailed(Failure(DescriptionErrorType.VALIDATION_ERROR, missing)) from None
        text = file.visible_text or inputs.text
        return FieldRequest(extraction.schema, extraction.prompt, regions, text, inputs.image)

    async def succeeded(self, uow: UnitOfWork, job: Job, result: FieldsFound | None) -> None:
        extraction = await uow.extractions.of_job(job.tenant_id, job.id)
        if extraction is None or result is None:
            return
        now = datetime.now(UTC)
        extraction.status, extraction.completed_at, extraction.updated_at = "completed", now, now
        extraction.data = result.data
        extraction.fields = [_field_record(value, result.extractor) for value in result.fields]
        extraction.confidence_score = result.confidence_score
        extraction.extractor = result.extractor
        found = f"{len(result.fields)} fields found by {result.extractor}"
        await self._event(
            uow, job, "extraction_completed", f"schema {extraction.schema_id}: {found}"
        )

    async def retrying(
        self, uow: UnitOfWork, job: Job, failure: Failure, run_after: datetime
    ) -> None:
        extraction = await uow.extractions.of_job(job.tenant_id, job.id)
        if extraction is not None:
            extraction.status, extraction.updated_at = "queued", datetime.now(UTC)
            extraction.error, extraction.error_type = failure.message, failure.error_type.value

    async def requeued(self, uow: UnitOfWork, job: Job, reason: str) -> None:
        extraction = await uow.extractions.of_job(job.tenant_id, job.id)
        if extraction is not None:
            extraction.status, extraction.updated_at = "queued", datetime.now(UTC)

    async def failed(self, uow: UnitOfWork, job: Job, failure: Failure) -> None:
        extraction = await uow.extractions.of_job(job.tenant_id, job.id)
        if extraction is None:
            return
        now = datetime.now(UTC)
        extraction.status, extraction.completed_at, extraction.updated_at = "failed", now, now
        extraction.error, extraction.error_type = failure.message, failure.error_type.value
        note = f"schema {extraction.schema_id}: {failure.error_type.value}: {failure.message}"
        await self._event(uow, job, "extraction_failed", note)
        log.info("extraction of file %s failed: %s", job.file_id, note)

    async def _event(self, uow: UnitOfWork, job: Job, name: str, detail: str) -> None:
        file = await uow.files.by_id(job.tenant_id, job.file_id)
        if file is not None:
            uow.files.add_event(file, datetime.now(UTC), name, detail)


def _check_text_read(file: File) -> None:
    """The on-device extractor reads the text the description found: without one, there is
    nothing to read fields from, and another attempt would find nothing either."""
    status = DescriptionStatus(file.description_status)
    if status is not DescriptionStatus.COMPLETED:
        raise JobFailed(
            Failure(
                DescriptionErrorType.VALIDATION_ERROR,
                f"the file's description is {status.value}: fields are read from the text it "
                "finds, so describe the file, then extract",
            )
        )


def _field_record(value: Any, extractor: str) -> dict[str, Any]:
    source = value.source
    return {
        "path": value.path,
        "value": value.value,
        "confidence": value.confidence,
        "source": None if source is None else _source_record(source),
        "extractor": extractor,
    }


def _source_record(region: TextRegion) -> dict[str, Any]:
    record = as_record(region)
    return {"page": region.page, "bbox": record["bbox"], "text": region.text}


async def _live_file(uow: UnitOfWork, tenant_id: str, file_id: str) -> File:
    file = await uow.files.by_id(tenant_id, file_id) if looks_like_id(file_id) else None
    if file is None or file.deleted_at is not None:
        raise NotFound("file not found", file_id=file_id)
    return file


def _check_schema(schema: object) -> None:
    try:
        rules.check_schema(schema)
    except rules.SchemaRuleBroken as exc:
        raise ValidationFailed(exc.message, field="schema", rule=exc.rule, path=exc.path) from None


def _checked_name(name: str) -> str:
    try:
        return rules.check_name(name)
    except rules.SchemaRuleBroken as exc:
        raise ValidationFailed(exc.message, field="name", rule=exc.rule) from None


def _checked_text(
    check: Callable[[str | None], object], text: str | None, field: str
) -> str | None:
    try:
        check(text)
    except rules.SchemaRuleBroken as exc:
        raise ValidationFailed(exc.message, field=field, rule=exc.rule) from None
    return text or None


async def _refuse_taken(uow: UnitOfWork, tenant_id: str, name: str) -> None:
    if await uow.extraction_schemas.named(tenant_id, name_key(name)) is not None:
        raise _taken(name)


def _taken(name: str) -> Conflict:
    return Conflict("the tenant has an extraction schema of this name", name=name)
