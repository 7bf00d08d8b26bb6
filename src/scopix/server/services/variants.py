"""The variants job: render a file's WebP variants from its stored original, through the
handler of its kind (an image's pixels, a document's first page)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from scopix.server.catalog.models import Job
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain import blobkeys
from scopix.server.domain.failures import Failure
from scopix.server.domain.media import media_of_mime
from scopix.server.domain.variants import VARIANT_SIZES
from scopix.server.imaging import RenderedImage
from scopix.server.jobs.handler import JobFailed
from scopix.server.jobs.records import VARIANTS
from scopix.server.media import MediaHandlers
from scopix.server.media.base import MediaFailed
from scopix.server.storage.base import BlobNotFound, BlobStore, local_copy
from scopix.types.describe import DescriptionErrorType

log = logging.getLogger("scopix.variants")

#: A variant job retries storage hiccups a few times; bytes that do not decode fail at once.
VARIANT_ATTEMPTS = 3

_MISSING = Failure(DescriptionErrorType.VALIDATION_ERROR, "the stored original is missing")


@dataclass(frozen=True)
class StoredVariants:
    """The variants written, in size order."""

    names: list[str]


class VariantsHandler:
    """One job per stored blob; it completes every file that shares the blob."""

    kind = VARIANTS

    def __init__(self, uows: UnitOfWorkFactory, store: BlobStore, media: MediaHandlers) -> None:
        self.uows = uows
        self.store = store
        self.media = media

    async def started(self, uow: UnitOfWork, job: Job) -> None:
        """Nothing to record: the upload already says its variants are being made."""

    async def execute(self, job: Job) -> StoredVariants:
        rendered = await self._render(job)
        names = []
        for name, data in rendered.variants.items():
            try:
                await self.store.put_bytes(
                    blobkeys.variant_key(job.tenant_id, job.sha256, name), data
                )
            except OSError as exc:
                raise JobFailed(
                    Failure(
                        DescriptionErrorType.TIMEOUT,
                        # strerror names no path; S3's own text would name its endpoint
                        f"storage did not take the {name} variant: "
                        f"{exc.strerror or type(exc).__name__}",
                    )
                ) from exc
            names.append(name)
        return StoredVariants(names)

    async def _render(self, job: Job) -> RenderedImage:
        async with self.uows.read() as uow:
            blob = await uow.blobs.get(job.tenant_id, job.sha256)
        if blob is None:
            raise JobFailed(_MISSING)
        media = media_of_mime(blob.mime_type)
        try:
            key = blobkeys.original_key(job.tenant_id, job.sha256)
            async with local_copy(self.store, key) as path:
                return await self.media.of(media).previews(path, media, VARIANT_SIZES)
        except MediaFailed as exc:
            raise JobFailed(exc.failure) from None
        except BlobNotFound:
            raise JobFailed(_MISSING) from None

    async def succeeded(self, uow: UnitOfWork, job: Job, result: StoredVariants) -> None:
        blob = await uow.blobs.lock(job.tenant_id, job.sha256)
        if blob is None:
            return
        blob.variants = result.names
        blob.variant_error = None
        await _finish_files(uow, job, "variants_ready", ", ".join(result.names))

    async def retrying(
        self, uow: UnitOfWork, job: Job, failure: Failure, run_after: datetime
    ) -> None:
        log.warning("variants of %s: %s; retrying", job.sha256, failure.message)

    async def requeued(self, uow: UnitOfWork, job: Job, reason: str) -> None:
        """Nothing to record: the files stay `processing` until a worker finishes."""

    async def failed(self, uow: UnitOfWork, job: Job, failure: Failure) -> None:
        # The original stays stored and downloadable: the upload itself did not fail.
        blob = await uow.blobs.lock(job.tenant_id, job.sha256)
        if blob is not None:
            blob.variant_error = failure.message
        await _finish_files(uow, job, "variants_failed", failure.message)


async def _finish_files(uow: UnitOfWork, job: Job, event: str, detail: str) -> None:
    now = datetime.now(UTC)
    for file in await uow.files.awaiting_variants(job.tenant_id, job.sha256):
        file.status = "completed"
        file.updated_at = now
        uow.files.add_event(file, now, event, detail)
