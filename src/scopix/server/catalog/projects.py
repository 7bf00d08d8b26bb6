"""The repository of projects: a tenant's named workspaces."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from scopix.server.catalog.models import Project


class ProjectRepository:
    """Projects, always within one tenant."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tenant_id: str, project_id: str) -> Project | None:
        project = await self.session.get(Project, project_id)
        return project if project is not None and project.tenant_id == tenant_id else None

    async def hold(self, tenant_id: str, project_id: str) -> Project | None:
        """The project, key-share locked until the transaction ends: it cannot go meanwhile."""
        return await self.session.scalar(
            select(Project)
            .where(Project.id == project_id, Project.tenant_id == tenant_id)
            .with_for_update(read=True, key_share=True)
        )

    async def lock(self, tenant_id: str, project_id: str) -> Project | None:
        """The project, locked for update until the transaction ends."""
        return await self.session.scalar(
            select(Project)
            .where(Project.id == project_id, Project.tenant_id == tenant_id)
            .with_for_update()
        )

    async def named(self, tenant_id: str, name_key: str) -> Project | None:
        """The tenant's project whose name has this key, if any."""
        found = await self.session.execute(
            select(Project).where(Project.tenant_id == tenant_id, Project.name_key == name_key)
        )
        return found.scalar_one_or_none()

    async def page(self, tenant_id: str, limit: int, offset: int) -> Sequence[Project]:
        """The tenant's projects by name (case-folded, then id), `limit` from `offset`."""
        found = await self.session.execute(
            select(Project)
            .where(Project.tenant_id == tenant_id)
            .order_by(Project.name_key, Project.id)
            .limit(limit)
            .offset(offset)
        )
        return found.scalars().all()

    async def count(self, tenant_id: str) -> int:
        found = await self.session.execute(
            select(func.count()).select_from(Project).where(Project.tenant_id == tenant_id)
        )
        return int(found.scalar_one())

    def add(self, project: Project) -> None:
        self.session.add(project)

    async def remove(self, project: Project) -> None:
        await self.session.delete(project)
