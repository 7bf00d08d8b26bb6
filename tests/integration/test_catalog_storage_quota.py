"""The catalog's stored-bytes counter, on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from scopix.server.catalog.db import connect, sync_url
from scopix.server.catalog.migrate import alembic_config, upgrade
from scopix.server.catalog.models import JSON, UtcDateTime
from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.domain.ids import new_id

# The two tables as revision 0007 left them, before the counter existed.
TENANTS_0007 = sa.table(
    "tenants",
    sa.column("id"),
    sa.column("name"),
    sa.column("tier"),
    sa.column("prepaid_credits"),
    sa.column("created_at", UtcDateTime()),
)
BLOBS_0007 = sa.table(
    "blobs",
    sa.column("tenant_id"),
    sa.column("sha256"),
    sa.column("storage_key"),
    sa.column("size_bytes"),
    sa.column("mime_type"),
    sa.column("variants", JSON()),
    sa.column("created_at", UtcDateTime()),
)


async def test_upgrading_counts_the_bytes_each_tenant_already_stores(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "0007")
    holder, empty = new_id(), new_id()
    now = datetime.now(UTC)
    engine = sa.create_engine(sync_url(database_url))
    with engine.begin() as conn:
        conn.execute(
            sa.insert(TENANTS_0007),
            [
                {"id": t, "name": t, "tier": "free", "prepaid_credits": 0, "created_at": now}
                for t in (holder, empty)
            ],
        )
        conn.execute(
            sa.insert(BLOBS_0007),
            [
                {
                    "tenant_id": holder,
                    "sha256": f"{i:064x}",
                    "storage_key": f"k{i}",
                    "size_bytes": size,
                    "mime_type": "image/png",
                    "variants": [],
                    "created_at": now,
                }
                for i, size in enumerate([3 * 2**30, 5, 70])  # more than 32 bits in all
            ],
        )
    engine.dispose()

    upgrade(database_url)

    database = connect(database_url)
    try:
        async with UnitOfWorkFactory(database).read() as uow:
            counted = [await uow.tenants.storage_used(t) for t in (holder, empty)]
    finally:
        await database.dispose()
    assert counted == [3 * 2**30 + 75, 0]
