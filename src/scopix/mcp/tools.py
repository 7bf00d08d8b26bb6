"""The MCP tools and resources, built on the SDK's client and nothing else.

Every tool is a thin call through ``scopix.Scopix`` with the caller's own key, so the API
decides what the caller may do exactly as it does for any client: the key's tenant, its
scopes, its rate limit and quota. A refusal comes back as a tool error (``isError``) that
carries the API's error code and message, for the agent to read and act on.

``build_server`` takes a *client factory*: given the MCP request's context, it returns the
client to call with. Over stdio that is one client for the process; over HTTP it is a client
holding the key the request came with (scopix/mcp/http.py).
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Annotated, Any, Final, Literal, ParamSpec, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from scopix import __version__
from scopix.errors import ScopixError, ScopixTimeoutError
from scopix.mcp import views
from scopix.types.upload import UploadResult

if TYPE_CHECKING:
    from scopix.client import Scopix

#: Returns the client to call the API with for the current MCP request.
ClientFactory = Callable[[Context], "Scopix"]

#: How long a tool waits for a description or an extraction before it answers with the
#: state things are in (the agent can look again with get_file): MCP clients commonly give
#: up on a silent call after a minute.
WAIT_SECONDS: Final = 45.0
#: Characters ``get_file_text`` returns at most by default, and the most a resource holds.
TEXT_CHARS: Final = 20_000
MAX_TEXT_CHARS: Final = 200_000
#: Folders ``list_folders`` lists at most at once.
MAX_FOLDERS: Final = 200
TEXT_URI: Final = "scopix://files/{file_id}/text"

INSTRUCTIONS: Final = (
    "Scopix stores images, documents, videos and saved web pages, describes them (a "
    "description, tags, the text visible in them) and finds them by meaning or by their "
    "words. Upload with upload_file or add_link, find with search_files (files) or "
    "search_documents (passages of documents), read with get_file and get_file_text. "
    "Each file's text is also the resource scopix://files/{file_id}/text."
)

FileId = Annotated[str, Field(description="The file's id, as upload_file or a search gave it.")]
FolderId = Annotated[
    str | None, Field(description="Keep to this folder (its id, from list_folders).")
]
ProjectId = Annotated[str | None, Field(description="Keep to this project (its id).")]
Wait = Annotated[
    bool,
    Field(description=f"Wait (up to {WAIT_SECONDS:g} s) for the description before answering."),
]
SearchMode = Literal["all", "visible_text", "semantic", "metadata"]
MediaType = Literal["image", "document", "video", "link"]
ChunkMode = Literal["hybrid", "text", "semantic"]

P = ParamSpec("P")
R = TypeVar("R")


def error_text(exc: ScopixError) -> str:
    """What an agent reads of a refusal: the API's code and message, and its details."""
    status = f" (HTTP {exc.status_code})" if exc.status_code else ""
    details = f" details: {json.dumps(exc.details, default=str)}" if exc.details else ""
    return f"{exc.code}{status}: {exc.message}{details}"


