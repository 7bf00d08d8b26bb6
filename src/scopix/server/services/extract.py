"""Documents' text: the `extract` job reads a document's pages through its media handler, cuts
them into chunks, embeds the chunks, and records pages, chunks and counts on the file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol, runtime_checkable

import numpy as np

from scopix.server.catalog.models import File, Job
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain.chunking import Chunk, chunk_pages
from scopix.server.domain.media import ACCEPTED_DOCUMENTS, media_of_mime
from scopix.server.jobs.records import EXTRACT
from scopix.server.media import MediaHandlers
from scopix.server.media.base import Extracted
from scopix.server.services.pipeline_jobs import PipelineJob, PipelineStatus, file_of
from scopix.server.storage.base import BlobStore
from scopix.server.vision.base import TextEmbedder
from scopix.server.vision.caption import cut_at_word
from scopix.server.vision.merge import MAX_DOCUMENT_TEXT_CHARS

#: Attempts of one extraction: storage hiccups and a worker lost mid-extraction (its lease
#: expired) get a few more; a classified failure of the bytes (encrypted, corrupt, a bomb) is
#: permanent and never retried (domain.failures decides by its error type).
EXTRACT_MAX_ATTEMPTS: Final = 3

#: Chunks embedded in one call: a batch is cheaper than its chunks one by one, but holds the
#: embedder (search queries wait behind it), so it stays small.
EMBED_BATCH: Final = 8


#: The extract job's status columns and events on the file.
TEXT_EXTRACTION = PipelineStatus("text_extraction")


def queue_extraction(uow: UnitOfWork, file: File, now: datetime) -> Job:
    """Queue the extraction of a just-recorded document, in the transaction that records it."""
    # A page's text is extracted too, but a page is no document: its document_type stays null.
    document = file.mime_type in ACCEPTED_DOCUMENTS
    file.document_type = media_of_mime(file.mime_type).extension if document else None
    return TEXT_EXTRACTION.queue(uow, file, EXTRACT, EXTRACT_MAX_ATTEMPTS, now)


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


class ExtractHandler(PipelineJob):
    """The `extract` job of a document (pipeline_jobs.py says what such jobs share)."""

    kind = EXTRACT
    status = TEXT_EXTRACTION

    def __init__(
        self,
        uows: UnitOfWorkFactory,
        store: BlobStore,
        media: MediaHandlers,
        embedder: TextEmbedder | None,
        chunking: ChunkSettings,
    ) -> None:
        super().__init__(store, media)
        self.uows = uows
        self.embedder = embedder
        self.chunking = chunking

    async def execute(self, job: Job) -> ExtractResult:
        async with self.uows.read() as uow:
            file = await uow.files.by_id(job.tenant_id, job.file_id)
        extracted = await self.read(job, file)
        assert isinstance(extracted, Extracted), "only documents queue the extract job"
        pages = [(page.number, page.text) for page in extracted.pages]
        chunks = chunk_pages(pages, self.chunking.words, self.chunking.overlap_words)
        return ExtractResult(extracted, chunks, await self._embed([c.content for c in chunks]))

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
        file = await file_of(uow, job)
        extracted = result.extracted
        await uow.documents.replace(file, extracted.pages, result.chunks, result.embeddings)
        file.document_title = extracted.title
        file.page_count = len(extracted.pages)
        file.chunk_count = len(result.chunks)
        for name, value in extracted.file_fields.items():  # the kind's own columns, as read
            setattr(file, name, value)
        # File search (GET /files?search=) finds the document by its text until, and after, a
        # description says what it reads (the same cut the description's merge keeps).
        text = cut_at_word(document_text(extracted), MAX_DOCUMENT_TEXT_CHARS, marker="")
        file.visible_text = text or None
        self.status.completed(uow, file, f"{file.page_count} pages, {file.chunk_count} chunks")
        await uow.files.reindex(file)
