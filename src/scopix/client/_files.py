"""``client.files``: upload, list, read, change and delete files, follow descriptions, read
documents' text and chunks and videos' scenes, and save web pages by URL."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Unpack, overload

import anyio

from scopix.client._batch import DEFAULT_CONCURRENCY, REQUEST_FILES, BatchCallbacks, BatchRun
from scopix.client._direct import direct_upload, goes_direct
from scopix.client._extraction import AsyncExtraction
from scopix.client._forms import UploadArguments, UploadOptions
from scopix.client._options import ClientOptions
from scopix.client._polling import poll
from scopix.client._sources import UploadSource, collect, file_parts, one
from scopix.client._transport import Multipart, Transport
from scopix.client._unset import UNSET, _Unset
from scopix.errors import QuotaExceededError, ScopixTimeoutError
from scopix.types.documents import ChunkList, DocumentChunk, DocumentText
from scopix.types.events import DescriptionProgress, UploadProgress
from scopix.types.extraction import ExtractionResult
from scopix.types.files import BatchDeleteResult, FileDetails, FileList, ProcessingStatus
from scopix.types.links import LinkResult, RecrawlResult
from scopix.types.upload import BatchUploadResults, QuotaInfo, UploadResult
from scopix.types.videos import SceneList

Variant = Literal["tiny_64", "small_256", "medium_750", "large_1024", "original"]
SortField = Literal["content_created_at", "created_at", "title", "size_bytes"]
BATCH_DELETE_IDS = 100
#: URLs per ``POST /files/links/batch`` (the server's bound)
LINKS_PER_REQUEST = 100
_PAGE = 100


class AsyncFiles:
    """File operations of an async client; reach it as ``client.files``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._extraction = AsyncExtraction(transport)

    @property
    def _options(self) -> ClientOptions:
        return self._transport.options

    @overload
    async def upload(
        self, source: UploadSource, **options: Unpack[UploadArguments]
    ) -> UploadResult: ...

    @overload
    async def upload(
        self,
        source: list[UploadSource] | tuple[UploadSource, ...],
        **options: Unpack[UploadArguments],
    ) -> BatchUploadResults: ...

    async def upload(
        self,
        source: UploadSource | list[UploadSource] | tuple[UploadSource, ...],
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
    ) -> UploadResult | BatchUploadResults:
        """Upload one file (a path, bytes or a binary file object) or a list of them.

        One file gives an ``UploadResult``, a list a ``BatchUploadResults``. With
        ``wait_for_descriptions`` the call returns once the descriptions are settled or
        ``description_timeout`` (default: the client's ``polling_timeout``) has passed,
        whichever comes first; results still pending then say so. With
        ``raise_on_failure`` a failed description raises ``DescriptionError``. Refusals
        of the upload itself raise the matching ``ScopixError`` for one file and appear
        as failed results in a list.

        The files go into the folder ``folder_id`` (and its project), or with only
        ``project_id`` to the top level of that project; an unknown folder or project is
        ``ResourceNotFoundError``, a folder of another project than ``project_id`` a
        ``ValidationError``.

        With ``custom_schema_id`` the server extracts that stored schema from each file
        once it is described (``client.extraction.get_result`` reads the record). Waiting
        for descriptions then waits for the extractions too, within the same
        ``description_timeout``, and a result's ``confidence_score`` is its extraction's
        (None while it is not done, or when it failed).

        A file over 100 MiB goes straight to storage in parts, a few at a time. An
        interrupted one resumes on the next call with the same file and options, sending
        only the parts still missing; ``on_progress`` then starts from the bytes the
        server holds already.
        """
        options = UploadOptions(
            title,
            tags,
            auto_describe,
            skip_duplicates,
            content_category,
            folder_id,
            project_id,
            custom_schema_id,
        )
        if isinstance(source, list | tuple):
            return await self.upload_batch(
                source,
                title=title,
                tags=tags,
                auto_describe=auto_describe,
                skip_duplicates=skip_duplicates,
                content_category=content_category,
                folder_id=folder_id,
                project_id=project_id,
                custom_schema_id=custom_schema_id,
                wait_for_descriptions=wait_for_descriptions,
                description_timeout=description_timeout,
                raise_on_failure=raise_on_failure,
                on_progress=on_progress,
            )
        result = await self._upload_one(source, options, on_progress)
        if wait_for_descriptions and auto_describe:
            result = await self._settled(result, description_timeout, custom_schema_id)
        if raise_on_failure and result.is_failed:
            BatchUploadResults([result]).raise_on_failures()
        return result

    async def upload_batch(
        self,
        sources: UploadSource | Iterable[UploadSource],
        *,
        recursive: bool = True,
        include_hidden: bool = False,
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
        raise_on_failure: bool = False,
        max_concurrency: int | None = None,
        on_progress: Callable[[UploadProgress], None] | None = None,
        on_file_complete: Callable[[UploadResult], None] | None = None,
        on_description_progress: Callable[[DescriptionProgress], None] | None = None,
    ) -> BatchUploadResults:
        """Upload up to 10,000 files: paths, folders (walked, ``recursive`` by default,
        keeping supported images, documents and videos and, unless ``include_hidden``,
        skipping dot-files), bytes or file objects.

        Files travel in requests of at most the tier's batch size (and 100 files or
        64 MiB), at most ``max_concurrency`` requests at once (default 4, never more than
        the tier's ``max_concurrent_uploads``); files over 100 MiB go one by one straight
        to storage, as with ``upload``. Results come back in the order given. Every file
        goes to ``folder_id`` and ``project_id``, and is extracted with
        ``custom_schema_id``, as with ``upload``.
        A file the server refuses is a failed result; a quota refusal stops the batch
        and raises ``QuotaExceededError`` whose ``partial_results`` holds the files stored
        (described, when waiting); a server that stays down or failing after the retries
        raises ``UploadError``, also with ``partial_results``.
        ``raise_on_failure`` raises ``DescriptionError`` if any result failed.
        Callbacks run as things happen (in the client's event loop thread for
        ``SyncScopix``): ``on_progress`` with bytes and files sent, ``on_file_complete``
        with each upload result, ``on_description_progress`` after each polling round.
        """
        items = [sources] if isinstance(sources, str | bytes | os.PathLike) else list(sources)
        chosen = collect(items, recursive=recursive, include_hidden=include_hidden)
        run = BatchRun(
            self._transport,
            chosen,
            UploadOptions(
                title,
                tags,
                auto_describe,
                skip_duplicates,
                content_category,
                folder_id,
                project_id,
                custom_schema_id,
            ),
            BatchCallbacks(on_progress, on_file_complete, on_description_progress),
        )
        waiting = wait_for_descriptions and auto_describe and bool(chosen)
        if chosen:
            quota = await self.check_quota(len(chosen))
            try:
                await run.upload(
                    max_files=min(quota.max_batch_size or 1, REQUEST_FILES),
                    concurrency=min(
                        quota.max_concurrent_uploads or 1, max_concurrency or DEFAULT_CONCURRENCY
                    ),
                )
            except QuotaExceededError as stop:  # what was stored is still described
                if waiting:
                    stop.partial_results = await self._waited(
                        run, description_timeout, custom_schema_id
                    )
                raise
        results = (
            await self._waited(run, description_timeout, custom_schema_id)
            if waiting
            else run.collected()
        )
        return results.raise_on_failures() if raise_on_failure else results

    async def add_link(
        self,
        url: str,
        *,
        title: str | None = None,
        tags: Sequence[str] | None = None,
        auto_describe: bool = True,
        skip_duplicates: bool = False,
        folder_id: str | None = None,
        project_id: str | None = None,
        custom_schema_id: str | None = None,
    ) -> UploadResult:
        """Save the web page at ``url``: the server fetches it in the background, keeps its
        main text, title, Open Graph card and images, and describes it like a document.

        The result comes at once (``media_type="link"``, ``status="processing"``); follow the
        fetch with ``get_processing_status`` (``crawl_status``) or ``wait_for_description``.
        With ``skip_duplicates`` a URL already saved (after normalization) gives that link
        back, ``deduplicated``. A URL the server will not fetch (not http or https, or an
        address inside its own network) raises ``ValidationError`` with code INVALID_URL
        or URL_REFUSED. The link goes to ``folder_id`` and ``project_id``, and is extracted
        with ``custom_schema_id`` once described, as an upload is.
        """
        body = _link_options(
            tags, auto_describe, skip_duplicates, folder_id, project_id, custom_schema_id
        )
        body["url"] = url
        if title is not None:
            body["title"] = title
        answer = await self._transport.json("POST", "files/links", body=body, write=True)
        return UploadResult.from_dict(answer)

    async def add_links(
        self,
        urls: Sequence[str],
        *,
        tags: Sequence[str] | None = None,
        auto_describe: bool = True,
        skip_duplicates: bool = False,
        folder_id: str | None = None,
        project_id: str | None = None,
        custom_schema_id: str | None = None,
    ) -> list[LinkResult]:
        """Save many web pages (sent 100 URLs per request); one ``LinkResult`` per URL, in
        the order given. A URL the server refuses is a result with its ``error_code``, not
        an exception; the others are saved as ``add_link`` saves one, into ``folder_id`` and
        ``project_id`` and extracted with ``custom_schema_id``."""
        options = _link_options(
            tags, auto_describe, skip_duplicates, folder_id, project_id, custom_schema_id
        )
        results: list[LinkResult] = []
        for start in range(0, len(urls), LINKS_PER_REQUEST):
            chunk = list(urls[start : start + LINKS_PER_REQUEST])
            answer = await self._transport.json(
                "POST", "files/links/batch", body={"urls": chunk, **options}, write=True
            )
            results += [LinkResult.from_dict(item) for item in answer.get("results") or []]
        return results

    async def recrawl(self, file_id: str) -> RecrawlResult:
        """Fetch a saved link's page again (its text, card, images and, when the page
        changed, its description follow). A ``ScopixError`` with code CONFLICT while a fetch
        is queued or running; ``WrongMediaTypeError`` for a file that is not a link."""
        answer = await self._transport.json("POST", f"files/{file_id}/recrawl", write=True)
        return RecrawlResult.from_dict(answer)

    async def check_quota(self, file_count: int = 1) -> QuotaInfo:
        """Whether ``file_count`` more descriptions fit, and the tier's batch limits."""
        answer = await self._transport.json(
            "GET", "uploads/quota-check", params={"file_count": file_count}
        )
        return QuotaInfo.from_dict(answer)

    async def list(
        self,
        *,
        limit: int = 20,
        offset: int = 0,
        search: str | None = None,
        search_mode: str | None = None,
        tags: Sequence[str] | None = None,
        media_types: Sequence[str] | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        has_description: bool | None = None,
        ids: Sequence[str] | None = None,
        sort_by: SortField | None = None,
        sort_order: Literal["asc", "desc"] = "desc",
        folder_id: str | None = None,
        include_subfolders: bool = False,
        project_id: str | None = None,
    ) -> FileList:
        """One page of files (``limit`` 1-100), filtered and sorted on the server.

        ``search_mode``: ``metadata``, ``visible_text`` (ranked full text), ``semantic`` (by
        meaning, in any language) or ``all`` (both rankings fused, the default). Without
        ``sort_by``, a search comes best match first and a listing newest first.
        ``folder_id`` keeps the files directly in that folder (with ``include_subfolders``,
        in any folder below it too), ``project_id`` those of that project.
        """
        params = {
            "limit": limit,
            "offset": offset,
            "search": search,
            "search_mode": search_mode,
            "tags": list(tags) if tags else None,
            "media_types": list(media_types) if media_types else None,
            "date_from": date_from,
            "date_to": date_to,
            "has_description": has_description,
            "ids": list(ids) if ids else None,
            "sort_by": sort_by,
            "sort_order": sort_order,
            "folder_id": folder_id,
            "include_subfolders": include_subfolders or None,
            "project_id": project_id,
        }
        return FileList.from_dict(await self._transport.json("GET", "files", params=params))

    async def list_all(self, **filters: Any) -> AsyncIterator[FileDetails]:
        """Every matching file, fetched page by page (``filters`` as for ``list``)."""
        filters.pop("offset", None)
        filters.setdefault("limit", _PAGE)
        offset = 0
        while True:
            page = await self.list(offset=offset, **filters)
            for item in page.items:
                yield item
            if not page.has_more or not page.items:
                return
            offset += len(page.items)

    async def similar(self, image_id: str, *, limit: int = 10) -> FileList:
        """The files whose images look most like this one's, most alike first (``limit``
        1-100); a ``ScopixError`` with code CONFLICT while the file is not described yet."""
        answer = await self._transport.json(
            "GET", f"files/{image_id}/similar", params={"limit": limit}
        )
        return FileList.from_dict(answer)

    async def get(self, image_id: str) -> FileDetails:
        """A file's details: description, tags, text, regions, variants and history."""
        return FileDetails.from_dict(await self._transport.json("GET", f"files/{image_id}"))

    async def update(
        self,
        image_id: str,
        *,
        title: str | _Unset | None = UNSET,
        tags: Sequence[str] | None = None,
        folder_id: str | _Unset | None = UNSET,
        project_id: str | _Unset | None = UNSET,
    ) -> FileDetails:
        """Change the title (None clears it) and/or replace the user tags, and/or move the
        file: into the folder ``folder_id`` (None: out of any folder, to the top level of
        its project) and to the project ``project_id`` (None: out of any project). What is
        not given stays as it is; see ``client.folders.move_files`` for many files."""
        body: dict[str, Any] = {}
        if not isinstance(title, _Unset):
            body["title"] = title
        if tags is not None:
            body["tags"] = list(tags)
        if not isinstance(folder_id, _Unset):
            body["folder_id"] = folder_id
        if not isinstance(project_id, _Unset):
            body["project_id"] = project_id
        answer = await self._transport.json("PATCH", f"files/{image_id}", body=body, write=True)
        return FileDetails.from_dict(answer)

    async def delete(self, image_id: str) -> None:
        """Soft-delete a file; it can be restored for 30 days."""
        await self._transport.send("DELETE", f"files/{image_id}", write=True)

    async def batch_delete(self, image_ids: Sequence[str]) -> BatchDeleteResult:
        """Soft-delete many files (sent 100 per request)."""
        result = BatchDeleteResult()
        for start in range(0, len(image_ids), BATCH_DELETE_IDS):
            chunk = list(image_ids[start : start + BATCH_DELETE_IDS])
            answer = await self._transport.json(
                "POST", "files/batch-delete", body={"file_ids": chunk}, write=True
            )
            result = result.merged(BatchDeleteResult.from_dict(answer))
        return result

    async def get_variant(self, image_id: str, variant: Variant = "small_256") -> bytes:
        """The bytes of a variant (WebP) or of the ``original``."""
        response = await self._transport.send("GET", f"files/{image_id}/variant/{variant}")
        return response.content

    @overload
    async def download(self, image_id: str, path: None = None) -> bytes: ...

    @overload
    async def download(self, image_id: str, path: str | os.PathLike[str]) -> Path: ...

    async def download(
        self, image_id: str, path: str | os.PathLike[str] | None = None
    ) -> bytes | Path:
        """The original bytes; with ``path`` they are streamed to that file (written under a
        temporary name and renamed, so a failed download never leaves a partial file)."""
        if path is None:
            return (await self._transport.send("GET", f"files/{image_id}/download")).content
        target = Path(path)
        response = await self._transport.send("GET", f"files/{image_id}/download", stream=True)
        try:
            await _stream_to(response.aiter_bytes(), target)
        finally:
            await response.aclose()
        return target

    async def get_processing_status(self, image_id: str) -> ProcessingStatus:
        """Upload, variant and description state, attempts and the last error."""
        answer = await self._transport.json("GET", f"files/{image_id}/status")
        return ProcessingStatus.from_dict(answer)

    async def describe(self, image_id: str) -> ProcessingStatus:
        """Queue a new description attempt (a ``ScopixError`` with code CONFLICT while one is
        already queued or running); follow it with ``wait_for_description``."""
        answer = await self._transport.json("POST", f"files/{image_id}/describe", write=True)
        return ProcessingStatus.from_dict(answer)

    async def get_text(self, file_id: str) -> DocumentText:
        """A document's extracted text, whole and page by page.

        Raises ``WrongMediaTypeError`` for a file that is not a document, and a
        ``ScopixError`` with code CONFLICT while its text is still being extracted or when
        extraction failed (``details["text_extraction_status"]`` says which, and a failure
        also names its ``text_extraction_error_type``).
        """
        return DocumentText.from_dict(await self._transport.json("GET", f"files/{file_id}/text"))

    async def list_chunks(self, file_id: str, *, limit: int = 20, offset: int = 0) -> ChunkList:
        """One page of a document's chunks (``limit`` 1-100), in reading order: passages
        of a few hundred words, each with the pages it came from. ``WrongMediaTypeError``
        for a file that is not a document."""
        answer = await self._transport.json(
            "GET", f"files/{file_id}/chunks", params={"limit": limit, "offset": offset}
        )
        return ChunkList.from_dict(answer)

    async def iter_chunks(self, file_id: str) -> AsyncIterator[DocumentChunk]:
        """Every chunk of a document in order, fetched page by page."""
        offset = 0
        while True:
            page = await self.list_chunks(file_id, limit=_PAGE, offset=offset)
            for chunk in page.items:
                yield chunk
            if not page.has_more or not page.items:
                return
            offset += len(page.items)

    async def get_scenes(self, file_id: str) -> SceneList:
        """A video's scenes in order: start and end in seconds, a thumbnail URL, and once
        described what each shows (description, tags, visible text).

        Raises ``WrongMediaTypeError`` for a file that is not a video, and a
        ``ScopixError`` with code CONFLICT while its scenes are still being found or when
        that failed (``details["video_analysis_status"]`` says which).
        """
        return SceneList.from_dict(await self._transport.json("GET", f"files/{file_id}/scenes"))

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
        """Pull a structured record out of a file with a stored or an inline schema; see
        ``client.extraction.extract``."""
        return await self._extraction.extract(
            file_id, schema_id=schema_id, schema=schema, prompt=prompt, wait=wait, timeout=timeout
        )

    async def wait_for_description(
        self,
        image_id: str,
        timeout: float | None = None,  # noqa: ASYNC109 - the SDK's documented signature
    ) -> UploadResult:
        """Poll until the description is settled (and a document's text extracted, a video's
        scenes found, a link's page fetched) and return the file as an ``UploadResult``.

        Raises ``ScopixTimeoutError`` after ``timeout`` seconds (default: the client's
        ``polling_timeout``). A failed description is returned, not raised: check
        ``is_failed``.
        """
        limit = self._timeout(timeout)
        settled = await self._poll(image_id, limit)
        if settled is not None:
            return settled
        raise ScopixTimeoutError(
            f"the description of {image_id} was not ready after {limit:g} s",
            details={"image_id": image_id},
        )

    async def _upload_one(
        self,
        source: UploadSource,
        options: UploadOptions,
        on_progress: Callable[[UploadProgress], None] | None,
    ) -> UploadResult:
        chosen = one(source)
        sent = 0

        def on_bytes(count: int) -> None:
            nonlocal sent
            sent += count
            if on_progress is not None:
                on_progress(UploadProgress(0, 1, sent, chosen.size))

        if goes_direct(chosen.size):
            result = await direct_upload(self._transport, chosen, options, on_bytes)
        else:
            body = Multipart(options.fields(), file_parts("file", [chosen], on_bytes))
            answer = await self._transport.json("POST", "files/upload", multipart=body, write=True)
            result = UploadResult.from_dict(answer)
        if on_progress is not None:
            on_progress(UploadProgress(1, 1, sent, chosen.size))
        return result

    async def _settled(
        self, uploaded: UploadResult, limit: float | None, schema_id: str | None
    ) -> UploadResult:
        """The upload's result once its description (and its extraction with ``schema_id``)
        settles, or as it is when time is up."""
        seconds = self._timeout(limit)
        deadline = anyio.current_time() + seconds
        if uploaded.is_pending:
            waited = await self._poll(uploaded.image_id, seconds)
            if waited is None:
                return uploaded
            uploaded = dataclasses.replace(waited, deduplicated=uploaded.deduplicated)
        return await self._extracted(uploaded, schema_id, deadline)

    async def _waited(
        self, run: BatchRun, limit: float | None, schema_id: str | None
    ) -> BatchUploadResults:
        """A batch's results once their descriptions (and extractions with ``schema_id``)
        settle, or as they are when time is up."""
        seconds = self._timeout(limit)
        deadline = anyio.current_time() + seconds
        await run.wait_for_descriptions(seconds)
        results = run.collected()
        if schema_id is None:
            return results
        return BatchUploadResults([await self._extracted(r, schema_id, deadline) for r in results])

    async def _extracted(
        self, result: UploadResult, schema_id: str | None, deadline: float
    ) -> UploadResult:
        """``result`` with the confidence of its extraction with ``schema_id`` (None until
        that is done, or when it failed), waiting for it until ``deadline`` (on anyio's
        clock). The server reads the fields after the description, from what it found:
        after any other outcome the extraction fails without a record, so only a completed
        description is worth waiting for."""
        if schema_id is None:
            return result
        score = None
        if result.is_completed:
            with contextlib.suppress(ScopixTimeoutError):
                extraction = await self._extraction.wait_for_result(
                    result.image_id, schema_id, timeout=deadline - anyio.current_time()
                )
                score = extraction.confidence_score
        return dataclasses.replace(result, confidence_score=score)

    async def _poll(self, image_id: str, limit: float) -> UploadResult | None:
        """The file once its description settles, a document's text is extracted, a
        video's scenes found and a link's page fetched (so ``get_text`` and ``get_scenes``
        work at once); None when ``limit`` seconds pass first."""
        status = await poll(
            lambda: self.get_processing_status(image_id),
            _settled,
            interval=self._options.polling_interval,
            limit=limit,
        )
        return None if status is None else (await self.get(image_id)).to_upload_result()

    def _timeout(self, timeout: float | None) -> float:
        return float(self._options.polling_timeout if timeout is None else timeout)


