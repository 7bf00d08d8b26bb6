"""The one place requests are sent: authentication, retries, idempotency keys, errors."""

from __future__ import annotations

import logging
import platform
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, TypedDict, Unpack

import anyio
import httpx

from scopix import __version__
from scopix._retry_after import retry_after_of
from scopix.client._options import ClientOptions
from scopix.client._retry import backoff_delay, should_retry
from scopix.errors import (
    ScopixConnectionError,
    ScopixError,
    ScopixTimeoutError,
    error_from_response,
)

log = logging.getLogger("scopix.client")

USER_AGENT = (
    f"scopix-python/{__version__} httpx/{httpx.__version__} "
    f"{platform.python_implementation()}/{platform.python_version()}"
)

FilePart = tuple[str, tuple[str, IO[bytes], str]]


@dataclass(frozen=True)
class Multipart:
    """A multipart/form-data body: text fields and file parts (seekable, re-read on retry)."""

    fields: Mapping[str, str] = field(default_factory=dict)
    files: Sequence[FilePart] = ()


@dataclass(frozen=True)
class _Failure:
    """An attempt that failed: the error to raise, or to retry after a wait."""

    error: ScopixError
    retryable: bool
    retry_after: float | None = None


class RequestParts(TypedDict, total=False):
    """What a request may carry besides its method and path."""

    params: Mapping[str, Any] | None
    body: Any
    multipart: Multipart | None
    write: bool


class Transport:
    """Sends requests with the client's key, retrying what a retry can fix.

    Every write gets one ``Idempotency-Key`` (and a multipart body one fixed boundary),
    reused on each retry, so the server can tell a retry from a new request and answer
    it from the first attempt's work.
    """

    def __init__(self, options: ClientOptions, http: httpx.AsyncClient | None = None) -> None:
        self.options = options
        self._http = http or httpx.AsyncClient(
            base_url=options.base_url,
            timeout=httpx.Timeout(options.timeout, connect=min(options.timeout, 30.0)),
            proxy=options.proxy_url,
            follow_redirects=True,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    @property
    def http(self) -> httpx.AsyncClient:
        """The underlying client, for requests that are not to the Scopix API (signed part
        URLs): same proxy, certificates and connection pool."""
        return self._http

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def json(self, method: str, path: str, **request: Unpack[RequestParts]) -> Any:
        """Send a request (see ``send``) and return its JSON answer (None for an empty one)."""
        response = await self.send(method, path, **request)
        return response.json() if response.content else None

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        multipart: Multipart | None = None,
        write: bool = False,
        stream: bool = False,
    ) -> httpx.Response:
        """Send with retries; a failure after the last attempt raises a ScopixError.

        With ``stream`` the answer's body is left unread: the caller must close it.
        """
        headers = self._headers(write=write, multipart=multipart is not None)
        attempt = 0
        while True:
            request = self._http.build_request(
                method,
                path,
                params=_query(params),
                json=body,
                data=dict(multipart.fields) if multipart else None,
                files=list(multipart.files) if multipart and multipart.files else None,
                headers=headers,
            )
            outcome = await self._attempt(request, stream)
            if not isinstance(outcome, _Failure):
                return outcome
            if attempt >= self.options.max_retries or not outcome.retryable:
                raise outcome.error
            delay = backoff_delay(attempt, self.options.retry_delay, outcome.retry_after)
            log.info(
                "%s %s: %s; retry %d in %.1fs", method, path, outcome.error, attempt + 1, delay
            )
            await anyio.sleep(delay)
            attempt += 1

    async def _attempt(self, request: httpx.Request, stream: bool) -> httpx.Response | _Failure:
        """One try: the response when it succeeded, else what failed and whether to retry."""
        try:
            response = await self._http.send(request, stream=stream)
        except httpx.TimeoutException as exc:
            return _Failure(ScopixTimeoutError(f"the request timed out: {exc!r}"), retryable=True)
        except httpx.TransportError as exc:
            message = f"cannot reach {self.options.base_url}: {exc!r}"
            return _Failure(ScopixConnectionError(message), retryable=True)
        if response.is_success:
            return response
        await response.aread()
        retry_after = retry_after_of(response.headers)
        error = error_from_response(
            response.status_code, _body(response), response.headers.get("x-request-id"), retry_after
        )
        retryable = should_retry(response.status_code, response.headers)
        return _Failure(error, retryable, retry_after)

    def _headers(self, *, write: bool, multipart: bool) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.options.api_key}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        if self.options.tenant_id:
            headers["X-Tenant-ID"] = self.options.tenant_id
        if write:
            headers["Idempotency-Key"] = f"sdk-{uuid.uuid4().hex}"
        if multipart:  # a fixed boundary keeps a retried body byte-identical
            headers["Content-Type"] = f"multipart/form-data; boundary=scopix-{uuid.uuid4().hex}"
        return headers


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


QueryPairs = list[tuple[str, str | int | float | bool | None]]


def _query(params: Mapping[str, Any] | None) -> QueryPairs | None:
    """Query pairs: None values dropped, lists repeated, booleans as true/false."""
    if not params:
        return None
    pairs: QueryPairs = []
    for name, value in params.items():
        values = value if isinstance(value, list | tuple) else [value]
        pairs += [(name, _text(v)) for v in values if v is not None]
    return pairs


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)
