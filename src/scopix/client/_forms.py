"""Upload options as the server's form fields, and upload answers as SDK results."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from scopix.types.describe import DescriptionErrorType, DescriptionStatus
from scopix.types.events import UploadProgress
from scopix.types.upload import UploadResult

# How a refused file's code is classified; any other code is a validation failure.
_ERROR_TYPES = {
    "QUOTA_EXCEEDED": DescriptionErrorType.RESOURCE_LIMIT,
    "RATE_LIMITED": DescriptionErrorType.RATE_LIMIT,
    "UNAVAILABLE": DescriptionErrorType.UNKNOWN,
    "INTERNAL_ERROR": DescriptionErrorType.UNKNOWN,
}
# Refusals that say nothing about the file: sending it again later may work.
_TRANSIENT = frozenset({"RATE_LIMITED", "UNAVAILABLE", "INTERNAL_ERROR"})


class UploadArguments(TypedDict, total=False):
    """The keyword arguments of ``files.upload``; its docstring gives their defaults."""

    title: str | None
    tags: Sequence[str] | None
    auto_describe: bool
    skip_duplicates: bool
    content_category: str
    folder_id: str | None
    project_id: str | None
    custom_schema_id: str | None
    wait_for_descriptions: bool
    description_timeout: float | None
    raise_on_failure: bool
    on_progress: Callable[[UploadProgress], None] | None


@dataclass(frozen=True)
class UploadOptions:
    """What every file of one ``upload`` call shares, where the files go and the schema
    extracted from them included."""

    title: str | None = None
    tags: Sequence[str] | None = None
    auto_describe: bool = True
    skip_duplicates: bool = False
    content_category: str = "general"
    folder_id: str | None = None
    project_id: str | None = None
    custom_schema_id: str | None = None

    def fields(self) -> dict[str, str]:
        """The multipart form fields; unset ones are left out so the server's defaults apply."""
        fields = {
            "auto_describe": _flag(self.auto_describe),
            "skip_duplicates": _flag(self.skip_duplicates),
            "content_category": self.content_category,
        }
        if self.title is not None:
            fields["title"] = self.title
        if self.tags:
            fields["tags"] = ",".join(self.tags)
        return fields | self.optional_fields()

    def optional_fields(self) -> dict[str, str]:
        """The folder and project the files go to and the schema extracted from them, only
        where given, so a server without them takes the request too."""
        chosen = {
            "folder_id": self.folder_id,
            "project_id": self.project_id,
            "custom_schema_id": self.custom_schema_id,
        }
        return {name: value for name, value in chosen.items() if value is not None}


def _flag(value: bool) -> str:
    return "true" if value else "false"


def batch_item_result(item: Mapping[str, Any]) -> UploadResult:
    """One file of a batch answer: its upload result, or a failed result saying why it was
    refused (``status="failed"``, no ``image_id`` since nothing was stored)."""
    if item.get("result"):
        return UploadResult.from_dict(item["result"])
    error = item.get("error") or {}
    return refused_result(
        str(item.get("filename") or ""), str(error.get("code") or "UPLOAD_FAILED"), error
    )


def refused_result(filename: str, code: str, error: Mapping[str, Any]) -> UploadResult:
    """A failed result for a file the server refused; retryable only when the refusal was
    about the server's state (busy, storage down), not about the file."""
    message = str(error.get("message") or code)
    return UploadResult(
        image_id="",
        filename=filename,
        description_status=DescriptionStatus.FAILED,
        description_error=f"{code}: {message}",
        description_error_type=_ERROR_TYPES.get(code, DescriptionErrorType.VALIDATION_ERROR).value,
        description_is_retryable=code in _TRANSIENT,
        status="failed",
    )
