"""Helpers for tests and benches: real `scopix serve` and `scopix worker` processes, and a
private Redis, on free ports.

The first API key a fresh server prints is read from its stdout."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from scopix.server.jobs.celery_app import READY_LINE

KEY_LINE = re.compile(r"^scopix_[A-Za-z0-9]{8}_[A-Za-z0-9_-]+$")
SCOPIX = [sys.executable, "-m", "scopix"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A `scopix serve` child process and what it printed."""

    process: subprocess.Popen[str]
    port: int
    lines: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def keys(self) -> list[str]:
        return [line for line in self.lines if KEY_LINE.match(line)]

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("server exited:\n" + "\n".join(self.lines))
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError("server did not become ready:\n" + "\n".join(self.lines))

    def kill(self) -> None:
        """End the server as a crash would: SIGKILL, no shutdown of any kind."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_for_status(
    base_url: str,
    headers: dict[str, str],
    file_id: str,
    done: Callable[[dict[str, Any]], bool],
    timeout: float = 120,
) -> dict[str, Any]:
    """Poll `GET /files/{id}/status` until `done(status)`; the last status seen."""
    deadline = time.monotonic() + timeout
    while True:
        status: dict[str, Any] = httpx.get(
            f"{base_url}/api/v2/files/{file_id}/status", headers=headers, timeout=10
        ).json()
        if done(status):
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"file {file_id} never got there: {status}")
        time.sleep(0.2)


def start_server(
    data_dir: Path,
    *,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    port: int | None = None,
) -> ServerProcess:
    """Start `scopix serve [args]` on `port` (default: a free one) and wait until it answers."""
    port = port or free_port()
    child_env = {**os.environ, "SCOPIX_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    child_env.update(env or {})
    process = subprocess.Popen(
        [*SCOPIX, "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=child_env,
    )
    server = ServerProcess(process, port, collect_output(process))
    server.wait_ready()
    return server


def collect_output(process: subprocess.Popen[str]) -> list[str]:
    """The lines `process` prints (its stdout, a text pipe), gathered by a thread as they come."""
    lines: list[str] = []
    threading.Thread(target=_collect, args=(process, lines), daemon=True).start()
    return lines


def _collect(process: subprocess.Popen[str], lines: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))


@dataclass
class WorkerProcess:
    """A `scopix worker` child process and what it printed."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the worker says it consumes from the broker."""
        deadline = time.monotonic() + timeout
        while not any(line.startswith(READY_LINE) for line in list(self.lines)):
            if self.process.poll() is not None:
                raise RuntimeError("worker exited:\n" + "\n".join(self.lines))
            if time.monotonic() > deadline:
                raise TimeoutError("worker did not become ready:\n" + "\n".join(self.lines))
            time.sleep(0.1)

    def kill(self) -> None:
        """End the worker as a crash would: SIGKILL, no shutdown of any kind."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        """A warm shutdown (SIGTERM): jobs in hand finish first."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def start_worker(data_dir: Path, env: dict[str, str], concurrency: int = 2) -> WorkerProcess:
    """Start `scopix worker` and wait until it consumes from the broker."""
    child_env = {**os.environ, "SCOPIX_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **env}
    process = subprocess.Popen(
        [*SCOPIX, "worker", "--concurrency", str(concurrency)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=child_env,
    )
    worker = WorkerProcess(process, collect_output(process))
    try:
        worker.wait_ready()
    except (RuntimeError, TimeoutError):
        worker.kill()  # never leave a half-started worker behind
        raise
    return worker


def create_key(data_dir: Path, env: dict[str, str], tenant: str, tier: str = "custom") -> str:
    """A new API key from `scopix keys create` run with `env` (the custom tier by default:
    unlimited, so a load test never meets the rate limits)."""
    done = subprocess.run(
        [*SCOPIX, "keys", "create", "--tenant", tenant, "--tier", tier],
        env={**os.environ, **env, "SCOPIX_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


class RedisProcess:
    """A private `redis-server` on a free port, keeping nothing on disk: a restart loses every
    message it held, the worst a broker can do to the queue."""

    def __init__(self, executable: str = "redis-server") -> None:
        self.executable = executable
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProcess:
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", *_NO_DISK],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while not _answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        """Kill it and start it again on the same port, empty."""
        self.kill()
        self.start()


_NO_DISK = ("--save", "", "--appendonly", "no")


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False
