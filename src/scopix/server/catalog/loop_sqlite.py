"""SQLite's one writer connection, run on the event loop's own thread.

aiosqlite hands every statement to a thread of its own and back: two thread switches per
statement, and the answer waits until the loop gets round to it behind every other ready task.
A write transaction holds SQLite's single writer lock across all of those waits, so under load
the lock's hold time, not the work, bounds how many uploads a second the catalog records
(`bench/uploads.py`: 34 uploads/s with the writer on aiosqlite's thread, 41 on the loop).

A write transaction is a handful of indexed statements of a few microseconds each, so it runs
here without leaving the loop. What could block the loop for long is kept off it:

- Taking the lock: `BEGIN IMMEDIATE` is tried without waiting (busy timeout 0) and, while
  another process holds the lock, tried again after an asynchronous sleep (`begin_immediate`).
- Scans: writes that touch many rows are batched by their callers (purge: 100 rows at a time);
  reads, searches included, keep aiosqlite's threads. Only lookups of a row by its key run here,
  on connections of their own (`UnitOfWorkFactory.lookup`: every request's API key), where
  the thread's round trips cost four times the read (an authentication: 1.5 ms of CPU against 0.4).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Generator
from functools import partial
from typing import Any, Final

import aiosqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.util import await_

__all__ = ["LoopConnection", "begin_immediate", "loop_connector"]

_FIRST_RETRY_S: Final = 0.001
_LONGEST_RETRY_S: Final = 0.05
_ITER_CHUNK_SIZE: Final = 64


class _RunNow:
    """Stands in for aiosqlite's queue to its thread: a call put on it runs at once, here.
    (SQLAlchemy's aiosqlite dialect puts its isolation-level setter on that queue itself.)"""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting caller, as aiosqlite does
            if future is not None:
                future.set_exception(exc)
        else:
            if future is not None:
                future.set_result(result)


class LoopConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run on the calling thread, in the event loop."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, _ITER_CHUNK_SIZE)
        self._tx = _RunNow()  # type: ignore[assignment]

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> LoopConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, LoopConnection]:
        return self._connect().__await__()

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


def loop_connector(path: str, busy_timeout_s: float = 0) -> Callable[[], Any]:
    """An `async_creator` for SQLAlchemy: a LoopConnection to the database file at `path`
    that waits at most `busy_timeout_s` for a lock itself (the writer: not at all, see
    `begin_immediate`)."""

    async def create() -> LoopConnection:
        connect = partial(
            sqlite3.connect,
            path,
            timeout=busy_timeout_s,
            isolation_level=None,
            check_same_thread=False,
        )
        return await LoopConnection(connect)

    return create


def begin_immediate(conn: Connection, timeout_s: float) -> None:
    """Take SQLite's writer lock, waiting asynchronously while another process holds it;
    OperationalError after `timeout_s`. Runs inside SQLAlchemy's greenlet, hence `await_`."""
    deadline = time.monotonic() + timeout_s
    delay = _FIRST_RETRY_S
    while True:
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            if not _is_locked(exc) or time.monotonic() + delay > deadline:
                raise
        await_(asyncio.sleep(delay))
        delay = min(delay * 2, _LONGEST_RETRY_S)


def _is_locked(exc: OperationalError) -> bool:
    return isinstance(exc.orig, sqlite3.OperationalError) and "locked" in str(exc.orig)
