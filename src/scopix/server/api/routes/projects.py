"""Projects: a tenant's named workspaces."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from scopix.server.api.deps import Reader, ServicesDep, Writer
from scopix.server.api.schemas import ErrorEnvelope, ProjectIn, ProjectListOut, ProjectOut
from scopix.server.domain.listing import MAX_LIMIT, MAX_OFFSET
from scopix.server.services.projects import ProjectView

router = APIRouter(tags=["projects"], responses={"default": {"model": ErrorEnvelope}})


@router.post(
    "/projects",
    response_model=ProjectOut,
    status_code=201,
    responses={409: {"model": ErrorEnvelope}},
)
async def create_project(body: ProjectIn, principal: Writer, services: ServicesDep) -> ProjectOut:
    """Create a project (409 `CONFLICT` when the tenant has one of that name in any case)."""
    return _out(await services.projects.create(principal.tenant_id, body.name))


@router.get("/projects", response_model=ProjectListOut)
async def list_projects(
    principal: Reader,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ProjectListOut:
    """The tenant's projects by name."""
    page = await services.projects.page(principal.tenant_id, limit, offset)
    return ProjectListOut(
        items=[_out(p) for p in page.items],
        total_count=page.total_count,
        has_more=offset + len(page.items) < page.total_count,
        limit=limit,
        offset=offset,
    )


@router.get("/projects/{project_id}", response_model=ProjectOut)
async def get_project(project_id: str, principal: Reader, services: ServicesDep) -> ProjectOut:
    return _out(await services.projects.get(principal.tenant_id, project_id))


@router.patch(
    "/projects/{project_id}", response_model=ProjectOut, responses={409: {"model": ErrorEnvelope}}
)
async def rename_project(
    project_id: str, body: ProjectIn, principal: Writer, services: ServicesDep
) -> ProjectOut:
    """Rename a project (409 `CONFLICT` when another of the tenant's projects has the name)."""
    return _out(await services.projects.rename(principal.tenant_id, project_id, body.name))


@router.delete("/projects/{project_id}", status_code=204, responses={409: {"model": ErrorEnvelope}})
async def delete_project(
    project_id: str,
    principal: Writer,
    services: ServicesDep,
    recursive: Annotated[
        bool, Query(description="delete its folders too (else 409 unless it is empty)")
    ] = False,
    delete_files: Annotated[
        bool, Query(description="soft-delete its files instead of moving them out of it")
    ] = False,
) -> Response:
    """Delete a project: an empty one, or with `recursive` its folders too, its files leaving
    it (to no project and no folder) or soft-deleted with `delete_files`."""
    await services.projects.delete(
        principal.tenant_id, project_id, recursive=recursive, delete_files=delete_files
    )
    return Response(status_code=204)


def _out(project: ProjectView) -> ProjectOut:
    return ProjectOut(
        id=project.id,
        name=project.name,
        created_at=project.created_at,
        updated_at=project.updated_at,
    )
