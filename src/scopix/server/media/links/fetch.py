"""Fetch a web page for a link, inside an isolated child (`IsolatedPool.run(fetch, url, rules)`).

The fetcher is the server's one way out to URLs its users name, so it keeps four promises:

- It connects only to checked addresses. A network backend under httpcore resolves each name
  itself (`FetchRules.hosts` first, then `getaddrinfo`), refuses the connection when any answer
  is an inside address (`domain.addresses.refusal`) and connects to the checked address; TLS
  still sends and verifies the URL's host name. Redirects are followed by hand, at most
  `max_redirects`, each target normalized and checked again (scheme and literal address) before
  its connection is checked in turn.
- It reads nothing from the environment: httpcore, httpx's own transport layer, is used
  directly (httpx 0.28 has no public way to give its transport a network backend), so no proxy,
  netrc or certificate setting of the process applies; certificates come from
  `httpx.create_ssl_context(trust_env=False)`.
- It keeps memory bounded: the body is read raw and inflated here (gzip, deflate, br), every
  stage capped at the byte limit, so a bomb stops at the cap, not at its full size.
- It keeps time bounded: one deadline for the whole fetch (DNS, connect, TLS, every read), and
  every socket operation's timeout is cut to what is left of it, so a server that sends a byte
  a second cannot stretch the fetch.

Failures are `FetchFailed` with a `kind` the crawl job maps to a failure: "refused" (scheme,
inside address, too many redirects), "client" (4xx, TLS, a broken encoding), "server" (5xx,
429), "network" (DNS, connect, a broken connection), "timeout" (the deadline) and "too_large".
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any, Final, Literal, Protocol

import brotli
import httpcore
import httpx

from scopix.server.domain.addresses import IPAddress, literal_address, refusal
from scopix.server.domain.errors import InvalidUrl, UrlRefused
from scopix.server.domain.urls import normalize_url, redirect_target
from scopix.server.isolation import reserve_memory

__all__ = [
    "DEFAULT_ACCEPT",
    "FailureKind",
    "FetchFailed",
    "FetchRules",
    "Fetched",
    "fetch",
    "is_html",
    "post",
]

FailureKind = Literal["refused", "client", "server", "network", "timeout", "too_large"]
DEFAULT_ACCEPT: Final = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
_ACCEPT_ENCODING: Final = "gzip, deflate, br"
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml"})
_UNTYPED: Final = frozenset({"", "application/octet-stream"})
_HTML_STARTS: Final = (b"<!doctype html", b"<html", b"<head", b"<body", b"<!--")
_MIB: Final = 1 << 20
_ANSWER_READ: Final = 64 * 1024


@dataclass(frozen=True)
class FetchRules:
    """How a fetch may go (picklable: it crosses into the isolated child)."""

    allow_private: bool = False
    max_body_bytes: int = 10 * _MIB
    deadline_seconds: float = 20.0
    max_redirects: int = 5
    user_agent: str = "ScopixBot"
    #: Names resolved without DNS (the tests' resolver hook): host -> addresses.
    hosts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Fetched:
    """A page as fetched: its final URL and its decompressed body."""

    url: str
    status_code: int
    #: The media type without parameters, lowercased ("" when the server sent none).
    content_type: str
    charset: str | None
    body: bytes
    #: The URLs that answered with a redirect, in order (the first is the URL asked for).
    redirects: tuple[str, ...]


class FetchFailed(Exception):
    """The page could not be fetched; `kind` says why in a word the crawl job maps."""

    def __init__(self, reason: str, *, kind: FailureKind) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind: FailureKind = kind

    def __reduce__(self) -> tuple[Any, tuple[str, FailureKind]]:
        return _fetch_failed, (self.reason, self.kind)


def _fetch_failed(reason: str, kind: FailureKind) -> FetchFailed:
    return FetchFailed(reason, kind=kind)


def fetch(
    url: str, rules: FetchRules, max_bytes: int | None = None, accept: str = DEFAULT_ACCEPT
) -> Fetched:
    """GET `url` under `rules`, following redirects; `max_bytes` (default the rules' body cap)
    bounds the decompressed body. Raises FetchFailed. (Every argument may be positional, as
    `IsolatedPool.run` passes them.)"""
    cap = rules.max_body_bytes if max_bytes is None else max_bytes
    reserve_memory(3 * cap)  # the body, one capped inflate step and the bytes handed back
    deadline = _Deadline(rules.deadline_seconds)
    current = _checked_url(normalize_url, url, allow_private=rules.allow_private)
    headers: dict[bytes | str, bytes | str] = {
        "User-Agent": rules.user_agent,
        "Accept": accept,
        "Accept-Encoding": _ACCEPT_ENCODING,
    }
    timeouts = dict.fromkeys(("connect", "read", "write", "pool"), rules.deadline_seconds)
    redirects: list[str] = []
    backend = _CheckedBackend(rules, deadline)
    with httpcore.ConnectionPool(ssl_context=_ssl_context(), network_backend=backend) as pool:
        while True:
            with (
                _mapped_failures(deadline),
                pool.stream(
                    "GET", current, headers=headers, extensions={"timeout": timeouts}
                ) as response,
            ):
                location = _redirect_location(response)
                if location is None:
                    return _read(response, current, tuple(redirects), cap, deadline)
            if len(redirects) >= rules.max_redirects:
                raise FetchFailed(f"more than {rules.max_redirects} redirects", kind="refused")
            redirects.append(current)
            current = _checked_url(
                redirect_target, current, location, allow_private=rules.allow_private
            )


def post(url: str, body: bytes, headers: Mapping[str, str], rules: FetchRules) -> int:
    """POST `body` to `url` under the same rules as `fetch` (checked addresses, nothing from
    the environment, one deadline) and answer the status; redirects are not followed, and
    at most 64 KiB of the answer is read. Raises FetchFailed (webhook deliveries)."""
    deadline = _Deadline(rules.deadline_seconds)
    target = _checked_url(normalize_url, url, allow_private=rules.allow_private)
    sent: dict[bytes | str, bytes | str] = {"User-Agent": rules.user_agent}
    sent.update(headers)
    timeouts = dict.fromkeys(("connect", "read", "write", "pool"), rules.deadline_seconds)
    backend = _CheckedBackend(rules, deadline)
    with (
        httpcore.ConnectionPool(ssl_context=_ssl_context(), network_backend=backend) as pool,
        _mapped_failures(deadline),
        pool.stream(
            "POST", target, headers=sent, content=body, extensions={"timeout": timeouts}
        ) as response,
    ):
        read = 0
        for chunk in response.iter_stream():
            read += len(chunk)
            if read >= _ANSWER_READ:
                break
        return int(response.status)


def is_html(fetched: Fetched) -> bool:
    """Whether the body is an HTML page: typed as one, or untyped and starting like one."""
    if fetched.content_type in _HTML_TYPES:
        return True
    if fetched.content_type not in _UNTYPED:
        return False
    head = fetched.body[:1024].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    return head.startswith(_HTML_STARTS)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One context per child: loading the certificate store took about 23 ms of a 25 ms
    fetch of a local page (bench/links.py)."""
    return httpx.create_ssl_context(trust_env=False)


def _checked_url(normalize: Callable[..., str], *args: str, allow_private: bool) -> str:
    """The URL `normalize` makes of `args`; a URL the domain refuses is a refused fetch."""
    try:
        return normalize(*args, allow_private=allow_private)
    except (InvalidUrl, UrlRefused) as exc:
        raise FetchFailed(exc.message, kind="refused") from None


class _Deadline:
    """The one clock of a fetch: every wait takes at most what is left of it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        left = self._end - time.monotonic()
        if left <= 0:
            raise self.expired()
        return left

    def clamp(self, timeout: float | None) -> float:
        left = self.left()
        return left if timeout is None else min(timeout, left)

    def expired(self) -> FetchFailed:
        return FetchFailed(f"the page took longer than {self.seconds:g} s", kind="timeout")


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake waits only what the deadline
    has left."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._deadline.clamp(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._deadline.clamp(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        secured = self._stream.start_tls(
            ssl_context, server_hostname, self._deadline.clamp(timeout)
        )
        return _DeadlineStream(secured, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _CheckedBackend(httpcore.NetworkBackend):
    """Connects to a host's checked addresses only, by address; httpcore still runs TLS with
    the host name (SNI and certificate check)."""

    def __init__(self, rules: FetchRules, deadline: _Deadline) -> None:
        self._rules = rules
        self._deadline = deadline
        self._plain = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        failure: httpcore.ConnectError | None = None
        for address in self._checked_addresses(host):
            try:
                stream = self._plain.connect_tcp(
                    str(address), port, self._deadline.clamp(timeout), local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            return _DeadlineStream(stream, self._deadline)
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        raise FetchFailed("links never reach local sockets", kind="refused")

    def sleep(self, seconds: float) -> None:
        time.sleep(self._deadline.clamp(seconds))

    def _checked_addresses(self, host: str) -> tuple[IPAddress, ...]:
        """Every address `host` resolves to, refused as a whole when any one is inside."""
        literal = literal_address(host)
        if literal is not None:
            answers: tuple[IPAddress, ...] = (literal,)
        elif host in self._rules.hosts:
            answers = tuple(ip_address(answer) for answer in self._rules.hosts[host])
        else:
            answers = _resolve(host, self._deadline)
        if not answers:
            raise FetchFailed(f"the name {host} does not resolve", kind="network")
        if not self._rules.allow_private:
            for address in answers:
                reason = refusal(address)
                if reason is not None:
                    raise FetchFailed(
                        f"{host} resolves to {address}, which is {reason}", kind="refused"
                    )
        return answers


def _resolve(host: str, deadline: _Deadline) -> tuple[IPAddress, ...]:
    """`getaddrinfo` in a helper thread waited for at most what the deadline has left (a
    resolver can take longer than any page may)."""
    answers: list[IPAddress] = []

    def lookup() -> None:
        with contextlib.suppress(OSError, UnicodeError):
            for *_, sockaddr in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM):
                answers.append(ip_address(str(sockaddr[0]).partition("%")[0]))

    resolver = threading.Thread(target=lookup, daemon=True)
    resolver.start()
    resolver.join(deadline.left())
    if resolver.is_alive():
        raise deadline.expired()
    return tuple(dict.fromkeys(answers))


@contextlib.contextmanager
def _mapped_failures(deadline: _Deadline) -> Iterator[None]:
    """httpcore's errors as FetchFailed; TLS failures told apart from other connect errors."""
    try:
        yield
    except httpcore.TimeoutException:
        raise deadline.expired() from None
    except httpcore.ConnectError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ssl.SSLError):
            raise FetchFailed(f"TLS failed: {cause.reason or cause}", kind="client") from None
        raise FetchFailed(f"could not connect: {exc}", kind="network") from None
    except (httpcore.NetworkError, httpcore.RemoteProtocolError) as exc:
        raise FetchFailed(f"the connection broke: {exc}", kind="network") from None
    except (httpcore.UnsupportedProtocol, httpcore.LocalProtocolError) as exc:
        raise FetchFailed(f"the URL cannot be requested: {exc}", kind="refused") from None


