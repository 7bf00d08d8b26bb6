"""The client commands: ``upload``, ``link``, ``ls``, ``get``, ``search``, ``similar``,
``text``, ``scenes``, ``quota``, ``describe``, ``recrawl``.

They need only the ``cli`` extra (typer, rich) and httpx. Each command parses its
options, then hands ``run_client`` a coroutine that talks to the server and prints;
``--json`` puts JSON on stdout and nothing else there.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scopix.cli import render
from scopix.cli.common import (
    ApiKeyOption,
    BaseUrlOption,
    JsonOption,
    run_client,
    stderr,
    stdout,
)
from scopix.cli.progress import UploadDisplay
from scopix.errors import QuotaExceededError
from scopix.types.describe import DescriptionStatus
from scopix.types.links import LinkResult
from scopix.types.upload import BatchUploadResults

if TYPE_CHECKING:
    from scopix.client import Scopix
    from scopix.types.documents import DocumentSearchMode
    from scopix.types.files import FileDetails, FileList

IdArgument = Annotated[str, typer.Argument(help="the file's id")]
LimitOption = Annotated[int, typer.Option(min=1, max=100, help="files per page")]
OffsetOption = Annotated[int, typer.Option(min=0, help="files to skip")]


class SearchMode(StrEnum):
    """Where ``search`` looks for the text: the first four for files, the last three
    (``semantic`` in both) for passages of documents (``--chunks``)."""

    ALL = "all"
    METADATA = "metadata"
    VISIBLE_TEXT = "visible_text"
    SEMANTIC = "semantic"
    HYBRID = "hybrid"
    TEXT = "text"


FILE_MODES = (SearchMode.ALL, SearchMode.METADATA, SearchMode.VISIBLE_TEXT, SearchMode.SEMANTIC)
CHUNK_MODES: dict[SearchMode, DocumentSearchMode] = {
    SearchMode.HYBRID: "hybrid",
    SearchMode.TEXT: "text",
    SearchMode.SEMANTIC: "semantic",
}
#: Passages a chunk search returns at most (the server's bound).
MAX_CHUNK_HITS = 50


@dataclass(frozen=True)
class SearchRequest:
    """What ``scopix search`` was asked for, its defaults filled in and checked."""

    text: str
    mode: SearchMode
    limit: int
    offset: int
    chunks: bool

    @classmethod
    def checked(
        cls, text: str, mode: SearchMode | None, limit: int | None, offset: int, chunks: bool
    ) -> SearchRequest:
        """The request, or ``typer.BadParameter`` naming the option that does not fit."""
        allowed = tuple(CHUNK_MODES) if chunks else FILE_MODES
        mode = mode or allowed[0]
        if mode not in allowed:
            names = "|".join(m.value for m in allowed)
            kind = "--chunks" if chunks else "files (without --chunks)"
            raise typer.BadParameter(f"a search of {kind} takes {names}", param_hint="--mode")
        if chunks and (limit or 0) > MAX_CHUNK_HITS:
            raise typer.BadParameter(
                f"--chunks returns at most {MAX_CHUNK_HITS}", param_hint="--limit"
            )
        if chunks and offset:
            raise typer.BadParameter(
                "--chunks returns the best passages only", param_hint="--offset"
            )
        return cls(text, mode, limit or (10 if chunks else 20), offset, chunks)


@dataclass(frozen=True)
class UploadRequest:
    """What ``scopix upload`` was asked to do."""

    paths: list[Path]
    tags: list[str]
    title: str | None
    describe: bool
    wait: bool
    skip_duplicates: bool
    recursive: bool
    include_hidden: bool
    folder_id: str | None = None
    project_id: str | None = None
    schema_id: str | None = None


def upload(
    paths: Annotated[list[Path], typer.Argument(help="files and folders to upload")],
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="wait until the descriptions are settled")
    ] = True,
    tags: Annotated[str | None, typer.Option(help="tags for every file, comma-separated")] = None,
    title: Annotated[str | None, typer.Option(help="a title for every file")] = None,
    no_describe: Annotated[
        bool, typer.Option("--no-describe", help="store the files without describing them")
    ] = False,
    skip_duplicates: Annotated[
        bool, typer.Option("--skip-duplicates", help="skip files already stored")
    ] = False,
    recursive: Annotated[
        bool, typer.Option("--recursive/--no-recursive", help="walk folders' subfolders")
    ] = True,
    include_hidden: Annotated[
        bool, typer.Option("--include-hidden", help="upload dot-files found in folders too")
    ] = False,
    folder: Annotated[
        str | None, typer.Option("--folder", help="the id of the folder to put the files in")
    ] = None,
    project: Annotated[
        str | None,
        typer.Option("--project", help="the id of the project to put the files in"),
    ] = None,
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema", help="the id of a stored schema to extract from each file once described"
        ),
    ] = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Upload files and folders (supported images and documents in folders), then show each
    result. --folder puts them in a Scopix folder (and its project), --project alone at the top
    level of a project. --schema extracts that stored schema from each file after its
    description.

    Exits 1 when any file failed: refused by the server, or its description failed.
    """
    request = UploadRequest(
        paths=paths,
        tags=[t.strip() for t in (tags or "").split(",") if t.strip()],
        title=title,
        describe=not no_describe,
        wait=wait,
        skip_duplicates=skip_duplicates,
        recursive=recursive,
        include_hidden=include_hidden,
        folder_id=folder,
        project_id=project,
        schema_id=schema,
    )
    run_client(api_key, base_url, lambda client: _upload(client, request, as_json))


