"""A real HTTP server that answers each request with the next scripted response.

For testing the SDK's transport (retries, Retry-After, idempotency keys) over real sockets:

    with ScriptedServer([(503, {}, b"..."), (200, {}, b'{"ok": true}')]) as server:
        ...  # server.url, then server.seen: every request's method, path, headers and body
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

#: (status, headers, body); status "drop" closes the connection unanswered, "sleep:S" waits
#: S seconds and then answers 200.
Reply = tuple[int | str, dict[str, str], bytes]


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedServer:
    """Answers requests from a script; when it runs out, it repeats the last reply."""

    def __init__(self, replies: Iterable[Reply]) -> None:
        self.replies: deque[Reply] = deque(replies)
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/api/v2"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next(self) -> Reply:
        with self._lock:
            return self.replies.popleft() if len(self.replies) > 1 else self.replies[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                server.seen.append(Seen(self.command, self.path, dict(self.headers), body))
                status, headers, reply = server._next()
                if status == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if isinstance(status, str) and status.startswith("sleep:"):
                    time.sleep(float(status.split(":")[1]))
                    status = 200
                self.send_response(int(status))
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

        return Handler
