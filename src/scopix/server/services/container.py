"""The services one server process uses, built once from settings (the composition root)."""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from scopix.server.catalog.db import Database, connect
from scopix.server.catalog.uow import UnitOfWorkFactory
from scopix.server.services.batches import BatchService
from scopix.server.services.files import FileService
from scopix.server.services.ingest import ImageLimits, Ingestor
from scopix.server.services.keys import KeyService
from scopix.server.services.maintenance import Maintenance
from scopix.server.services.quota import QuotaService
from scopix.server.settings import Settings
from scopix.server.storage.base import BlobStore
from scopix.server.storage.local import LocalBlobStore


@dataclass
class Services:
    """Everything the API calls into."""

    settings: Settings
    database: Database
    store: BlobStore
    keys: KeyService
    files: FileService
    ingest: Ingestor
    batches: BatchService
    quota: QuotaService
    maintenance: Maintenance

    async def close(self) -> None:
        """Release connections."""
        await self.database.dispose()


def build_services(settings: Settings) -> Services:
    """Wire the adapters named by `settings` into the services."""
    database = connect(settings.resolved_database_url)
    uows = UnitOfWorkFactory(database)
    store = LocalBlobStore(settings.resolved_storage_dir)
    ingest = Ingestor(
        uows,
        store,
        ImageLimits(settings.max_image_pixels, settings.max_image_side),
        anyio.CapacityLimiter(settings.image_workers),
    )
    return Services(
        settings=settings,
        database=database,
        store=store,
        keys=KeyService(uows),
        files=FileService(uows),
        ingest=ingest,
        batches=BatchService(uows, ingest),
        quota=QuotaService(uows),
        maintenance=Maintenance(uows, store, settings.orphan_grace_seconds),
    )