@dataclass(frozen=True)
class LinkRequest:
    """What ``scopix link`` was asked to save."""

    urls: list[str]
    title: str | None
    tags: list[str]
    describe: bool
    skip_duplicates: bool
    wait: bool


def link(
    urls: Annotated[list[str], typer.Argument(help="the pages' URLs (http or https)")],
    title: Annotated[str | None, typer.Option(help="a title for the page (one URL only)")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="a tag for every page (repeatable)")
    ] = None,
    no_describe: Annotated[
        bool, typer.Option("--no-describe", help="save the pages without describing them")
    ] = False,
    skip_duplicates: Annotated[
        bool, typer.Option("--skip-duplicates", help="a URL saved already gives that link back")
    ] = False,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="wait until each page is fetched and described, then show it"),
    ] = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Save web pages by URL: the server fetches each one, keeps its text, title and images,
    and describes it. One row per URL.

    Exits 1 when a URL was refused or, with --wait, a page could not be fetched or described.
    """
    if title is not None and len(urls) > 1:
        raise typer.BadParameter("a title names one page: give one URL", param_hint="--title")
    request = LinkRequest(
        urls=urls,
        title=title,
        tags=[t.strip() for t in tag or [] if t.strip()],
        describe=not no_describe,
        skip_duplicates=skip_duplicates,
        wait=wait,
    )
    run_client(api_key, base_url, lambda client: _link(client, request, as_json))


def recrawl(
    file_id: Annotated[str, typer.Argument(help="the link's id")],
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fetch a saved link's page again.

    Exits 1 when the file is not a link or a fetch of it is already queued or running.
    """
    run_client(api_key, base_url, lambda client: _recrawl(client, file_id, as_json))


