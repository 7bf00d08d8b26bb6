"""Engines and sessions for SQLite (WAL, one writer) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from scopix.server.catalog.loop_session import LoopSessions

SQLITE_BUSY_TIMEOUT_S = 30
#: How long a unit of work waits for a pooled connection before it fails.
_POOL_WAIT_S = 120
#: A reader in WAL mode meets a lock only while another connection recovers or resets the WAL
#: (rare and short): a lookup on the loop waits that out in place.
_LOOKER_BUSY_S = 0.2


@dataclass
class Database:
    """The catalog connection: session factories for reads, for lookups by key and for
    writes."""

    url: str
    reader: Callable[[], AsyncSession]
    looker: Callable[[], AsyncSession]
    writer: Callable[[], AsyncSession]
    engines: tuple[AsyncEngine, ...]
    loop_engines: tuple[Engine, ...] = ()

    @property
    def is_sqlite(self) -> bool:
        """Whether the catalog is the embedded SQLite file."""
        return self.url.startswith("sqlite")

    async def dispose(self) -> None:
        """Close every pooled connection."""
        for engine in self.engines:
            await engine.dispose()
        for loop_engine in self.loop_engines:
            loop_engine.dispose()


def _on_loop(url: str, *, writer: bool, size: int) -> LoopSessions:
    # The writer and the lookups by key run on the event loop (catalog/loop_session.py).
    path = make_url(url).database or ""
    engine = create_engine(
        f"sqlite:///{path}",
        pool_size=size,
        max_overflow=0,
        connect_args={
            "timeout": 0 if writer else _LOOKER_BUSY_S,
            "isolation_level": None,
            "check_same_thread": False,
        },
    )
    _prepare(engine, busy_timeout_s=None)
    return LoopSessions(
        engine,
        size=size,
        # The writer takes the lock up front, so two writers never deadlock on upgrade; a
        # lookup is one statement, atomic on its own (BEGIN and ROLLBACK are two more calls).
        begin="BEGIN IMMEDIATE" if writer else None,
        wait_s=_POOL_WAIT_S,
        lock_timeout_s=SQLITE_BUSY_TIMEOUT_S,
    )


def _on_threads(url: str, *, size: int) -> AsyncEngine:
    # Other readers run on aiosqlite's threads, since a scan would hold the loop.
    engine = create_async_engine(
        url,
        pool_size=size,
        max_overflow=0,
        pool_timeout=_POOL_WAIT_S,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S},
    )
    _prepare(engine.sync_engine, busy_timeout_s=SQLITE_BUSY_TIMEOUT_S)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def _prepare(engine: Engine, *, busy_timeout_s: int | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_conn.isolation_level = None  # BEGIN is ours to say (see the callers)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        if busy_timeout_s is not None:  # a connection on the loop waits as it was told
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_s * 1000}")
        cursor.close()


def connect(url: str) -> Database:
    """Open the catalog at `url` (an SQLAlchemy async URL)."""
    if make_url(url).get_backend_name() == "sqlite":
        writer = _on_loop(url, writer=True, size=1)
        looker = _on_loop(url, writer=False, size=2)
        reader = _on_threads(url, size=5)
        return Database(
            url=url,
            reader=async_sessionmaker(reader, expire_on_commit=False),
            looker=looker,
            writer=writer,
            engines=(reader,),
            loop_engines=(writer.engine, looker.engine),
        )
    engine = create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    return Database(url=url, reader=sessions, looker=sessions, writer=sessions, engines=(engine,))


def sync_url(url: str) -> str:
    """The same database through a synchronous driver, for Alembic."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}[parsed.get_backend_name()]
    return parsed.set(drivername=driver).render_as_string(hide_password=False)
