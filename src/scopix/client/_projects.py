"""``client.projects``: a tenant's named workspaces."""

from __future__ import annotations

from collections.abc import AsyncIterator

from scopix.client._transport import Transport
from scopix.types.projects import Project, ProjectList

#: Projects fetched per request by ``list_all``: the most the server gives.
_PAGE = 100


class AsyncProjects:
    """Project operations of an async client; reach it as ``client.projects``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def create(self, name: str) -> Project:
        """A new project named ``name`` (1-255 characters); a ``ScopixError`` with code
        CONFLICT when the tenant has a project of that name in any letter case."""
        answer = await self._transport.json("POST", "projects", body={"name": name}, write=True)
        return Project.from_dict(answer)

    async def list(self, *, limit: int = 20, offset: int = 0) -> ProjectList:
        """A page of the tenant's projects by name (``limit`` 1-100)."""
        answer = await self._transport.json(
            "GET", "projects", params={"limit": limit, "offset": offset}
        )
        return ProjectList.from_dict(answer)

    async def list_all(self) -> AsyncIterator[Project]:
        """Every project of the tenant by name, fetched page by page."""
        offset = 0
        while True:
            page = await self.list(limit=_PAGE, offset=offset)
            for project in page.items:
                yield project
            if not page.has_more or not page.items:
                return
            offset += len(page.items)

    async def get(self, project_id: str) -> Project:
        """One project; ``ResourceNotFoundError`` when the tenant has none with this id."""
        return Project.from_dict(await self._transport.json("GET", f"projects/{project_id}"))

    async def rename(self, project_id: str, name: str) -> Project:
        """Give a project a new name (CONFLICT when another project of the tenant has it)."""
        answer = await self._transport.json(
            "PATCH", f"projects/{project_id}", body={"name": name}, write=True
        )
        return Project.from_dict(answer)

    async def delete(
        self, project_id: str, *, recursive: bool = False, delete_files: bool = False
    ) -> None:
        """Delete a project.

        Without ``recursive`` only an empty one (a ``ScopixError`` with code CONFLICT when
        it holds folders or files). With it, its folders are deleted and its files leave
        the project, or are deleted (restorable for 30 days) with ``delete_files``.
        """
        params = {"recursive": recursive or None, "delete_files": delete_files or None}
        await self._transport.send("DELETE", f"projects/{project_id}", params=params, write=True)
