"""Custom extraction: a tenant's schemas of fields, and extracting them from files."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from scopix.server.api.deps import Reader, ServicesDep, Writer
from scopix.server.api.schemas import (
    ErrorEnvelope,
    ExtractIn,
    ExtractionListOut,
    ExtractionOut,
    ExtractionSchemaIn,
    ExtractionSchemaListOut,
    ExtractionSchemaOut,
    ExtractionSchemaPatch,
    ExtractionStartedOut,
)
from scopix.server.catalog.models import Extraction, ExtractionSchema
from scopix.server.domain.listing import MAX_LIMIT, MAX_OFFSET
from scopix.server.services.custom_extraction import SchemaEdit, Wanted

router = APIRouter(tags=["extraction"], responses={"default": {"model": ErrorEnvelope}})

_CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorEnvelope}}
_SCHEMAS = "/custom-extraction-schemas"


@router.post(_SCHEMAS, response_model=ExtractionSchemaOut, status_code=201, responses=_CONFLICT)
async def create_schema(
    body: ExtractionSchemaIn, principal: Writer, services: ServicesDep
) -> ExtractionSchemaOut:
    """Create a schema (422 naming the rule it breaks in `details.rule` and `details.path`;
    409 `CONFLICT` when the tenant has one of that name in any case)."""
    row = await services.extraction_schemas.create(
        principal.tenant_id, body.name, body.json_schema, body.description, body.prompt_hint
    )
    return _schema_out(row)


@router.get(_SCHEMAS, response_model=ExtractionSchemaListOut)
async def list_schemas(
    principal: Reader,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ExtractionSchemaListOut:
    """The tenant's schemas by name."""
    page = await services.extraction_schemas.page(principal.tenant_id, limit, offset)
    return ExtractionSchemaListOut(
        items=[_schema_out(row) for row in page.items],
        total_count=page.total_count,
        has_more=offset + len(page.items) < page.total_count,
        limit=limit,
        offset=offset,
    )


@router.get(_SCHEMAS + "/{schema_id}", response_model=ExtractionSchemaOut)
async def get_schema(
    schema_id: str, principal: Reader, services: ServicesDep
) -> ExtractionSchemaOut:
    return _schema_out(await services.extraction_schemas.get(principal.tenant_id, schema_id))


@router.patch(_SCHEMAS + "/{schema_id}", response_model=ExtractionSchemaOut, responses=_CONFLICT)
async def edit_schema(
    schema_id: str, body: ExtractionSchemaPatch, principal: Writer, services: ServicesDep
) -> ExtractionSchemaOut:
    """Change the fields given; extractions already asked for keep the schema they copied."""
    given = body.model_fields_set
    edit = SchemaEdit(
        name=body.name,
        description=body.description if "description" in given else ...,
        schema=body.json_schema,
        prompt_hint=body.prompt_hint if "prompt_hint" in given else ...,
    )
    row = await services.extraction_schemas.edit(principal.tenant_id, schema_id, edit)
    return _schema_out(row)


@router.delete(_SCHEMAS + "/{schema_id}", status_code=204)
async def delete_schema(schema_id: str, principal: Writer, services: ServicesDep) -> Response:
    """Delete a schema; the results it gave stay with their files."""
    await services.extraction_schemas.delete(principal.tenant_id, schema_id)
    return Response(status_code=204)


@router.post("/files/{file_id}/extract", response_model=ExtractionStartedOut, status_code=202)
async def extract(
    file_id: str, body: ExtractIn, principal: Writer, services: ServicesDep
) -> ExtractionStartedOut:
    """Queue an extraction of the file with a stored schema or one given inline (it runs once
    the file's description settles); a new request replaces the last one's result."""
    wanted = Wanted(schema_id=body.schema_id, schema=body.json_schema, prompt=body.prompt)
    extraction = await services.extractions.request(principal.tenant_id, file_id, wanted)
    return ExtractionStartedOut(schema_id=extraction.schema_id, status=extraction.status)


@router.get("/files/{file_id}/extractions", response_model=ExtractionListOut)
async def list_extractions(
    file_id: str, principal: Reader, services: ServicesDep
) -> ExtractionListOut:
    found = await services.extractions.results(principal.tenant_id, file_id)
    return ExtractionListOut(items=[extraction_out(e) for e in found])


@router.get("/files/{file_id}/extractions/{schema_id}", response_model=ExtractionOut)
async def get_extraction(
    file_id: str, schema_id: str, principal: Reader, services: ServicesDep
) -> ExtractionOut:
    found = await services.extractions.result(principal.tenant_id, file_id, schema_id)
    return extraction_out(found)


def _schema_out(row: ExtractionSchema) -> ExtractionSchemaOut:
    return ExtractionSchemaOut(
        id=row.id,
        name=row.name,
        description=row.description,
        schema=row.schema,
        prompt_hint=row.prompt_hint,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def extraction_out(row: Extraction) -> ExtractionOut:
    return ExtractionOut.model_validate(
        {
            "schema_id": row.schema_id,
            "status": row.status,
            "data": row.data,
            "fields": row.fields or [],
            "confidence_score": row.confidence_score,
            "error": row.error,
            "error_type": row.error_type,
            "extractor": row.extractor,
            "requested_at": row.requested_at,
            "completed_at": row.completed_at,
        }
    )
