"""Description types: the pipeline status, a structured result, and classified failures."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

__all__ = [
    "DescriptionErrorType",
    "DescriptionFailure",
    "DescriptionResult",
    "DescriptionStatus",
]


class DescriptionStatus(str, Enum):  # noqa: UP042 - the published contract says (str, Enum)
    """State of AI description generation for one file."""

    PENDING = "pending"
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"


class DescriptionErrorType(str, Enum):  # noqa: UP042 - the published contract says (str, Enum)
    """Classification of description errors, used to decide whether to retry."""

    TIMEOUT = "timeout"  # AI provider timed out (retryable)
    RATE_LIMIT = "rate_limit"  # Rate limit exceeded (retryable)
    VLM_ERROR = "vlm_error"  # AI provider error (retryable)
    VALIDATION_ERROR = "validation"  # Input validation failed (permanent)
    RESOURCE_LIMIT = "resource_limit"  # Quota exceeded (permanent)
    UNKNOWN = "unknown"  # Unclassified (not retryable)


RETRYABLE_ERROR_TYPES: frozenset[DescriptionErrorType] = frozenset(
    {
        DescriptionErrorType.TIMEOUT,
        DescriptionErrorType.RATE_LIMIT,
        DescriptionErrorType.VLM_ERROR,
    }
)
"""The error types worth retrying; every other type is permanent."""

# Checked in this order; the first pattern that matches decides.
_CLASSIFIERS: tuple[tuple[DescriptionErrorType, re.Pattern[str]], ...] = (
    (
        DescriptionErrorType.RATE_LIMIT,
        re.compile(r"rate[\s_-]?limit|\b429\b|too many requests"),
    ),
    (
        DescriptionErrorType.TIMEOUT,
        re.compile(r"timeout|timed[\s_-]?out|\btime[\s_-]out\b|deadline exceeded"),
    ),
    (
        DescriptionErrorType.RESOURCE_LIMIT,
        re.compile(r"quota|resource[\s_-]?limit|insufficient credits|limit exceeded|too large"),
    ),
    (
        DescriptionErrorType.VALIDATION_ERROR,
        re.compile(
            r"\bvalidation|invalid[\s_-]+(?:[a-z0-9]+[\s_-]+)?(?:input|image|file)"
            r"|unsupported|corrupt"
        ),
    ),
    (
        DescriptionErrorType.VLM_ERROR,
        re.compile(
            r"\b50[0234]\b|internal server error|bad gateway|service unavailable"
            r"|invalid[\s_-]+(?:[a-z0-9]+[\s_-]+)?(?:output|response)|malformed"
            r"|provider error|\bvlm"
        ),
    ),
)


@dataclass(frozen=True)
class DescriptionResult:
    """Structured description output for one image."""

    operation_id: str
    description: str
    confidence_score: float | None = None
    key_elements: list[str] | None = None
    tags: list[str] | None = None
    visible_text: str | None = None
    text_regions: list[dict[str, Any]] | None = None
    analysis_level: str = "standard"
    provider_count: int = 1
    processing_time_ms: int = 0
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class DescriptionFailure:
    """A failed description operation, with its error classified for retry decisions."""

    image_id: str
    error_message: str
    error_type: DescriptionErrorType
    is_retryable: bool
    filename: str | None = None
    raw_error: str | None = None

    @staticmethod
    def classify_error(error_msg: str) -> tuple[DescriptionErrorType, bool]:
        """Classify an error message; return its type and whether a retry may succeed.

        Matching is case-insensitive and status codes match only as whole numbers
        ("1429" is not a 429). When a message fits several types, the first in this
        order wins:

        1. RATE_LIMIT: "rate limit", "429", "too many requests".
        2. TIMEOUT: "timeout", "timed out", "time out", "deadline exceeded".
        3. RESOURCE_LIMIT: "quota", "resource limit", "insufficient credits",
           "limit exceeded", "too large".
        4. VALIDATION_ERROR: "validation", "invalid input/image/file" (one word may sit
           between, as in "invalid PNG file"), "unsupported", "corrupt".
        5. VLM_ERROR: 500/502/503/504, "internal server error", "bad gateway",
           "service unavailable", "invalid output/response", "malformed",
           "provider error", "vlm".
        6. UNKNOWN otherwise.

        Rate limits come first because "rate limit exceeded" also reads as a quota
        message; permanent causes (quota, bad input) beat the generic provider error
        they are often wrapped in. Only TIMEOUT, RATE_LIMIT and VLM_ERROR are retryable.
        """
        text = (error_msg or "").lower()
        for error_type, pattern in _CLASSIFIERS:
            if pattern.search(text):
                return error_type, error_type in RETRYABLE_ERROR_TYPES
        return DescriptionErrorType.UNKNOWN, False

    @classmethod
    def from_error_message(
        cls, image_id: str, error_msg: str, filename: str | None = None
    ) -> DescriptionFailure:
        """Build a failure from a raw error message, classifying it."""
        error_type, retryable = cls.classify_error(error_msg)
        return cls(
            image_id=image_id,
            error_message=error_msg,
            error_type=error_type,
            is_retryable=retryable,
            filename=filename,
            raw_error=error_msg,
        )
