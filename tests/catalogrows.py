"""Minimal catalog rows for tests that talk to the repositories directly."""

from __future__ import annotations

from datetime import UTC, datetime

from scopix.server.catalog.models import Blob, Tenant
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
