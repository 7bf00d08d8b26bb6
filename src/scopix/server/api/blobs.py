"""Responses that carry the bytes of an original or a variant."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from scopix.server.api.errors import envelope_body, request_id_of
from scopix.server.domain.ranges import ByteRange, RangeNotSatisfiable, requested_range
from scopix.server.services.container import Services
from scopix.server.services.files import BlobLocation


def blob_response(
    services: Services,
    location: BlobLocation,
    *,
    attachment: bool,
    request: Request | None = None,
) -> Response:
    """The bytes at `location`: straight from disk on local storage, streamed from S3.

    Given the `request`, its `Range` header is answered (206 with just those bytes, read
    from where they start: a browser seeks in a video this way; 416 past the end)."""
    disposition = "attachment" if attachment else "inline"
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(location.filename)}",
        "Cache-Control": "private, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
    }
    size = _size(services, location)
    if size is not None:
        headers["Accept-Ranges"] = "bytes"
    asked = None if request is None else request.headers.get("range")
    if request is not None and asked is not None and size is not None:
        try:
            wanted = requested_range(asked, size)
        except RangeNotSatisfiable as exc:
            return _not_satisfiable(request, exc)
        if wanted is not None:
            return _partial(services, location, wanted, headers)
    path = services.store.local_path(location.key)
    # FileResponse answers a Range header itself, in its own way: only without one here.
    if path is not None and asked is None:
        return FileResponse(path, media_type=location.media_type, headers=headers)
    if size is not None:
        headers["Content-Length"] = str(size)
    return StreamingResponse(
        services.store.iter_bytes(location.key), media_type=location.media_type, headers=headers
    )


def _size(services: Services, location: BlobLocation) -> int | None:
    """The stored size: from the catalog, else (a variant) from the disk on local storage."""
    if location.size is not None:
        return location.size
    path = services.store.local_path(location.key)
    try:
        return None if path is None else path.stat().st_size
    except FileNotFoundError:
        return None


def _partial(
    services: Services, location: BlobLocation, wanted: ByteRange, headers: dict[str, str]
) -> Response:
    """206: the bytes of `wanted` only, streamed from storage."""
    chunks = services.store.iter_bytes(location.key, start=wanted.start, length=wanted.length)
    headers = {
        **headers,
        "Content-Range": wanted.content_range,
        "Content-Length": str(wanted.length),
    }
    return StreamingResponse(
        chunks, status_code=206, media_type=location.media_type, headers=headers
    )


def _not_satisfiable(request: Request, exc: RangeNotSatisfiable) -> JSONResponse:
    """416 in the error envelope, with the size a client can ask within."""
    body = envelope_body(
        "RANGE_NOT_SATISFIABLE", str(exc), {"size_bytes": exc.size}, request_id_of(request)
    )
    headers = {"Content-Range": f"bytes */{exc.size}", "Accept-Ranges": "bytes"}
    return JSONResponse(body, status_code=416, headers=headers)
