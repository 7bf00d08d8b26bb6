"""Streaming uploads: one file, or a batch recorded as a session."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from scopix.server.api.deps import Reader, ServicesDep, UploadSlot, Writer
from scopix.server.api.idempotency import RECORD_STATE_KEY
from scopix.server.api.multipart import DIRECT_UPLOAD_HINT, FormLimits, ParsedForm, parse_form
from scopix.server.api.presenters import UrlMaker, upload_result, upload_session
from scopix.server.api.schemas import ErrorEnvelope, QuotaInfoOut, UploadResultOut, UploadSessionOut
from scopix.server.domain.errors import FileTooLarge, ValidationFailed
from scopix.server.domain.fields import (
    CONTENT_CATEGORIES,
    MAX_TAGS,
    MAX_TITLE_CHARS,
    upload_options,
)
from scopix.server.domain.idempotency import upload_ref
from scopix.server.services.container import Services
from scopix.server.services.files import FileView

router = APIRouter(tags=["uploads"], responses={"default": {"model": ErrorEnvelope}})

# The body is parsed by hand as it streams, so FastAPI cannot infer it: document it here.
_FORM_FIELDS: dict[str, object] = {
    "title": {"type": "string", "maxLength": MAX_TITLE_CHARS},
    "tags": {"type": "string", "description": f"comma-separated, at most {MAX_TAGS} tags"},
    "auto_describe": {"type": "boolean", "default": True},
    "skip_duplicates": {"type": "boolean", "default": False},
    "content_category": {
        "type": "string",
        "enum": sorted(CONTENT_CATEGORIES),
        "default": "general",
    },
    "folder_id": {"type": "string", "maxLength": 64},
    "project_id": {"type": "string", "maxLength": 64},
    "custom_schema_id": {
        "type": "string",
        "maxLength": 64,
        "description": "a schema to extract with once the description settles",
    },
}
_BINARY: dict[str, object] = {"type": "string", "format": "binary"}


def _multipart_body(file_field: str, file_schema: dict[str, object]) -> dict[str, object]:
    schema = {
        "type": "object",
        "required": [file_field],
        "properties": {file_field: file_schema, **_FORM_FIELDS},
    }
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }


@router.post(
    "/files/upload",
    status_code=201,
    response_model=UploadResultOut,
    openapi_extra=_multipart_body("file", _BINARY),
    dependencies=[UploadSlot],
)
async def upload_file(
    request: Request, principal: Writer, services: ServicesDep
) -> UploadResultOut:
    """Upload one file (`file` field, up to the streaming limit) with optional form fields."""
    limits = FormLimits(
        file_fields=frozenset({"file"}),
        max_files=1,
        max_file_bytes=services.settings.max_upload_bytes,
        max_total_bytes=services.settings.max_upload_bytes,
    )
    form = await _read_form(request, services, limits)
    try:
        if not form.files:
            raise ValidationFailed("the request has no `file` part", field="file")
        options = upload_options(form.fields)
        record = idempotency_record(request)
        done = await services.ingest.ingest(
            principal.tenant_id,
            form.files[0],
            options,
            upload_ref=upload_ref(record, 0) if record else None,
        )
    finally:
        form.discard()
    view = FileView(done.file, done.blob, done.tags)
    return upload_result(
        view, UrlMaker(request), deduplicated=done.deduplicated, skipped=done.skipped
    )


@router.post(
    "/files/upload/batch",
    status_code=201,
    response_model=UploadSessionOut,
    openapi_extra=_multipart_body("files", {"type": "array", "items": _BINARY}),
    dependencies=[UploadSlot],
)
async def upload_batch(
    request: Request, principal: Writer, services: ServicesDep
) -> UploadSessionOut:
    """Upload several `files` at once (at most the tier's batch size); each file succeeds or
    fails on its own and the answer is the batch's session with per-file results."""
    limits = FormLimits(
        file_fields=frozenset({"files", "files[]", "file"}),
        max_files=principal.tier.max_batch_size,
        max_file_bytes=services.settings.max_upload_bytes,
        max_total_bytes=services.settings.max_batch_bytes,
    )
    form = await _read_form(request, services, limits)
    try:
        if not form.files:
            raise ValidationFailed("the request has no `files` parts", field="files")
        options = upload_options(form.fields)
        outcome = await services.batches.upload(
            principal.tenant_id, form.files, options, idempotency_record(request)
        )
    finally:
        form.discard()
    return upload_session(outcome, UrlMaker(request), with_results=True)


@router.get("/uploads/sessions/{session_id}/status", response_model=UploadSessionOut)
async def session_status(
    request: Request, session_id: str, principal: Reader, services: ServicesDep
) -> UploadSessionOut:
    """Progress of a batch."""
    outcome = await services.batches.get(principal.tenant_id, session_id)
    return upload_session(outcome, UrlMaker(request), with_results=False)


@router.get("/uploads/sessions/{session_id}/results", response_model=UploadSessionOut)
async def session_results(
    request: Request, session_id: str, principal: Reader, services: ServicesDep
) -> UploadSessionOut:
    """Per-file results of a batch, with each file as it is now."""
    outcome = await services.batches.get(principal.tenant_id, session_id)
    return upload_session(outcome, UrlMaker(request), with_results=True)


@router.get("/uploads/quota-check", response_model=QuotaInfoOut)
async def quota_check(
    principal: Reader,
    services: ServicesDep,
    file_count: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> QuotaInfoOut:
    """Whether `file_count` more descriptions fit in the tenant's quota, and how many bytes
    the tenant stores against its storage quota."""
    s = await services.quota.check(principal.tenant_id, file_count)
    storage = await services.quota.storage_standing(principal.tenant_id)
    return QuotaInfoOut(
        can_proceed=s.can_proceed,
        requested=s.requested,
        available=s.available,
        monthly_limit=s.monthly_limit,
        current_usage=s.current_usage,
        message=s.message,
        max_batch_size=s.max_batch_size,
        prepaid_credits=s.prepaid_credits,
        max_concurrent_uploads=s.max_concurrent_uploads,
        storage_used_bytes=storage.used,
        storage_limit_bytes=storage.limit,
        storage_available_bytes=storage.available,
    )


def idempotency_record(request: Request) -> str | None:
    """The id of the Idempotency-Key record this request runs under, if it carries a key."""
    record = request.scope.get("state", {}).get(RECORD_STATE_KEY)
    return str(record) if record else None


async def _read_form(request: Request, services: Services, limits: FormLimits) -> ParsedForm:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limits.max_body_bytes:
        raise FileTooLarge(
            f"the request declares {int(declared):,} bytes; the limit is "
            f"{limits.max_total_bytes:,}",
            limit=limits.max_total_bytes,
            suggestion=DIRECT_UPLOAD_HINT,
        )
    if declared and declared.isdigit():  # refused before a byte is staged; ingest checks again
        services.ingest.room.disk.check(int(declared))
    return await parse_form(
        request.headers.get("content-type"),
        request.stream(),
        limits,
        services.store.new_staging_path,
        services.store.new_staging_file,
    )