def _header(response: httpcore.Response, name: bytes) -> str:
    """A header's values joined by commas ("" when absent)."""
    values = [value for key, value in response.headers if key.lower() == name]
    return b", ".join(values).decode("latin-1")


def _redirect_location(response: httpcore.Response) -> str | None:
    if response.status not in _REDIRECTS:
        return None
    location = _header(response, b"location").strip()
    return location or None


def _read(
    response: httpcore.Response, url: str, redirects: tuple[str, ...], cap: int, deadline: _Deadline
) -> Fetched:
    _check_status(response.status)
    content_type, charset = _media_type(_header(response, b"content-type"))
    encodings = [
        coding.strip().lower()
        for coding in _header(response, b"content-encoding").split(",")
        if coding.strip().lower() not in ("", "identity")
    ]
    declared = _header(response, b"content-length").strip()
    if not encodings and declared.isdigit() and int(declared) > cap:
        raise _too_large(cap)
    inflate = _Inflate(encodings, cap)
    body = bytearray()
    for chunk in response.iter_stream():
        deadline.left()
        body += inflate.feed(chunk)
        if len(body) > cap:
            raise _too_large(cap)
    return Fetched(url, response.status, content_type, charset, bytes(body), redirects)


def _check_status(status: int) -> None:
    if 200 <= status < 300:
        return
    if status == 429 or status >= 500:
        raise FetchFailed(f"the site answered {status}", kind="server")
    raise FetchFailed(f"the site answered {status}", kind="client")


