"""Custom extraction types: a stored schema, a page of them, and what one schema pulled out
of one file (its record, each field with its confidence and where in the file it was found)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scopix.types._parse import build, optional_int, parse_datetime

__all__ = [
    "Box",
    "ExtractedField",
    "ExtractionResult",
    "ExtractionResultList",
    "ExtractionSchema",
    "ExtractionSchemaList",
    "ExtractionStarted",
    "FieldSource",
]

#: States of an extraction that will still change without a new request.
PENDING_STATES = frozenset({"queued", "processing"})
COMPLETED = "completed"
FAILED = "failed"


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class ExtractionSchema:
    """A named JSON Schema the tenant stored for extractions: its ``schema`` (an object at
    the root) says which fields to pull out of a file, ``prompt_hint`` what the extractor
    is told besides. Names are unique per tenant in any letter case."""

    id: str
    name: str
    schema: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    prompt_hint: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExtractionSchema:
        """Parse the server's JSON; unknown keys are ignored."""
        return build(
            cls,
            data,
            id=str,
            schema=lambda v: dict(v or {}),
            description=_optional_text,
            prompt_hint=_optional_text,
            created_at=parse_datetime,
            updated_at=parse_datetime,
        )


@dataclass(frozen=True)
class ExtractionSchemaList:
    """A page of ``GET /custom-extraction-schemas``: ``limit`` schemas from ``offset``, of
    ``total_count``; ``has_more`` when a later page exists."""

    items: list[ExtractionSchema] = field(default_factory=list)
    total_count: int = 0
    has_more: bool = False
    limit: int | None = None
    offset: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExtractionSchemaList:
        """Parse one page; unknown keys are ignored."""
        return cls(
            items=[ExtractionSchema.from_dict(s) for s in data.get("items") or []],
            total_count=int(data.get("total_count") or 0),
            has_more=bool(data.get("has_more")),
            limit=optional_int(data.get("limit")),
            offset=int(data.get("offset") or 0),
        )


@dataclass(frozen=True)
class ExtractionStarted:
    """An extraction the server queued (``POST /files/{id}/extract``): the schema's id,
    which for an inline schema is one the server derived from its content (the same
    schema always gets the same id), and the state it starts in."""

    schema_id: str
    status: str = "queued"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExtractionStarted:
        """Parse the 202 answer; unknown keys are ignored."""
        return build(cls, data, schema_id=str, status=str)


@dataclass(frozen=True)
class Box:
    """A rectangle on an image or a page: its top-left corner, width and height, each a
    fraction (0-1) of the image or page as displayed, like the boxes of ``text_regions``."""

    x: float
    y: float
    width: float
    height: float

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Box:
        """Parse ``{"x", "y", "width", "height"}``; unknown keys are ignored."""
        return build(cls, data, x=float, y=float, width=float, height=float)


def _box(value: Any) -> Box | None:
    return None if value is None else Box.from_dict(value)


@dataclass(frozen=True)
class FieldSource:
    """Where a field's value was read: the page (1-based; None for an image), the box
    around it there (None when the extractor could not point at it), and the text read
    there (a line of OCR, say)."""

    page: int | None = None
    bbox: Box | None = None
    text: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FieldSource:
        """Parse ``{"page", "bbox", "text"}``; unknown keys are ignored."""
        return build(cls, data, page=optional_int, bbox=_box, text=_optional_text)


def _source(value: Any) -> FieldSource | None:
    return None if value is None else FieldSource.from_dict(value)


@dataclass(frozen=True)
class ExtractedField:
    """One leaf of an extracted record: its dotted ``path`` in the schema ("vendor.name"),
    its ``value`` (None when nothing in the file supports one), how sure the extractor was
    (0-1), where it was found, and which extractor found it."""

    path: str
    value: Any = None
    confidence: float | None = None
    source: FieldSource | None = None
    extractor: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExtractedField:
        """Parse one entry of a result's ``fields``; unknown keys are ignored."""
        return build(
            cls,
            data,
            path=str,
            confidence=_optional_float,
            source=_source,
            extractor=_optional_text,
        )


@dataclass(frozen=True)
class ExtractionResult:
    """What one schema pulled out of one file.

    ``status`` is ``queued`` or ``processing`` until it settles as ``completed`` or
    ``failed``. ``data`` is the record, shaped like the schema (a field nothing in the
    file supports is None); ``fields`` the same values leaf by leaf, with confidence and
    source; ``confidence_score`` (0-1) how sure the extractor was of the record as a whole.
    A failure says why in ``error`` and ``error_type`` (the description pipeline's types:
    ``timeout``, ``vlm_error``, ``validation``, ...). ``extractor`` names what filled the
    record (an on-device reader of the file's text, or a VLM).
    """

    schema_id: str
    status: str = "queued"
    data: dict[str, Any] = field(default_factory=dict)
    fields: list[ExtractedField] = field(default_factory=list)
    confidence_score: float | None = None
    error: str | None = None
    error_type: str | None = None
    extractor: str | None = None
    requested_at: datetime | None = None
    completed_at: datetime | None = None

    @property
    def is_completed(self) -> bool:
        """True when the record is ready."""
        return self.status == COMPLETED

    @property
    def is_failed(self) -> bool:
        """True when the extraction failed (``error`` says why)."""
        return self.status == FAILED

    @property
    def is_pending(self) -> bool:
        """True while the extraction is queued or running."""
        return self.status in PENDING_STATES

    @property
    def is_final(self) -> bool:
        """True once the result will not change without a new request."""
        return not self.is_pending

    def field_at(self, path: str) -> ExtractedField | None:
        """The field at the dotted ``path`` ("vendor.name"), None when there is none."""
        return next((f for f in self.fields if f.path == path), None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExtractionResult:
        """Parse ``GET /files/{id}/extractions/{schema_id}``; unknown keys are ignored and
        a null ``data`` (before the extraction completes) is an empty record."""
        return cls(
            schema_id=str(data["schema_id"]),
            status=str(data.get("status") or "queued").lower(),
            data=dict(data.get("data") or {}),
            fields=[ExtractedField.from_dict(f) for f in data.get("fields") or []],
            confidence_score=_optional_float(data.get("confidence_score")),
            error=_optional_text(data.get("error")),
            error_type=_optional_text(data.get("error_type")),
            extractor=_optional_text(data.get("extractor")),
            requested_at=parse_datetime(data.get("requested_at")),
            completed_at=parse_datetime(data.get("completed_at")),
        )


@dataclass(frozen=True)
class ExtractionResultList:
    """Every extraction of one file, one result per schema."""

    items: list[ExtractionResult] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExtractionResultList:
        """Parse ``GET /files/{id}/extractions``; unknown keys are ignored."""
        return cls(items=[ExtractionResult.from_dict(r) for r in data.get("items") or []])
