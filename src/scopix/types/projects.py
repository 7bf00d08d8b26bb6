"""Project types: a tenant's named workspaces, and a page of them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scopix.types._parse import build, parse_datetime

__all__ = ["Project", "ProjectList"]


@dataclass(frozen=True)
class Project:
    """A project: its id, its name (unique among the tenant's in any letter case) and when it
    was created and last changed."""

    id: str
    name: str
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Project:
        """Parse the server's JSON; unknown keys are ignored."""
        return build(cls, data, created_at=parse_datetime, updated_at=parse_datetime)


@dataclass(frozen=True)
class ProjectList:
    """A page of projects, by name."""

    items: list[Project] = field(default_factory=list)
    total_count: int = 0
    has_more: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProjectList:
        """Parse ``GET /projects``; unknown keys are ignored."""
        return cls(
            items=[Project.from_dict(p) for p in data.get("items") or []],
            total_count=int(data.get("total_count") or 0),
            has_more=bool(data.get("has_more")),
        )