def _media_type(header: str) -> tuple[str, str | None]:
    """The media type (lowercased, no parameters) and the charset label Python knows."""
    media_type, *params = header.split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'").lower() or None
    if charset is not None:
        try:
            codecs.lookup(charset)
        except LookupError:
            charset = None
    return media_type.strip().lower(), charset


def _too_large(cap: int) -> FetchFailed:
    return FetchFailed(f"the page is larger than {cap // 1024} KiB", kind="too_large")


class _Stage(Protocol):
    def feed(self, data: bytes) -> bytes: ...


class _Inflate:
    """Undoes the Content-Encodings in the order they were applied; every stage stops one byte
    past `cap`, so a bomb costs at most the cap."""

    def __init__(self, encodings: list[str], cap: int) -> None:
        self._stages = [_stage(encoding, cap) for encoding in reversed(encodings)]

    def feed(self, data: bytes) -> bytes:
        for stage in self._stages:
            data = stage.feed(data)
        return data


def _stage(encoding: str, cap: int) -> _Stage:
    if encoding in ("gzip", "x-gzip"):
        return _ZlibStage(zlib.MAX_WBITS | 16, cap, encoding)
    if encoding == "deflate":
        return _ZlibStage(zlib.MAX_WBITS, cap, encoding)
    if encoding == "br":
        return _BrotliStage(cap)
    raise FetchFailed(f"the page is sent in an encoding not read here: {encoding}", kind="client")


