"""The repository of folders, and of which folder and project each file is in."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scopix.server.catalog.models import File, Folder
from scopix.server.domain.folders import subtree_prefix


class FolderRepository:
    """Folders, always within one tenant.

    Locks (PostgreSQL; SQLite serializes writers): a change to the tree holds the tenant
    row (UsageRepository.lock_tenant) so two moves cannot make a cycle between them; a
    folder about to go is locked for update, and a file placed into a folder holds it with
    a key share, so a file never lands in a folder that is gone.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tenant_id: str, folder_id: str) -> Folder | None:
        folder = await self.session.get(Folder, folder_id)
        return folder if folder is not None and folder.tenant_id == tenant_id else None

    async def hold(self, tenant_id: str, folder_id: str) -> Folder | None:
        """The folder, key-share locked until the transaction ends: it cannot go meanwhile."""
        return await self.session.scalar(
            _owned(tenant_id)
            .where(Folder.id == folder_id)
            .with_for_update(read=True, key_share=True)
            .execution_options(populate_existing=True)
        )

    async def lock_subtree(self, tenant_id: str, folder: Folder) -> Sequence[Folder]:
        """The folder and every folder below it, locked for update, deepest first."""
        found = await self.session.scalars(
            _owned(tenant_id)
            .where(_in_subtree(folder))
            .order_by(Folder.depth.desc(), Folder.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return found.all()

    async def sibling_named(self, tenant_id: str, siblings: str, name_key: str) -> Folder | None:
        return await self.session.scalar(
            _owned(tenant_id).where(Folder.siblings == siblings, Folder.name_key == name_key)
        )

    async def page(
        self, tenant_id: str, project_id: str | None, limit: int, offset: int
    ) -> tuple[Sequence[Folder], int]:
        """The tenant's folders (a project's only, when given), top levels first, by name."""
        listed = _owned(tenant_id)
        if project_id is not None:
            listed = listed.where(Folder.project_id == project_id)
        found = await self.session.scalars(
            listed.order_by(Folder.depth, Folder.name_key, Folder.id).limit(limit).offset(offset)
        )
        total = await self.session.scalar(listed.with_only_columns(func.count()).order_by(None))
        return found.all(), int(total or 0)

    async def children(self, tenant_id: str, folder_id: str) -> Sequence[Folder]:
        found = await self.session.scalars(
            _owned(tenant_id)
            .where(Folder.parent_id == folder_id)
            .order_by(Folder.name_key, Folder.id)
        )
        return found.all()

    async def by_ids(self, tenant_id: str, folder_ids: Collection[str]) -> dict[str, Folder]:
        found = await self.session.scalars(_owned(tenant_id).where(Folder.id.in_(folder_ids)))
        return {folder.id: folder for folder in found}

    async def height(self, tenant_id: str, folder: Folder) -> int:
        """How many levels lie below the folder (0 when it has no subfolder)."""
        deepest = await self.session.scalar(
            select(func.max(Folder.depth)).where(Folder.tenant_id == tenant_id, _in_subtree(folder))
        )
        return int(deepest if deepest is not None else folder.depth) - folder.depth

    async def file_counts(self, tenant_id: str, folder_ids: Collection[str]) -> dict[str, int]:
        """How many live files each folder holds directly."""
        if not folder_ids:
            return {}
        found = await self.session.execute(
            select(File.folder_id, func.count())
            .where(
                File.tenant_id == tenant_id,
                File.deleted_at.is_(None),
                File.folder_id.in_(folder_ids),
            )
            .group_by(File.folder_id)
        )
        return {str(folder_id): int(count) for folder_id, count in found}

    async def subfolder_counts(self, tenant_id: str, folder_ids: Collection[str]) -> dict[str, int]:
        """How many folders each folder holds directly."""
        if not folder_ids:
            return {}
        found = await self.session.execute(
            select(Folder.parent_id, func.count())
            .where(Folder.tenant_id == tenant_id, Folder.parent_id.in_(folder_ids))
            .group_by(Folder.parent_id)
        )
        return {str(parent_id): int(count) for parent_id, count in found}

    async def live_file_count(self, tenant_id: str, where: ColumnElement[bool]) -> int:
        """How many live files match `where` (files_in_folders, files_in_project)."""
        found = await self.session.scalar(
            select(func.count()).where(
                File.tenant_id == tenant_id, File.deleted_at.is_(None), where
            )
        )
        return int(found or 0)

    def add(self, folder: Folder) -> None:
        self.session.add(folder)

    async def move_below(self, tenant_id: str, folder: Folder, new_path: str, depth: int) -> None:
        """Rewrite the paths and depths of the folders below `folder` for its new path; the
        folder's own row is the caller's to change."""
        old_prefix = subtree_prefix(folder.path)
        await self.session.execute(
            update(Folder)
            .where(Folder.tenant_id == tenant_id, Folder.path.startswith(old_prefix))
            .values(
                path=subtree_prefix(new_path) + func.substr(Folder.path, len(old_prefix) + 1),
                depth=Folder.depth + (depth - folder.depth),
            )
            .execution_options(synchronize_session=False)
        )

    async def remove(self, tenant_id: str, folder_ids: Collection[str]) -> None:
        """Delete these folders in one statement (a parent and its children together)."""
        await self.session.execute(
            delete(Folder)
            .where(Folder.tenant_id == tenant_id, Folder.id.in_(folder_ids))
            .execution_options(synchronize_session=False)
        )

    async def remove_in_project(self, tenant_id: str, project_id: str) -> None:
        await self.session.execute(
            delete(Folder)
            .where(Folder.tenant_id == tenant_id, Folder.project_id == project_id)
            .execution_options(synchronize_session=False)
        )

    async def count_in_project(self, tenant_id: str, project_id: str) -> int:
        found = await self.session.scalar(
            select(func.count()).where(
                Folder.tenant_id == tenant_id, Folder.project_id == project_id
            )
        )
        return int(found or 0)

    async def live_files_in(self, tenant_id: str, where: ColumnElement[bool]) -> Sequence[File]:
        found = await self.session.scalars(
            select(File)
            .where(File.tenant_id == tenant_id, File.deleted_at.is_(None), where)
            .with_for_update()
        )
        return found.all()

    async def replace_placement(
        self,
        tenant_id: str,
        where: ColumnElement[bool],
        folder_id: str | None,
        project_id: str | None,
        at: datetime,
    ) -> None:
        """Put every file (deleted ones too) matching `where` into this folder and project."""
        await self.session.execute(
            update(File)
            .where(File.tenant_id == tenant_id, where)
            .values(folder_id=folder_id, project_id=project_id, updated_at=at)
            .execution_options(synchronize_session=False)
        )


def files_in_folders(folder_ids: Collection[str]) -> ColumnElement[bool]:
    return File.folder_id.in_(folder_ids)


def files_in_project(project_id: str) -> ColumnElement[bool]:
    return File.project_id == project_id


def _owned(tenant_id: str) -> Select[Folder]:
    return select(Folder).where(Folder.tenant_id == tenant_id)


def _in_subtree(folder: Folder) -> ColumnElement[bool]:
    return or_(Folder.id == folder.id, Folder.path.startswith(subtree_prefix(folder.path)))
