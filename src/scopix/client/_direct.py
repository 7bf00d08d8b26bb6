"""Direct uploads: a file over ``STREAMING_LIMIT`` goes to storage in parts.

The file is hashed, an upload is started, the parts still missing are PUT to their signed
URLs a few at a time, and the upload is completed. Nothing is kept locally: a client that
was killed and calls again with the same file gets the same upload back from the server
(it matches SHA-256, size and options) and sends only what is missing. So a cancelled
upload is left in place, for the next call to resume.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any

import anyio
import anyio.from_thread
import anyio.to_thread
import httpx

from scopix._retry_after import retry_after_of
from scopix.client._forms import UploadOptions
from scopix.client._retry import backoff_delay, should_retry
from scopix.client._sources import Source
from scopix.client._transport import Transport
from scopix.errors import (
    ScopixConnectionError,
    ScopixError,
    ScopixTimeoutError,
    ValidationError,
    error_from_response,
)
from scopix.types.upload import UploadResult

log = logging.getLogger("scopix.client")

#: Sources larger than this go direct: the streaming routes take files up to this size.
STREAMING_LIMIT = 100 * 1024 * 1024
#: Parts in flight at once, per file.
PART_CONCURRENCY = 4
#: Bytes read and handed to the socket at a time, so memory stays flat whatever the part size.
CHUNK = 1 << 20

_XML_FIELD = re.compile(rb"<(Code|Message)>([^<]*)</\1>")
_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def goes_direct(size: int) -> bool:
    """Whether a file of ``size`` bytes is too large for the streaming routes."""
    return size > STREAMING_LIMIT


@dataclass(frozen=True)
class PartPlan:
    """How the server cut the file: parts of ``part_size`` bytes, the last one shorter."""

    size: int
    part_size: int

    @property
    def count(self) -> int:
        return math.ceil(self.size / self.part_size)

    def span(self, number: int) -> tuple[int, int]:
        """(offset, length) of part ``number``, counted from 1."""
        offset = (number - 1) * self.part_size
        return offset, min(self.part_size, self.size - offset)

    def missing(self, received: Iterable[int]) -> list[int]:
        """The part numbers not in ``received``, in order."""
        have = set(received)
        return [n for n in range(1, self.count + 1) if n not in have]

    def received_bytes(self, received: Iterable[int]) -> int:
        """How many of the file's bytes the ``received`` parts hold."""
        return self.size - sum(self.span(n)[1] for n in self.missing(received))


@dataclass(frozen=True)
class PartUrl:
    """Where to PUT one part."""

    number: int
    url: str


@dataclass(frozen=True)
class DirectUpload:
    """The server's view of a direct upload (its ``DirectUploadOut``)."""

    upload_id: str | None
    plan: PartPlan
    received: frozenset[int]
    part_urls: tuple[PartUrl, ...]
    next_part: int | None
    deduplicated: bool
    result: UploadResult | None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DirectUpload:
        size = int(data["size_bytes"])
        result = data.get("result")
        return cls(
            upload_id=data.get("upload_id"),
            plan=PartPlan(size, int(data.get("part_size") or size)),
            received=frozenset(int(p["part_number"]) for p in data.get("parts") or []),
            part_urls=tuple(
                PartUrl(int(u["part_number"]), str(u["url"])) for u in data.get("part_urls") or []
            ),
            next_part=data.get("next_part"),
            deduplicated=bool(data.get("deduplicated")),
            result=UploadResult.from_dict(result) if result else None,
        )

    @property
    def held_bytes(self) -> int:
        """Bytes the server holds already: all of them when it deduplicated the file."""
        return self.plan.size if self.deduplicated else self.plan.received_bytes(self.received)


class PartProgress:
    """Bytes the server has of one file: what it held at the start, plus what each part's
    current attempt has streamed. Each method returns the change, for ``on_bytes``."""

    def __init__(self, held: int = 0) -> None:
        self.sent = held
        self._parts: dict[int, int] = {}

    def advance(self, number: int, count: int) -> int:
        self._parts[number] = self._parts.get(number, 0) + count
        self.sent += count
        return count

    def restart(self, number: int) -> int:
        """A failed attempt: the part's bytes count again from zero."""
        taken = self._parts.pop(number, 0)
        self.sent -= taken
        return -taken


@dataclass(frozen=True)
class PartFailure:
    """A part attempt that failed: the error, whether a later attempt may succeed, and
    whether the URL may have expired (a fresh one may work)."""

    error: ScopixError
    retryable: bool
    expired: bool = False
    retry_after: float | None = None


