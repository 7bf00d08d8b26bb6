"""Upload types: the result of one upload, a batch of them, and quota information."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from scopix.errors import DescriptionError
from scopix.types._parse import optional_int, parse_datetime
from scopix.types.describe import DescriptionErrorType, DescriptionFailure, DescriptionStatus

__all__ = ["BatchUploadResults", "QuotaInfo", "UploadResult"]

_PENDING_STATES = (
    DescriptionStatus.PENDING,
    DescriptionStatus.QUEUED,
    DescriptionStatus.PROCESSING,
)
_ERROR_TYPE_VALUES = frozenset(t.value for t in DescriptionErrorType)


@dataclass(frozen=True)
class UploadResult:
    """Result of a successful upload operation."""

    image_id: str
    filename: str
    description: str | None = None
    tags: list[str] | None = None
    visible_text: str | None = None
    text_regions: list[dict[str, Any]] | None = None
    confidence_score: float | None = None
    description_status: DescriptionStatus = DescriptionStatus.PENDING
    thumbnail_url: str | None = None
    created_at: datetime | None = None
    description_error: str | None = None
    description_error_type: str | None = None
    description_is_retryable: bool | None = None
    deduplicated: bool | None = None
    media_type: str | None = None
    status: str | None = None
    object_key: str | None = None

    @property
    def is_failed(self) -> bool:
        """True when description generation failed."""
        return self.description_status == DescriptionStatus.FAILED

    @property
    def is_completed(self) -> bool:
        """True when the description is ready."""
        return self.description_status == DescriptionStatus.COMPLETED

    @property
    def is_pending(self) -> bool:
        """True while the description is still to come: PENDING, QUEUED or PROCESSING."""
        return self.description_status in _PENDING_STATES

    def to_dict(self, exclude_none: bool = True) -> dict[str, Any]:
        """Return a JSON-ready dict: enums as values, datetimes as ISO 8601 strings.

        With ``exclude_none`` (the default) fields whose value is None are left out.
        """
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None and exclude_none:
                continue
            out[field.name] = _to_jsonable(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UploadResult:
        """Parse an upload result from the server's JSON, tolerantly.

        Unknown keys are ignored and missing optional keys take their defaults.
        ``id`` stands in for a missing ``image_id`` (one of them is required); a
        missing ``filename`` becomes "". ``created_at`` accepts ISO 8601 strings
        (including a trailing "Z") or datetimes. ``description_status`` is matched
        case-insensitively; a value that is no ``DescriptionStatus`` raises ValueError.
        """
        kwargs = {f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data}
        kwargs["image_id"] = _require_id(data)
        kwargs["filename"] = data.get("filename") or ""
        kwargs["description_status"] = _parse_status(data.get("description_status"))
        kwargs["created_at"] = parse_datetime(data.get("created_at"))
        for key in ("tags", "text_regions"):
            if isinstance(kwargs.get(key), list | tuple):
                kwargs[key] = list(kwargs[key])
        return cls(**kwargs)


class BatchUploadResults(list[UploadResult]):
    """List of UploadResult with convenience methods, returned for batch uploads.

    Every result counts as exactly one of: failed (description FAILED), pending
    (PENDING, QUEUED or PROCESSING) or succeeded (COMPLETED or SKIPPED).
    """

    @property
    def has_failures(self) -> bool:
        """True when at least one description failed."""
        return any(r.is_failed for r in self)

    @property
    def failed_count(self) -> int:
        """Number of failed results."""
        return len(self.failed())

    @property
    def succeeded_count(self) -> int:
        """Number of succeeded results."""
        return len(self.succeeded())

    @property
    def pending_count(self) -> int:
        """Number of results whose description is still to come."""
        return len(self.pending())

    def failed(self) -> list[UploadResult]:
        """Results whose description failed."""
        return [r for r in self if r.is_failed]

    def succeeded(self) -> list[UploadResult]:
        """Results that neither failed nor are pending (COMPLETED or SKIPPED)."""
        return [r for r in self if not r.is_failed and not r.is_pending]

    def pending(self) -> list[UploadResult]:
        """Results whose description is PENDING, QUEUED or PROCESSING."""
        return [r for r in self if r.is_pending]

    def retryable(self) -> list[UploadResult]:
        """Failed results the server marked as retryable."""
        return [r for r in self if r.is_failed and r.description_is_retryable is True]

    def raise_on_failures(self) -> BatchUploadResults:
        """Return self, or raise DescriptionError listing every failed result."""
        failures = [_failure_from_result(r) for r in self.failed()]
        if not failures:
            return self
        lines = [f"{len(failures)} of {len(self)} descriptions failed:"]
        lines += [f"- {_label(f)}: {f.error_message}" for f in failures]
        raise DescriptionError("\n".join(lines), failures=failures)

    def summary(self) -> str:
        """One line of counts, e.g. "3 succeeded, 1 failed (1 retryable), 2 pending".

        The failed part appears only when something failed, the pending part only
        when something is pending; "3 succeeded" alone means everything succeeded.
        """
        parts = [f"{self.succeeded_count} succeeded"]
        if self.has_failures:
            parts.append(f"{self.failed_count} failed ({len(self.retryable())} retryable)")
        if pending := self.pending_count:
            parts.append(f"{pending} pending")
        return ", ".join(parts)


@dataclass(frozen=True)
class QuotaInfo:
    """Upload quota information."""

    can_proceed: bool
    requested: int
    available: int
    monthly_limit: int
    current_usage: int
    message: str | None = None
    max_batch_size: int | None = None
    prepaid_credits: int = 0
    max_concurrent_uploads: int | None = None
    # Extras beyond the seed's fields: the bytes the tenant stores against its storage quota.
    # None when the server does not say; the limit and what is left are None with no limit.
    storage_used_bytes: int | None = None
    storage_limit_bytes: int | None = None
    storage_available_bytes: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuotaInfo:
        """Parse quota information from the server's JSON, ignoring unknown keys.

        The five leading fields are required (ValueError when missing); a missing or
        null ``prepaid_credits`` is 0.
        """
        required = ("can_proceed", "requested", "available", "monthly_limit", "current_usage")
        if missing := [k for k in required if data.get(k) is None]:
            raise ValueError(f"quota info lacks {', '.join(missing)}")
        return cls(
            can_proceed=bool(data["can_proceed"]),
            requested=int(data["requested"]),
            available=int(data["available"]),
            monthly_limit=int(data["monthly_limit"]),
            current_usage=int(data["current_usage"]),
            message=data.get("message"),
            max_batch_size=optional_int(data.get("max_batch_size")),
            prepaid_credits=int(data.get("prepaid_credits") or 0),
            max_concurrent_uploads=optional_int(data.get("max_concurrent_uploads")),
            storage_used_bytes=optional_int(data.get("storage_used_bytes")),
            storage_limit_bytes=optional_int(data.get("storage_limit_bytes")),
            storage_available_bytes=optional_int(data.get("storage_available_bytes")),
        )


def _to_jsonable(value: Any) -> Any:
    """Convert enums, datetimes and containers of them to JSON-ready values."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_jsonable(v) for k, v in value.items()}
    return value


