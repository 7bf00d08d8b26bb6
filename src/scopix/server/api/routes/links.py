"""Links: save web pages by URL, one or a batch, and fetch a saved page again.

The routes only shape JSON: the link service normalizes and checks each URL (422 for one it
will not fetch) and queues the fetch; nothing here, nor anywhere in the API process, fetches.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from scopix.server.api.deps import ServicesDep, Writer
from scopix.server.api.presenters import UrlMaker, ingested_result, link_batch
from scopix.server.api.routes.uploads import idempotency_record
from scopix.server.api.schemas import (
    ErrorEnvelope,
    LinkBatchIn,
    LinkBatchOut,
    LinkIn,
    RecrawlOut,
    TagsIn,
    UploadResultOut,
)
from scopix.server.domain.idempotency import upload_ref
from scopix.server.services.links import LinkRequest

router = APIRouter(tags=["links"], responses={"default": {"model": ErrorEnvelope}})
_REFUSED: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorEnvelope, "description": "INVALID_URL, URL_REFUSED or a field"}
}


@router.post("/files/links", status_code=201, response_model=UploadResultOut, responses=_REFUSED)
async def add_link(
    body: LinkIn, request: Request, principal: Writer, services: ServicesDep
) -> UploadResultOut:
    """Save the web page at `url`: the answer comes at once (`media_type="link"`, `status=
    "processing"`, `crawl_status` pending on the file) and the page is fetched by a worker.
    A URL the server will not fetch (not http or https, no host, credentials in it, or a
    literal address inside its network) is refused with 422 `INVALID_URL` or `URL_REFUSED`."""
    record = idempotency_record(request)
    done = await services.links.add(
        principal.tenant_id,
        LinkRequest(
            url=body.url,
            title=body.title,
            tags=_tags(body.tags),
            auto_describe=body.auto_describe,
            skip_duplicates=body.skip_duplicates,
            folder_id=body.folder_id,
            project_id=body.project_id,
            custom_schema_id=body.custom_schema_id,
            upload_ref=upload_ref(record, 0) if record else None,
        ),
    )
    return ingested_result(done, UrlMaker(request))


@router.post("/files/links/batch", status_code=201, response_model=LinkBatchOut, responses=_REFUSED)
async def add_links(
    body: LinkBatchIn, request: Request, principal: Writer, services: ServicesDep
) -> LinkBatchOut:
    """Save up to 100 web pages with the same tags and options: one result per URL, in the
    order sent, each the link's upload result or the `error` that refused that URL alone."""
    tags = _tags(body.tags)
    record = idempotency_record(request)
    outcomes = await services.links.add_batch(
        principal.tenant_id,
        [
            LinkRequest(
                url=url,
                tags=tags,
                auto_describe=body.auto_describe,
                skip_duplicates=body.skip_duplicates,
                folder_id=body.folder_id,
                project_id=body.project_id,
                custom_schema_id=body.custom_schema_id,
                upload_ref=upload_ref(record, position) if record else None,
            )
            for position, url in enumerate(body.urls)
        ],
    )
    return link_batch(outcomes, UrlMaker(request))


@router.post(
    "/files/{file_id}/recrawl",
    status_code=202,
    response_model=RecrawlOut,
    responses={409: {"model": ErrorEnvelope}, 400: {"model": ErrorEnvelope}},
)
async def recrawl(file_id: str, principal: Writer, services: ServicesDep) -> RecrawlOut:
    """Fetch a link's page again (409 while a fetch is queued or running; 400
    `WRONG_MEDIA_TYPE` for a file that was not saved from a URL)."""
    file = await services.links.recrawl(principal.tenant_id, file_id)
    return RecrawlOut(file_id=file.id, crawl_status=file.crawl_status or "pending")


def _tags(raw: TagsIn) -> tuple[str, ...]:
    """The tags as given (the service checks them), a comma-separated string split."""
    return tuple(raw.split(",")) if isinstance(raw, str) else tuple(raw or ())
