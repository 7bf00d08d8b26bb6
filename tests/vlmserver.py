"""A fake vision-language model: a real HTTP server speaking OpenAI's chat-completions protocol.

It listens on 127.0.0.1 in a daemon thread, so this process and server subprocesses alike can
call it. Each request is answered by the next scripted behaviour, or else the standing one:

    with FakeVLMServer() as vlm:
        vlm.behave("ok", description="A red car.", tags=["Car", "red"])
        vlm.script(["rate_limit", ("slow", {"delay": 2})])  # the next two requests, then "ok"
        analyzer = OpenAICompatibleAnalyzer(vlm.base_url, vlm.model, api_key="k")
        ...
        assert vlm.requests[-1].has_image

Modes and their options:
    ok          200 with a valid answer; `description`, `tags`, `key_elements`, `visible_text`
                override the server's answer, `answer` (a dict) replaces it, `fenced=True` wraps
                it in a ```json fence
    slow        like ok after `delay` seconds (default 5); other requests are not held up
    hang        never answers (until the server stops)
    rate_limit  429, `Retry-After: retry_after` (default "7"; None sends no header)
    error       `status` (default 500) with an OpenAI-style error body saying `message`
    garbage     200 whose content is `content` (default: prose, not JSON)
    empty       200 with empty content
    invalid     200 with a JSON object missing `description` (or `answer`, if given)
    truncated   200 with half a JSON object and finish_reason "length"
    drop        closes the connection without answering
    huge        200 whose body runs to `size` bytes (default 64 MiB), sent in 64 KiB writes
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

MODES = frozenset(
    {
        "ok",
        "slow",
        "hang",
        "rate_limit",
        "error",
        "garbage",
        "empty",
        "invalid",
        "truncated",
        "drop",
        "huge",
    }
)

DEFAULT_ANSWER: dict[str, Any] = {
    "description": "A small black square on a plain background.",
    "tags": ["square", "black", "minimal"],
    "key_elements": ["black square", "plain background"],
    "visible_text": "",
}


@dataclass(frozen=True)
class Behaviour:
    """What to do with one request: a mode from MODES and its options."""

    mode: str
    opts: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; pick one of {sorted(MODES)}")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it (header names lowercased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # the parsed JSON body, or None
    model: str | None
    messages: list[Any]
    image: bytes | None  # the decoded bytes of the first `data:` image URL, if any

    @property
    def has_image(self) -> bool:
        return self.image is not None

    @property
    def bearer(self) -> str | None:
        """The token of an `Authorization: Bearer` header."""
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else None


class FakeVLMServer:
    """A scriptable OpenAI-compatible chat-completions server on 127.0.0.1 (see module doc)."""

    def __init__(self, model: str = "fake-vlm", answer: Mapping[str, Any] | None = None) -> None:
        self.model = model
        self._answer = dict(answer or DEFAULT_ANSWER)
        self._lock = threading.Lock()
        self._recorded = threading.Condition(self._lock)
        self._standing = Behaviour("ok")
        self._script: deque[Behaviour] = deque()
        self._requests: list[RecordedRequest] = []
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeVLMServer:
        """Bind a free port and serve in a daemon thread."""
        self._stopping.clear()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hanging and slow handlers, then stop listening."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeVLMServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting -------------------------------------------------------------------------

    def behave(self, mode: str, **opts: Any) -> None:
        """Answer every request this way from now on (scripted behaviours still go first)."""
        with self._lock:
            self._standing = Behaviour(mode, opts)

    def script(self, steps: Iterable[str | tuple[str, Mapping[str, Any]] | Behaviour]) -> None:
        """Queue one-shot behaviours for the next chat requests, in order."""
        queued = [_as_behaviour(step) for step in steps]
        with self._lock:
            self._script.extend(queued)

    def next_behaviour(self) -> Behaviour:
        """The behaviour for the next chat request: a scripted one first, else the standing one."""
        with self._lock:
            return self._script.popleft() if self._script else self._standing

    # -- recording -------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request so far, /v1/models included."""
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    def record(self, request: RecordedRequest) -> None:
        with self._recorded:
            self._requests.append(request)
            self._recorded.notify_all()

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> bool:
        """Block until `count` requests have arrived (False on timeout); from async code, call
        it through `asyncio.to_thread`."""
        with self._recorded:
            return self._recorded.wait_for(lambda: len(self._requests) >= count, timeout)

    # -- answers ---------------------------------------------------------------------------

    def completion(
        self, content: str, model: str | None, finish_reason: str = "stop"
    ) -> dict[str, Any]:
        """A chat.completion body carrying `content`."""
        return {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model or self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
        }

    def answer_for(self, opts: Mapping[str, Any]) -> dict[str, Any]:
        """The answer object for an "ok" behaviour."""
        if "answer" in opts:
            return dict(opts["answer"])
        answer = dict(self._answer)
        answer.update({k: opts[k] for k in DEFAULT_ANSWER if k in opts})
        return answer

    @property
    def stopping(self) -> threading.Event:
        return self._stopping


