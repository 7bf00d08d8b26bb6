"""What the document routes do: a document's text and chunks, a page rendered, and search over
every chunk of a tenant's documents by words, by meaning, or both fused."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np

from scopix.server.catalog.models import DocumentChunk, File
from scopix.server.catalog.uow import UnitOfWork, UnitOfWorkFactory
from scopix.server.domain import blobkeys
from scopix.server.domain.errors import (
    Conflict,
    CorruptFile,
    NotFound,
    ResourceLimit,
    SearchUnavailable,
    WrongMediaType,
)
from scopix.server.domain.ids import looks_like_id
from scopix.server.domain.listing import search_words
from scopix.server.domain.media import media_of_mime
from scopix.server.domain.ranking import fused_scores
from scopix.server.media import MediaHandlers
from scopix.server.media.base import MediaFailed
from scopix.server.services.files import live_file
from scopix.server.storage.base import BlobNotFound, BlobStore, local_copy
from scopix.server.vision.base import TextEmbedder
from scopix.types.describe import DescriptionErrorType

ChunkSearchMode = Literal["hybrid", "text", "semantic"]

#: How many chunks each ranking of a search hands to the fusion (and how many a search can
#: find): enough for any page of results, few enough to fetch at once.
SEARCH_CANDIDATES: Final = 100
#: Page renders: the longest side by default and at most.
PAGE_SIZE_DEFAULT: Final = 1024
PAGE_SIZE_MAX: Final = 2048

#: Extraction states in which a document's text is not there yet.
_UNDER_WAY = frozenset({"pending", "processing"})


@dataclass(frozen=True)
class DocumentText:
    """A document's text, whole and by page."""

    text: str
    pages: list[tuple[int, str]]


@dataclass(frozen=True)
class PageContent:
    """One page of an extracted document: its text and its text regions, each with `page`."""

    text: str
    regions: list[Mapping[str, Any]]


@dataclass(frozen=True)
class ChunkHit:
    """One chunk a search found, with its document's filename and a 0-1 score."""

    chunk: DocumentChunk
    filename: str
    score: float