class _Counted:
    """Counts a stage's output and stops it one byte past the cap."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._made = 0

    def _room(self) -> int:
        return self._cap - self._made + 1

    def _count(self, piece: bytes) -> bytes:
        self._made += len(piece)
        if self._made > self._cap:
            raise _too_large(self._cap)
        return piece


class _ZlibStage(_Counted):
    """gzip or deflate; "deflate" sent as a bare stream (as some servers do) is read too."""

    def __init__(self, wbits: int, cap: int, encoding: str) -> None:
        super().__init__(cap)
        self._encoding = encoding
        self._inflater = zlib.decompressobj(wbits)
        self._started = False
        self._bare = False

    def feed(self, data: bytes) -> bytes:
        try:
            return self._feed(data)
        except zlib.error:
            if self._started or self._bare or self._encoding != "deflate":
                raise FetchFailed(
                    f"the page's {self._encoding} data is broken", kind="client"
                ) from None
            self._bare = True
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            return self.feed(data)

    def _feed(self, data: bytes) -> bytes:
        pieces = []
        while data and not self._inflater.eof:
            piece = self._count(self._inflater.decompress(data, self._room()))
            self._started = self._started or bool(piece)
            pieces.append(piece)
            data = self._inflater.unconsumed_tail
        return b"".join(pieces)


class _BrotliStage(_Counted):
    def __init__(self, cap: int) -> None:
        super().__init__(cap)
        self._decompressor = brotli.Decompressor()

    def feed(self, data: bytes) -> bytes:
        try:
            pieces = [
                self._count(self._decompressor.process(data, output_buffer_limit=self._room()))
            ]
            while not self._decompressor.can_accept_more_data():
                pieces.append(
                    self._count(self._decompressor.process(b"", output_buffer_limit=self._room()))
                )
        except brotli.error:
            raise FetchFailed("the page's br data is broken", kind="client") from None
        return b"".join(pieces)
