"""The catalog's stored-bytes counter, on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from hypothesis import given, settings
from hypothesis import strategies as st

from catalogrows import tenant_row
from scopix.server.catalog.db import connect, sync_url
from scopix.server.catalog.migrate import alembic_config, upgrade
from scopix.server.catalog.models import JSON, StorageReservation, Tenant, UtcDateTime
from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.domain.ids import new_id
from scopix.server.domain.storage_quota import after_release, after_reserve
from scopix.server.domain.tiers import TIERS

# They step the schema through old revisions: a database with none to begin with.
pytestmark = pytest.mark.fresh_catalog

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


Op = tuple[str, int]


def test_the_counter_follows_the_domain_rules(database_url: str) -> None:
    """The repository's conditional UPDATEs agree with after_reserve / after_release for any
    sequence of reservations and releases: never below zero, never over the limit."""
    upgrade(database_url)
    tenant_id = asyncio.run(_new_tenant(database_url))

    @settings(max_examples=30)
    @given(
        limit=st.none() | st.integers(0, 5_000),
        ops=st.lists(
            st.tuples(st.sampled_from(["reserve", "release"]), st.integers(0, 2_000)), max_size=12
        ),
    )
    def replay(limit: int | None, ops: list[Op]) -> None:
        asyncio.run(_replay(database_url, tenant_id, limit, ops))

    replay()


async def _new_tenant(url: str) -> str:
    database = connect(url)
    try:
        async with UnitOfWorkFactory(database).write() as uow:
            tenant = tenant_row()
            await uow.tenants.add(tenant)
            await uow.commit()
    finally:
        await database.dispose()
    return tenant.id


async def _replay(url: str, tenant_id: str, limit: int | None, ops: list[Op]) -> None:
    database = connect(url)
    uows = UnitOfWorkFactory(database)
    try:
        async with uows.write() as uow:
            reset = sa.update(Tenant).where(Tenant.id == tenant_id).values(storage_bytes=0)
            await uow.session.execute(reset)
            await uow.commit()
        expected = 0
        for op, nbytes in ops:
            async with uows.write() as uow:
                if op == "reserve":
                    row = StorageReservation(
                        id=new_id(),
                        tenant_id=tenant_id,
                        nbytes=nbytes,
                        expires_at=datetime.now(UTC) + timedelta(hours=1),
                    )
                    granted = await uow.tenants.reserve_storage(row, dict.fromkeys(TIERS, limit))
                    after = after_reserve(expected, limit, nbytes)
                    assert granted == (after is not None)
                    expected = expected if after is None else after
                else:
                    await uow.tenants.release_storage(tenant_id, nbytes)
                    expected = after_release(expected, nbytes)
                await uow.commit()
            async with uows.read() as uow:
                assert await uow.tenants.storage_used(tenant_id) == expected
    finally:
        await database.dispose()