def reported(tool: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn the API's refusals into tool errors. Anything else is a crash the MCP server
    logs, and the agent sees only that the tool failed."""

    @functools.wraps(tool)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await tool(*args, **kwargs)
        except ScopixError as exc:
            raise ToolError(error_text(exc)) from exc

    return call


class ScopixTools:
    """The tools: each method is one, named after it, its docstring what the agent reads.

    ``local_files`` lets ``upload_file`` read a path on this machine: right for stdio, where
    the server runs as the agent's user, never for the API server, where it would hand out
    the server's own files to anyone with a key.
    """

    def __init__(self, clients: ClientFactory, *, local_files: bool) -> None:
        self._clients = clients
        self._local_files = local_files

    def tools(self) -> Iterator[tuple[Callable[..., Awaitable[Any]], ToolAnnotations]]:
        """Every tool with its hints: which only read, and which reach the open web."""
        reads = ToolAnnotations(read_only_hint=True, open_world_hint=False)
        writes = ToolAnnotations(read_only_hint=False, destructive_hint=False)
        yield self.upload_file, writes
        yield self.add_link, writes.model_copy(update={"open_world_hint": True})
        yield self.search_files, reads
        yield self.search_documents, reads
        yield self.get_file, reads
        yield self.get_file_text, reads
        yield self.describe_file, writes
        yield self.extract, writes
        yield self.list_folders, reads

    @reported
    async def upload_file(
        self,
        ctx: Context,
        path: Annotated[
            str | None,
            Field(description="A file on the machine the MCP server runs on (stdio only)."),
        ] = None,
        content_base64: Annotated[
            str | None, Field(description="The file's bytes in base64, instead of a path.")
        ] = None,
        filename: Annotated[
            str | None, Field(description="The name to store with content_base64.")
        ] = None,
        folder_id: FolderId = None,
        project_id: ProjectId = None,
        wait_for_description: Wait = True,
    ) -> dict[str, Any]:
        """Upload an image, document (PDF, DOCX, TXT, MD...) or video to Scopix, which
        stores it and describes it: a description, tags and the text visible in it. Give
        a path or content_base64. Answers with the file's id and, when waited for, its
        description; a description still running says so (get_file later)."""
        source = self._source(path, content_base64, filename)
        result = await self._clients(ctx).files.upload(
            source,
            folder_id=folder_id,
            project_id=project_id,
            wait_for_descriptions=wait_for_description,
            description_timeout=WAIT_SECONDS,
            raise_on_failure=False,
        )
        return views.upload_view(result)

    @reported
    async def add_link(
        self,
        ctx: Context,
        url: Annotated[str, Field(description="An http(s) URL of a web page to save.")],
        folder_id: FolderId = None,
        project_id: ProjectId = None,
        wait_for_description: Annotated[
            bool, Field(description=f"Wait (up to {WAIT_SECONDS:g} s) for the page's fetch.")
        ] = False,
    ) -> dict[str, Any]:
        """Save a web page: Scopix fetches it in the background, keeps its main text and
        images, and describes it like a document."""
        client = self._clients(ctx)
        saved = await client.files.add_link(url, folder_id=folder_id, project_id=project_id)
        if wait_for_description:
            saved = await _settled(client, saved.image_id)
        return views.upload_view(saved)

    @reported
    async def search_files(
        self,
        ctx: Context,
        query: Annotated[str, Field(description="What to look for, in any words.")],
        mode: Annotated[
            SearchMode,
            Field(
                description="all: meaning and words fused (best in general); semantic: by "
                "meaning, in any language; visible_text: the words seen in images and "
                "documents; metadata: filenames, titles and tags."
            ),
        ] = "all",
        media_type: Annotated[
            MediaType | None, Field(description="Keep to one kind of file.")
        ] = None,
        tags: Annotated[
            list[str] | None, Field(description="Keep to files with all of these tags.")
        ] = None,
        folder_id: FolderId = None,
        project_id: ProjectId = None,
        limit: Annotated[int, Field(ge=1, le=50, description="Files to return.")] = 10,
    ) -> dict[str, Any]:
        """Find stored files (images, documents, videos, web pages) by what they show or
        say, best match first. Folder searches include its subfolders."""
        found = await self._clients(ctx).files.list(
            search=query,
            search_mode=mode,
            media_types=[media_type] if media_type else None,
            tags=tags,
            folder_id=folder_id,
            include_subfolders=folder_id is not None,
            project_id=project_id,
            limit=limit,
        )
        return views.search_view(found)

    @reported
    async def search_documents(
        self,
        ctx: Context,
        query: Annotated[str, Field(description="What to look for, in any words.")],
        limit: Annotated[int, Field(ge=1, le=50, description="Passages to return.")] = 10,
        mode: Annotated[
            ChunkMode,
            Field(description="hybrid (default): words and meaning; text; semantic."),
        ] = "hybrid",
        file_ids: Annotated[list[str] | None, Field(description="Keep to these documents.")] = None,
    ) -> dict[str, Any]:
        """Find the passages of stored documents that answer a question or hold some
        words, best first, each with its document and pages."""
        hits = await self._clients(ctx).documents.search(
            query, limit=limit, search_mode=mode, file_ids=file_ids
        )
        return {"items": [views.chunk_hit_view(hit) for hit in hits.items]}

    @reported
    async def get_file(self, ctx: Context, file_id: FileId) -> dict[str, Any]:
        """A stored file: its description, tags, visible text (clipped), how many text
        regions were found, where each part of the description came from (provenance),
        and where its processing stands."""
        return views.file_view(await self._clients(ctx).files.get(file_id))

    @reported
    async def get_file_text(
        self,
        ctx: Context,
        file_id: FileId,
        max_chars: Annotated[
            int, Field(ge=1, le=MAX_TEXT_CHARS, description="Characters to return at most.")
        ] = TEXT_CHARS,
    ) -> dict[str, Any]:
        """The text of a file: a document's or web page's extracted text, or the text
        read in an image (OCR)."""
        source, text = await _text_of(self._clients(ctx), file_id)
        return {
            "id": file_id,
            "source": source,
            "total_chars": len(text),
            "truncated": len(text) > max_chars,
            "text": text[:max_chars],
        }

    @reported
    async def describe_file(
        self, ctx: Context, file_id: FileId, wait_for_description: Wait = True
    ) -> dict[str, Any]:
        """Describe a stored file again (or for the first time, when it was uploaded
        without a description)."""
        client = self._clients(ctx)
        queued = await client.files.describe(file_id)
        if not wait_for_description:
            return views.status_view(queued)
        return views.upload_view(await _settled(client, file_id))

    @reported
    async def extract(
        self,
        ctx: Context,
        file_id: FileId,
        schema_id: Annotated[
            str | None, Field(description="A stored extraction schema's id.")
        ] = None,
        schema: Annotated[
            dict[str, Any] | None,
            Field(description="A JSON Schema (an object at the root), instead of schema_id."),
        ] = None,
        prompt: Annotated[
            str | None, Field(description="More about this file, for the extractor.")
        ] = None,
    ) -> dict[str, Any]:
        """Pull a structured record out of a file (an invoice's vendor, total and lines,
        say), shaped like a JSON Schema, each field with a confidence."""
        result = await self._clients(ctx).files.extract(
            file_id, schema_id=schema_id, schema=schema, prompt=prompt, timeout=WAIT_SECONDS
        )
        return views.extraction_view(result)

    @reported
    async def list_folders(
        self,
        ctx: Context,
        parent_id: Annotated[
            str | None,
            Field(description="A folder's id: its subfolders and files. None: every folder."),
        ] = None,
        project_id: ProjectId = None,
    ) -> dict[str, Any]:
        """The folders files are organized in: every folder (each with its parent), or
        one folder's subfolders and first files."""
        client = self._clients(ctx)
        if parent_id is not None:
            return views.contents_view(await client.folders.get(parent_id))
        folders = await client.folders.list(project_id=project_id)
        return {
            "items": [views.folder_view(f) for f in folders[:MAX_FOLDERS]],
            "total_count": len(folders),
        }

    async def file_text(self, file_id: str, ctx: Context) -> str:
        """The resource scopix://files/{file_id}/text: the file's text, as get_file_text."""
        try:
            _, text = await _text_of(self._clients(ctx), file_id)
        except ScopixError as exc:
            raise ResourceError(error_text(exc)) from exc
        return text[:MAX_TEXT_CHARS]

    def _source(
        self, path: str | None, content_base64: str | None, filename: str | None
    ) -> str | IO[bytes]:
        """What to upload: the path (where this server may read local files) or the bytes."""
        if (path is None) == (content_base64 is None):
            raise ToolError("give either path or content_base64 (with a filename)")
        if path is not None:
            if not self._local_files:
                raise ToolError(
                    "this server cannot read files where you are: send content_base64 and "
                    "filename instead of path"
                )
            return os.path.expanduser(path)
        return _named_bytes(content_base64 or "", filename)


def _named_bytes(content_base64: str, filename: str | None) -> IO[bytes]:
    """The decoded bytes as a file object the SDK names after ``filename``."""
    try:
        data = base64.b64decode(content_base64, validate=True)
    except binascii.Error as exc:
        raise ToolError(f"content_base64 is not valid base64: {exc}") from None
    buffer = io.BytesIO(data)
    buffer.name = filename or "upload"
    return buffer


async def _settled(client: Scopix, file_id: str) -> UploadResult:
    """The file once its processing settles, or as it stands after ``WAIT_SECONDS``."""
    try:
        return await client.files.wait_for_description(file_id, timeout=WAIT_SECONDS)
    except ScopixTimeoutError:
        return (await client.files.get(file_id)).to_upload_result()


async def _text_of(client: Scopix, file_id: str) -> tuple[str, str]:
    """Where a file's text comes from and the text: a document's (or a page's) extraction,
    else what was read in the image."""
    details = await client.files.get(file_id)
    if details.text_extraction_status is not None:
        return "document", (await client.files.get_text(file_id)).text
    return "visible_text", details.visible_text or ""


@contextmanager
def _root_logging_left_alone() -> Iterator[None]:
    """``MCPServer()`` calls ``logging.basicConfig``, which would give a server with no root
    handler yet (uvicorn configures its logging later) a second, differently formatted log at
    INFO. ``basicConfig`` does nothing while the root logger has a handler: lend it one."""
    root = logging.getLogger()
    placeholder = logging.NullHandler()
    root.addHandler(placeholder)
    try:
        yield
    finally:
        root.removeHandler(placeholder)


def build_server(clients: ClientFactory, *, local_files: bool) -> MCPServer:
    """The Scopix MCP server: its tools and the text resource, calling the API through
    the client ``clients`` returns for each request."""
    with _root_logging_left_alone():
        server: MCPServer = MCPServer(
            name="scopix", title="Scopix", version=__version__, instructions=INSTRUCTIONS
        )
    tools = ScopixTools(clients, local_files=local_files)
    for tool, hints in tools.tools():
        server.add_tool(tool, annotations=hints)
    server.resource(
        TEXT_URI,
        name="file_text",
        title="A file's text",
        description="A document's extracted text, or the text read in an image.",
        mime_type="text/plain",
    )(tools.file_text)
    return server
