"""Folder types: a folder, the path down to it, what it holds, and files moved between folders."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scopix.types._parse import build, parse_datetime, string_list
from scopix.types.files import FileDetails

__all__ = [
    "Breadcrumb",
    "Folder",
    "FolderContents",
    "FolderList",
    "MovedFiles",
    "tree_order",
]


def _optional_id(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Folder:
    """A folder: its name (unique among its siblings in any letter case), the folder it sits
    in (``parent_id``, None at the top level) and the project it belongs to (``project_id``,
    None outside any project). ``depth`` is 0 at the top level; ``file_count`` counts the
    live files directly in it and ``subfolder_count`` its direct children."""

    id: str
    name: str
    parent_id: str | None = None
    project_id: str | None = None
    depth: int = 0
    file_count: int = 0
    subfolder_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Folder:
        """Parse the server's JSON; unknown keys are ignored."""
        return build(
            cls,
            data,
            id=str,
            parent_id=_optional_id,
            project_id=_optional_id,
            depth=lambda v: int(v or 0),
            file_count=lambda v: int(v or 0),
            subfolder_count=lambda v: int(v or 0),
            created_at=parse_datetime,
            updated_at=parse_datetime,
        )


@dataclass(frozen=True)
class FolderList:
    """A page of ``GET /folders``: folders by depth, then by name."""

    items: list[Folder] = field(default_factory=list)
    total_count: int = 0
    has_more: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FolderList:
        """Parse ``GET /folders``; unknown keys are ignored."""
        return cls(
            items=[Folder.from_dict(f) for f in data.get("items") or []],
            total_count=int(data.get("total_count") or 0),
            has_more=bool(data.get("has_more")),
        )


@dataclass(frozen=True)
class Breadcrumb:
    """One step of the path down to a folder: a folder's id, name and depth."""

    id: str
    name: str
    depth: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Breadcrumb:
        """Parse one breadcrumb; unknown keys are ignored."""
        return build(cls, data, id=str, depth=lambda v: int(v or 0))


def breadcrumbs_of(value: Any) -> list[Breadcrumb]:
    """Breadcrumbs from a JSON array (None gives an empty list)."""
    return [Breadcrumb.from_dict(b) for b in value or []]


@dataclass(frozen=True)
class FolderContents:
    """A folder and what it holds: the path down to it (``breadcrumbs``, top level first, the
    folder itself last), its subfolders by name, and one page of its files
    (``total_files`` in all; ``has_more_files`` when a later page exists)."""

    folder: Folder
    breadcrumbs: list[Breadcrumb] = field(default_factory=list)
    subfolders: list[Folder] = field(default_factory=list)
    files: list[FileDetails] = field(default_factory=list)
    total_files: int = 0
    has_more_files: bool = False

    @property
    def path(self) -> str:
        """The folder's names from the top level down, joined by " / "."""
        return " / ".join(b.name for b in self.breadcrumbs) or self.folder.name

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FolderContents:
        """Parse ``GET /folders/{id}``; unknown keys are ignored."""
        files = [FileDetails.from_dict(f) for f in data.get("files") or []]
        return cls(
            folder=Folder.from_dict(data["folder"]),
            breadcrumbs=breadcrumbs_of(data.get("breadcrumbs")),
            subfolders=[Folder.from_dict(f) for f in data.get("subfolders") or []],
            files=files,
            total_files=int(data.get("total_files", len(files))),
            has_more_files=bool(data.get("has_more_files")),
        )


@dataclass(frozen=True)
class MovedFiles:
    """The outcome of moving files: those ``moved``, and those ``skipped`` (unknown or
    deleted ids), each in the order sent."""

    moved: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MovedFiles:
        """Parse ``POST /folders/move-files``; unknown keys are ignored."""
        return build(cls, data, moved=string_list, skipped=string_list)

    def merged(self, other: MovedFiles) -> MovedFiles:
        """Both outcomes as one (for a move sent in several requests)."""
        return MovedFiles(self.moved + other.moved, self.skipped + other.skipped)


def tree_order(folders: Iterable[Folder]) -> list[Folder]:
    """``folders`` as a tree is read: each folder followed by its subfolders, siblings by
    name in any letter case. A folder whose parent is not among them counts as a root, so a
    part of a tree is ordered too; folders that only lead back to each other come last."""
    chosen = list(folders)
    known = {f.id for f in chosen}
    children: dict[str | None, list[Folder]] = {}
    for folder in chosen:
        parent = folder.parent_id if folder.parent_id in known else None
        children.setdefault(parent, []).append(folder)
    ordered: list[Folder] = []
    stack = sorted(children.get(None, []), key=_name_key, reverse=True)
    while stack:
        folder = stack.pop()
        ordered.append(folder)
        stack += sorted(children.get(folder.id, []), key=_name_key, reverse=True)
    placed = {f.id for f in ordered}
    return ordered + [f for f in chosen if f.id not in placed]


def _name_key(folder: Folder) -> tuple[str, str]:
    return folder.name.casefold(), folder.id