def ls(
    limit: LimitOption = 20,
    offset: OffsetOption = 0,
    tag: Annotated[
        list[str] | None, typer.Option(help="only files with this tag (repeatable; all must match)")
    ] = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """List stored files, newest first."""
    filters = {"limit": limit, "offset": offset, "tags": tag}
    run_client(api_key, base_url, lambda client: _list(client, as_json, filters))


def search(
    text: Annotated[str, typer.Argument(help="what to look for")],
    chunks: Annotated[
        bool, typer.Option("--chunks", help="find passages of documents instead of files")
    ] = False,
    mode: Annotated[
        SearchMode | None,
        typer.Option(
            help="where to look: all (the default), metadata, visible_text or semantic for "
            "files; hybrid (the default), text or semantic with --chunks",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(min=1, max=100, help="results per page (20; with --chunks 10, at most 50)"),
    ] = None,
    offset: OffsetOption = 0,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Search stored files by text, tags, visible text or meaning; with --chunks, find the
    passages of documents that match, best first, with their pages."""
    request = SearchRequest.checked(text, mode, limit, offset, chunks)
    if request.chunks:
        run_client(api_key, base_url, lambda client: _search_chunks(client, request, as_json))
        return
    filters = {
        "search": request.text,
        "search_mode": request.mode.value,
        "limit": request.limit,
        "offset": request.offset,
    }
    run_client(api_key, base_url, lambda client: _list(client, as_json, filters))


def text(
    file_id: Annotated[str, typer.Argument(help="the document's id")],
    page: Annotated[int | None, typer.Option(min=1, help="only this page (1-based)")] = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the text extracted from a document (PDF, DOCX, TXT, MD), or one page of it.

    Exits 1 when the file is not a document, its text is not extracted (yet, or ever: the
    error says which), or it has no such page.
    """
    run_client(api_key, base_url, lambda client: _text(client, file_id, page, as_json))


def scenes(
    file_id: Annotated[str, typer.Argument(help="the video's id")],
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """List a video's scenes: each one's time, and what it shows once described.

    Exits 1 when the file is not a video or its scenes are not found (yet, or ever: the
    error says which).
    """
    run_client(api_key, base_url, lambda client: _scenes(client, file_id, as_json))


def similar(
    image_id: IdArgument,
    limit: LimitOption = 10,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Files whose images look most like this one's, most alike first."""
    run_client(api_key, base_url, lambda client: _similar(client, image_id, limit, as_json))


def get(
    image_id: IdArgument,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one file: its type, size, statuses, description, tags and visible text, a
    document's pages and text extraction, and a video's length and scenes."""
    run_client(api_key, base_url, lambda client: _get(client, image_id, as_json))


def quota(
    files: Annotated[int, typer.Option(min=1, help="how many files to check for")] = 1,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check whether the quota covers describing --files more files, and the tier's limits."""
    run_client(api_key, base_url, lambda client: _quota(client, files, as_json))


def describe(
    image_id: IdArgument,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="wait until the description is settled")
    ] = True,
    timeout: Annotated[
        float | None, typer.Option(min=0.1, help="seconds to wait [SCOPIX_POLLING_TIMEOUT, or 360]")
    ] = None,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Describe a file again, and show the new description.

    Exits 1 when the description failed.
    """
    run_client(
        api_key,
        base_url,
        lambda client: _describe(client, image_id, as_json, wait=wait, wait_for=timeout),
    )


async def _upload(client: Scopix, request: UploadRequest, as_json: bool) -> int:
    describing = request.wait and request.describe
    display = UploadDisplay(stderr(), enabled=not as_json, describing=describing)
    try:
        with display:
            results = await client.files.upload_batch(
                request.paths,
                recursive=request.recursive,
                include_hidden=request.include_hidden,
                title=request.title,
                tags=request.tags or None,
                auto_describe=request.describe,
                skip_duplicates=request.skip_duplicates,
                folder_id=request.folder_id,
                project_id=request.project_id,
                custom_schema_id=request.schema_id,
                wait_for_descriptions=request.wait,
                on_progress=display.on_upload,
                on_description_progress=display.on_descriptions,
            )
    except QuotaExceededError as exc:  # show what was done; run_client prints the error
        if exc.partial_results or as_json:
            _show_uploads(exc.partial_results or BatchUploadResults(), as_json)
        raise
    _show_uploads(results, as_json)
    return 1 if results.has_failures else 0


def _show_uploads(results: BatchUploadResults, as_json: bool) -> None:
    if as_json:
        typer.echo(render.dumps([r.to_dict() for r in results]))
        return
    if not results:
        typer.echo("nothing to upload: no supported files found", err=True)
        return
    console = stdout()
    console.print(render.upload_table(results, console.width))
    console.print(results.summary(), markup=False, highlight=False)


async def _link(client: Scopix, request: LinkRequest, as_json: bool) -> int:
    options: dict[str, Any] = {
        "tags": request.tags or None,
        "auto_describe": request.describe,
        "skip_duplicates": request.skip_duplicates,
    }
    if len(request.urls) == 1:  # the one route that takes a title
        saved = await client.files.add_link(request.urls[0], title=request.title, **options)
        results = [LinkResult(request.urls[0], saved)]
    else:
        results = await client.files.add_links(request.urls, **options)
    fetched: dict[str, FileDetails] = {}
    if request.wait:
        for result in results:
            if result.file is not None:
                await client.files.wait_for_description(result.file.image_id)
                fetched[result.file.image_id] = await client.files.get(result.file.image_id)
    if as_json:
        typer.echo(render.dumps([_link_record(r, fetched) for r in results]))
    else:
        stdout().print(render.link_table(results, fetched))
    failed = any(
        d.crawl_status == "failed" or d.description_status is DescriptionStatus.FAILED
        for d in fetched.values()
    )
    return 1 if failed or not all(r.ok for r in results) else 0


def _link_record(result: LinkResult, fetched: dict[str, FileDetails]) -> dict[str, Any]:
    """A URL's JSON: its link (the details when waited for), or why it was refused."""
    file = fetched.get(result.file.image_id) if result.file else None
    return {
        "url": result.url,
        "file": render.jsonable(file or result.file),
        "error_code": result.error_code,
        "error_message": result.error_message,
    }


async def _recrawl(client: Scopix, file_id: str, as_json: bool) -> int:
    queued = await client.files.recrawl(file_id)
    if as_json:
        typer.echo(render.dumps(queued))
    else:
        stdout().print(render.state_line("crawl status", queued.crawl_status))
    return 0


async def _list(client: Scopix, as_json: bool, filters: dict[str, Any]) -> int:
    page = await client.files.list(**filters)
    _show_page(page, as_json)
    return 0


async def _similar(client: Scopix, image_id: str, limit: int, as_json: bool) -> int:
    _show_page(await client.files.similar(image_id, limit=limit), as_json)
    return 0


def _show_page(page: FileList, as_json: bool) -> None:
    if as_json:
        typer.echo(render.dumps(page))
        return
    console = stdout()
    if page.items:
        console.print(render.file_table(page.items))
    console.print(render.page_footer(page), highlight=False)


async def _search_chunks(client: Scopix, request: SearchRequest, as_json: bool) -> int:
    results = await client.documents.search(
        request.text,
        limit=request.limit,
        search_mode=CHUNK_MODES[request.mode],
    )
    if as_json:
        typer.echo(render.dumps(results))
        return 0
    console = stdout()
    if results.items:
        console.print(render.chunk_hits_table(results, request.text))
    console.print(render.hits_footer(results), highlight=False)
    return 0


async def _text(client: Scopix, file_id: str, page: int | None, as_json: bool) -> int:
    document = await client.files.get_text(file_id)
    if page is None:
        typer.echo(render.dumps(document) if as_json else document.text)
        return 0
    try:
        chosen = document.page(page)
    except KeyError as missing:
        typer.echo(f"error: NOT_FOUND: {missing.args[0]}", err=True)
        return 1
    typer.echo(render.dumps(chosen) if as_json else chosen.text)
    return 0


async def _scenes(client: Scopix, file_id: str, as_json: bool) -> int:
    found = await client.files.get_scenes(file_id)
    if as_json:
        typer.echo(render.dumps(found))
    else:
        stdout().print(render.scene_table(found))
    return 0


async def _get(client: Scopix, image_id: str, as_json: bool) -> int:
    details = await client.files.get(image_id)
    if as_json:
        typer.echo(render.dumps(details))
    else:
        stdout().print(render.file_panel(details))
    return 0


async def _quota(client: Scopix, files: int, as_json: bool) -> int:
    info = await client.files.check_quota(files)
    if as_json:
        typer.echo(render.dumps(info))
    else:
        stdout().print(render.quota_table(info))
    return 0


async def _describe(
    client: Scopix, image_id: str, as_json: bool, *, wait: bool, wait_for: float | None
) -> int:
    """Queue a description; with ``wait``, wait ``wait_for`` seconds (None: the default)."""
    status = await client.files.describe(image_id)
    if not wait:
        if as_json:
            typer.echo(render.dumps(status))
        else:
            stdout().print(render.status_line(status.description_status))
        return 0
    result = await client.files.wait_for_description(image_id, timeout=wait_for)
    if as_json:
        typer.echo(render.dumps(result.to_dict()))
    else:
        stdout().print(render.description_view(result))
    return 1 if result.is_failed else 0
