"""``scopix extract``, and the ``scopix schemas`` commands: ``list``, ``create``, ``show`` and
``delete``.

Like the other client commands, each parses its options, then hands ``run_client`` a
coroutine that talks to the server and prints; ``--json`` puts JSON on stdout and nothing
else there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scopix.cli import render
from scopix.cli.common import ApiKeyOption, BaseUrlOption, JsonOption, run_client, stdout
from scopix.errors import ResourceNotFoundError, ValidationError

if TYPE_CHECKING:
    from scopix.client import Scopix
    from scopix.types.extraction import ExtractionSchema

SchemaArgument = Annotated[str, typer.Argument(help="the schema's id")]


@dataclass(frozen=True)
class SchemaChoice:
    """What ``--schema`` named: a JSON Schema read from a file (``inline``), or a stored
    schema's id or name (``stored``), looked up on the server."""

    inline: dict[str, Any] | None = None
    stored: str | None = None

    @classmethod
    def of(cls, value: str) -> SchemaChoice:
        """A file's schema when ``value`` is the path of a file, else a stored schema."""
        path = Path(value)
        if path.is_file():
            return cls(inline=read_schema(path, "--schema"))
        return cls(stored=value)


def read_schema(path: Path, option: str) -> dict[str, Any]:
    """The JSON object in the file at ``path``, or ``typer.BadParameter`` naming ``option``."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise typer.BadParameter(f"{path} holds no JSON: {exc}", param_hint=option) from None
    if not isinstance(loaded, dict):
        raise typer.BadParameter(f"{path} must hold a JSON object", param_hint=option)
    return loaded


def extract(
    file_id: Annotated[str, typer.Argument(help="the file's id")],
    schema: Annotated[
        str,
        typer.Option(
            "--schema",
            help="a stored schema's id or name, or the path of a JSON file holding a schema",
        ),
    ],
    prompt: Annotated[
        str | None, typer.Option("--prompt", help="more to tell the extractor about this file")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="wait until the extraction is done")
    ] = True,
    timeout: Annotated[
        float | None, typer.Option(min=0.1, help="seconds to wait [SCOPIX_POLLING_TIMEOUT, or 360]")
    ] = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pull a structured record out of a file with a schema, and show each field with its
    confidence and where in the file it was read.

    Exits 1 when the extraction failed, or no stored schema has that id or name.
    """
    choice = SchemaChoice.of(schema)
    run_client(
        api_key,
        base_url,
        lambda client: _extract(client, file_id, choice, prompt, as_json, wait=wait, limit=timeout),
    )


def list_schemas(
    limit: Annotated[int, typer.Option(min=1, max=100, help="schemas per page")] = 20,
    offset: Annotated[int, typer.Option(min=0, help="schemas to skip")] = 0,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the stored extraction schemas."""
    run_client(api_key, base_url, lambda client: _list(client, limit, offset, as_json))


def create(
    name: Annotated[str, typer.Argument(help="the new schema's name")],
    file: Annotated[
        Path, typer.Argument(help="a JSON file holding the JSON Schema (an object at the root)")
    ],
    description: Annotated[
        str | None, typer.Option("--description", help="what the schema is for")
    ] = None,
    prompt_hint: Annotated[
        str | None,
        typer.Option("--prompt-hint", help="what to tell the extractor whenever it is used"),
    ] = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Store an extraction schema under a name.

    Exits 1 when another schema has the name (in any letter case) or the server refuses
    the schema (the error names the rule and where in the schema it was broken).
    """
    body = read_schema(file, "FILE")
    run_client(
        api_key,
        base_url,
        lambda client: _create(client, name, body, description, prompt_hint, as_json),
    )


def show(
    schema_id: SchemaArgument,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a stored schema: its name, description, prompt hint and the JSON Schema."""
    run_client(api_key, base_url, lambda client: _show(client, schema_id, as_json))


def delete(
    schema_id: SchemaArgument,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Delete a stored schema; what was extracted with it stays readable."""
    run_client(api_key, base_url, lambda client: _delete(client, schema_id, as_json))


async def _extract(
    client: Scopix,
    file_id: str,
    choice: SchemaChoice,
    prompt: str | None,
    as_json: bool,
    *,
    wait: bool,
    limit: float | None,
) -> int:
    """Extract with ``choice``; with ``wait``, wait ``limit`` seconds (None: the default)."""
    schema_id = None if choice.stored is None else await _stored_id(client, choice.stored)
    with _naming_the_rule():
        result = await client.extraction.extract(
            file_id,
            schema_id=schema_id,
            schema=choice.inline,
            prompt=prompt,
            wait=wait,
            timeout=limit,
        )
    if as_json:
        typer.echo(render.dumps(result))
    else:
        stdout().print(render.extraction_view(result))
    return 1 if result.is_failed else 0


async def _stored_id(client: Scopix, wanted: str) -> str:
    """The id of the stored schema whose id is ``wanted``, or else whose name is (names are
    unique in any letter case); ``ResourceNotFoundError`` when there is none."""
    schemas = [schema async for schema in client.extraction.list_all_schemas()]
    by_id = (s.id for s in schemas if s.id == wanted)
    by_name = (s.id for s in schemas if s.name.casefold() == wanted.casefold())
    found = next(by_id, None) or next(by_name, None)
    if found is None:
        raise ResourceNotFoundError(
            f"no stored schema has the id or name {wanted!r}, and no file has that path"
        )
    return found


async def _list(client: Scopix, limit: int, offset: int, as_json: bool) -> int:
    page = await client.extraction.list_schemas(limit=limit, offset=offset)
    if as_json:
        typer.echo(render.dumps(page))
        return 0
    console = stdout()
    if page.items:
        console.print(render.schema_table(page))
    console.print(render.schema_footer(page), highlight=False)
    return 0


async def _create(
    client: Scopix,
    name: str,
    schema: dict[str, Any],
    description: str | None,
    prompt_hint: str | None,
    as_json: bool,
) -> int:
    with _naming_the_rule():
        made = await client.extraction.create_schema(
            name, schema, description=description, prompt_hint=prompt_hint
        )
    _show_schema(made, as_json)
    return 0


async def _show(client: Scopix, schema_id: str, as_json: bool) -> int:
    _show_schema(await client.extraction.get_schema(schema_id), as_json)
    return 0


async def _delete(client: Scopix, schema_id: str, as_json: bool) -> int:
    await client.extraction.delete_schema(schema_id)
    if as_json:
        typer.echo(render.dumps({"deleted": schema_id}))
    else:
        stdout().print(f"deleted schema {schema_id}", highlight=False)
    return 0


@contextmanager
def _naming_the_rule() -> Iterator[None]:
    """A schema the server refuses, with the rule it breaks and where in the schema (a JSON
    Pointer) added to the message: the one error line a command prints shows no details."""
    try:
        yield
    except ValidationError as exc:
        rule, path = exc.details.get("rule"), exc.details.get("path")
        if rule is None:
            raise
        where = f" at {path}" if path else ""
        raise ValidationError(
            f"{exc.message} ({rule}{where})",
            code=exc.code,
            details=exc.details,
            status_code=exc.status_code,
            request_id=exc.request_id,
        ) from exc


def _show_schema(schema: ExtractionSchema, as_json: bool) -> None:
    if as_json:
        typer.echo(render.dumps(schema))
    else:
        stdout().print(render.schema_view(schema))
