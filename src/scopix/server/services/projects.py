"""Projects: a tenant's named workspaces of folders and files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from scopix.server.catalog.folders import files_in_project
from scopix.server.catalog.models import Project
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain.errors import Conflict, NotFound
from scopix.server.domain.fields import name_key, validate_name
from scopix.server.domain.ids import looks_like_id, new_id
from scopix.server.services.files import soft_delete


@dataclass(frozen=True)
class ProjectView:
    """A project as the API shows it."""

    id: str
    name: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ProjectPage:
    """A page of a tenant's projects, by name, and how many it has in all."""

    items: list[ProjectView]
    total_count: int


class ProjectService:
    """Creates, lists, renames and deletes projects; another tenant's project is not found."""

    def __init__(self, uows: UnitOfWorkFactory) -> None:
        self.uows = uows

    async def create(self, tenant_id: str, name: str) -> ProjectView:
        """A new project; 409 when the tenant has one of that name (in any case)."""
        name = validate_name(name)
        now = datetime.now(UTC)
        project = Project(
            id=new_id(),
            tenant_id=tenant_id,
            name=name,
            name_key=name_key(name),
            created_at=now,
            updated_at=now,
        )
        async with self.uows.write() as uow:
            await _refuse_taken(uow, tenant_id, name)
            uow.projects.add(project)
            await uow.commit_unique(_taken(name))
        return _view(project)

    async def page(self, tenant_id: str, limit: int, offset: int) -> ProjectPage:
        async with self.uows.read() as uow:
            projects = await uow.projects.page(tenant_id, limit, offset)
            total = await uow.projects.count(tenant_id)
        return ProjectPage([_view(p) for p in projects], total)

    async def get(self, tenant_id: str, project_id: str) -> ProjectView:
        async with self.uows.read() as uow:
            return _view(await _project(uow, tenant_id, project_id))

    async def rename(self, tenant_id: str, project_id: str, name: str) -> ProjectView:
        """Give the project a new name; 409 when another of the tenant's projects has it."""
        name = validate_name(name)
        async with self.uows.write() as uow:
            project = await _project(uow, tenant_id, project_id)
            if name_key(name) != project.name_key:
                await _refuse_taken(uow, tenant_id, name)
            project.name, project.name_key = name, name_key(name)
            project.updated_at = datetime.now(UTC)
            await uow.commit_unique(_taken(name))
            return _view(project)

    async def delete(
        self, tenant_id: str, project_id: str, *, recursive: bool, delete_files: bool
    ) -> None:
        """Delete an empty project; with `recursive`, its folders go too and its files leave
        it (to no project and no folder), or are soft-deleted with `delete_files`."""
        async with self.uows.write() as uow:
            await uow.usage.lock_tenant(tenant_id)
            project = await _project(uow, tenant_id, project_id, lock=True)
            holds = files_in_project(project.id)
            if not recursive:
                folders = await uow.folders.count_in_project(tenant_id, project.id)
                live = await uow.folders.live_file_count(tenant_id, holds)
                if folders or live:
                    raise Conflict(
                        "the project is not empty: delete it with recursive=true",
                        file_count=live,
                        folder_count=folders,
                    )
            if delete_files:
                for file in await uow.folders.live_files_in(tenant_id, holds):
                    await soft_delete(uow, file)
            await uow.folders.replace_placement(tenant_id, holds, None, None, datetime.now(UTC))
            await uow.folders.remove_in_project(tenant_id, project.id)
            await uow.projects.remove(project)
            await uow.commit()


async def _project(
    uow: UnitOfWork, tenant_id: str, project_id: str, *, lock: bool = False
) -> Project:
    find = uow.projects.lock if lock else uow.projects.get
    project = await find(tenant_id, project_id) if looks_like_id(project_id) else None
    if project is None:
        raise NotFound("no project with this id", project_id=project_id)
    return project


async def _refuse_taken(uow: UnitOfWork, tenant_id: str, name: str) -> None:
    if await uow.projects.named(tenant_id, name_key(name)) is not None:
        raise _taken(name)


def _taken(name: str) -> Conflict:
    return Conflict("a project with this name exists", field="name", name=name)


def _view(project: Project) -> ProjectView:
    return ProjectView(project.id, project.name, project.created_at, project.updated_at)
