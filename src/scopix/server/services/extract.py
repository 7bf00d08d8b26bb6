"""Documents' text: the `extract` job reads a document's pages through its media handler, cuts
them into chunks, embeds the chunks, and records pages, chunks and counts on the file."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol, runtime_checkable

import numpy as np

from scopix.server.catalog.models import File, Job
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain import blobkeys
from scopix.server.domain.chunking import Chunk, chunk_pages
from scopix.server.domain.failures import Failure
from scopix.server.domain.media import media_of_mime
from scopix.server.jobs.handler import JobFailed
from scopix.server.jobs.records import EXTRACT, new_job
from scopix.server.media import MediaHandlers
from scopix.server.media.base import Extracted, MediaFailed
from scopix.server.storage.base import BlobNotFound, BlobStore, local_copy
from scopix.server.vision.base import TextEmbedder
from scopix.server.vision.caption import cut_at_word
from scopix.server.vision.merge import MAX_DOCUMENT_TEXT_CHARS
from scopix.types.describe import DescriptionErrorType

log = logging.getLogger("scopix.extract")

#: Attempts of one extraction: storage hiccups and a worker lost mid-extraction (its lease
#: expired) get a few more; a classified failure of the bytes (encrypted, corrupt, a bomb) is
#: permanent and never retried (domain.failures decides by its error type).
EXTRACT_MAX_ATTEMPTS: Final = 3

#: Chunks embedded in one call: a batch is cheaper than its chunks one by one, but holds the
#: embedder (search queries wait behind it), so it stays small.
EMBED_BATCH: Final = 8

_MISSING = Failure(DescriptionErrorType.VALIDATION_ERROR, "the stored original is missing")
_DELETED = Failure(DescriptionErrorType.VALIDATION_ERROR, "the file was deleted first")


def queue_extraction(uow: UnitOfWork, file: File, now: datetime) -> Job:
    """Queue the extraction of a just-recorded document, in the transaction that records it:
    its status is `pending` until a worker takes the job."""
    file.document_type = media_of_mime(file.mime_type).extension
    file.text_extraction_status = "pending"
    job = new_job(EXTRACT, file, max_attempts=EXTRACT_MAX_ATTEMPTS, now=now)
    uow.jobs.add(job)
    uow.files.add_event(file.id, now, "text_extraction_queued")
    return job


@runtime_checkable
class PassageBatches(Protocol):
    """An embedder that embeds many passages in one call (E5Embedder)."""

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]: ...


@dataclass(frozen=True)
class ChunkSettings:
    """How documents are cut: words per chunk, and words shared with the chunk before."""

    words: int
    overlap_words: int


@dataclass(frozen=True)
class ExtractResult:
    """What the extraction read, in chunks, each chunk's embedding (float32 bytes) or None."""

    extracted: Extracted
    chunks: list[Chunk]
    embeddings: list[bytes | None]


def document_text(extracted: Extracted) -> str:
    """The document's text: its pages' texts, a blank line between pages."""
    return "\n\n".join(page.text.strip() for page in extracted.pages if page.text.strip())


