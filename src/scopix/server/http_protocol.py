"""uvicorn's httptools protocol with the read bounds uvicorn lacks: a slow client cannot hold a
connection open without end.

- Headers must be whole within `header_timeout` of the connection opening, or of the previous
  request's end on a kept-alive connection; a client that trickles them is cut.
- Headers may take `MAX_HEADER_BYTES` at most (httptools buffers any amount): 431 past it.
- While a body is read, the client must send something at least every `body_idle_timeout`,
  counted from its last bytes or the application's last ask for more, whichever is later (a
  client waiting for `100 Continue`, or blocked while the application does not read, is not
  idle); a stalled body is cut and the request's handler receives `http.disconnect`.
- A graceful shutdown cuts the event streams (`GET /api/v2/events` as server-sent events),
  which never end by themselves, instead of waiting for them; their clients resume.

Cutting means closing the transport: uvicorn's `connection_lost` then ends the request cycle.
"""

from __future__ import annotations

import asyncio
from asyncio import TimerHandle
from collections.abc import Callable
from typing import ClassVar

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Well above what browsers and SDKs send (cookies included), far below what harms memory.
MAX_HEADER_BYTES = 64 * 1024
#: `GET` of it with `Accept: text/event-stream` streams until the client leaves
EVENT_STREAM_PATH = "/api/v2/events"

_HEADERS_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 31\r\n"
    b"connection: close\r\n\r\n"
    b"Request Header Fields Too Large"
)


def bounded_http_protocol(headers_within: float, body_idle_within: float) -> type[asyncio.Protocol]:
    """The protocol class to pass to uvicorn as `http=`, with these bounds (seconds)."""

    class Configured(BoundedHttpToolsProtocol):
        header_timeout = headers_within
        body_idle_timeout = body_idle_within

    return Configured


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout: ClassVar[float] = 10.0
    body_idle_timeout: ClassVar[float] = 60.0

    _awaiting_headers = True  # from a message's end (or the connection's start) to its headers
    _header_bytes = 0
    _headers_ended_in_chunk = False  # a request's headers ended inside the present chunk
    _header_timer: TimerHandle | None = None
    _body_timer: TimerHandle | None = None
    _body_clock = 0.0  # when the client's present silence began

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.flow = _AskingFlowControl(transport, self._restart_body_clock)
        self._arm_header_timer()

    def shutdown(self) -> None:
        """A graceful shutdown waits for responses to end, and an event stream never does: it
        is cut now (its client resumes from its last `id:`); the rest end as they would."""
        if self.cycle is not None and not self.cycle.response_complete and self._streams_events():
            self.cycle.disconnected = True
            self.cycle.message_event.set()  # the app hears a disconnect and stops streaming
            self.transport.close()
            return
        super().shutdown()

    def _streams_events(self) -> bool:
        scope = self.scope
        accept = dict(scope["headers"]).get(b"accept", b"")
        return scope["path"] == EVENT_STREAM_PATH and b"text/event-stream" in accept

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        self._cancel_body_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._restart_body_clock()
        was_awaiting = self._awaiting_headers
        self._headers_ended_in_chunk = False
        super().data_received(data)
        # Count only chunks made of header bytes alone: one that ends the headers (and may hold
        # a whole small request, body included) or a body cannot be split here, and at most one
        # such chunk slips past the count.
        if was_awaiting and self._awaiting_headers and not self._headers_ended_in_chunk:
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
                self.transport.write(_HEADERS_TOO_LARGE)
                self.transport.close()

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._headers_ended_in_chunk = True
        self._header_bytes = 0
        self._cancel_header_timer()
        self._body_timer = self.loop.call_later(self.body_idle_timeout, self._on_body_idle)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._awaiting_headers = True
        self._cancel_body_timer()
        super().on_message_complete()
        if self.cycle is None or self.cycle.response_complete:
            self._arm_header_timer()  # answered before its body ended: the next request's turn

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._awaiting_headers and not self.transport.is_closing():
            self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._on_header_timeout)

    def _on_header_timeout(self) -> None:
        self._header_timer = None
        answering = self.cycle is not None and not self.cycle.response_complete
        # A pipelined request still being answered is not the client's delay; the timer is
        # armed again when its response completes.
        if self._awaiting_headers and not answering:
            self.transport.close()

    def _on_body_idle(self) -> None:
        if self.flow.read_paused or self.cycle.waiting_for_100_continue:
            # The application has not asked for more yet: the wait is the server's.
            self._restart_body_clock()
        idle = self.loop.time() - self._body_clock
        if idle < self.body_idle_timeout:
            self._body_timer = self.loop.call_later(
                self.body_idle_timeout - idle, self._on_body_idle
            )
            return
        self._body_timer = None
        self.transport.close()

    def _restart_body_clock(self) -> None:
        self._body_clock = self.loop.time()

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None


class _AskingFlowControl(FlowControl):
    """uvicorn's flow control, telling when the application asks for more of the body (each
    ASGI `receive` resumes reading, and sends `100 Continue` first when the client waits)."""

    def __init__(self, transport: asyncio.Transport, on_ask: Callable[[], None]) -> None:
        super().__init__(transport)
        self._on_ask = on_ask

    def resume_reading(self) -> None:
        super().resume_reading()
        self._on_ask()