def _require_id(data: Mapping[str, Any]) -> str:
    """Return ``image_id``, falling back to ``id``; raise ValueError when both lack."""
    value = data.get("image_id")
    if value is None:
        value = data.get("id")
    if value is None:
        raise ValueError("upload result lacks image_id")
    return str(value)


def _parse_status(value: Any) -> DescriptionStatus:
    """Parse a description status; None means PENDING."""
    if value is None:
        return DescriptionStatus.PENDING
    if isinstance(value, DescriptionStatus):
        return value
    return DescriptionStatus(str(value).lower())


def _failure_from_result(result: UploadResult) -> DescriptionFailure:
    """Describe a failed result, trusting the server's classification where it gave one."""
    message = result.description_error or "description failed"
    error_type, retryable = DescriptionFailure.classify_error(message)
    if result.description_error_type in _ERROR_TYPE_VALUES:
        error_type = DescriptionErrorType(result.description_error_type)
    if result.description_is_retryable is not None:
        retryable = result.description_is_retryable
    return DescriptionFailure(
        image_id=result.image_id,
        error_message=message,
        error_type=error_type,
        is_retryable=retryable,
        filename=result.filename or None,
        raw_error=result.description_error,
    )


def _label(failure: DescriptionFailure) -> str:
    """Name a failure by filename and image id, or by id alone."""
    if failure.filename:
        return f"{failure.filename} ({failure.image_id})"
    return failure.image_id