def part_failure(status: int, headers: Mapping[str, str], body: bytes) -> PartFailure:
    """What a storage error answer means: S3 XML or the Scopix envelope alike."""
    lowered = {k.lower(): v for k, v in headers.items()}
    retry_after = retry_after_of(lowered)
    request_id = lowered.get("x-request-id") or lowered.get("x-amz-request-id")
    error = error_from_response(status, error_body(body), request_id, retry_after)
    return PartFailure(error, should_retry(status, lowered), status == 403, retry_after)


def error_body(body: bytes) -> Any:
    """The JSON envelope as it is; an S3 XML error turned into one (``NoSuchUpload`` becomes
    the code NO_SUCH_UPLOAD); any other body as text."""
    try:
        return json.loads(body)
    except ValueError:
        pass
    fields = {m[1].decode(): m[2].decode("utf-8", "replace") for m in _XML_FIELD.finditer(body)}
    if "Code" not in fields:
        return body.decode("utf-8", "replace")
    code = fields["Code"]
    return {
        "error": {
            "code": _WORD_START.sub("_", code).upper(),
            "message": fields.get("Message") or code,
            "details": {"storage_code": code},
        }
    }


def start_body(source: Source, sha256: str, options: UploadOptions) -> dict[str, Any]:
    """The JSON that starts (or resumes) a direct upload."""
    body: dict[str, Any] = {
        "filename": source.filename,
        "size_bytes": source.size,
        "sha256": sha256,
        "auto_describe": options.auto_describe,
        "skip_duplicates": options.skip_duplicates,
        "content_category": options.content_category,
    }
    if options.title is not None:
        body["title"] = options.title
    if options.tags:
        body["tags"] = list(options.tags)
    return body | options.optional_fields()


async def direct_upload(
    transport: Transport,
    source: Source,
    options: UploadOptions,
    on_bytes: Callable[[int], None] | None = None,
    max_concurrency: int | None = None,
) -> UploadResult:
    """Upload ``source`` through a direct upload, resuming one the server holds for it.

    ``on_bytes`` hears every change of the bytes the server has (a retried part takes its
    bytes back). At most ``max_concurrency`` (default ``PART_CONCURRENCY``) parts are in
    flight. Cancelling leaves the upload on the server for a later call to resume.
    """
    with _RangeReader(source) as reader:
        sha256 = await anyio.to_thread.run_sync(reader.sha256)
        answer = await transport.json(
            "POST", "files/direct-uploads", body=start_body(source, sha256, options), write=True
        )
        upload = DirectUpload.from_dict(answer)
        if on_bytes is not None and upload.held_bytes:
            on_bytes(upload.held_bytes)
        if upload.deduplicated and upload.result is not None:
            return upload.result
        sender = _PartSender(
            transport, reader, upload, on_bytes, max_concurrency or PART_CONCURRENCY
        )
        await sender.send_missing()
    answer = await transport.json(
        "POST",
        f"files/direct-uploads/{upload.upload_id}/complete",
        body={"sha256": sha256},
        write=True,
    )
    return UploadResult.from_dict(answer)


async def fetch_upload(
    transport: Transport, upload_id: str | None, first_part: int
) -> DirectUpload:
    """The upload as the server sees it now, with fresh URLs for missing parts from
    ``first_part`` on."""
    answer = await transport.json(
        "GET", f"files/direct-uploads/{upload_id}", params={"first_part": first_part}
    )
    return DirectUpload.from_dict(answer)