class DocumentService:
    """The use cases behind `/files/{id}/text|chunks|pages/{n}` and `/documents/search`.

    Semantic search compares the query with every chunk embedding of the tenant's live
    documents, brute force in numpy, read fresh from the catalog each time: the comparison
    takes some 0.3 s for 100,000 chunks (measured on a loaded 2-core machine), and reading
    their 150 MB of vectors more. Fine for thousands of documents a tenant; an approximate
    index in memory (like services/search.py keeps for files) is the step beyond.
    """

    def __init__(
        self,
        uows: UnitOfWorkFactory,
        store: BlobStore,
        media: MediaHandlers,
        embedder: TextEmbedder | None,
    ) -> None:
        self.uows = uows
        self.store = store
        self.media = media
        self.embedder = embedder

    async def text(self, tenant_id: str, file_id: str) -> DocumentText:
        """The text of an extracted document; 409 while its extraction is under way, or when
        it failed (with the reason)."""
        async with self.uows.read() as uow:
            file = await _document(uow, tenant_id, file_id)
            status = file.text_extraction_status
            if status in _UNDER_WAY:
                raise Conflict(
                    f"the document's text extraction is {status}: its text is not read yet",
                    text_extraction_status=status,
                )
            if status == "failed":
                raise Conflict(
                    f"the document's text could not be extracted: {file.text_extraction_error}",
                    text_extraction_status=status,
                    text_extraction_error_type=file.text_extraction_error_type,
                )
            pages = await uow.documents.pages(tenant_id, file.id)
        by_page = [(page.page_number, page.text) for page in pages]
        return DocumentText("\n\n".join(text for _, text in by_page if text), by_page)

    async def page_content(self, tenant_id: str, file_id: str, number: int) -> PageContent | None:
        """Page `number`'s text and text regions (records normalized to the page) once the
        document's extraction completed; None before, or when it failed."""
        async with self.uows.read() as uow:
            file = await _document(uow, tenant_id, file_id)
            if file.text_extraction_status != "completed":
                return None
            page = await uow.documents.page(tenant_id, file.id, number)
        if page is None:
            return PageContent("", [])
        return PageContent(page.text, list(page.regions))

    async def chunks(
        self, tenant_id: str, file_id: str, limit: int, offset: int
    ) -> tuple[Sequence[DocumentChunk], int]:
        """One window of a document's chunks, in order, and how many it has."""
        async with self.uows.read() as uow:
            file = await _document(uow, tenant_id, file_id)
            return await uow.documents.chunks(tenant_id, file.id, limit, offset)

    async def page(self, tenant_id: str, file_id: str, number: int, size: int) -> bytes:
        """Page `number` (1-based) as WebP, `size` pixels on its longest side."""
        async with self.uows.read() as uow:
            file = await _document(uow, tenant_id, file_id)
        if file.page_count is not None and number > file.page_count:
            raise NotFound(f"the document has {file.page_count} pages", page=number)
        media = media_of_mime(file.mime_type)
        key = blobkeys.original_key(tenant_id, file.sha256)
        try:
            async with local_copy(self.store, key) as path:
                return await self.media.of(media).render_page(path, media, number, size)
        except BlobNotFound:
            raise NotFound("the stored original is missing", file_id=file_id) from None
        except MediaFailed as exc:
            failure = exc.failure
            if failure.error_type == DescriptionErrorType.VALIDATION_ERROR:
                raise CorruptFile(failure.message) from None
            raise ResourceLimit(failure.message) from None

    async def search(
        self,
        tenant_id: str,
        query: str,
        *,
        limit: int,
        mode: ChunkSearchMode,
        file_ids: Sequence[str] | None = None,
    ) -> tuple[list[ChunkHit], int]:
        """The best `limit` chunks for `query` and how many were found (at most
        `SEARCH_CANDIDATES`). Scores: text ranks scaled to 0-1 by reciprocal-rank fusion of
        the one ranking; semantic, the cosine similarity (below 0 as 0); hybrid, the fusion of
        both rankings scaled so that a chunk first in both scores 1."""
        if mode == "semantic" and self.embedder is None:
            raise SearchUnavailable(
                "semantic search needs the on-device embedder (SCOPIX_ONDEVICE)"
            )
        wanted = None if file_ids is None else [i for i in file_ids if looks_like_id(i)]
        async with self.uows.read() as uow:
            rankings: list[list[str]] = []
            similarity: dict[str, float] = {}
            if mode != "semantic":
                words = search_words(query)
                rankings.append(
                    await uow.documents.matching(tenant_id, words, SEARCH_CANDIDATES, wanted)
                    if words
                    else []
                )
            if mode != "text" and self.embedder is not None:
                similarity = await self._nearest(uow, tenant_id, query, wanted)
                rankings.append(list(similarity))
            if mode == "semantic":
                scored = [(chunk_id, max(score, 0.0)) for chunk_id, score in similarity.items()]
            else:
                scored = fused_scores(rankings)
            scored = scored[:SEARCH_CANDIDATES]
            page = scored[:limit]
            found = await uow.documents.with_documents(tenant_id, [i for i, _ in page])
        scores = dict(page)
        hits = [ChunkHit(chunk, filename, round(scores[chunk.id], 4)) for chunk, filename in found]
        return hits, len(scored)

    async def _nearest(
        self, uow: UnitOfWork, tenant_id: str, query: str, file_ids: Sequence[str] | None
    ) -> dict[str, float]:
        """The chunks nearest to `query` in meaning, best first, with their cosines."""
        assert self.embedder is not None
        rows = await uow.documents.embeddings(tenant_id, file_ids)
        if not rows:
            return {}
        vector = np.asarray(await self.embedder.embed_query(query), dtype=np.float32)
        matrix = np.stack([np.frombuffer(row.embedding, dtype="<f4") for row in rows])
        cosines: np.ndarray[Any, Any] = matrix @ vector
        best = np.argsort(-cosines, kind="stable")[:SEARCH_CANDIDATES]
        return {rows[i].id: float(cosines[i]) for i in best}


async def _document(uow: UnitOfWork, tenant_id: str, file_id: str) -> File:
    """The tenant's live file, which must be a document: a file with a text extraction."""
    file = await live_file(uow, tenant_id, file_id)
    if file.text_extraction_status is None:
        raise WrongMediaType(
            f"a {file.media_type} file has no pages, text or chunks: only documents do",
            media_type=file.media_type,
        )
    return file