class ExtractHandler:
    """The `extract` job: one per document file (not per blob: each file has its own status).
    The kind's handler refuses what it will not read (a document over the extract limit, an
    encrypted PDF, a bomb) with a classified failure, which is the job's."""

    kind = EXTRACT

    def __init__(
        self,
        uows: UnitOfWorkFactory,
        store: BlobStore,
        media: MediaHandlers,
        embedder: TextEmbedder | None,
        chunking: ChunkSettings,
    ) -> None:
        self.uows = uows
        self.store = store
        self.media = media
        self.embedder = embedder
        self.chunking = chunking

    async def started(self, uow: UnitOfWork, job: Job) -> None:
        file = await _file_of(uow, job)
        now = datetime.now(UTC)
        file.text_extraction_status = "processing"
        file.updated_at = now
        detail = f"attempt {job.attempts} of {job.max_attempts}"
        uow.files.add_event(file.id, now, "text_extraction_started", detail)

    async def execute(self, job: Job) -> ExtractResult:
        async with self.uows.read() as uow:
            file = await uow.files.by_id(job.tenant_id, job.file_id)
        if file is None or file.deleted_at is not None:
            raise JobFailed(_DELETED)
        extracted = await self._extract(job, file)
        pages = [(page.number, page.text) for page in extracted.pages]
        chunks = chunk_pages(pages, self.chunking.words, self.chunking.overlap_words)
        return ExtractResult(extracted, chunks, await self._embed([c.content for c in chunks]))

    async def _extract(self, job: Job, file: File) -> Extracted:
        media = media_of_mime(file.mime_type)
        key = blobkeys.original_key(job.tenant_id, job.sha256)
        try:
            async with local_copy(self.store, key) as path:
                extracted = await self.media.of(media).extract(path, media, file.size_bytes)
            assert isinstance(extracted, Extracted), "only documents queue the extract job"
            return extracted
        except MediaFailed as exc:
            raise JobFailed(exc.failure) from None
        except BlobNotFound:
            raise JobFailed(_MISSING) from None
        except OSError as exc:  # storage did not hand the bytes over: worth another attempt
            reason = exc.strerror or type(exc).__name__  # strerror names no path
            raise JobFailed(
                Failure(
                    DescriptionErrorType.TIMEOUT, f"storage did not give the original: {reason}"
                )
            ) from exc

    async def _embed(self, contents: Sequence[str]) -> list[bytes | None]:
        """Each chunk's embedding as float32 bytes (None without an embedder), in batches when
        the embedder takes them."""
        embedder = self.embedder
        if embedder is None:
            return [None] * len(contents)
        vectors: list[list[float]] = []
        if isinstance(embedder, PassageBatches):
            for start in range(0, len(contents), EMBED_BATCH):
                vectors += await embedder.embed_passages(contents[start : start + EMBED_BATCH])
        else:
            vectors = [await embedder.embed_passage(content) for content in contents]
        return [np.asarray(vector, dtype="<f4").tobytes() for vector in vectors]

    async def succeeded(self, uow: UnitOfWork, job: Job, result: ExtractResult) -> None:
        file = await _file_of(uow, job)
        now = datetime.now(UTC)
        extracted = result.extracted
        await uow.documents.replace(file, extracted.pages, result.chunks, result.embeddings)
        file.document_title = extracted.title
        file.page_count = len(extracted.pages)
        file.chunk_count = len(result.chunks)
        file.text_extraction_status = "completed"
        file.text_extraction_error = None
        file.text_extraction_error_type = None
        # File search (GET /files?search=) finds the document by its text until, and after, a
        # description says what it reads (the same cut the description's merge keeps).
        text = cut_at_word(document_text(extracted), MAX_DOCUMENT_TEXT_CHARS, marker="")
        file.visible_text = text or None
        file.updated_at = now
        await uow.files.reindex(file)
        detail = f"{file.page_count} pages, {file.chunk_count} chunks"
        uow.files.add_event(file.id, now, "text_extraction_completed", detail)

    async def retrying(
        self, uow: UnitOfWork, job: Job, failure: Failure, run_after: datetime
    ) -> None:
        file = await _file_of(uow, job)
        now = datetime.now(UTC)
        file.text_extraction_status = "pending"
        file.updated_at = now
        wait = max((run_after - now).total_seconds(), 0)
        note = f"{failure.error_type.value}: {failure.message}; retrying in {wait:.0f} s"
        uow.files.add_event(file.id, now, "text_extraction_retry_scheduled", note)

    async def requeued(self, uow: UnitOfWork, job: Job, reason: str) -> None:
        file = await _file_of(uow, job)
        now = datetime.now(UTC)
        file.text_extraction_status = "pending"
        file.updated_at = now
        uow.files.add_event(file.id, now, "text_extraction_requeued", reason)

    async def failed(self, uow: UnitOfWork, job: Job, failure: Failure) -> None:
        file = await _file_of(uow, job)
        now = datetime.now(UTC)
        file.text_extraction_status = "failed"
        file.text_extraction_error = failure.message
        file.text_extraction_error_type = failure.error_type.value
        file.updated_at = now
        note = f"{failure.error_type.value}: {failure.message} (after {job.attempts} attempts)"
        uow.files.add_event(file.id, now, "text_extraction_failed", note)
        log.info("extraction of file %s failed: %s", file.id, note)


async def _file_of(uow: UnitOfWork, job: Job) -> File:
    file = await uow.files.by_id(job.tenant_id, job.file_id)
    assert file is not None, "a job's file is deleted only with the job (cascade)"
    return file
