"""Batch uploads: files split into requests, sent a few at a time, then watched to the end."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from scopix.client._direct import direct_upload, goes_direct
from scopix.client._forms import UploadOptions, batch_item_result, refused_result
from scopix.client._sources import Source, file_parts
from scopix.client._transport import Multipart, Transport
from scopix.errors import (
    QuotaExceededError,
    ScopixConnectionError,
    ScopixError,
    ScopixTimeoutError,
    ServerError,
    UploadError,
    ValidationError,
)
from scopix.types.events import DescriptionProgress, UploadProgress
from scopix.types.files import FileDetails
from scopix.types.upload import BatchUploadResults, UploadResult

#: Files and bytes per request, below the tier's own limits: a retried request resends
#: little, and results and progress arrive often.
REQUEST_FILES = 100
REQUEST_BYTES = 64 << 20
#: Requests in flight when the caller does not say; the tier may allow more.
DEFAULT_CONCURRENCY = 4
#: Failures that stop a batch: the quota is used up, or the server stays down or failing.
_STOPPING = (QuotaExceededError, ServerError, ScopixConnectionError, ScopixTimeoutError)


def plan_requests(sizes: Sequence[int], max_files: int, max_bytes: int) -> list[list[int]]:
    """Split positions 0..n-1 into consecutive groups of at most ``max_files`` files and
    ``max_bytes`` bytes; a file larger than ``max_bytes`` travels alone."""
    groups: list[list[int]] = []
    current: list[int] = []
    current_bytes = 0
    for position, size in enumerate(sizes):
        if current and (len(current) >= max_files or current_bytes + size > max_bytes):
            groups.append(current)
            current, current_bytes = [], 0
        current.append(position)
        current_bytes += size
    if current:
        groups.append(current)
    return groups


@dataclass(frozen=True)
class BatchCallbacks:
    """What a batch reports as it goes; each may be None."""

    on_progress: Callable[[UploadProgress], None] | None = None
    on_file_complete: Callable[[UploadResult], None] | None = None
    on_description_progress: Callable[[DescriptionProgress], None] | None = None


@dataclass
class _Request:
    positions: list[int]
    session_id: str | None = None
    image_id: str | None = None  # a file sent direct: it has no session, so it is followed alone


def _refused_for_quota(item: Mapping[str, Any]) -> bool:
    """A file refused because batches racing each other used up the quota first: not done,
    so it is left out of the results like the files never sent."""
    error = item.get("error") or {}
    return error.get("code") == QuotaExceededError.default_code


def _quota_error(error: Mapping[str, Any]) -> QuotaExceededError:
    return QuotaExceededError(
        str(error.get("message") or "quota exceeded"), details=error.get("details") or {}
    )


class BatchRun:
    """One ``upload_batch`` call: upload every request, then optionally wait for descriptions.

    A quota refusal (of a request, or of files in it) stops new requests; those in
    flight finish, and the run raises QuotaExceededError carrying every file stored. So
    does a request that still fails after the transport's retries (server down or
    failing), as UploadError. A request the server refuses as invalid as a whole (too
    large, say) marks its files
    failed and the run goes on.
    """

    def __init__(
        self,
        transport: Transport,
        sources: Sequence[Source],
        options: UploadOptions,
        callbacks: BatchCallbacks,
    ) -> None:
        self.transport = transport
        self.sources = sources
        self.options = options
        self.callbacks = callbacks
        self.results: dict[int, UploadResult] = {}
        self.requests: list[_Request] = []
        self._bytes_total = sum(s.size for s in sources)
        self._bytes_sent = 0
        self._stop: ScopixError | None = None

    async def upload(self, max_files: int, concurrency: int) -> None:
        """Send every file, at most ``concurrency`` requests at a time."""
        streamed = [p for p, s in enumerate(self.sources) if not goes_direct(s.size)]
        direct = [p for p, s in enumerate(self.sources) if goes_direct(s.size)]
        sizes = [self.sources[p].size for p in streamed]
        groups = plan_requests(sizes, max_files, REQUEST_BYTES)
        self.requests = [_Request([streamed[i] for i in g]) for g in groups]
        slots = anyio.Semaphore(max(1, concurrency))
        async with anyio.create_task_group() as tasks:
            for request in self.requests:
                tasks.start_soon(self._send, request, slots)
            tasks.start_soon(self._send_direct, direct, slots)
        if self._stop is not None:
            raise self._stopped(self._stop) from self._stop

    async def wait_for_descriptions(self, limit: float) -> None:
        """Poll each request's session until no description is pending or ``limit`` seconds
        have passed."""
        interval = self.transport.options.polling_interval
        with anyio.move_on_after(limit):
            while True:
                waiting = [r for r in self.requests if self._pending_in(r)]
                for request in waiting:
                    await self._refresh(request)
                self._report_descriptions()
                if not any(self._pending_in(r) for r in waiting):
                    return
                await anyio.sleep(interval)

    def _stopped(self, cause: ScopixError) -> ScopixError:
        kind = QuotaExceededError if isinstance(cause, QuotaExceededError) else UploadError
        return kind(
            f"{cause.message}; {len(self.results)} of {len(self.sources)} files were handled",
            code=cause.code,
            details=cause.details,
            status_code=cause.status_code,
            request_id=cause.request_id,
            partial_results=self.collected(),
        )

    def collected(self) -> BatchUploadResults:
        """The results so far, in the order the files were given."""
        return BatchUploadResults(self.results[p] for p in sorted(self.results))

    async def _send(self, request: _Request, slots: anyio.Semaphore) -> None:
        async with slots:
            if self._stop is not None:
                return
            chosen = [self.sources[p] for p in request.positions]
            body = Multipart(self.options.fields(), file_parts("files", chosen, self._on_bytes))
            try:
                answer = await self.transport.json(
                    "POST", "files/upload/batch", multipart=body, write=True
                )
            except _STOPPING as exc:
                self._stop = self._stop or exc
                return
            except ValidationError as exc:
                for position in request.positions:
                    self._refuse(position, exc)
                return
        request.session_id = answer.get("session_id")
        for item in answer.get("results") or []:
            if _refused_for_quota(item):
                self._stop = self._stop or _quota_error(item["error"])
                continue
            self._record(request.positions[int(item["position"])], batch_item_result(item))

    async def _send_direct(self, positions: Sequence[int], slots: anyio.Semaphore) -> None:
        """Send large files one after another, each through a direct upload."""
        for position in positions:
            async with slots:
                if self._stop is not None:
                    return
                try:
                    result = await direct_upload(
                        self.transport, self.sources[position], self.options, self._on_bytes
                    )
                except _STOPPING as exc:
                    self._stop = self._stop or exc
                    return
                except ScopixError as exc:  # this file's upload expired, or was refused
                    self._refuse(position, exc)
                    continue
            self.requests.append(_Request([position], image_id=result.image_id))
            self._record(position, result)

    def _refuse(self, position: int, exc: ScopixError) -> None:
        source = self.sources[position]
        self._record(position, refused_result(source.filename, exc.code, {"message": exc.message}))

    def _record(self, position: int, result: UploadResult) -> None:
        self.results[position] = result
        if self.callbacks.on_file_complete is not None:
            self.callbacks.on_file_complete(result)
        self._report_bytes()

    def _on_bytes(self, count: int) -> None:
        self._bytes_sent += count
        self._report_bytes()

    def _report_bytes(self) -> None:
        if self.callbacks.on_progress is not None:
            self.callbacks.on_progress(
                UploadProgress(
                    len(self.results), len(self.sources), self._bytes_sent, self._bytes_total
                )
            )

    def _pending_in(self, request: _Request) -> bool:
        followed = request.session_id is not None or request.image_id is not None
        return followed and any(
            self.results[p].is_pending for p in request.positions if p in self.results
        )

    async def _refresh(self, request: _Request) -> None:
        if request.image_id is not None:
            details = await self.transport.json("GET", f"files/{request.image_id}")
            self._update(request.positions[0], FileDetails.from_dict(details).to_upload_result())
            return
        answer = await self.transport.json("GET", f"uploads/sessions/{request.session_id}/results")
        for item in answer.get("results") or []:
            if item.get("result"):
                self._update(request.positions[int(item["position"])], batch_item_result(item))

    def _update(self, position: int, fresh: UploadResult) -> None:
        """Take a newer result, keeping whether the upload was deduplicated when the newer
        one does not say."""
        before = self.results[position]
        known = before.deduplicated if fresh.deduplicated is None else fresh.deduplicated
        self.results[position] = dataclasses.replace(fresh, deduplicated=known)

    def _report_descriptions(self) -> None:
        if self.callbacks.on_description_progress is None:
            return
        done = self.collected()
        self.callbacks.on_description_progress(
            DescriptionProgress(
                completed=done.succeeded_count,
                failed=done.failed_count,
                pending=done.pending_count,
                total=len(done),
            )
        )
