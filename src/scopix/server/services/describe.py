"""Descriptions: queue them (with quota), run the pipeline as a job, record what it found."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scopix.server.catalog.models import Analysis, File, Job
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain import blobkeys
from scopix.server.domain.errors import Conflict, NotFound, QuotaExceeded
from scopix.server.domain.failures import Failure
from scopix.server.domain.ids import looks_like_id
from scopix.server.domain.media import media_of_mime
from scopix.server.domain.quota import billing_period, standing
from scopix.server.domain.regions import as_record
from scopix.server.domain.status import DescriptionEvent, can_request, next_status
from scopix.server.domain.tiers import tier_named
from scopix.server.jobs.handler import JobFailed
from scopix.server.jobs.queue import JobQueue
from scopix.server.jobs.records import DESCRIBE, new_job
from scopix.server.media import MediaHandlers
from scopix.server.media.base import DescribeInputs, MediaFailed
from scopix.server.services.media_jobs import load_extraction
from scopix.server.storage.base import BlobNotFound, BlobStore, local_copy
from scopix.server.vision.base import AnalyzerError
from scopix.server.vision.provenance import face_records
from scopix.types.describe import DescriptionErrorType, DescriptionStatus

if TYPE_CHECKING:
    from scopix.server.vision.merge import SceneAnalysis
    from scopix.server.vision.pipeline import Described, DescriptionPipeline

log = logging.getLogger("scopix.describe")


@dataclass(frozen=True)
class DescribeResult:
    """A new analysis to cache, or None when the cached one for these bytes was reused."""

    analysis: Analysis
    reused: bool


def record_event(
    uow: UnitOfWork, file: File, event: DescriptionEvent, now: datetime, detail: str | None = None
) -> None:
    """Move the file's description status through the state machine and write it in history."""
    file.description_status = next_status(DescriptionStatus(file.description_status), event).value
    file.updated_at = now
    uow.files.add_event(file, now, f"description_{event.value}", detail)


