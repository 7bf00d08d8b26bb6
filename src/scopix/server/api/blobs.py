"""Responses that carry the bytes of an original or a variant."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Response
from fastapi.responses import FileResponse, StreamingResponse

from scopix.server.services.container import Services
from scopix.server.services.files import BlobLocation


def blob_response(services: Services, location: BlobLocation, *, attachment: bool) -> Response:
    """The bytes at `location`: straight from disk on local storage, streamed from S3."""
    disposition = "attachment" if attachment else "inline"
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(location.filename)}",
        "Cache-Control": "private, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
    }
    path = services.store.local_path(location.key)
    if path is not None:
        return FileResponse(path, media_type=location.media_type, headers=headers)
    return StreamingResponse(
        services.store.iter_bytes(location.key), media_type=location.media_type, headers=headers
    )