def _settled(status: ProcessingStatus) -> bool:
    return (
        status.is_description_final
        and status.is_extraction_final
        and status.is_video_analysis_final
        and status.is_crawl_final
    )


def _link_options(
    tags: Sequence[str] | None,
    auto_describe: bool,
    skip_duplicates: bool,
    folder_id: str | None,
    project_id: str | None,
    custom_schema_id: str | None,
) -> dict[str, Any]:
    """The JSON fields a link request shares with a batch of links; the folder, project and
    schema only where given, so a server without them takes the request too."""
    body: dict[str, Any] = {"auto_describe": auto_describe, "skip_duplicates": skip_duplicates}
    if tags:
        body["tags"] = list(tags)
    optional = {
        "folder_id": folder_id,
        "project_id": project_id,
        "custom_schema_id": custom_schema_id,
    }
    return body | {name: value for name, value in optional.items() if value is not None}


async def _stream_to(chunks: AsyncIterator[bytes], target: Path) -> None:
    """Write ``chunks`` to a temporary file beside ``target``, then rename it into place."""
    temporary = anyio.Path(target.with_name(f".{target.name}.{uuid.uuid4().hex}.part"))
    try:
        async with await anyio.open_file(temporary, "wb") as out:
            async for chunk in chunks:
                await out.write(chunk)
        await temporary.replace(target)
    except BaseException:
        await temporary.unlink(missing_ok=True)
        raise
