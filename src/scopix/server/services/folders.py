"""Folders: a tree of named folders per tenant, in projects or outside any, and where files are.

Every change to the tree holds the tenant row first (FolderRepository explains the locks), so
moves, creations and deletions of one tenant's folders happen one after another and see each
other; placing files only holds the folder they go into.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from scopix.server.catalog.folders import files_in_folders
from scopix.server.catalog.models import Folder
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain.errors import Conflict, ValidationFailed
from scopix.server.domain.fields import name_key, validate_name
from scopix.server.domain.folders import (
    ancestor_ids,
    check_depth,
    check_move,
    child_path,
    siblings_key,
)
from scopix.server.domain.ids import looks_like_id, new_id
from scopix.server.services.files import soft_delete
from scopix.server.services.placement import Target, folder_or_404, project_or_404, target

#: folders one listing returns at most
MAX_FOLDER_PAGE = 1000
#: files one move names at most
MAX_MOVED_FILES = 100


@dataclass(frozen=True)
class FolderView:
    """A folder as the API shows it, with what it holds directly."""

    folder: Folder
    file_count: int
    subfolder_count: int


@dataclass(frozen=True)
class Breadcrumb:
    id: str
    name: str
    depth: int


@dataclass(frozen=True)
class FolderDetail:
    """A folder, the way to it from the top level, and its subfolders."""

    folder: FolderView
    breadcrumbs: list[Breadcrumb]
    subfolders: list[FolderView]


@dataclass(frozen=True)
class FolderPage:
    items: list[FolderView]
    total_count: int


@dataclass(frozen=True)
class MovedFiles:
    moved: list[str]
    skipped: list[str]


class FolderService:
    """Creates, lists, renames, moves and deletes folders, and moves files between them."""

    def __init__(self, uows: UnitOfWorkFactory) -> None:
        self.uows = uows

    async def create(
        self, tenant_id: str, name: str, parent_id: str | None, project_id: str | None
    ) -> FolderView:
        """A new folder under `parent_id` (it takes the parent's project), or at the top level
        of `project_id`; 409 when a sibling has the name in any case."""
        name = validate_name(name)
        now = datetime.now(UTC)
        folder_id = new_id()
        async with self.uows.write() as uow:
            await uow.usage.lock_tenant(tenant_id)
            parent = None
            if parent_id is not None:
                parent = await folder_or_404(uow, tenant_id, parent_id, field="parent_id")
                if project_id is not None and project_id != parent.project_id:
                    raise ValidationFailed(
                        "the parent folder is in another project", field="project_id"
                    )
                project_id = parent.project_id
                check_depth(parent.depth + 1)
            elif project_id is not None:
                await project_or_404(uow, tenant_id, project_id, hold=True)
            folder = Folder(
                id=folder_id,
                tenant_id=tenant_id,
                project_id=project_id,
                parent_id=parent_id,
                siblings=siblings_key(parent_id, project_id),
                name=name,
                name_key=name_key(name),
                path=child_path(parent.path if parent else None, folder_id),
                depth=parent.depth + 1 if parent else 0,
                created_at=now,
                updated_at=now,
            )
            await _refuse_taken(uow, tenant_id, folder.siblings, name)
            uow.folders.add(folder)
            await uow.commit_unique(_taken(name))
        return FolderView(folder, 0, 0)

    async def page(
        self, tenant_id: str, project_id: str | None, limit: int, offset: int
    ) -> FolderPage:
        async with self.uows.read() as uow:
            if project_id is not None:
                await project_or_404(uow, tenant_id, project_id)
            folders, total = await uow.folders.page(tenant_id, project_id, limit, offset)
            return FolderPage(await _views(uow, tenant_id, folders), total)

    async def get(self, tenant_id: str, folder_id: str) -> FolderView:
        async with self.uows.read() as uow:
            folder = await folder_or_404(uow, tenant_id, folder_id)
            return (await _views(uow, tenant_id, [folder]))[0]

    async def detail(self, tenant_id: str, folder_id: str) -> FolderDetail:
        async with self.uows.read() as uow:
            folder = await folder_or_404(uow, tenant_id, folder_id)
            subfolders = await uow.folders.children(tenant_id, folder.id)
            views = await _views(uow, tenant_id, [folder, *subfolders])
            return FolderDetail(views[0], await _breadcrumbs(uow, folder), views[1:])

    async def breadcrumbs(self, tenant_id: str, folder_id: str) -> list[Breadcrumb]:
        """The folders from the top level down to this one."""
        async with self.uows.read() as uow:
            return await _breadcrumbs(uow, await folder_or_404(uow, tenant_id, folder_id))

    async def rename(self, tenant_id: str, folder_id: str, name: str) -> FolderView:
        """A new name; 409 when a sibling has it."""
        name = validate_name(name)
        async with self.uows.write() as uow:
            folder = await folder_or_404(uow, tenant_id, folder_id)
            if name_key(name) != folder.name_key:
                await _refuse_taken(uow, tenant_id, folder.siblings, name)
            folder.name, folder.name_key = name, name_key(name)
            folder.updated_at = datetime.now(UTC)
            await uow.commit_unique(_taken(name))
            return (await _views(uow, tenant_id, [folder]))[0]

    async def move(self, tenant_id: str, folder_id: str, parent_id: str | None) -> FolderView:
        """Put the folder, with all it holds, under `parent_id` (None: its project's top
        level). Refused (422) into itself or below itself, into another project, or when
        its deepest subfolder would nest too deep; 409 when a new sibling has its name."""
        async with self.uows.write() as uow:
            await uow.usage.lock_tenant(tenant_id)
            folder = await folder_or_404(uow, tenant_id, folder_id)
            parent = None
            if parent_id is not None:
                parent = await folder_or_404(uow, tenant_id, parent_id, field="parent_id")
                if parent.project_id != folder.project_id:
                    raise ValidationFailed(
                        "a folder moves only within its project",
                        field="parent_id",
                        reason="other_project",
                    )
            parent_path = parent.path if parent else None
            height = await uow.folders.height(tenant_id, folder)
            depth = check_move(folder.path, parent_path, height)
            siblings = siblings_key(parent_id, folder.project_id)
            if siblings != folder.siblings:
                await _refuse_taken(uow, tenant_id, siblings, folder.name)
            new_path = child_path(parent_path, folder.id)
            await uow.folders.move_below(tenant_id, folder, new_path, depth)
            folder.parent_id, folder.siblings = parent_id, siblings
            folder.path, folder.depth = new_path, depth
            folder.updated_at = datetime.now(UTC)
            await uow.commit_unique(_taken(folder.name))
            return (await _views(uow, tenant_id, [folder]))[0]

    async def delete(
        self, tenant_id: str, folder_id: str, *, recursive: bool, delete_files: bool
    ) -> None:
        """Delete an empty folder; with `recursive`, the folders below it too, their files
        moving to its parent (or its project's top level), or soft-deleted with
        `delete_files`. Files deleted before go to the parent as well, to come back there."""
        async with self.uows.write() as uow:
            await uow.usage.lock_tenant(tenant_id)
            folder = await folder_or_404(uow, tenant_id, folder_id)
            subtree = [f.id for f in await uow.folders.lock_subtree(tenant_id, folder)]
            if not recursive:
                live = await uow.folders.live_file_count(tenant_id, files_in_folders(subtree))
                if live or len(subtree) > 1:
                    raise Conflict(
                        "the folder is not empty: delete it with recursive=true",
                        file_count=live,
                        subfolder_count=len(subtree) - 1,
                    )
            now = datetime.now(UTC)
            if delete_files:
                for file in await uow.folders.live_files_in(tenant_id, files_in_folders(subtree)):
                    await soft_delete(uow, file)
            await uow.folders.replace_placement(
                tenant_id, files_in_folders(subtree), folder.parent_id, folder.project_id, now
            )
            await uow.folders.remove(tenant_id, subtree)
            await uow.commit()

    async def move_files(
        self,
        tenant_id: str,
        file_ids: Sequence[str],
        folder_id: str | None,
        project_id: str | None,
        *,
        project_given: bool,
    ) -> MovedFiles:
        """Put up to 100 live files into a folder or a project's top level; ids the tenant
        has no live file of are skipped."""
        if not 1 <= len(file_ids) <= MAX_MOVED_FILES:
            raise ValidationFailed(
                f"file_ids must hold 1 to {MAX_MOVED_FILES} ids", field="file_ids"
            )
        moved, skipped = [], []
        async with self.uows.write() as uow:
            where = await target(uow, tenant_id, folder_id, project_id, project_given=project_given)
            now = datetime.now(UTC)
            for file_id in dict.fromkeys(file_ids):
                file = await uow.files.lock(tenant_id, file_id) if looks_like_id(file_id) else None
                if file is None:
                    skipped.append(file_id)
                    continue
                where.place(file, now)
                uow.files.add_event(file, now, "moved", _moved_note(where))
                moved.append(file_id)
            await uow.commit()
        return MovedFiles(moved, skipped)


def _moved_note(where: Target) -> str:
    if where.folder is not None:
        return f"to folder {where.folder.id}"
    if where.keeps_project:
        return "to the top level of its project"
    if where.project_id is not None:
        return f"to the top level of project {where.project_id}"
    return "out of folders and projects"


async def _views(uow: UnitOfWork, tenant_id: str, folders: Sequence[Folder]) -> list[FolderView]:
    ids = [folder.id for folder in folders]
    files = await uow.folders.file_counts(tenant_id, ids)
    subfolders = await uow.folders.subfolder_counts(tenant_id, ids)
    return [FolderView(f, files.get(f.id, 0), subfolders.get(f.id, 0)) for f in folders]


async def _breadcrumbs(uow: UnitOfWork, folder: Folder) -> list[Breadcrumb]:
    ids = ancestor_ids(folder.path)
    found = await uow.folders.by_ids(folder.tenant_id, ids)
    return [Breadcrumb(i, found[i].name, found[i].depth) for i in ids if i in found]


async def _refuse_taken(uow: UnitOfWork, tenant_id: str, siblings: str, name: str) -> None:
    if await uow.folders.sibling_named(tenant_id, siblings, name_key(name)) is not None:
        raise _taken(name)


def _taken(name: str) -> Conflict:
    return Conflict("a folder beside it has this name", field="name", name=name)
