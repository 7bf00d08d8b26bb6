"""Documents: a document's text, its chunks and its pages, and search over every chunk."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from scopix.server.api.deps import Reader, ServicesDep
from scopix.server.api.schemas import (
    ChunkListOut,
    DocumentChunkOut,
    DocumentSearchHitOut,
    DocumentSearchIn,
    DocumentSearchOut,
    DocumentTextOut,
    ErrorEnvelope,
    PageTextOut,
)
from scopix.server.domain.listing import MAX_OFFSET
from scopix.server.services.documents import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX

router = APIRouter(tags=["documents"], responses={"default": {"model": ErrorEnvelope}})


@router.get("/files/{file_id}/text", response_model=DocumentTextOut)
async def get_text(file_id: str, principal: Reader, services: ServicesDep) -> DocumentTextOut:
    """A document's text, whole and page by page (409 while its extraction is under way)."""
    text = await services.documents.text(principal.tenant_id, file_id)
    return DocumentTextOut(
        text=text.text, pages=[PageTextOut(page=n, text=body) for n, body in text.pages]
    )


@router.get("/files/{file_id}/chunks", response_model=ChunkListOut)
async def list_chunks(
    file_id: str,
    principal: Reader,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ChunkListOut:
    """A window of a document's chunks, in order."""
    chunks, total = await services.documents.chunks(principal.tenant_id, file_id, limit, offset)
    return ChunkListOut(
        items=[
            DocumentChunkOut(
                chunk_id=c.id,
                chunk_index=c.chunk_index,
                content=c.content,
                page_numbers=list(c.page_numbers),
            )
            for c in chunks
        ],
        total_count=total,
        has_more=offset + len(chunks) < total,
    )


@router.get(
    "/files/{file_id}/pages/{number}",
    response_class=Response,
    responses={200: {"content": {"image/webp": {}}, "description": "the page as WebP"}},
)
async def get_page(
    file_id: str,
    number: Annotated[int, Path(ge=1, description="1-based")],
    principal: Reader,
    services: ServicesDep,
    size: Annotated[
        int, Query(ge=16, le=PAGE_SIZE_MAX, description="longest side in pixels")
    ] = PAGE_SIZE_DEFAULT,
) -> Response:
    """Page `number` of a document, rendered as WebP."""
    webp = await services.documents.page(principal.tenant_id, file_id, number, size)
    headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(webp, media_type="image/webp", headers=headers)


@router.post("/documents/search", response_model=DocumentSearchOut)
async def search_documents(
    body: DocumentSearchIn, principal: Reader, services: ServicesDep
) -> DocumentSearchOut:
    """The chunks of the tenant's documents that best match a query, scored 0-1."""
    hits, total = await services.documents.search(
        principal.tenant_id,
        body.query,
        limit=body.limit,
        mode=body.search_mode,
        file_ids=body.file_ids,
    )
    return DocumentSearchOut(
        items=[
            DocumentSearchHitOut(
                chunk_id=hit.chunk.id,
                document_id=hit.chunk.file_id,
                document_filename=hit.filename,
                content=hit.chunk.content,
                score=hit.score,
                chunk_index=hit.chunk.chunk_index,
                page_numbers=list(hit.chunk.page_numbers),
            )
            for hit in hits
        ],
        total_count=total,
        has_more=total > len(hits),
    )
