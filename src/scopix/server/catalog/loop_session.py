"""SQLite's writer and its lookups by key, run on the event loop's own thread.

aiosqlite hands every statement to a thread of its own and back: two thread switches per
statement, and the answer waits until the loop gets round to it behind every other ready task.
A write transaction holds SQLite's single writer lock across all of those waits, so under load
the lock's hold time, not the work, bounds how many uploads a second the catalog records
(`bench/uploads.py`: 34 uploads/s with the writer on aiosqlite's thread, 41 on the loop).

A write transaction is a handful of indexed statements of a few microseconds each, so it runs
here without leaving the loop, through SQLAlchemy's synchronous `Session` over the standard
`sqlite3` driver behind `AsyncSession`'s interface: SQLAlchemy's asyncio layer spent a greenlet
switch and aiosqlite's cursor emulation on every statement, twice the cost of a small insert
itself (116 µs against 58 µs; 130 against 147 uploads/s in `bench/uploads.py`).

What could block the loop for long is kept off it:

- Taking the lock: `BEGIN IMMEDIATE` is tried without waiting (busy timeout 0) and, while
  another process holds the lock, tried again after an asynchronous sleep (`LoopSessions.hold`).
- Waiting for a connection: sessions wait on an asyncio semaphore, never in the pool.
- Scans: writes that touch many rows are batched by their callers (purge: 100 rows at a time);
  reads, searches included, keep aiosqlite's threads. Only lookups of a row by its key run here,
  on connections of their own (`UnitOfWorkFactory.lookup`: every request's API key), where
  the thread's round trips cost four times the read (an authentication: 1.5 ms of CPU against 0.4).

A Core statement built once and marked `ON_DRIVER` (the upload path's inserts, updates and
deletes) runs here straight on the driver, compiled once, its parameters converted by the same
bind processors SQLAlchemy applies: SQLAlchemy's execution of an UPDATE took 26 µs where the
driver's took 8 (and under the upload bench's load, 100 to 150 µs of the event loop's time).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement, Executable, Select
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["ON_DRIVER", "LoopSession", "LoopSessions"]

#: The execution option that marks a Core statement to run straight on the driver on a loop
#: session (other sessions ignore it). Only for statements built once, at import: each is
#: compiled on its first use and kept. Compiled once, an INSERT names every column of its
#: table, so each call gives a value for every one (no column default is applied).
ON_DRIVER: Final = {"scopix_on_driver": True}

_FIRST_RETRY_S: Final = 0.001
_LONGEST_RETRY_S: Final = 0.05


_Convert = Callable[[Any], Any]


@dataclass(frozen=True)
class _DriverStatement:
    """A Core statement compiled for SQLite: its SQL, how to order and convert parameters, and
    (a SELECT) its columns' names and how to convert their values."""

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]
    processors: Mapping[str, _Convert]
    columns: tuple[str, ...]
    readers: tuple[_Convert | None, ...]

    @classmethod
    def compile(cls, statement: ClauseElement, dialect: Dialect) -> _DriverStatement:
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None:
            raise TypeError(f"not a positional statement: {statement}")
        processors = {}
        for name, bind in compiled.binds.items():
            if bind.expanding or bind.literal_execute:
                raise TypeError(f"{name!r} is expanded when executed: {statement}")
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        defaults = {n: b.value for n, b in compiled.binds.items() if not b.required}
        selected = list(statement.selected_columns) if isinstance(statement, Select) else []
        return cls(
            compiled.string,
            tuple(compiled.positiontup),
            defaults,
            processors,
            tuple(str(column.key) for column in selected),
            tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in selected),
        )

    def arguments(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        values = []
        for name in self.names:
            if name not in params and name not in self.defaults:
                raise TypeError(f"no value for {name!r} in a statement on the driver: {self.sql}")
            value = params[name] if name in params else self.defaults[name]
            processor = self.processors.get(name)
            values.append(value if processor is None else processor(value))
        return tuple(values)

    def read(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        """A row of a SELECT as SQLAlchemy gives it (dates as datetimes, JSON loaded)."""
        if not self.readers:
            return row
        return tuple(v if r is None else r(v) for v, r in zip(row, self.readers, strict=True))


class _DriverResult:
    """What callers of a driver-run statement read: the rows it changed, its first value, or
    its first row by column name."""

    def __init__(self, statement: _DriverStatement, cursor: sqlite3.Cursor) -> None:
        self._statement = statement
        self._rows = cursor.fetchall()  # a RETURNING statement completes once read
        self.rowcount = cursor.rowcount

    def scalar(self) -> Any:
        return self._statement.read(self._rows[0])[0] if self._rows else None

    def mappings(self) -> _DriverResult:
        return self

    def first(self) -> dict[str, Any] | None:
        """The first row of `mappings()`: column name -> value."""
        if not self._rows:
            return None
        return dict(zip(self._statement.columns, self._statement.read(self._rows[0]), strict=True))


class LoopSessions:
    """Hands out `LoopSession`s over one synchronous SQLite engine, at most `size` of them
    holding a connection at once: the others wait for one asynchronously, up to `wait_s`.
    Each transaction starts with the statement `begin` (None: there is no transaction, each
    statement runs on its own, as one lookup does); a session that finds the database locked by
    another process tries again for up to `lock_timeout_s`, then fails with an
    OperationalError."""

    def __init__(
        self, engine: Engine, *, size: int, begin: str | None, wait_s: float, lock_timeout_s: float
    ) -> None:
        self.engine = engine
        self._free = asyncio.Semaphore(size)
        self._begin_sql = begin
        self._wait_s = wait_s
        self._lock_timeout_s = lock_timeout_s
        self._on_driver: dict[int, tuple[Executable, _DriverStatement]] = {}
        if begin is not None:
            event.listen(engine, "begin", self._on_begin)

    def __call__(self) -> LoopSession:
        return LoopSession(self)

    async def hold(self, session: Session) -> None:
        """Give `session` a connection in a transaction; `release()` once it gave it back."""
        if self._free.locked():
            async with asyncio.timeout(self._wait_s):
                await self._free.acquire()
        else:  # taken at once: no timer to arm and cancel (1 % of the loop's time under load)
            await self._free.acquire()
        try:
            await self._begin(session)
        except BaseException:
            self._free.release()
            raise

    def _on_begin(self, conn: Connection) -> None:
        # Straight to the driver: through SQLAlchemy's statement machinery it took 6 % of the
        # event loop's time under the small-upload bench.
        try:
            conn.connection.driver_connection.execute(self._begin_sql)  # type: ignore[union-attr]
        except sqlite3.OperationalError as exc:
            raise OperationalError(str(self._begin_sql), None, exc) from exc

    def release(self) -> None:
        """A session gave its connection back to the pool."""
        self._free.release()

    def on_driver(self, statement: Any) -> _DriverStatement | None:
        """The compiled form of a statement marked ON_DRIVER; None for any other."""
        if not isinstance(statement, Executable) or not isinstance(statement, ClauseElement):
            return None
        known = self._on_driver.get(id(statement))
        if known is not None and known[0] is statement:
            return known[1]
        if not statement.get_execution_options().get("scopix_on_driver"):
            return None
        compiled = _DriverStatement.compile(statement, self.engine.dialect)
        self._on_driver[id(statement)] = (statement, compiled)  # kept alive: its id stays its own
        return compiled

    async def _begin(self, session: Session) -> None:
        # A failed begin leaves the session as it was (pending objects included), so it is
        # simply tried again.
        deadline = time.monotonic() + self._lock_timeout_s
        delay = _FIRST_RETRY_S
        while True:
            try:
                session.connection()
                return
            except OperationalError as exc:
                if not _is_locked(exc) or time.monotonic() + delay > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, _LONGEST_RETRY_S)


class LoopSession(AsyncSession):
    """An AsyncSession whose statements run at once, on the calling thread: the event loop's."""

    def __init__(self, sessions: LoopSessions) -> None:
        super().__init__(expire_on_commit=False)
        self.sync_session.bind = sessions.engine
        self._sessions = sessions
        self._holding = False

    async def _held(self) -> Session:
        if not self._holding:
            await self._sessions.hold(self.sync_session)
            self._holding = True
        return self.sync_session

    def _released(self) -> None:
        # Only once the transaction ended does the connection go back to the pool.
        if self._holding:
            self._holding = False
            self._sessions.release()

    async def execute(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        session = await self._held()
        driver = None if kw else self._sessions.on_driver(statement)
        if driver is None:
            return session.execute(statement, params, **kw)
        return _run_on_driver(session, driver, params or {})

    async def scalar(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        session = await self._held()
        driver = None if kw else self._sessions.on_driver(statement)
        if driver is None:
            return session.scalar(statement, params, **kw)
        return _run_on_driver(session, driver, params or {}).scalar()

    async def scalars(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return (await self._held()).scalars(statement, params, **kw)

    async def get(self, entity: Any, ident: Any, **kw: Any) -> Any:
        return (await self._held()).get(entity, ident, **kw)

    async def delete(self, instance: object) -> None:
        (await self._held()).delete(instance)

    async def flush(self, objects: Any = None) -> None:
        (await self._held()).flush(objects)

    async def commit(self) -> None:
        (await self._held()).commit()
        self._released()

    async def rollback(self) -> None:
        self.sync_session.rollback()
        self._released()

    async def close(self) -> None:
        self.sync_session.close()
        self._released()


def _run_on_driver(
    session: Session, driver: _DriverStatement, params: Mapping[str, Any]
) -> _DriverResult:
    if session.autoflush:
        session.flush()  # as SQLAlchemy would first: rows added to the session go in before
    raw = session.connection().connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    arguments = driver.arguments(params)
    try:
        return _DriverResult(driver, raw.execute(driver.sql, arguments))
    except sqlite3.Error as exc:  # as SQLAlchemy raises it: IntegrityError, OperationalError...
        raise DBAPIError.instance(driver.sql, arguments, exc, sqlite3.Error) from exc


def _is_locked(exc: OperationalError) -> bool:
    return isinstance(exc.orig, sqlite3.OperationalError) and "locked" in str(exc.orig)
