"""``SyncScopix``: the same client for synchronous code.

It does not re-implement anything: it runs an async ``Scopix`` on an event loop in a
background thread (an anyio blocking portal) and waits for each call, so transport,
retries, parsing and batch logic exist once.
"""

from __future__ import annotations

import builtins
import functools
import os
from collections.abc import Callable, Coroutine, Generator, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar, overload

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal

from scopix.client._client import AsyncUsage, Scopix
from scopix.client._documents import AsyncDocuments
from scopix.client._events import AsyncEvents, AsyncWebhooks, EventStream
from scopix.client._extraction import AsyncExtraction
from scopix.client._files import AsyncFiles
from scopix.client._folders import AsyncFolders
from scopix.client._options import from_environment
from scopix.client._projects import AsyncProjects
from scopix.client._sources import UploadSource
from scopix.types.documents import DocumentChunk
from scopix.types.events import UploadProgress
from scopix.types.extraction import ExtractionSchema
from scopix.types.files import FileDetails
from scopix.types.projects import Project
from scopix.types.upload import BatchUploadResults, UploadResult
from scopix.types.webhooks import Event

P = ParamSpec("P")
R = TypeVar("R")


class _Facade:
    """Holds the portal and the async object whose methods it runs."""

    def __init__(self, portal: BlockingPortal, target: Any) -> None:
        self._portal = portal
        self._target = target

    def _each(self, items: Any) -> Generator[Any]:
        """The items of an async iterator, each fetched through the portal."""
        try:
            while True:
                more, item = self._portal.call(_next, items)
                if not more:
                    return
                yield item
        finally:
            self._portal.call(items.aclose)


