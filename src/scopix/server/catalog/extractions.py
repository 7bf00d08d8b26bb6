"""The repositories of custom extraction: a tenant's schemas, and what they pulled out of files."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from scopix.server.catalog.models import Extraction, ExtractionSchema


class ExtractionSchemaRepository:
    """Schemas, always within one tenant."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tenant_id: str, schema_id: str) -> ExtractionSchema | None:
        schema = await self.session.get(ExtractionSchema, schema_id)
        return schema if schema is not None and schema.tenant_id == tenant_id else None

    async def named(self, tenant_id: str, name_key: str) -> ExtractionSchema | None:
        """The tenant's schema whose name has this key, if any."""
        found = await self.session.execute(
            select(ExtractionSchema).where(
                ExtractionSchema.tenant_id == tenant_id, ExtractionSchema.name_key == name_key
            )
        )
        return found.scalar_one_or_none()

    async def page(self, tenant_id: str, limit: int, offset: int) -> Sequence[ExtractionSchema]:
        """The tenant's schemas by name (case-folded, then id), `limit` from `offset`."""
        found = await self.session.execute(
            select(ExtractionSchema)
            .where(ExtractionSchema.tenant_id == tenant_id)
            .order_by(ExtractionSchema.name_key, ExtractionSchema.id)
            .limit(limit)
            .offset(offset)
        )
        return found.scalars().all()

    async def count(self, tenant_id: str) -> int:
        found = await self.session.execute(
            select(func.count())
            .select_from(ExtractionSchema)
            .where(ExtractionSchema.tenant_id == tenant_id)
        )
        return int(found.scalar_one())

    def add(self, schema: ExtractionSchema) -> None:
        self.session.add(schema)

    async def remove(self, schema: ExtractionSchema) -> None:
        await self.session.delete(schema)


class ExtractionRepository:
    """Extractions of a tenant's files, one per file and schema."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tenant_id: str, file_id: str, schema_id: str) -> Extraction | None:
        found = await self.session.execute(
            select(Extraction).where(
                Extraction.tenant_id == tenant_id,
                Extraction.file_id == file_id,
                Extraction.schema_id == schema_id,
            )
        )
        return found.scalar_one_or_none()

    async def of_file(self, tenant_id: str, file_id: str) -> Sequence[Extraction]:
        """The file's extractions, the latest requested first."""
        found = await self.session.execute(
            select(Extraction)
            .where(Extraction.tenant_id == tenant_id, Extraction.file_id == file_id)
            .order_by(Extraction.requested_at.desc(), Extraction.schema_id)
        )
        return found.scalars().all()

    async def of_job(self, tenant_id: str, job_id: str) -> Extraction | None:
        """The extraction this job may write: None once a newer request took it over."""
        found = await self.session.execute(
            select(Extraction).where(Extraction.tenant_id == tenant_id, Extraction.job_id == job_id)
        )
        return found.scalar_one_or_none()

    def add(self, extraction: Extraction) -> None:
        self.session.add(extraction)