def _as_behaviour(step: str | tuple[str, Mapping[str, Any]] | Behaviour) -> Behaviour:
    if isinstance(step, Behaviour):
        return step
    if isinstance(step, str):
        return Behaviour(step)
    mode, opts = step
    return Behaviour(mode, dict(opts))


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeVLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out hang up on slow handlers; that is expected, not news.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.0"  # one request per connection: no keep-alive bookkeeping

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        self._record(None)
        if self.path.rstrip("/") == "/v1/models":
            model = {"id": self.server.fake.model, "object": "model", "owned_by": "scopix-tests"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._send_error(404, f"no route {self.path}", "not_found")

    def do_POST(self) -> None:
        body = self._read_json()
        self._record(body)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_error(404, f"no route {self.path}", "not_found")
        elif not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._send_error(400, "body must be a JSON object with messages", "invalid_request")
        else:
            self._act(self.server.fake.next_behaviour(), body.get("model"))

    def _act(self, behaviour: Behaviour, model: str | None) -> None:
        fake, opts = self.server.fake, behaviour.opts
        mode = behaviour.mode
        if mode in ("slow", "hang"):
            delay = opts.get("delay", 5.0) if mode == "slow" else None
            if fake.stopping.wait(delay) or mode == "hang":
                return  # stopped meanwhile: hang up like a dying server
            mode = "ok"
        if mode == "ok":
            content = json.dumps(fake.answer_for(opts))
            if opts.get("fenced"):
                content = f"```json\n{content}\n```"
            self._send_json(200, fake.completion(content, model))
        elif mode == "rate_limit":
            retry_after = opts.get("retry_after", "7")
            headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
            message = "Rate limit reached for requests. Please try again later."
            self._send_error(429, message, "rate_limit_exceeded", headers)
        elif mode == "error":
            message = opts.get("message", "The server had an error processing your request.")
            self._send_error(int(opts.get("status", 500)), message, "server_error")
        elif mode == "garbage":
            content = opts.get("content", "I think this picture shows a cat, probably.")
            self._send_json(200, fake.completion(content, model))
        elif mode == "empty":
            self._send_json(200, fake.completion("", model))
        elif mode == "invalid":
            answer = opts.get("answer", {"tags": ["cat"], "key_elements": ["a cat"]})
            self._send_json(200, fake.completion(json.dumps(answer), model))
        elif mode == "truncated":
            content = json.dumps(fake.answer_for(opts))
            self._send_json(200, fake.completion(content[: len(content) // 2], model, "length"))
        elif mode == "huge":
            self._send_huge(int(opts.get("size", 64 * 2**20)))
        # "drop": return without a word; the connection closes

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def _record(self, body: Any) -> None:
        messages = body.get("messages") if isinstance(body, dict) else None
        model = body.get("model") if isinstance(body, dict) else None
        self.server.fake.record(
            RecordedRequest(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                model=model if isinstance(model, str) else None,
                messages=messages if isinstance(messages, list) else [],
                image=_first_image(messages),
            )
        )

    def _send_error(
        self, status: int, message: str, code: str, headers: Mapping[str, str] | None = None
    ) -> None:
        error = {"message": message, "type": code, "param": None, "code": code}
        self._send_json(status, {"error": error}, headers)

    def _send_json(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_huge(self, size: int) -> None:
        """`size` bytes of JSON whitespace (only the size is wrong), until the client hangs up."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = b" " * 65536
        with contextlib.suppress(OSError):  # a client that stops reading closes the socket
            for start in range(0, size, len(chunk)):
                self.wfile.write(chunk[: size - start])


def _first_image(messages: Any) -> bytes | None:
    """The bytes of the first base64 `data:` URL among the messages' image_url parts."""
    for message in messages if isinstance(messages, list) else []:
        parts = message.get("content") if isinstance(message, dict) else None
        for part in parts if isinstance(parts, list) else []:
            image_url = part.get("image_url") if isinstance(part, dict) else None
            url = image_url.get("url") if isinstance(image_url, dict) else None
            if isinstance(url, str) and url.startswith("data:") and ";base64," in url:
                try:
                    return base64.b64decode(url.split(";base64,", 1)[1], validate=True)
                except (binascii.Error, ValueError):
                    return None
    return None
