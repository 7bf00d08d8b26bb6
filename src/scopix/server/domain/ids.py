"""Identifiers: UUIDv7, so ids sort by creation time."""

from __future__ import annotations

import re

import uuid_utils

_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def new_id() -> str:
    """A new UUIDv7 string."""
    return str(uuid_utils.uuid7())


def looks_like_id(value: str) -> bool:
    """Whether `value` has the shape of one of our ids (so lookups can skip garbage)."""
    return _UUID_RE.fullmatch(value) is not None
