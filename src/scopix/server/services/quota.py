"""Quota checks against the tier's monthly allowance and prepaid credits, and the bytes a
tenant stores against its storage quota."""

from __future__ import annotations

from datetime import UTC, datetime

from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.domain.errors import ValidationFailed
from scopix.server.domain.quota import QuotaStanding, billing_period, standing
from scopix.server.domain.storage_quota import StorageStanding
from scopix.server.domain.tiers import tier_named
from scopix.server.jobs.records import DESCRIBE
from scopix.server.services.storage_quota import StorageQuota

MAX_FILE_COUNT = 10_000


class QuotaService:
    """What a tenant may still have described this month, and may still store."""

    def __init__(self, uows: UnitOfWorkFactory, storage: StorageQuota) -> None:
        self.uows = uows
        self.storage = storage

    async def check(self, tenant_id: str, file_count: int) -> QuotaStanding:
        """Whether `file_count` more descriptions fit."""
        if not 1 <= file_count <= MAX_FILE_COUNT:
            raise ValidationFailed(
                f"file_count must be between 1 and {MAX_FILE_COUNT}", field="file_count"
            )
        async with self.uows.read() as uow:
            tenant = await uow.tenants.get(tenant_id)
            used = await uow.usage.used(tenant_id, billing_period(datetime.now(UTC)))
            reserved = await uow.jobs.reserved(tenant_id, DESCRIBE)
        assert tenant is not None, "an authenticated tenant exists"
        return standing(
            tier_named(tenant.tier),
            used=used,
            prepaid=tenant.prepaid_credits,
            requested=file_count,
            reserved=reserved,
        )

    async def storage_standing(self, tenant_id: str) -> StorageStanding:
        """The bytes the tenant stores against its storage quota."""
        return await self.storage.standing(tenant_id)
