"""Health."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from scopix import __version__
from scopix.server.api.deps import ServicesDep
from scopix.server.api.schemas import HealthOut

router = APIRouter(tags=["system"])


@router.get("/healthz", response_model=HealthOut)
async def healthz(services: ServicesDep) -> JSONResponse:
    """200 when the catalog and the blob store answer, 503 otherwise."""
    checks = {"database": "ok", "storage": "ok"}
    try:
        async with services.database.reader() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # a health check reports every failure instead of raising
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        await services.store.exists("healthz/probe")
    except Exception as exc:
        checks["storage"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    body = HealthOut(status="ok" if healthy else "degraded", version=__version__, checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)
