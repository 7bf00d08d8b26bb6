"""The SDK's exception tree; every exception is importable from ``scopix``.

```
ScopixError                   code, message, details, status_code, request_id
├── AuthenticationError       401 INVALID_API_KEY
├── ScopixPermissionError     403 PERMISSION_DENIED
├── ResourceNotFoundError     404 NOT_FOUND
├── ValidationError           400 / 413 / 422 VALIDATION_ERROR (and finer codes)
│   └── WrongMediaTypeError   400 WRONG_MEDIA_TYPE (a document route on an image, ...)
├── QuotaExceededError        403 QUOTA_EXCEEDED            .partial_results
├── RateLimitError            429 RATE_LIMITED              .retry_after
├── ScopixTimeoutError        408, or the client gave up waiting
├── ServerError               5xx INTERNAL_ERROR / UNAVAILABLE
│   └── InsufficientStorageError  507 INSUFFICIENT_STORAGE (the server's disk is nearly full)
├── ScopixConnectionError     the server could not be reached
├── UploadError               a batch could not be completed  .partial_results
└── DescriptionError          descriptions failed           .failures
```

``error_from_response`` turns an HTTP error response into the right class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scopix.types.describe import DescriptionFailure
    from scopix.types.upload import BatchUploadResults

__all__ = [
    "AuthenticationError",
    "DescriptionError",
    "InsufficientStorageError",
    "QuotaExceededError",
    "RateLimitError",
    "ResourceNotFoundError",
    "ScopixConnectionError",
    "ScopixError",
    "ScopixPermissionError",
    "ScopixTimeoutError",
    "ServerError",
    "UploadError",
    "ValidationError",
    "WrongMediaTypeError",
    "error_from_response",
]


class ScopixError(Exception):
    """Base class of every SDK error.

    ``code`` is the server's UPPER_SNAKE error code; when not given it is the class's
    ``default_code`` ("UNKNOWN" here). ``details`` is always a dict.
    """

    default_code = "UNKNOWN"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code: str = code if code is not None else self.default_code
        self.details: dict[str, Any] = dict(details) if details else {}
        self.status_code = status_code
        self.request_id = request_id

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}"
        return f"{text} (request_id={self.request_id})" if self.request_id else text


class AuthenticationError(ScopixError):
    """The API key is missing, malformed or unknown (401)."""

    default_code = "INVALID_API_KEY"


class ScopixPermissionError(ScopixError):
    """The API key lacks the scope for this operation (403)."""

    default_code = "PERMISSION_DENIED"


class ResourceNotFoundError(ScopixError):
    """The resource does not exist or belongs to another tenant (404)."""

    default_code = "NOT_FOUND"


class ValidationError(ScopixError):
    """The request or the uploaded file was refused as invalid (400, 413, 422)."""

    default_code = "VALIDATION_ERROR"


class WrongMediaTypeError(ValidationError):
    """The file is not of the media type the operation needs, such as the text of an image
    (400); ``details`` may name the file's ``media_type``."""

    default_code = "WRONG_MEDIA_TYPE"


class QuotaExceededError(ScopixError):
    """The quota does not cover the request (403 QUOTA_EXCEEDED).

    ``partial_results`` holds what a batch upload finished before the stop, if any.
    """

    default_code = "QUOTA_EXCEEDED"

    def __init__(
        self, message: str, *, partial_results: BatchUploadResults | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.partial_results = partial_results


class RateLimitError(ScopixError):
    """Too many requests (429); ``retry_after`` is the server's wait in seconds, if sent."""

    default_code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ScopixTimeoutError(ScopixError):
    """The request, or waiting for a result, took too long."""

    default_code = "TIMEOUT"


class ServerError(ScopixError):
    """The server failed (5xx)."""

    default_code = "INTERNAL_ERROR"


class InsufficientStorageError(ServerError):
    """The server's disk is too full to keep the upload (507); nothing was stored. Not retried:
    room comes back only when its operator makes some."""

    default_code = "INSUFFICIENT_STORAGE"


class ScopixConnectionError(ScopixError):
    """The server could not be reached."""

    default_code = "CONNECTION_ERROR"


class UploadError(ScopixError):
    """An upload could not be completed: the server stayed unreachable or failing after
    every retry. ``partial_results`` holds what a batch upload finished before, if any."""

    default_code = "UPLOAD_FAILED"

    def __init__(
        self, message: str, *, partial_results: BatchUploadResults | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.partial_results = partial_results


class DescriptionError(ScopixError):
    """One or more descriptions failed; ``failures`` lists them, classified."""

    default_code = "DESCRIPTION_FAILED"

    def __init__(
        self, message: str, *, failures: Sequence[DescriptionFailure] = (), **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.failures: list[DescriptionFailure] = list(failures)


_BY_STATUS: dict[int, type[ScopixError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: ScopixPermissionError,
    404: ResourceNotFoundError,
    408: ScopixTimeoutError,
    507: InsufficientStorageError,
    413: ValidationError,
    422: ValidationError,
    429: RateLimitError,
}

_BY_CODE: dict[str, type[ScopixError]] = {
    cls.default_code: cls for cls in (QuotaExceededError, WrongMediaTypeError)
}


def error_from_response(
    status_code: int, body: Any, request_id: str | None, retry_after: float | None = None
) -> ScopixError:
    """Map an HTTP error response to the matching exception (returned, not raised).

    ``body`` is the parsed JSON, ideally the envelope ``{"error": {"code", "message",
    "details"}, "request_id"}``; any other body (text, FastAPI's ``{"detail": ...}``,
    None) still yields an error. The codes QUOTA_EXCEEDED and WRONG_MEDIA_TYPE always give
    their own classes; otherwise the status decides, 5xx gives ServerError and an
    unknown status the base ScopixError.
    """
    code, message, details, body_request_id = _parse_body(body)
    cls = _error_class(status_code, code)
    kwargs: dict[str, Any] = {
        "code": code,
        "details": details,
        "status_code": status_code,
        "request_id": request_id or body_request_id,
    }
    if cls is RateLimitError:
        kwargs["retry_after"] = retry_after
    return cls(message or f"HTTP {status_code}", **kwargs)


def _error_class(status_code: int, code: str | None) -> type[ScopixError]:
    """Pick the exception class for a status code and error code."""
    if code is not None and code in _BY_CODE:
        return _BY_CODE[code]
    if status_code in _BY_STATUS:
        return _BY_STATUS[status_code]
    return ServerError if status_code >= 500 else ScopixError


def _parse_body(body: Any) -> tuple[str | None, str, dict[str, Any], str | None]:
    """Return (code, message, details, request_id) from any error body."""
    if not isinstance(body, Mapping):
        return None, _text(body), {}, None
    error = body.get("error")
    request_id = _opt_str(body.get("request_id"))
    if isinstance(error, Mapping):
        details = error.get("details")
        return (
            _opt_str(error.get("code")) or None,
            _text(error.get("message")),
            dict(details) if isinstance(details, Mapping) else {},
            request_id,
        )
    message = body.get("detail", body.get("message", error))
    return None, _text(message), dict(body), request_id


def _text(value: Any, limit: int = 500) -> str:
    """Render a message-like value as text, shortened to ``limit`` characters."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _opt_str(value: Any) -> str | None:
    """str(value), keeping None."""
    return None if value is None else str(value)
