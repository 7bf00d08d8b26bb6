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

SQLITE_BUSY_TIMEOUT_S = 30


@dataclass
class Database:
    """The catalog connection: a session factory for reads and one for writes."""

    url: str
    reader: async_sessionmaker[AsyncSession]
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


def _sqlite_engine(url: str, *, immediate: bool, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S},
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=120,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the lock up front so two writers never deadlock on upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def connect(url: str) -> Database:
    """Open the catalog at `url` (an SQLAlchemy async URL)."""
    if make_url(url).get_backend_name() == "sqlite":
        writer = _sqlite_engine(url, immediate=True, pool_size=1)
        reader = _sqlite_engine(url, immediate=False, pool_size=5)
        engines: tuple[AsyncEngine, ...] = (writer, reader)
    else:
        writer = reader = create_async_engine(
            url, pool_size=10, max_overflow=10, pool_pre_ping=True
        )
        engines = (writer,)
    return Database(
        url=url,
        reader=async_sessionmaker(reader, expire_on_commit=False),
        writer=async_sessionmaker(writer, expire_on_commit=False),
        engines=engines,
    )


def sync_url(url: str) -> str:
    """The same database through a synchronous driver, for Alembic."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}[parsed.get_backend_name()]
    return parsed.set(drivername=driver).render_as_string(hide_password=False)
