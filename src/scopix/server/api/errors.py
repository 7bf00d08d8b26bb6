"""The error envelope: every failure answers `{"error": {...}, "request_id": ...}`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

from scopix.server.domain import errors as domain

STATUS_BY_ERROR: dict[type[domain.DomainError], int] = {
    domain.MalformedRequest: 400,
    domain.ValidationFailed: 422,
    domain.EmptyFile: 422,
    domain.UnsupportedMediaType: 422,
    domain.CorruptFile: 422,
    domain.ImageTooLarge: 422,
    domain.ResourceLimit: 422,
    domain.DocumentTooLarge: 422,
    domain.VideoTooLarge: 422,
    domain.WrongMediaType: 400,
    domain.FileTooLarge: 413,
    domain.PayloadTooLarge: 413,
    domain.InvalidApiKey: 401,
    domain.PermissionDenied: 403,
    domain.QuotaExceeded: 403,
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.IdempotencyKeyReused: 422,
    domain.RateLimited: 429,
    domain.Unavailable: 503,
    domain.InsufficientStorage: 507,
    domain.PartSizeWrong: 422,
    domain.UploadIncomplete: 422,
    domain.ChecksumMismatch: 422,
    domain.SizeMismatch: 422,
    domain.UploadNotActive: 409,
    domain.InvalidSignature: 403,
    domain.UrlExpired: 403,
    domain.SearchUnavailable: 422,
    domain.InvalidUrl: 422,
    domain.UrlRefused: 422,
}

CODE_BY_STATUS = {
    400: "VALIDATION_ERROR",
    401: "INVALID_API_KEY",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "FILE_TOO_LARGE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    503: "UNAVAILABLE",
}


def request_id_of(request: Request) -> str:
    """The id the request-id middleware gave this request."""
    return str(request.scope.get("state", {}).get("request_id", ""))


def envelope_body(
    code: str, message: str, details: Mapping[str, Any] | None, request_id: str
) -> dict[str, Any]:
    """The documented error shape."""
    return {
        "error": {"code": code, "message": message, "details": dict(details or {})},
        "request_id": request_id,
    }


def envelope(
    request: Request, status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    """An error response in the documented shape; a `retry_after` detail becomes Retry-After."""
    body = envelope_body(code, message, details, request_id_of(request))
    headers = {"Connection": "close"} if status == 413 else {}
    if details and "retry_after" in details:
        headers["Retry-After"] = str(details["retry_after"])
    return JSONResponse(body, status_code=status, headers=headers or None)


async def send_envelope(
    send: Send,
    request_id: str,
    status: int,
    code: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Write an error response from the ASGI layer, where there is no Request to answer."""
    body = json.dumps(envelope_body(code, message, details, request_id)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_domain_error(
    send: Send,
    request_id: str,
    exc: domain.DomainError,
    headers: Mapping[str, str] | None = None,
) -> None:
    """A domain refusal written from the ASGI layer, with the status the handlers give it."""
    await send_envelope(
        send, request_id, status_of(exc), exc.code, exc.message, exc.details, headers
    )


def status_of(exc: domain.DomainError) -> int:
    """The HTTP status of a domain error."""
    for kind in type(exc).__mro__:
        if kind in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[kind]
    return 400


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, domain.DomainError)
    return envelope(request, status_of(exc), exc.code, exc.message, dict(exc.details))


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), "problem": e["msg"]}
        for e in exc.errors()
    ]
    message = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
    return envelope(request, 422, "VALIDATION_ERROR", message, {"errors": problems})


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = CODE_BY_STATUS.get(exc.status_code, "INTERNAL_ERROR")
    return envelope(request, exc.status_code, code, str(exc.detail))


def install_error_handlers(app: FastAPI) -> None:
    """Route every kind of failure through the envelope."""
    app.add_exception_handler(domain.DomainError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
