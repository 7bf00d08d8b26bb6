"""Folders: a tree per tenant, in projects or outside any, and moving files between them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from scopix.server.api.deps import Reader, ServicesDep, Writer
from scopix.server.api.presenters import UrlMaker, file_out
from scopix.server.api.schemas import (
    BreadcrumbOut,
    BreadcrumbsOut,
    ErrorEnvelope,
    FolderDetailOut,
    FolderIn,
    FolderListOut,
    FolderMoveIn,
    FolderOut,
    FolderRenameIn,
    MoveFilesIn,
    MoveFilesOut,
)
from scopix.server.domain.listing import MAX_LIMIT, MAX_OFFSET, FileQuery
from scopix.server.services.folders import MAX_FOLDER_PAGE, Breadcrumb, FolderView

router = APIRouter(tags=["folders"], responses={"default": {"model": ErrorEnvelope}})

_CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorEnvelope}}


@router.post("/folders", response_model=FolderOut, status_code=201, responses=_CONFLICT)
async def create_folder(body: FolderIn, principal: Writer, services: ServicesDep) -> FolderOut:
    """Create a folder (409 `CONFLICT` when a sibling has the name in any case; 422 past 20
    levels, or for a `project_id` other than the parent's)."""
    view = await services.folders.create(
        principal.tenant_id, body.name, body.parent_id, body.project_id
    )
    return _out(view)


@router.get("/folders", response_model=FolderListOut)
async def list_folders(
    principal: Reader,
    services: ServicesDep,
    project_id: Annotated[
        str | None, Query(max_length=64, description="only this project's folders")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_FOLDER_PAGE)] = MAX_FOLDER_PAGE,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> FolderListOut:
    """The tenant's folders as a flat list, top levels first, then by name."""
    page = await services.folders.page(principal.tenant_id, project_id, limit, offset)
    return FolderListOut(
        items=[_out(view) for view in page.items],
        total_count=page.total_count,
        has_more=offset + len(page.items) < page.total_count,
    )


@router.post("/folders/move-files", response_model=MoveFilesOut)
async def move_files(body: MoveFilesIn, principal: Writer, services: ServicesDep) -> MoveFilesOut:
    """Put live files into a folder, or at a project's top level; unknown ids are skipped."""
    moved = await services.folders.move_files(
        principal.tenant_id,
        body.file_ids,
        body.folder_id,
        body.project_id,
        project_given="project_id" in body.model_fields_set,
    )
    return MoveFilesOut(moved=moved.moved, skipped=moved.skipped)


@router.get("/folders/{folder_id}", response_model=FolderDetailOut)
async def get_folder(
    folder_id: str,
    request: Request,
    principal: Reader,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> FolderDetailOut:
    """The folder, its breadcrumbs, its subfolders and a page of the files directly in it."""
    detail = await services.folders.detail(principal.tenant_id, folder_id)
    files = await services.files.page(
        principal.tenant_id, FileQuery(folder_id=folder_id, limit=limit, offset=offset)
    )
    urls = UrlMaker(request)
    return FolderDetailOut(
        folder=_out(detail.folder),
        breadcrumbs=_crumbs(detail.breadcrumbs),
        subfolders=[_out(view) for view in detail.subfolders],
        files=[file_out(view, urls) for view in files.items],
        total_files=files.total_count,
        has_more_files=files.has_more,
    )


@router.get("/folders/{folder_id}/breadcrumbs", response_model=BreadcrumbsOut)
async def folder_breadcrumbs(
    folder_id: str, principal: Reader, services: ServicesDep
) -> BreadcrumbsOut:
    """The folders from the top level down to this one, itself last."""
    crumbs = await services.folders.breadcrumbs(principal.tenant_id, folder_id)
    return BreadcrumbsOut(breadcrumbs=_crumbs(crumbs))


@router.patch("/folders/{folder_id}", response_model=FolderOut, responses=_CONFLICT)
async def rename_folder(
    folder_id: str, body: FolderRenameIn, principal: Writer, services: ServicesDep
) -> FolderOut:
    """Rename a folder (409 `CONFLICT` when a sibling has the name)."""
    return _out(await services.folders.rename(principal.tenant_id, folder_id, body.name))


@router.post("/folders/{folder_id}/move", response_model=FolderOut, responses=_CONFLICT)
async def move_folder(
    folder_id: str, body: FolderMoveIn, principal: Writer, services: ServicesDep
) -> FolderOut:
    """Move a folder, with all it holds, under another of its project (422 into itself or
    below itself, or past 20 levels; 409 when a new sibling has its name)."""
    return _out(await services.folders.move(principal.tenant_id, folder_id, body.parent_id))


@router.delete("/folders/{folder_id}", status_code=204, responses=_CONFLICT)
async def delete_folder(
    folder_id: str,
    principal: Writer,
    services: ServicesDep,
    recursive: Annotated[
        bool, Query(description="delete the folders below it too (else 409 unless empty)")
    ] = False,
    delete_files: Annotated[
        bool,
        Query(description="soft-delete the files instead of moving them to the folder's parent"),
    ] = False,
) -> Response:
    """Delete a folder: an empty one, or with `recursive` everything below it too."""
    await services.folders.delete(
        principal.tenant_id, folder_id, recursive=recursive, delete_files=delete_files
    )
    return Response(status_code=204)


def _out(view: FolderView) -> FolderOut:
    folder = view.folder
    return FolderOut(
        id=folder.id,
        name=folder.name,
        parent_id=folder.parent_id,
        project_id=folder.project_id,
        depth=folder.depth,
        file_count=view.file_count,
        subfolder_count=view.subfolder_count,
        created_at=folder.created_at,
        updated_at=folder.updated_at,
    )


def _crumbs(crumbs: list[Breadcrumb]) -> list[BreadcrumbOut]:
    return [BreadcrumbOut(id=c.id, name=c.name, depth=c.depth) for c in crumbs]
