"""The bounded uvicorn protocol in a real uvicorn server on a real socket, with short bounds:
slow headers and stalled bodies are cut, slow applications and steady clients are not."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from scopix.server.http_protocol import MAX_HEADER_BYTES, bounded_http_protocol
from scopix.server.testing import free_port

HEADER_TIMEOUT = 0.5
BODY_IDLE_TIMEOUT = 1.0
SLOW_APP_SECONDS = 2.0  # well past either timeout
LOOP_BLOCK_SECONDS = 0.3


class RecordingApp:
    """`/` reads the whole body and answers its length; `/slow` answers after a pause;
    `/late-reader` pauses before it reads; `/refuse` answers 401 without reading. Every
    `http.disconnect` received is recorded."""

    def __init__(self) -> None:
        self.disconnects: list[str] = []
        self.disconnected = threading.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope["path"]
        if path == "/refuse":  # answers before reading, as a refusal before the body does
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [(b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        if path == "/block-loop":  # holds the event loop, as a busy server does
            time.sleep(LOOP_BLOCK_SECONDS)  # noqa: ASYNC251 - blocking the loop is the point
        if path in ("/slow", "/late-reader"):
            await asyncio.sleep(SLOW_APP_SECONDS)
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnects.append(path)
                self.disconnected.set()
                return
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = str(size).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def app() -> RecordingApp:
    return RecordingApp()


@pytest.fixture
def port(app: RecordingApp) -> Iterator[int]:
    config = uvicorn.Config(
        app,
        port=free_port(),
        lifespan="off",
        log_level="warning",
        http=bounded_http_protocol(HEADER_TIMEOUT, BODY_IDLE_TIMEOUT),
        timeout_keep_alive=60,  # longer than the bounds: they, not keep-alive, cut here
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield config.port
    server.should_exit = True
    thread.join(timeout=10)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(10)
    return sock


def read_response(sock: socket.socket) -> bytes:
    """One response with a content-length body, or b"" when the server closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def post_head(length: int, path: str = "/") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {length}\r\n\r\n".encode()


def test_a_connection_that_sends_nothing_is_cut(port: int) -> None:
    with connect(port) as sock:
        assert closed_by_server(sock)


def test_half_sent_headers_are_cut(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        assert closed_by_server(sock)


def test_headers_finished_in_time_are_served(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        time.sleep(HEADER_TIMEOUT / 5)
        sock.sendall(b"Host: t\r\n\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200")


def test_the_next_request_on_a_kept_alive_connection_gets_its_own_deadline(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
        assert closed_by_server(sock)


def test_a_slow_application_is_not_cut_while_it_answers(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200")


def test_a_stalled_body_is_cut_and_its_handler_sees_a_disconnect(
    port: int, app: RecordingApp
) -> None:
    with connect(port) as sock:
        sock.sendall(post_head(100) + b"x" * 10)
        assert closed_by_server(sock)
    assert app.disconnected.wait(timeout=10)
    assert app.disconnects == ["/"]


def test_the_rest_of_a_refused_body_may_not_stall(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(post_head(100, "/refuse") + b"x" * 10)
        assert read_response(sock).startswith(b"HTTP/1.1 401")
        assert closed_by_server(sock)


def test_after_a_refused_body_the_next_headers_get_a_deadline(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(post_head(10, "/refuse"))
        assert read_response(sock).startswith(b"HTTP/1.1 401")
        time.sleep(BODY_IDLE_TIMEOUT / 3)
        sock.sendall(b"x" * 10 + b"GET / HTTP/1.1\r\nHost: t\r\n")
        assert closed_by_server(sock)


def test_a_body_that_keeps_moving_is_read_whole(port: int) -> None:
    pieces = 4  # each a short pause apart, together past the idle timeout
    with connect(port) as sock:
        sock.sendall(post_head(pieces))
        for _ in range(pieces):
            time.sleep(BODY_IDLE_TIMEOUT / 3)
            sock.sendall(b"x")
        assert read_response(sock).endswith(b"\r\n\r\n4")


def test_a_body_the_application_has_not_read_yet_is_not_cut(port: int) -> None:
    """Reading pauses while the application has not taken what came; the client, blocked on a
    full socket meanwhile, is not the one idling."""
    size = 16 * 1024 * 1024  # more than the socket buffers hold: the sender blocks
    with connect(port) as sock:
        sock.sendall(post_head(size, "/late-reader") + b"x" * size)
        assert read_response(sock).endswith(b"\r\n\r\n" + str(size).encode())


def test_a_client_waiting_for_100_continue_is_not_cut(port: int) -> None:
    """The client sends its body only once the application asks for it (by reading)."""
    with connect(port) as sock:
        sock.sendall(
            b"POST /late-reader HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        assert sock.recv(65536).startswith(b"HTTP/1.1 100")
        time.sleep(BODY_IDLE_TIMEOUT * 0.6)  # its clock starts when the body is asked for
        sock.sendall(b"body")
        assert read_response(sock).endswith(b"\r\n\r\n4")


def test_headers_past_the_byte_cap_are_refused(port: int, app: RecordingApp) -> None:
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
        refused = b""
        try:
            for _ in range(2 * MAX_HEADER_BYTES // 1024):
                sock.sendall(b"X-Filler: " + b"f" * 1012 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            refused = read_response(sock)
        except ConnectionResetError:
            pytest.fail("the connection was reset before the 431 could be read")
    assert refused.startswith(b"HTTP/1.1 431")
    assert app.disconnects == []


@pytest.mark.parametrize("size", [MAX_HEADER_BYTES, 2 * MAX_HEADER_BYTES])
def test_a_whole_request_read_at_once_is_not_counted_as_headers(port: int, size: int) -> None:
    """Headers and a body past the header cap read in one chunk (a small upload waiting in the
    socket while the server was busy) are a request, not oversized headers."""
    with connect(port) as busy, connect(port) as sock:
        busy.sendall(b"GET /block-loop HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(LOOP_BLOCK_SECONDS / 3)  # the loop is blocked now: the request piles up
        sock.sendall(post_head(size) + b"x" * size)
        assert read_response(sock).endswith(b"\r\n\r\n" + str(size).encode())
        assert read_response(busy).startswith(b"HTTP/1.1 200")
