"""Tolerant parsing of server JSON into the SDK's frozen dataclasses.

Servers add fields over time; an older SDK must keep working, so unknown keys are
dropped and missing optional keys take their defaults.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")


def known_fields(cls: type[Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``data`` that name a field of the dataclass ``cls``."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def build(cls: Callable[..., T], data: Mapping[str, Any], **converters: Callable[[Any], Any]) -> T:
    """Build ``cls`` from the known keys of ``data``, passing the named ones through
    their converter first (a converter never sees a missing key)."""
    kwargs = known_fields(cls, data)  # type: ignore[arg-type]  # cls is a dataclass
    for name, convert in converters.items():
        if name in kwargs:
            kwargs[name] = convert(kwargs[name])
    return cls(**kwargs)


def parse_datetime(value: Any) -> datetime | None:
    """Parse an ISO 8601 string (a trailing "Z" included); None stays None."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    raise ValueError(f"not an ISO 8601 datetime: {value!r}")


def optional_int(value: Any) -> int | None:
    """int(value), keeping None."""
    return None if value is None else int(value)


def string_list(value: Any) -> list[str]:
    """A list of strings from any JSON array (None gives an empty list)."""
    return [str(v) for v in value] if value else []