async def reserve_descriptions(uow: UnitOfWork, tenant_id: str, count: int) -> None:
    """Refuse with QUOTA_EXCEEDED unless `count` more descriptions fit; queued and running ones
    already hold a credit each. Locks the tenant so concurrent requests cannot both fit."""
    tenant = await uow.usage.lock_tenant(tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    used = await uow.usage.used(tenant_id, billing_period(datetime.now(UTC)))
    reserved = await uow.jobs.reserved(tenant_id, DESCRIBE)
    quota = standing(
        tier_named(tenant.tier),
        used=used,
        prepaid=tenant.prepaid_credits,
        requested=count,
        reserved=reserved,
    )
    if not quota.can_proceed:
        raise QuotaExceeded(quota.message, available=quota.available, limit=quota.monthly_limit)


def queue_new_file(uow: UnitOfWork, file: File, *, max_attempts: int, now: datetime) -> Job:
    """Queue the first description of a just-recorded file (its status is already `queued`)."""
    job = new_job(DESCRIBE, file, max_attempts=max_attempts, now=now)
    uow.jobs.add(job)
    uow.files.add_event(file, now, "description_queued", "asked for at upload")
    return job


class DescribeService:
    """`POST /files/{id}/describe`: a new attempt, at most one at a time per file."""

    def __init__(self, uows: UnitOfWorkFactory, queue: JobQueue, max_attempts: int) -> None:
        self.uows = uows
        self.queue = queue
        self.max_attempts = max_attempts

    async def request(self, tenant_id: str, file_id: str) -> File:
        """Queue a description of the file; 409 while one is queued or running."""
        async with self.uows.write() as uow:
            file = await uow.files.lock(tenant_id, file_id) if looks_like_id(file_id) else None
            if file is None:
                raise NotFound("file not found", file_id=file_id)
            status = DescriptionStatus(file.description_status)
            if not can_request(status):
                raise Conflict(
                    f"the file's description is {status.value}; a new attempt can be queued "
                    "once it is completed or failed",
                    description_status=status.value,
                )
            await reserve_descriptions(uow, tenant_id, 1)
            now = datetime.now(UTC)
            job = new_job(DESCRIBE, file, max_attempts=self.max_attempts, now=now)
            uow.jobs.add(job)
            record_event(uow, file, DescriptionEvent.REQUESTED, now, "asked for by the API")
            await uow.commit()
        await self.queue.dispatch([job.id])
        return file


class DescribeHandler:
    """The `describe` job: identical bytes are analysed once per pipeline configuration."""

    kind = DESCRIBE

    def __init__(
        self,
        uows: UnitOfWorkFactory,
        store: BlobStore,
        pipeline: DescriptionPipeline,
        media: MediaHandlers,
    ) -> None:
        self.uows = uows
        self.store = store
        self.pipeline = pipeline
        self.media = media

    async def started(self, uow: UnitOfWork, job: Job) -> None:
        file = await _file_of(uow, job)
        detail = f"attempt {job.attempts} of {job.max_attempts}"
        record_event(uow, file, DescriptionEvent.CLAIMED, datetime.now(UTC), detail)

    async def execute(self, job: Job) -> DescribeResult:
        pipeline = self.pipeline.fingerprint
        async with self.uows.read() as uow:
            file = await uow.files.by_id(job.tenant_id, job.file_id)
            cached = await uow.analyses.get(job.tenant_id, job.sha256, pipeline)
        if file is None or file.deleted_at is not None:
            raise JobFailed(
                Failure(DescriptionErrorType.VALIDATION_ERROR, "the file was deleted first")
            )
        if cached is not None:
            return DescribeResult(cached, reused=True)
        try:
            described = await self._describe(job, file)
        except MediaFailed as exc:
            raise JobFailed(exc.failure) from None
        except AnalyzerError as exc:
            raise JobFailed(Failure(exc.error_type, exc.message, exc.retry_after)) from None
        except BlobNotFound:
            raise JobFailed(
                Failure(DescriptionErrorType.VALIDATION_ERROR, "the stored original is missing")
            ) from None
        merged = described.merged
        analysis = Analysis(
            tenant_id=job.tenant_id,
            sha256=job.sha256,
            pipeline=pipeline,
            description=merged.description,
            tags=list(merged.tags),
            key_elements=list(merged.key_elements),
            visible_text=merged.visible_text,
            text_regions=[as_record(r) for r in merged.text_regions],
            confidence_score=merged.confidence_score,
            providers=list(merged.providers),
            embedding=described.embedding,
            image_features=merged.image_features,
            class_scores=[[i, p] for i, p in merged.class_scores] or None,
            timings_ms=merged.timings_ms,
            parts=[_part_record(part) for part in described.parts] or None,
            provenance=merged.provenance,
            faces=None if merged.faces is None else face_records(merged.faces),
            created_at=datetime.now(UTC),
        )
        return DescribeResult(analysis, reused=False)

    async def _describe(self, job: Job, file: File) -> Described:
        """What the file's handler gives the analyzers, analysed; its decode is timed too."""
        started = time.perf_counter()
        inputs = await read_inputs(
            self.uows, self.store, self.media, file, job.sha256, self.pipeline.max_side
        )
        decode_ms = round((time.perf_counter() - started) * 1000, 1)
        described = await self.pipeline.describe(inputs)
        described.merged.timings_ms["decode"] = decode_ms
        return described

    async def succeeded(self, uow: UnitOfWork, job: Job, result: DescribeResult) -> None:
        now = datetime.now(UTC)
        # The tenant first, as an upload locks it: the analysis row's foreign key then takes a
        # share lock on the blob, which an upload of the same bytes locks after the tenant.
        # The other order deadlocked two such transactions on PostgreSQL.
        await _charge(uow, job.tenant_id, now)
        analysis = result.analysis
        if not result.reused:
            analysis = await uow.analyses.add_if_absent(analysis)
        file = await _file_of(uow, job)
        _copy_analysis(file, analysis, now)
        await uow.files.replace_ai_tags(file.id, analysis.tags)
        await uow.files.reindex(file)
        record_event(uow, file, DescriptionEvent.SUCCEEDED, now, _completion_note(result))

    async def retrying(
        self, uow: UnitOfWork, job: Job, failure: Failure, run_after: datetime
    ) -> None:
        file = await _file_of(uow, job)
        _record_error(file, failure)
        wait = max((run_after - datetime.now(UTC)).total_seconds(), 0)
        note = f"{failure.error_type.value}: {failure.message}; retrying in {wait:.0f} s"
        record_event(uow, file, DescriptionEvent.RETRY_SCHEDULED, datetime.now(UTC), note)

    async def requeued(self, uow: UnitOfWork, job: Job, reason: str) -> None:
        file = await _file_of(uow, job)
        record_event(uow, file, DescriptionEvent.LEASE_EXPIRED, datetime.now(UTC), reason)

    async def failed(self, uow: UnitOfWork, job: Job, failure: Failure) -> None:
        file = await _file_of(uow, job)
        _record_error(file, failure)
        note = f"{failure.error_type.value}: {failure.message} (after {job.attempts} attempts)"
        record_event(uow, file, DescriptionEvent.FAILED, datetime.now(UTC), note)


async def read_inputs(
    uows: UnitOfWorkFactory,
    store: BlobStore,
    media: MediaHandlers,
    file: File,
    sha256: str,
    max_side: int,
) -> DescribeInputs:
    """What the file's handler gives the analyzers, read from the original stored as `sha256`
    (with the kind's extraction, when it has one). Raises MediaFailed and BlobNotFound."""
    kind = media_of_mime(file.mime_type)
    handler = media.of(kind)
    extracted = None
    if handler.extract_job is not None:
        async with uows.read() as uow:
            extracted = await load_extraction(uow, handler.extract_job, file.tenant_id, file.id)
    key = blobkeys.original_key(file.tenant_id, sha256)
    async with local_copy(store, key) as path:
        return await handler.describe_inputs(path, kind, max_side, extracted)


async def _file_of(uow: UnitOfWork, job: Job) -> File:
    file = await uow.files.by_id(job.tenant_id, job.file_id)
    assert file is not None, "a job's file is deleted only with the job (cascade)"
    return file


def _copy_analysis(file: File, analysis: Analysis, now: datetime) -> None:
    file.description = analysis.description
    file.key_elements = list(analysis.key_elements)
    file.visible_text = analysis.visible_text
    file.text_regions = list(analysis.text_regions)
    file.confidence_score = analysis.confidence_score
    file.provider_count = len(analysis.providers)
    file.analysis_pipeline = analysis.pipeline
    file.described_at = now
    file.updated_at = now  # search indexes pick up what changed since they last looked
    file.description_error = None
    file.description_error_type = None
    file.description_is_retryable = None


def _part_record(part: SceneAnalysis) -> dict[str, Any]:
    """One scene's own results as the analysis keeps them (`Analysis.parts`), its regions
    normalized to its keyframe."""
    merged = part.merged
    return {
        "scene_index": part.index,
        "description": merged.description,
        "tags": list(merged.tags),
        "visible_text": merged.visible_text,
        "text_regions": [as_record(r) for r in merged.text_regions],
    }


def _record_error(file: File, failure: Failure) -> None:
    file.description_error = failure.message
    file.description_error_type = failure.error_type.value
    file.description_is_retryable = failure.retryable


async def _charge(uow: UnitOfWork, tenant_id: str, now: datetime) -> None:
    tenant = await uow.usage.lock_tenant(tenant_id)
    assert tenant is not None, "a job's tenant is deleted only with the job (cascade)"
    await uow.usage.charge(
        tenant, billing_period(now), tier_named(tenant.tier).monthly_descriptions
    )


def _completion_note(result: DescribeResult) -> str:
    providers = ", ".join(result.analysis.providers)
    if result.reused:
        return f"reused the analysis of identical bytes ({providers})"
    stages = ", ".join(f"{k} {v:.0f} ms" for k, v in result.analysis.timings_ms.items())
    scenes = result.analysis.parts
    if scenes:
        providers += f" ({len(scenes)} {'scene' if len(scenes) == 1 else 'scenes'})"
    return f"analysed by {providers}: {stages}"
