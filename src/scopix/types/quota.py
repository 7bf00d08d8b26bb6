"""Usage types: whether a planned amount of AI work fits in the tenant's credits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["UsageCheck"]


@dataclass(frozen=True)
class UsageCheck:
    """The answer of ``POST /usage/check``."""

    can_proceed: bool
    available_credits: int
    message: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UsageCheck:
        """Parse the server's JSON, ignoring unknown keys."""
        return cls(
            can_proceed=bool(data["can_proceed"]),
            available_credits=int(data["available_credits"]),
            message=data.get("message"),
        )
