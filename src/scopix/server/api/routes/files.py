"""Files: details, listing, edits, deletes, and the bytes of originals and variants."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from scopix.server.api.blobs import blob_response
from scopix.server.api.deps import Reader, ServicesDep, Writer
from scopix.server.api.presenters import UrlMaker, file_out, processing_status
from scopix.server.api.schemas import (
    BatchDeleteIn,
    BatchDeleteOut,
    ErrorEnvelope,
    FileListOut,
    FileOut,
    FileUpdateIn,
    ProcessingStatusOut,
)
from scopix.server.domain.listing import (
    MAX_FILTER_MEDIA_TYPES,
    MAX_FILTER_TAGS,
    MAX_IDS,
    MAX_OFFSET,
    MAX_SEARCH_CHARS,
    SEARCH_MODES,
    SortField,
    file_query,
)
from scopix.server.domain.variants import ORIGINAL
from scopix.server.services.files import FileEdit

router = APIRouter(tags=["files"], responses={"default": {"model": ErrorEnvelope}})


@router.get("/files", response_model=FileListOut)
async def list_files(
    request: Request,
    principal: Reader,
    services: ServicesDep,
    search: Annotated[
        str | None,
        Query(
            max_length=MAX_SEARCH_CHARS,
            description=(
                "ranked full-text search: every word must occur (any case or accents, English "
                "words by their stem) in one of the fields `search_mode` names; blank means "
                "no search"
            ),
        ),
    ] = None,
    search_mode: Annotated[
        str,
        Query(
            description=(
                "`metadata`: filename, title, description, tags; `visible_text`; `semantic`: "
                "the 100 files nearest in meaning (multilingual, and through ImageNet classes "
                "for photos); `all`: full text and semantic rankings fused"
            ),
            # The modes this server answers; the domain refuses the rest with a clear message.
            json_schema_extra={"enum": list(SEARCH_MODES)},
        ),
    ] = "all",
    # The caps are documented (maxItems) but enforced by the domain, which also counts
    # comma-separated values and names the field in its refusal.
    tags: Annotated[
        list[str] | None,
        Query(description="all must match", json_schema_extra={"maxItems": MAX_FILTER_TAGS}),
    ] = None,
    media_types: Annotated[
        list[str] | None, Query(json_schema_extra={"maxItems": MAX_FILTER_MEDIA_TYPES})
    ] = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    has_description: bool | None = None,
    ids: Annotated[
        list[str] | None,
        Query(description=f"at most {MAX_IDS}", json_schema_extra={"maxItems": MAX_IDS}),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    sort_by: Annotated[
        SortField | None,
        Query(description="default: best match first when searching, else created_at"),
    ] = None,
    sort_order: Literal["asc", "desc"] = "desc",
    folder_id: Annotated[
        str | None, Query(max_length=64, description="only the files in this folder")
    ] = None,
    include_subfolders: Annotated[
        bool, Query(description="with `folder_id`: the files in its subfolders too, at any depth")
    ] = False,
    project_id: Annotated[
        str | None, Query(max_length=64, description="only the files in this project")
    ] = None,
) -> FileListOut:
    """List the tenant's files with filters, sorting and paging (404 for a folder or project
    the tenant does not have)."""
    query = file_query(
        tags=tags,
        media_types=media_types,
        date_from=date_from,
        date_to=date_to,
        has_description=has_description,
        ids=ids,
        limit=limit,
        offset=offset,
        sort_by=sort_by,
        sort_order=sort_order,
        search=search,
        search_mode=search_mode,
        folder_id=folder_id,
        include_subfolders=include_subfolders,
        project_id=project_id,
    )
    page = await services.files.page(principal.tenant_id, query)
    urls = UrlMaker(request)
    wanted = query.search
    scenes = (
        {}
        if wanted is None
        else await services.videos.matched_scenes(principal.tenant_id, wanted.text, page.items)
    )
    return FileListOut(
        items=[file_out(v, urls, matched_scene=scenes.get(v.file.id)) for v in page.items],
        total_count=page.total_count,
        has_more=page.has_more,
        limit=limit,
        offset=offset,
    )


@router.get("/files/{file_id}/similar", response_model=FileListOut)
async def similar(
    file_id: str,
    request: Request,
    principal: Reader,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> FileListOut:
    """The tenant's files whose images look most like this one's, most alike first (409 while
    the file has no image features: not described yet, or not an image)."""
    views = await services.files.similar(principal.tenant_id, file_id, limit)
    urls = UrlMaker(request)
    return FileListOut(
        items=[file_out(v, urls) for v in views],
        total_count=len(views),
        has_more=False,
        limit=limit,
        offset=0,
    )


@router.get("/files/{file_id}", response_model=FileOut)
async def get_file(
    request: Request, file_id: str, principal: Reader, services: ServicesDep
) -> FileOut:
    """A file's details, variants and processing history."""
    view = await services.files.get(principal.tenant_id, file_id)
    return file_out(view, UrlMaker(request), with_history=True)


