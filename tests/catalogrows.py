"""Minimal catalog rows for tests that talk to the repositories directly, and analyses written
as a finished description would, for tests that need a described file without running one."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from apiclient import Api
from scopix.server.catalog.models import Analysis, Blob, File, Tenant
from scopix.server.domain.ids import new_id


def tenant_row(tier: str = "free") -> Tenant:
    """A new tenant named after its id."""
    tenant_id = new_id()
    return Tenant(
        id=tenant_id, name=tenant_id, tier=tier, prepaid_credits=0, created_at=datetime.now(UTC)
    )


def blob_row(tenant_id: str, sha256: str) -> Blob:
    """A one-byte PNG blob with no variants yet."""
    return Blob(
        tenant_id=tenant_id,
        sha256=sha256,
        storage_key="k",
        size_bytes=1,
        mime_type="image/png",
        variants=[],
        created_at=datetime.now(UTC),
    )


def file_row(tenant_id: str, sha256: str, at: datetime) -> File:
    """A new PNG file of `sha256`, its variants still to be made, created `at`; its content
    category and auto_describe left to their defaults."""
    return File(
        id=new_id(),
        tenant_id=tenant_id,
        sha256=sha256,
        filename="f.png",
        media_type="image",
        mime_type="image/png",
        size_bytes=1,
        status="processing",
        description_status="pending",
        created_at=at,
        updated_at=at,
    )


async def give_analysis(
    api: Api,
    file_id: str,
    *,
    pipeline: str = "p",
    embedding: np.ndarray | None = None,
    image_features: np.ndarray | None = None,
    class_scores: list[list[float]] | None = None,
) -> File:
    """Store an analysis of the file's bytes with these vectors, point the file at it and mark
    the file changed, as a finished description does; the file's row."""
    async with api.services.ingest.uows.write() as uow:
        file = await uow.session.get(File, file_id)
        assert file is not None
        uow.session.add(
            Analysis(
                tenant_id=file.tenant_id,
                sha256=file.sha256,
                pipeline=pipeline,
                description="a test pattern",
                tags=[],
                key_elements=[],
                visible_text=None,
                text_regions=[],
                confidence_score=None,
                providers=["test"],
                embedding=None if embedding is None else embedding.astype("<f4").tobytes(),
                image_features=None
                if image_features is None
                else image_features.astype("<f4").tobytes(),
                class_scores=class_scores,
                timings_ms={},
                created_at=datetime.now(UTC),
            )
        )
        file.analysis_pipeline = pipeline
        file.updated_at = datetime.now(UTC)
        await uow.commit()
        return file
