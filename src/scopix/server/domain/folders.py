"""The rules of a folder tree, on folders' paths: no I/O.

A folder's path is the ids from its top-level ancestor down to itself, joined by "/"; its
depth is the number of ancestors (0 at the top level).
"""

from __future__ import annotations

from typing import Final

from scopix.server.domain.errors import ValidationFailed

#: levels of folders, the top level included
MAX_FOLDER_LEVELS: Final = 20
SEPARATOR: Final = "/"


def child_path(parent_path: str | None, folder_id: str) -> str:
    """The path of a folder under `parent_path` (None: at the top level)."""
    return folder_id if parent_path is None else f"{parent_path}{SEPARATOR}{folder_id}"


def ancestor_ids(path: str) -> list[str]:
    """The ids of a path, top level first, the folder itself last."""
    return path.split(SEPARATOR)


def subtree_prefix(path: str) -> str:
    """What the paths of every folder below this one start with (ids hold no "/")."""
    return path + SEPARATOR


def siblings_key(parent_id: str | None, project_id: str | None) -> str:
    """What a folder shares with the folders beside it: its parent, or its project's top
    level (names are unique among siblings)."""
    return parent_id if parent_id is not None else f"top:{project_id or ''}"


def check_depth(depth: int) -> None:
    """Refuse a folder deeper than the levels allowed (depth counts from 0)."""
    if depth >= MAX_FOLDER_LEVELS:
        raise ValidationFailed(
            f"folders nest at most {MAX_FOLDER_LEVELS} levels deep",
            field="parent_id",
            reason="too_deep",
            max_levels=MAX_FOLDER_LEVELS,
        )


def check_move(folder_path: str, new_parent_path: str | None, subtree_height: int) -> int:
    """The depth a folder gets under its new parent; refused when the parent is the folder
    itself or below it (a cycle), or when its deepest descendant, `subtree_height` levels
    below it, would nest too deep."""
    if new_parent_path is not None and (
        new_parent_path == folder_path or new_parent_path.startswith(subtree_prefix(folder_path))
    ):
        raise ValidationFailed(
            "a folder cannot move into itself or into a folder below it",
            field="parent_id",
            reason="cycle",
        )
    depth = 0 if new_parent_path is None else len(ancestor_ids(new_parent_path))
    check_depth(depth + subtree_height)
    return depth