class _PartSender:
    """PUTs the missing parts of one upload, ``max_concurrency`` at a time."""

    def __init__(
        self,
        transport: Transport,
        reader: _RangeReader,
        upload: DirectUpload,
        on_bytes: Callable[[int], None] | None,
        max_concurrency: int,
    ) -> None:
        self._transport = transport
        # the caller's client, so its transport, proxy and certificates reach storage too
        self._http: httpx.AsyncClient = transport.http
        self._reader = reader
        self._upload = upload
        self._on_bytes = on_bytes
        self._concurrency = max(1, max_concurrency)
        self._progress = PartProgress(upload.held_bytes)

    async def send_missing(self) -> None:
        """Send every missing part, asking for more URLs while the server has more."""
        page = self._upload
        while True:
            await self._send_all(page.part_urls)
            if page.next_part is None:
                return
            page = await fetch_upload(self._transport, self._upload.upload_id, page.next_part)

    async def _send_all(self, parts: Sequence[PartUrl]) -> None:
        """Send ``parts``; the first failure stops the others and is raised."""
        pending = iter(parts)
        failed: list[Exception] = []
        async with anyio.create_task_group() as tasks:
            for _ in range(self._concurrency):
                tasks.start_soon(self._drain, pending, failed, tasks.cancel_scope)
        if failed:
            raise failed[0]

    async def _drain(
        self, pending: Iterator[PartUrl], failed: list[Exception], scope: anyio.CancelScope
    ) -> None:
        try:
            for part in pending:
                await self._send_part(part)
        except (ScopixError, OSError) as exc:
            failed.append(exc)
            scope.cancel()

    async def _send_part(self, part: PartUrl) -> None:
        """PUT one part, retrying what a retry can fix; a 403 gets a fresh URL once."""
        options = self._transport.options
        url: str | None = part.url
        attempt, refreshed = 0, False
        while url is not None and (failure := await self._put(part.number, url)):
            self._report(self._progress.restart(part.number))
            if failure.expired and not refreshed:
                url, refreshed = await self._fresh_url(part.number), True
                continue
            if attempt >= options.max_retries or not failure.retryable:
                raise failure.error
            delay = backoff_delay(attempt, options.retry_delay, failure.retry_after)
            log.info(
                "part %d: %s; retry %d in %.1fs", part.number, failure.error, attempt + 1, delay
            )
            await anyio.sleep(delay)
            attempt, refreshed = attempt + 1, False

    async def _put(self, number: int, url: str) -> PartFailure | None:
        """One attempt at a part: None when storage took it."""
        offset, length = self._upload.plan.span(number)
        request = self._http.build_request(
            "PUT",
            url,
            content=self._chunks(number, offset, length),
            headers={"Content-Length": str(length)},
        )
        # the URL carries its own signature: storage refuses a second credential
        request.headers.pop("Authorization", None)
        try:
            response = await self._http.send(request, auth=None)
        except httpx.TimeoutException as exc:
            return PartFailure(ScopixTimeoutError(f"part {number} timed out: {exc!r}"), True)
        except httpx.TransportError as exc:
            return PartFailure(ScopixConnectionError(f"part {number} was cut: {exc!r}"), True)
        if response.is_success:
            return None
        return part_failure(response.status_code, response.headers, response.content)

    async def _chunks(self, number: int, offset: int, length: int) -> AsyncIterator[bytes]:
        done = 0
        while done < length:
            data = await self._reader.read(offset + done, min(CHUNK, length - done))
            done += len(data)
            self._report(self._progress.advance(number, len(data)))
            yield data

    async def _fresh_url(self, number: int) -> str | None:
        """A new URL for part ``number``; None when the server holds the part already."""
        page = await fetch_upload(self._transport, self._upload.upload_id, number)
        return next((p.url for p in page.part_urls if p.number == number), None)

    def _report(self, change: int) -> None:
        if change and self._on_bytes is not None:
            self._on_bytes(change)


class _RangeReader:
    """Reads byte ranges of a source for several part tasks through one handle, one read at
    a time (a caller's file object has only one position)."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._lock = anyio.Lock()
        self._handle: IO[bytes] | None = None
        self._base = 0

    def __enter__(self) -> _RangeReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._handle is not None and self._source.owns_handle:
            self._handle.close()

    def sha256(self) -> str:
        """The source's SHA-256, read in chunks; run it in a worker thread (it stops when the
        task waiting for it is cancelled)."""
        digest = hashlib.sha256()
        for offset in range(0, self._source.size, 4 * CHUNK):
            anyio.from_thread.check_cancelled()
            digest.update(self._read(offset, min(4 * CHUNK, self._source.size - offset)))
        return digest.hexdigest()

    async def read(self, offset: int, size: int) -> bytes:
        async with self._lock:
            return await anyio.to_thread.run_sync(self._read, offset, size)

    def _read(self, offset: int, size: int) -> bytes:
        if self._handle is None:
            self._handle = self._source.open()
            self._base = self._handle.tell()
        self._handle.seek(self._base + offset)
        data = self._handle.read(size)
        if len(data) == size:  # the usual case: the bytes as read, no copy to join them
            return data
        pieces, got = [data], len(data)
        while got < size:  # a raw file object may return less than asked
            more = self._handle.read(size - got)
            if not more:
                raise ValidationError(
                    f"{self._source.filename} is shorter than the {self._source.size:,} bytes "
                    "it had when the upload began",
                    code="FILE_CHANGED",
                )
            pieces.append(more)
            got += len(more)
        return b"".join(pieces)
