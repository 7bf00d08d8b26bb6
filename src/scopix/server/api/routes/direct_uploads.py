"""Direct uploads: large files go straight to storage in signed parts, then complete here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from scopix.server.api.deps import Reader, ServicesDep, UploadSlot, Writer
from scopix.server.api.presenters import (
    UrlMaker,
    deduplicated_start,
    direct_upload_out,
    upload_result,
)
from scopix.server.api.routes.uploads import idempotency_record
from scopix.server.api.schemas import (
    DirectUploadCompleteIn,
    DirectUploadIn,
    DirectUploadOut,
    ErrorEnvelope,
    StoredPartOut,
    UploadResultOut,
)
from scopix.server.domain.fields import upload_options
from scopix.server.domain.idempotency import upload_ref
from scopix.server.domain.signing import PartGrant
from scopix.server.services.direct_uploads import Deduplicated, StartRequest
from scopix.server.services.files import FileView

router = APIRouter(tags=["direct uploads"], responses={"default": {"model": ErrorEnvelope}})


@router.post("/files/direct-uploads", status_code=201, response_model=DirectUploadOut)
async def start(
    body: DirectUploadIn, request: Request, principal: Writer, services: ServicesDep
) -> DirectUploadOut:
    """Start a direct upload: a single signed PUT or a multipart upload with a signed URL per
    part. A `sha256` the tenant already holds answers `deduplicated=true` with the file, and
    an unfinished upload of the same bytes and options is returned again (`resumed=true`)."""
    record = idempotency_record(request)
    started = await services.direct_uploads.start(
        principal.tenant_id,
        StartRequest(body.filename, body.size_bytes, body.sha256, upload_options(_fields(body))),
        upload_ref=upload_ref(record, 0) if record else None,
    )
    urls = UrlMaker(request)
    if isinstance(started, Deduplicated):
        return deduplicated_start(started.ingested, urls, body.size_bytes, body.sha256)
    return direct_upload_out(started, urls)


@router.get("/files/direct-uploads/{upload_id}", response_model=DirectUploadOut)
async def status(
    upload_id: str,
    request: Request,
    principal: Reader,
    services: ServicesDep,
    first_part: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> DirectUploadOut:
    """The parts storage holds, and fresh signed URLs for missing parts from `first_part` on:
    what a client needs to resume."""
    view = await services.direct_uploads.view(principal.tenant_id, upload_id, first_part)
    return direct_upload_out(view, UrlMaker(request))


@router.put(
    "/files/direct-uploads/{upload_id}/parts/{part_number}",
    response_model=StoredPartOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def put_part(
    upload_id: str,
    part_number: int,
    request: Request,
    response: Response,
    services: ServicesDep,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(max_length=128)],
) -> StoredPartOut:
    """Receive one part on local storage; the signed URL stands in for the API key."""
    declared = request.headers.get("content-length")
    part = await services.direct_uploads.receive_part(
        PartGrant(upload_id, part_number, expires),
        signature,
        int(declared) if declared and declared.isdigit() else None,
        request.stream(),
    )
    response.headers["ETag"] = f'"{part.etag}"'
    return StoredPartOut(part_number=part.number, size=part.size, etag=part.etag)


@router.post(
    "/files/direct-uploads/{upload_id}/complete",
    status_code=201,
    response_model=UploadResultOut,
    dependencies=[UploadSlot],
)
async def complete(
    upload_id: str,
    request: Request,
    principal: Writer,
    services: ServicesDep,
    body: DirectUploadCompleteIn | None = None,
) -> UploadResultOut:
    """Verify the size and SHA-256 of what storage holds, dedup, register the file and queue
    its jobs, exactly as a streaming upload does."""
    done, _ = await services.direct_uploads.complete(
        principal.tenant_id, upload_id, body.sha256 if body else None
    )
    return upload_result(
        FileView(done.file, done.blob, done.tags),
        UrlMaker(request),
        deduplicated=done.deduplicated,
        skipped=done.skipped,
        object_key=done.blob.storage_key,
    )


@router.delete("/files/direct-uploads/{upload_id}", status_code=204)
async def abort(upload_id: str, principal: Writer, services: ServicesDep) -> Response:
    """Abort the upload and free its parts."""
    await services.direct_uploads.abort(principal.tenant_id, upload_id)
    return Response(status_code=204)


def _fields(body: DirectUploadIn) -> dict[str, str]:
    """The options as the form fields the streaming routes validate, one set of rules."""
    tags = ",".join(body.tags) if isinstance(body.tags, list) else body.tags
    fields = {
        "title": body.title,
        "tags": tags,
        "auto_describe": str(body.auto_describe).lower(),
        "skip_duplicates": str(body.skip_duplicates).lower(),
        "content_category": body.content_category,
        "folder_id": body.folder_id,
        "project_id": body.project_id,
        "custom_schema_id": body.custom_schema_id,
    }
    return {name: value for name, value in fields.items() if value is not None}
