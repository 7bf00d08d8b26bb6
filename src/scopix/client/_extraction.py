"""``client.extraction``: custom extraction schemas, and structured records pulled out of
files with them (``client.files.extract`` is the same call)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from scopix.client._polling import poll
from scopix.client._transport import Transport
from scopix.client._unset import UNSET, _Unset
from scopix.errors import ScopixTimeoutError, ValidationError
from scopix.types.extraction import (
    ExtractionResult,
    ExtractionResultList,
    ExtractionSchema,
    ExtractionSchemaList,
    ExtractionStarted,
)

#: Schemas fetched per request by ``list_all_schemas``: the most the server gives.
_PAGE = 100
_SCHEMAS = "custom-extraction-schemas"


class AsyncExtraction:
    """Custom extraction of an async client; reach it as ``client.extraction``.

    A schema is a JSON Schema whose root is an object; extracting it from a file gives a
    record shaped like it, each leaf with a confidence and the place in the file it was
    read. Store a schema once (``create_schema``) and extract it by id, or send one inline
    with ``extract(schema=...)``.
    """

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def create_schema(
        self,
        name: str,
        schema: Mapping[str, Any],
        *,
        description: str | None = None,
        prompt_hint: str | None = None,
    ) -> ExtractionSchema:
        """Store ``schema`` under ``name``; ``prompt_hint`` is told to the extractor with it.

        A ``ScopixError`` with code CONFLICT when the tenant has a schema of that name in
        any letter case; a ``ValidationError`` for a schema the server does not take (too
        deep, too large, a keyword it does not support...), whose ``details["rule"]`` names
        the rule and ``details["path"]`` points into the schema (a JSON Pointer).
        """
        body: dict[str, Any] = {"name": name, "schema": dict(schema)}
        if description is not None:
            body["description"] = description
        if prompt_hint is not None:
            body["prompt_hint"] = prompt_hint
        answer = await self._transport.json("POST", _SCHEMAS, body=body, write=True)
        return ExtractionSchema.from_dict(answer)

    async def list_schemas(self, *, limit: int = 20, offset: int = 0) -> ExtractionSchemaList:
        """A page of the tenant's schemas (``limit`` 1-100)."""
        answer = await self._transport.json(
            "GET", _SCHEMAS, params={"limit": limit, "offset": offset}
        )
        return ExtractionSchemaList.from_dict(answer)

    async def list_all_schemas(self) -> AsyncIterator[ExtractionSchema]:
        """Every schema of the tenant, fetched page by page."""
        offset = 0
        while True:
            page = await self.list_schemas(limit=_PAGE, offset=offset)
            for schema in page.items:
                yield schema
            if not page.has_more or not page.items:
                return
            offset += len(page.items)

    async def get_schema(self, schema_id: str) -> ExtractionSchema:
        """One schema; ``ResourceNotFoundError`` when the tenant has none with this id."""
        return ExtractionSchema.from_dict(await self._transport.json("GET", _schema(schema_id)))

    async def update_schema(
        self,
        schema_id: str,
        *,
        name: str | None = None,
        schema: Mapping[str, Any] | None = None,
        description: str | _Unset | None = UNSET,
        prompt_hint: str | _Unset | None = UNSET,
    ) -> ExtractionSchema:
        """Change a schema: what is given is sent, the rest stays as it is (None clears the
        description or the prompt hint). Extractions already requested keep the schema
        they were requested with. CONFLICT and ``ValidationError`` as for
        ``create_schema``."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if schema is not None:
            body["schema"] = dict(schema)
        if not isinstance(description, _Unset):
            body["description"] = description
        if not isinstance(prompt_hint, _Unset):
            body["prompt_hint"] = prompt_hint
        answer = await self._transport.json("PATCH", _schema(schema_id), body=body, write=True)
        return ExtractionSchema.from_dict(answer)

    async def delete_schema(self, schema_id: str) -> None:
        """Delete a schema. Results already extracted with it stay readable."""
        await self._transport.send("DELETE", _schema(schema_id), write=True)

    async def extract(
        self,
        file_id: str,
        *,
        schema_id: str | None = None,
        schema: Mapping[str, Any] | None = None,
        prompt: str | None = None,
        wait: bool = True,
        timeout: float | None = None,  # noqa: ASYNC109 - as wait_for_description's
    ) -> ExtractionResult:
        """Pull a record out of a file: with the stored schema ``schema_id``, or with a
        ``schema`` given inline (exactly one of them; a ``ValidationError`` otherwise).
        ``prompt`` tells the extractor more about this file.

        With ``wait`` the call polls until the extraction is completed or failed and
        returns it; ``ScopixTimeoutError`` after ``timeout`` seconds (default: the
        client's ``polling_timeout``). A failed extraction is returned, not raised: check
        ``is_failed``. Without ``wait`` it returns the result as it stands (queued, most
        likely); its ``schema_id`` (for an inline schema, one the server derived from it)
        is what ``get_result`` and ``wait_for_result`` take.
        """
        if (schema_id is None) == (schema is None):
            raise ValidationError("give either schema_id or schema, not both or neither")
        body: dict[str, Any] = (
            {"schema_id": schema_id} if schema is None else {"schema": dict(schema)}
        )
        if prompt is not None:
            body["prompt"] = prompt
        answer = await self._transport.json(
            "POST", f"files/{file_id}/extract", body=body, write=True
        )
        started = ExtractionStarted.from_dict(answer)
        if wait:
            return await self.wait_for_result(file_id, started.schema_id, timeout=timeout)
        return await self.get_result(file_id, started.schema_id)

    async def get_result(self, file_id: str, schema_id: str) -> ExtractionResult:
        """The latest extraction of a file with a schema; ``ResourceNotFoundError`` when
        none was requested."""
        answer = await self._transport.json("GET", f"files/{file_id}/extractions/{schema_id}")
        return ExtractionResult.from_dict(answer)

    async def list_results(self, file_id: str) -> ExtractionResultList:
        """Every extraction of a file, one per schema it was extracted with."""
        answer = await self._transport.json("GET", f"files/{file_id}/extractions")
        return ExtractionResultList.from_dict(answer)

    async def wait_for_result(
        self,
        file_id: str,
        schema_id: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - as wait_for_description's
    ) -> ExtractionResult:
        """Poll until the extraction is completed or failed, and return it (a failure is
        returned, not raised). ``ScopixTimeoutError`` after ``timeout`` seconds (default:
        the client's ``polling_timeout``)."""
        options = self._transport.options
        limit = float(options.polling_timeout if timeout is None else timeout)
        settled = await poll(
            lambda: self.get_result(file_id, schema_id),
            lambda result: result.is_final,
            interval=options.polling_interval,
            limit=limit,
        )
        if settled is not None:
            return settled
        raise ScopixTimeoutError(
            f"the extraction of {file_id} with {schema_id} was not done after {limit:g} s",
            details={"file_id": file_id, "schema_id": schema_id},
        )


def _schema(schema_id: str) -> str:
    return f"{_SCHEMAS}/{schema_id}"