def _blocking(
    method: Callable[Concatenate[Any, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[_Facade, P], R]:
    """The synchronous twin of an async method: same signature and docstring."""
    name = method.__name__

    @functools.wraps(method)
    def call(self: _Facade, /, *args: P.args, **kwargs: P.kwargs) -> R:
        bound = getattr(self._target, name)
        result: R = self._portal.call(functools.partial(bound, *args, **kwargs))
        return result

    return call


class SyncFiles(_Facade):
    """File operations of a ``SyncScopix``; the same methods as ``Scopix.files``."""

    upload_batch = _blocking(AsyncFiles.upload_batch)
    check_quota = _blocking(AsyncFiles.check_quota)
    list = _blocking(AsyncFiles.list)
    get = _blocking(AsyncFiles.get)
    similar = _blocking(AsyncFiles.similar)
    update = _blocking(AsyncFiles.update)
    delete = _blocking(AsyncFiles.delete)
    batch_delete = _blocking(AsyncFiles.batch_delete)
    get_variant = _blocking(AsyncFiles.get_variant)
    get_processing_status = _blocking(AsyncFiles.get_processing_status)
    describe = _blocking(AsyncFiles.describe)
    wait_for_description = _blocking(AsyncFiles.wait_for_description)
    get_text = _blocking(AsyncFiles.get_text)
    list_chunks = _blocking(AsyncFiles.list_chunks)
    get_scenes = _blocking(AsyncFiles.get_scenes)
    add_link = _blocking(AsyncFiles.add_link)
    add_links = _blocking(AsyncFiles.add_links)
    recrawl = _blocking(AsyncFiles.recrawl)
    extract = _blocking(AsyncFiles.extract)

    @overload
    def upload(
        self,
        source: UploadSource,
        *,
        title: str | None = None,
        tags: Sequence[str] | None = None,
        auto_describe: bool = True,
        skip_duplicates: bool = False,
        content_category: str = "general",
        folder_id: str | None = None,
        project_id: str | None = None,
        custom_schema_id: str | None = None,
        wait_for_descriptions: bool = True,
        description_timeout: float | None = None,
        raise_on_failure: bool = True,
        on_progress: Callable[[UploadProgress], None] | None = None,
    ) -> UploadResult: ...

    @overload
    def upload(
        self,
        source: builtins.list[UploadSource] | tuple[UploadSource, ...],
        *,
        title: str | None = None,
        tags: Sequence[str] | None = None,
        auto_describe: bool = True,
        skip_duplicates: bool = False,
        content_category: str = "general",
        folder_id: str | None = None,
        project_id: str | None = None,
        custom_schema_id: str | None = None,
        wait_for_descriptions: bool = True,
        description_timeout: float | None = None,
        raise_on_failure: bool = True,
        on_progress: Callable[[UploadProgress], None] | None = None,
    ) -> BatchUploadResults: ...

    def upload(self, source: Any, **options: Any) -> UploadResult | BatchUploadResults:
        """Upload one file or a list of them; see ``Scopix.files.upload``."""
        result: UploadResult | BatchUploadResults = self._portal.call(
            functools.partial(self._target.upload, source, **options)
        )
        return result

    @overload
    def download(self, image_id: str, path: None = None) -> bytes: ...

    @overload
    def download(self, image_id: str, path: str | os.PathLike[str]) -> Path: ...

    def download(self, image_id: str, path: str | os.PathLike[str] | None = None) -> bytes | Path:
        """The original bytes, or streamed to ``path``; see ``Scopix.files.download``."""
        result: bytes | Path = self._portal.call(self._target.download, image_id, path)
        return result

    def list_all(self, **filters: Any) -> Iterator[FileDetails]:
        """Every matching file, fetched page by page; see ``Scopix.files.list_all``."""
        return self._each(self._target.list_all(**filters))

    def iter_chunks(self, file_id: str) -> Iterator[DocumentChunk]:
        """Every chunk of a document in order; see ``Scopix.files.iter_chunks``."""
        return self._each(self._target.iter_chunks(file_id))


class SyncDocuments(_Facade):
    """Document operations of a ``SyncScopix``; the same methods as ``Scopix.documents``."""

    search = _blocking(AsyncDocuments.search)


class SyncProjects(_Facade):
    """Project operations of a ``SyncScopix``."""

    create = _blocking(AsyncProjects.create)
    list = _blocking(AsyncProjects.list)
    get = _blocking(AsyncProjects.get)
    rename = _blocking(AsyncProjects.rename)
    delete = _blocking(AsyncProjects.delete)

    def list_all(self) -> Iterator[Project]:
        """Every project of the tenant by name; see ``Scopix.projects.list_all``."""
        return self._each(self._target.list_all())


class SyncEventStream:
    """``Scopix.events.stream`` for a ``SyncScopix``: iterate it (``with`` it, when the loop
    may be left early); ``cursor`` resumes it."""

    def __init__(self, events: Generator[Event], stream: EventStream) -> None:
        self._events = events
        self._stream = stream

    def __iter__(self) -> Iterator[Event]:
        return self._events

    @property
    def cursor(self) -> str | None:
        return self._stream.cursor

    def close(self) -> None:
        """Stop reading (before the client closes, when the loop was left early)."""
        self._events.close()

    def __enter__(self) -> SyncEventStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class SyncEvents(_Facade):
    """Event reading of a ``SyncScopix``; the same methods as ``Scopix.events``."""

    list = _blocking(AsyncEvents.list)

    def stream(self, *, after: str | None = None, wait: float = 25.0) -> SyncEventStream:
        """Every event after ``after`` as it happens; see ``Scopix.events.stream``."""
        stream = self._target.stream(after=after, wait=wait)
        return SyncEventStream(self._each(stream), stream)


class SyncWebhooks(_Facade):
    """Webhook endpoints of a ``SyncScopix``; the same methods as ``Scopix.webhooks``."""

    create = _blocking(AsyncWebhooks.create)
    list = _blocking(AsyncWebhooks.list)
    delete = _blocking(AsyncWebhooks.delete)
    test = _blocking(AsyncWebhooks.test)
    deliveries = _blocking(AsyncWebhooks.deliveries)


class SyncFolders(_Facade):
    """Folder operations of a ``SyncScopix``; the same methods as ``Scopix.folders``."""

    create = _blocking(AsyncFolders.create)
    list = _blocking(AsyncFolders.list)
    get = _blocking(AsyncFolders.get)
    breadcrumbs = _blocking(AsyncFolders.breadcrumbs)
    rename = _blocking(AsyncFolders.rename)
    move = _blocking(AsyncFolders.move)
    delete = _blocking(AsyncFolders.delete)
    move_files = _blocking(AsyncFolders.move_files)


class SyncExtraction(_Facade):
    """Custom extraction of a ``SyncScopix``; the same methods as ``Scopix.extraction``."""

    create_schema = _blocking(AsyncExtraction.create_schema)
    list_schemas = _blocking(AsyncExtraction.list_schemas)
    get_schema = _blocking(AsyncExtraction.get_schema)
    update_schema = _blocking(AsyncExtraction.update_schema)
    delete_schema = _blocking(AsyncExtraction.delete_schema)
    extract = _blocking(AsyncExtraction.extract)
    get_result = _blocking(AsyncExtraction.get_result)
    list_results = _blocking(AsyncExtraction.list_results)
    wait_for_result = _blocking(AsyncExtraction.wait_for_result)

    def list_all_schemas(self) -> Iterator[ExtractionSchema]:
        """Every schema of the tenant; see ``Scopix.extraction.list_all_schemas``."""
        return self._each(self._target.list_all_schemas())


class SyncUsage(_Facade):
    """Credit checks of a ``SyncScopix``."""

    check = _blocking(AsyncUsage.check)


async def _next(items: Any) -> tuple[bool, Any]:
    try:
        return True, await items.__anext__()
    except StopAsyncIteration:
        return False, None


class SyncScopix:
    """The Scopix client for synchronous code; the same arguments as ``Scopix``.

    ```python
    with SyncScopix() as client:          # SCOPIX_API_KEY from the environment
        result = client.files.upload("photo.jpg")
    ```

    Calls block until done. Callbacks given to uploads run in the client's background
    thread. Close the client (or use ``with``) to stop that thread.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 300.0,
        max_retries: int = 3,
        retry_delay: float = 1.0,
        polling_interval: float = 2.0,
        polling_timeout: float = 360.0,
        tenant_id: str | None = None,
        proxy_url: str | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._async = Scopix(
            api_key,
            base_url,
            timeout,
            max_retries,
            retry_delay,
            polling_interval,
            polling_timeout,
            tenant_id,
            proxy_url,
            http_client=http_client,
        )
        self.options = self._async.options
        self._portal_cm: AbstractContextManager[BlockingPortal] = start_blocking_portal()
        self._portal: BlockingPortal | None = self._portal_cm.__enter__()
        self.files = SyncFiles(self._portal, self._async.files)
        self.documents = SyncDocuments(self._portal, self._async.documents)
        self.projects = SyncProjects(self._portal, self._async.projects)
        self.folders = SyncFolders(self._portal, self._async.folders)
        self.extraction = SyncExtraction(self._portal, self._async.extraction)
        self.events = SyncEvents(self._portal, self._async.events)
        self.webhooks = SyncWebhooks(self._portal, self._async.webhooks)
        self.usage = SyncUsage(self._portal, self._async.usage)

    @classmethod
    def from_env(cls, **overrides: Any) -> SyncScopix:
        """A client configured from ``SCOPIX_*`` variables; see ``Scopix.from_env``."""
        return cls(**from_environment(os.environ, overrides))

    def close(self) -> None:
        """Close the connections and stop the background thread (safe to call twice)."""
        if self._portal is None:
            return
        try:
            self._portal.call(self._async.close)
        finally:
            self._portal = None
            self._portal_cm.__exit__(None, None, None)

    def __enter__(self) -> SyncScopix:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
