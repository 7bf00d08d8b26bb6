"""Engines and sessions for SQLite (WAL, one writer) and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from scopix.server.catalog.loop_sqlite import begin_immediate, loop_connector

SQLITE_BUSY_TIMEOUT_S = 30
#: A reader in WAL mode meets a lock only while another connection recovers or resets the WAL
#: (rare and short): a lookup on the loop waits that out in place.
_LOOKER_BUSY_S = 0.2


@dataclass
class Database:
    """The catalog connection: session factories for reads, for lookups by key and for
    writes."""

    url: str
    reader: async_sessionmaker[AsyncSession]
    looker: async_sessionmaker[AsyncSession]
    writer: async_sessionmaker[AsyncSession]
    engines: tuple[AsyncEngine, ...]

    @property
    def is_sqlite(self) -> bool:
        """Whether the catalog is the embedded SQLite file."""
        return self.url.startswith("sqlite")

    async def dispose(self) -> None:
        """Close every pooled connection."""
        for engine in self.engines:
            await engine.dispose()


def _sqlite_engine(url: str, *, writer: bool, pool_size: int, on_loop: bool) -> AsyncEngine:
    # The writer and the lookups by key run on the event loop (catalog/loop_sqlite.py); other
    # readers on aiosqlite's threads, since a scan would hold the loop.
    path = make_url(url).database or ""
    connection: dict[str, Any] = (
        {"async_creator": loop_connector(path, busy_timeout_s=0 if writer else _LOOKER_BUSY_S)}
        if on_loop
        else {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
    )
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=0, pool_timeout=120, **connection
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        if not on_loop:  # a connection on the loop waits as loop_connector was told
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        if writer:  # the lock is taken up front so two writers never deadlock on upgrade
            begin_immediate(conn, SQLITE_BUSY_TIMEOUT_S)
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def connect(url: str) -> Database:
    """Open the catalog at `url` (an SQLAlchemy async URL)."""
    if make_url(url).get_backend_name() == "sqlite":
        writer = _sqlite_engine(url, writer=True, pool_size=1, on_loop=True)
        reader = _sqlite_engine(url, writer=False, pool_size=5, on_loop=False)
        looker = _sqlite_engine(url, writer=False, pool_size=2, on_loop=True)
        engines: tuple[AsyncEngine, ...] = (writer, reader, looker)
    else:
        writer = reader = looker = create_async_engine(
            url, pool_size=10, max_overflow=10, pool_pre_ping=True
        )
        engines = (writer,)
    return Database(
        url=url,
        reader=async_sessionmaker(reader, expire_on_commit=False),
        looker=async_sessionmaker(looker, expire_on_commit=False),
        writer=async_sessionmaker(writer, expire_on_commit=False),
        engines=engines,
    )


def sync_url(url: str) -> str:
    """The same database through a synchronous driver, for Alembic."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}[parsed.get_backend_name()]
    return parsed.set(drivername=driver).render_as_string(hide_password=False)