@router.patch("/files/{file_id}", response_model=FileOut)
async def update_file(
    request: Request, file_id: str, body: FileUpdateIn, principal: Writer, services: ServicesDep
) -> FileOut:
    """Change the title, the tags, or where the file is: `folder_id` moves it into that
    folder (and its project); without it, `project_id` moves it to that project's top level
    (null: out of every project), and `folder_id: null` alone to its own project's top
    level. Unknown folders and projects are 404; a folder of another project 422."""
    given = body.model_fields_set
    edit = FileEdit(
        title=body.title,
        title_given="title" in given,
        tags=body.tags,
        folder_id=body.folder_id,
        folder_given="folder_id" in given,
        project_id=body.project_id,
        project_given="project_id" in given,
    )
    view = await services.files.update(principal.tenant_id, file_id, edit)
    return file_out(view, UrlMaker(request), with_history=True)


@router.delete("/files/{file_id}", status_code=204)
async def delete_file(file_id: str, principal: Writer, services: ServicesDep) -> Response:
    """Soft-delete a file (recoverable for 30 days)."""
    await services.files.delete(principal.tenant_id, file_id)
    return Response(status_code=204)


@router.post("/files/{file_id}/restore", response_model=FileOut)
async def restore_file(
    request: Request, file_id: str, principal: Writer, services: ServicesDep
) -> FileOut:
    """Undo a delete made less than 30 days ago."""
    view = await services.files.restore(principal.tenant_id, file_id)
    return file_out(view, UrlMaker(request), with_history=True)


@router.get("/files/{file_id}/status", response_model=ProcessingStatusOut)
async def get_status(file_id: str, principal: Reader, services: ServicesDep) -> ProcessingStatusOut:
    """Upload, variant and description state, attempts and the last error."""
    processing = await services.files.processing(principal.tenant_id, file_id)
    return processing_status(processing, services.media)


@router.post(
    "/files/{file_id}/describe",
    response_model=ProcessingStatusOut,
    status_code=202,
    responses={409: {"model": ErrorEnvelope}, 403: {"model": ErrorEnvelope}},
)
async def describe(file_id: str, principal: Writer, services: ServicesDep) -> ProcessingStatusOut:
    """Queue a new description attempt (409 while one is queued or running)."""
    await services.describe.request(principal.tenant_id, file_id)
    processing = await services.files.processing(principal.tenant_id, file_id)
    return processing_status(processing, services.media)


@router.post("/files/batch-delete", response_model=BatchDeleteOut)
async def batch_delete(
    body: BatchDeleteIn, principal: Writer, services: ServicesDep
) -> BatchDeleteOut:
    """Soft-delete up to 100 files."""
    done = await services.files.batch_delete(principal.tenant_id, body.file_ids)
    return BatchDeleteOut(
        deleted=done.deleted,
        skipped=done.skipped,
        failed=done.failed,
        deleted_count=len(done.deleted),
    )


@router.get("/files/{file_id}/variant/{variant}", response_class=Response)
async def get_variant(
    file_id: str, variant: str, principal: Reader, services: ServicesDep
) -> Response:
    """The bytes of a variant (`tiny_64`, `small_256`, `medium_750`, `large_1024`, `original`)."""
    location = await services.files.locate(principal.tenant_id, file_id, variant)
    return blob_response(services, location, attachment=False)


@router.get(
    "/files/{file_id}/download",
    response_class=Response,
    responses={
        206: {"description": "the bytes of the range asked for"},
        416: {"model": ErrorEnvelope, "description": "the range starts past the end"},
    },
)
async def download(
    request: Request, file_id: str, principal: Reader, services: ServicesDep
) -> Response:
    """The original bytes as an attachment; a `Range: bytes=...` header gets just those
    bytes (206), so players can seek (416 when the range starts past the end)."""
    location = await services.files.locate(principal.tenant_id, file_id, ORIGINAL)
    return blob_response(services, location, attachment=True, request=request)
