"""``client.folders``: folders within a tenant's projects, and files moved between them."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from scopix.client._transport import Transport
from scopix.types.folders import (
    Breadcrumb,
    Folder,
    FolderContents,
    FolderList,
    MovedFiles,
    breadcrumbs_of,
)

#: Folders fetched per request by ``list``: the most the server gives.
_PAGE = 1000
#: File ids per ``POST /folders/move-files`` (the server's bound).
MOVE_FILE_IDS = 100


class AsyncFolders:
    """Folder operations of an async client; reach it as ``client.folders``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def create(
        self, name: str, *, parent_id: str | None = None, project_id: str | None = None
    ) -> Folder:
        """A new folder named ``name``: at the top level, or in the folder ``parent_id``.

        A subfolder belongs to its parent's project (a different ``project_id`` is a
        ``ValidationError``); a top-level folder to ``project_id``, or to no project.
        A ``ScopixError`` with code CONFLICT when a sibling has that name in any letter
        case, a ``ValidationError`` past 20 levels, ``ResourceNotFoundError`` for an unknown
        parent or project.
        """
        body: dict[str, Any] = {"name": name}
        if parent_id is not None:
            body["parent_id"] = parent_id
        if project_id is not None:
            body["project_id"] = project_id
        answer = await self._transport.json("POST", "folders", body=body, write=True)
        return Folder.from_dict(answer)

    async def list(self, *, project_id: str | None = None) -> builtins.list[Folder]:
        """Every folder of the tenant (or of the project ``project_id``) by depth, then by
        name, fetched page by page. ``parent_id`` links them into trees;
        ``scopix.types.folders.tree_order`` puts them in the order a tree is read."""
        folders: builtins.list[Folder] = []
        while True:
            params = {"project_id": project_id, "limit": _PAGE, "offset": len(folders)}
            page = FolderList.from_dict(await self._transport.json("GET", "folders", params=params))
            folders += page.items
            if not page.has_more or not page.items:
                return folders

    async def get(self, folder_id: str, *, limit: int = 50, offset: int = 0) -> FolderContents:
        """A folder with the path down to it, its subfolders, and one page of the files
        directly in it (``limit`` files from ``offset``)."""
        answer = await self._transport.json(
            "GET", f"folders/{folder_id}", params={"limit": limit, "offset": offset}
        )
        return FolderContents.from_dict(answer)

    async def breadcrumbs(self, folder_id: str) -> builtins.list[Breadcrumb]:
        """The path down to a folder: the top-level folder first, the folder itself last."""
        answer = await self._transport.json("GET", f"folders/{folder_id}/breadcrumbs")
        return breadcrumbs_of(answer.get("breadcrumbs"))

    async def rename(self, folder_id: str, name: str) -> Folder:
        """Give a folder a new name (CONFLICT when a sibling has it in any letter case)."""
        answer = await self._transport.json(
            "PATCH", f"folders/{folder_id}", body={"name": name}, write=True
        )
        return Folder.from_dict(answer)

    async def move(self, folder_id: str, *, parent_id: str | None) -> Folder:
        """Move a folder, with all it holds, into the folder ``parent_id`` (None: the top
        level of its project). A ``ValidationError`` for a move into itself or one of its
        own subfolders, or into a folder of another project; CONFLICT when the new siblings
        have its name."""
        answer = await self._transport.json(
            "POST", f"folders/{folder_id}/move", body={"parent_id": parent_id}, write=True
        )
        return Folder.from_dict(answer)

    async def delete(
        self, folder_id: str, *, recursive: bool = False, delete_files: bool = False
    ) -> None:
        """Delete a folder.

        Without ``recursive`` only an empty one (a ``ScopixError`` with code CONFLICT when
        it holds files or subfolders). With it, every folder below goes too, and their
        files move to the deleted folder's parent (or the top level of its project), or
        are deleted (restorable for 30 days) with ``delete_files``.
        """
        params = {"recursive": recursive or None, "delete_files": delete_files or None}
        await self._transport.send("DELETE", f"folders/{folder_id}", params=params, write=True)

    async def move_files(
        self,
        file_ids: Sequence[str],
        *,
        folder_id: str | None,
        project_id: str | None = None,
    ) -> MovedFiles:
        """Move files into the folder ``folder_id`` (and so into its project), or with
        ``folder_id=None`` to the top level of the project ``project_id`` (None: of each
        file's own project; ``files.update(file_id, project_id=None)`` takes a file out of
        its project). Sent 100 ids per request; ids of unknown or deleted files come back in
        ``skipped``. A ``ValidationError`` when ``project_id`` is not the folder's project."""
        result = MovedFiles()
        for start in range(0, len(file_ids), MOVE_FILE_IDS):
            body: dict[str, Any] = {
                "file_ids": list(file_ids[start : start + MOVE_FILE_IDS]),
                "folder_id": folder_id,
            }
            if project_id is not None:
                body["project_id"] = project_id
            answer = await self._transport.json("POST", "folders/move-files", body=body, write=True)
            result = result.merged(MovedFiles.from_dict(answer))
        return result
