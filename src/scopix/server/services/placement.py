"""Where files go: a folder, or the top level of a project, checked to be the tenant's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scopix.server.catalog.models import File, Folder, Project
from scopix.server.catalog.uow import UnitOfWork
from scopix.server.domain.errors import NotFound, ValidationFailed
from scopix.server.domain.ids import looks_like_id


async def folder_or_404(
    uow: UnitOfWork, tenant_id: str, folder_id: str, *, field: str = "folder_id", hold: bool = False
) -> Folder:
    """The tenant's folder; with `hold`, key-share locked until the transaction ends (it
    cannot be deleted meanwhile)."""
    folder = None
    if looks_like_id(folder_id):
        find = uow.folders.hold if hold else uow.folders.get
        folder = await find(tenant_id, folder_id)
    if folder is None:
        raise NotFound("no folder with this id", field=field, folder_id=folder_id)
    return folder


async def project_or_404(
    uow: UnitOfWork, tenant_id: str, project_id: str, *, hold: bool = False
) -> Project:
    """The tenant's project; with `hold`, key-share locked until the transaction ends."""
    project = None
    if looks_like_id(project_id):
        find = uow.projects.hold if hold else uow.projects.get
        project = await find(tenant_id, project_id)
    if project is None:
        raise NotFound("no project with this id", field="project_id", project_id=project_id)
    return project


@dataclass(frozen=True)
class Target:
    """Where files go: a folder (and so its project), or the top level of a project; with
    `keeps_project`, the top level of the project each file is in already."""

    folder: Folder | None
    project_id: str | None
    keeps_project: bool = False

    def place(self, file: File, at: datetime) -> None:
        file.folder_id = self.folder.id if self.folder is not None else None
        if not self.keeps_project:
            file.project_id = self.project_id
        file.updated_at = at


async def target(
    uow: UnitOfWork,
    tenant_id: str,
    folder_id: str | None,
    project_id: str | None,
    *,
    project_given: bool = True,
    hold: bool = True,
) -> Target:
    """Where `folder_id` and `project_id` say files go, with the folder or project held until
    the transaction ends unless `hold` is false: 404 for an id the tenant does not have, 422
    for a folder of another project than `project_id`. Without a folder and without
    `project_given`, each file stays in its own project.

    A transaction that also changes the tenant row does so before it holds a folder: a
    folder's deletion locks the tenant, then the folder (services/folders.py)."""
    if folder_id is not None:
        folder = await folder_or_404(uow, tenant_id, folder_id, hold=hold)
        if project_given and project_id != folder.project_id:
            raise ValidationFailed(
                "the folder is in another project", field="project_id", project_id=project_id
            )
        return Target(folder, folder.project_id)
    if project_id is not None:
        await project_or_404(uow, tenant_id, project_id, hold=hold)
    return Target(None, project_id, keeps_project=not project_given)
