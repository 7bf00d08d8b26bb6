"""A real HTTP endpoint on 127.0.0.1 that takes webhook deliveries and keeps them.

with Receiver() as receiver:
    receiver.url                     # http://127.0.0.1:<port>/hook
    receiver.answers.extend([500])   # the next answers' statuses (then 200)
    receiver.hold.set()              # keep each request waiting until release.set()
    receiver.received                # every delivery: headers and body
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def payload(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


class Receiver:
    def __init__(self) -> None:
        self.received: list[Delivery] = []
        self.answers: list[int] = []
        self.hold = threading.Event()
        self.release = threading.Event()
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def accepted(self) -> list[dict[str, Any]]:
        """The payloads answered with 2xx, in the order they arrived."""
        with self._lock:
            return [d.payload for d in self.received if 200 <= d.status < 300]

    def wait_for(self, done: Callable[[Receiver], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not done(self):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the receiver got only {[d.payload for d in self.received]}")
            time.sleep(0.02)

    def _answer(self, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            status = self.answers.pop(0) if self.answers else 200
            self.received.append(Delivery(headers, body, status))
        self.arrived.set()
        if self.hold.is_set():
            self.release.wait(timeout=60)
        return status

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver._answer(headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
