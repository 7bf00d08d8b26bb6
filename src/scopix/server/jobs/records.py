"""New job rows, written in the same transaction as the file they work on."""

from __future__ import annotations

from datetime import datetime

from scopix.server.catalog.models import File, Job
from scopix.server.domain.ids import new_id

VARIANTS = "variants"
DESCRIBE = "describe"
EXTRACT = "extract"
SCENES = "scenes"
CRAWL = "crawl"
FIELDS = "fields"  # a custom extraction: one job per file and schema


def new_job(kind: str, file: File, *, max_attempts: int, now: datetime) -> Job:
    """A queued job of `kind` for `file`, due now."""
    return Job(
        id=new_id(),
        kind=kind,
        tenant_id=file.tenant_id,
        file_id=file.id,
        sha256=file.sha256,
        state="queued",
        attempts=0,
        max_attempts=max_attempts,
        run_after=now,
        dispatched_at=now,  # its message goes out once the transaction commits
        created_at=now,
        updated_at=now,
    )
