"""SQLite's writer and lookups on the event loop, against a real database file held by another
connection (as another process would hold it)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from scopix.server.catalog.db import connect
from scopix.server.catalog.loop_session import ON_DRIVER, LoopSession, LoopSessions
from scopix.server.catalog.models import JSON, UtcDateTime


class _Base(DeclarativeBase):
    pass


class _Row(_Base):
    __tablename__ = "t"
    rowid: Mapped[int] = mapped_column(primary_key=True)
    n: Mapped[int]


_TYPED = Table(
    "typed",
    MetaData(),
    Column("id", String, primary_key=True),
    Column("at", UtcDateTime),
    Column("tags", JSON),
)
_INSERT_TYPED = insert(_TYPED)
_INSERT_TYPED_ON_DRIVER = insert(_TYPED).execution_options(**ON_DRIVER)
_SELECT_TYPED_ON_DRIVER = (
    select(_TYPED.c.at, _TYPED.c.tags)
    .where(_TYPED.c.id == bindparam("id"))
    .execution_options(**ON_DRIVER)
)
_BUMP_ON_DRIVER = update(_Row.__table__).values(n=_Row.__table__.c.n + 1)
_BUMP_ON_DRIVER = _BUMP_ON_DRIVER.execution_options(**ON_DRIVER)
_RETURNING_ON_DRIVER = text("INSERT INTO t (n) VALUES (:n) RETURNING n * 10")
_RETURNING_ON_DRIVER = _RETURNING_ON_DRIVER.execution_options(**ON_DRIVER)
_EXPANDING_ON_DRIVER = (
    update(_Row.__table__)
    .where(_Row.__table__.c.n.in_(bindparam("ns", expanding=True)))
    .values(n=0)
    .execution_options(**ON_DRIVER)
)


def _sessions(path: Path, *, lock_timeout_s: float = 5, size: int = 1) -> LoopSessions:
    engine = create_engine(
        f"sqlite:///{path}",
        pool_size=size,
        max_overflow=0,
        connect_args={"timeout": 0, "isolation_level": None, "check_same_thread": False},
    )
    return LoopSessions(
        engine, size=size, begin="BEGIN IMMEDIATE", wait_s=5, lock_timeout_s=lock_timeout_s
    )


@pytest.fixture
def db_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "catalog.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (n INTEGER)")
    yield path


@pytest.fixture
async def sessions(db_file: Path) -> AsyncIterator[LoopSessions]:
    sessions = _sessions(db_file)
    yield sessions
    sessions.engine.dispose()


def _count(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM t").fetchone()[0])


def _hold_lock(path: Path, seconds: float) -> tuple[threading.Event, threading.Thread]:
    """Hold SQLite's writer lock from another connection for `seconds`: an event set once it
    is held, and the thread that holds it."""
    held = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t VALUES (1)")
        held.set()
        threading.Event().wait(seconds)
        other.execute("COMMIT")
        other.close()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    return held, holder


async def _ticking(ticks: list[int]) -> None:
    while True:
        await asyncio.sleep(0.01)
        ticks.append(1)


async def test_statements_run_on_the_loops_own_thread(sessions: LoopSessions) -> None:
    seen: list[int] = []
    event.listen(
        sessions.engine, "before_cursor_execute", lambda *_: seen.append(threading.get_ident())
    )
    async with sessions() as session:
        await session.execute(text("INSERT INTO t VALUES (2)"))
        await session.commit()
    assert set(seen) == {threading.get_ident()}


async def test_a_writer_waits_for_anothers_lock_without_blocking_the_loop(
    sessions: LoopSessions, db_file: Path
) -> None:
    held, _ = _hold_lock(db_file, seconds=0.4)
    await asyncio.to_thread(held.wait)
    ticks: list[int] = []
    ticker = asyncio.create_task(_ticking(ticks))
    async with sessions() as session:
        session.add(_Row(n=2))  # added before the lock is free, and kept while it waits
        await session.flush()  # waits for the other connection's commit
        await session.commit()
    ticker.cancel()
    assert len(ticks) >= 10, "the loop kept running while the writer waited for the lock"
    assert _count(db_file) == 2


async def test_a_lock_held_past_the_timeout_is_an_error(db_file: Path) -> None:
    sessions = _sessions(db_file, lock_timeout_s=0.1)
    held, holder = _hold_lock(db_file, seconds=0.5)
    await asyncio.to_thread(held.wait)
    with pytest.raises(OperationalError, match="locked"):
        async with sessions() as session:
            await session.execute(text("INSERT INTO t VALUES (2)"))
    await asyncio.to_thread(holder.join)
    async with sessions() as session:  # the failed one gave its connection back
        await session.execute(text("INSERT INTO t VALUES (3)"))
        await session.commit()
    assert _count(db_file) == 2
    sessions.engine.dispose()


async def test_an_error_in_a_statement_reaches_the_caller_and_rolls_back(
    sessions: LoopSessions, db_file: Path
) -> None:
    with pytest.raises(OperationalError, match="no such table"):
        async with sessions() as session:
            await session.execute(text("INSERT INTO t VALUES (3)"))
            await session.execute(text("INSERT INTO missing VALUES (1)"))
    assert _count(db_file) == 0


async def test_sessions_beyond_the_pool_wait_their_turn_on_the_loop(
    sessions: LoopSessions, db_file: Path
) -> None:
    order: list[str] = []

    async def write(name: str) -> None:
        async with sessions() as session:
            await session.execute(text("INSERT INTO t VALUES (4)"))
            order.append(f"{name} holds")
            await asyncio.sleep(0.05)  # awaits inside the transaction, as an upload's does
            order.append(f"{name} commits")
            await session.commit()

    await asyncio.gather(write("a"), write("b"), write("c"))
    assert order == [f"{n} {step}" for n in "abc" for step in ("holds", "commits")]
    assert _count(db_file) == 3


async def test_a_writer_cancelled_while_it_waits_gives_its_turn_back(
    sessions: LoopSessions, db_file: Path
) -> None:
    first = sessions()
    await first.execute(text("INSERT INTO t VALUES (5)"))
    behind_the_pool = asyncio.create_task(sessions().execute(text("INSERT INTO t VALUES (6)")))
    await asyncio.sleep(0.05)
    behind_the_pool.cancel()
    await first.commit()
    held, holder = _hold_lock(db_file, seconds=0.3)
    await asyncio.to_thread(held.wait)
    behind_the_lock = asyncio.create_task(sessions().execute(text("INSERT INTO t VALUES (7)")))
    await asyncio.sleep(0.05)
    behind_the_lock.cancel()
    for task in (behind_the_pool, behind_the_lock):
        with pytest.raises(asyncio.CancelledError):
            await task
    await asyncio.to_thread(holder.join)
    async with sessions() as session:
        assert await session.scalar(text("SELECT count(*) FROM t")) == 2


async def test_a_lookup_reads_outside_any_transaction(db_file: Path) -> None:
    database = connect(f"sqlite+aiosqlite:///{db_file}")
    async with database.looker() as session:
        assert await session.scalar(text("SELECT count(*) FROM t")) == 0
        raw = session.sync_session.connection().connection.driver_connection
        assert raw is not None and not raw.in_transaction  # no BEGIN, no ROLLBACK to pay for
    await database.dispose()


async def test_the_catalogs_writer_and_lookups_run_on_the_loop(tmp_path: Path) -> None:
    database = connect(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    assert isinstance(database.writer(), LoopSession)
    assert isinstance(database.looker(), LoopSession)
    assert not isinstance(database.reader(), LoopSession)
    await database.dispose()


async def test_a_lookup_on_the_loop_reads_while_another_connection_writes(db_file: Path) -> None:
    database = connect(f"sqlite+aiosqlite:///{db_file}")
    held, _ = _hold_lock(db_file, seconds=1.0)
    await asyncio.to_thread(held.wait)
    async with database.looker() as session:  # WAL: a reader never waits for the writer
        count = await session.scalar(text("SELECT count(*) FROM t"))
    assert count == 0  # the other connection's row is not committed yet
    await database.dispose()


async def test_a_statement_on_the_driver_stores_what_sqlalchemy_would(
    sessions: LoopSessions, db_file: Path
) -> None:
    with sqlite3.connect(db_file) as setup:
        setup.execute("CREATE TABLE typed (id TEXT PRIMARY KEY, at TEXT, tags TEXT)")
    seen: list[str] = []
    event.listen(sessions.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    at = datetime(2026, 12, 7, 13, 5, 9, 120, tzinfo=UTC)
    async with sessions() as session:
        await session.execute(_INSERT_TYPED, {"id": "by-sqlalchemy", "at": at, "tags": ["a"]})
        await session.execute(_INSERT_TYPED_ON_DRIVER, {"id": "on-driver", "at": at, "tags": ["a"]})
        await session.commit()
    assert len([sql for sql in seen if "typed" in sql]) == 1  # the other skipped SQLAlchemy
    with sqlite3.connect(db_file) as check:
        stored = dict(check.execute("SELECT id, at || '|' || tags FROM typed").fetchall())
    assert stored["on-driver"] == stored["by-sqlalchemy"]
    async with sessions() as session:
        rows = (await session.execute(select(_TYPED.c.at, _TYPED.c.tags))).all()
        read = await session.execute(_SELECT_TYPED_ON_DRIVER, {"id": "by-sqlalchemy"})
        first = read.mappings().first()
        missing = await session.execute(_SELECT_TYPED_ON_DRIVER, {"id": "none"})
        await session.commit()
    assert [tuple(r) for r in rows] == [(at, ["a"]), (at, ["a"])]
    assert first == {"at": at, "tags": ["a"]}  # read back as SQLAlchemy reads it
    assert missing.mappings().first() is None


async def test_rows_added_to_the_session_go_in_before_a_statement_on_the_driver(
    sessions: LoopSessions, db_file: Path
) -> None:
    async with sessions() as session:
        session.add(_Row(n=1))
        bumped = await session.execute(_BUMP_ON_DRIVER)
        await session.commit()
    assert bumped.rowcount == 1
    with sqlite3.connect(db_file) as check:
        assert check.execute("SELECT n FROM t").fetchall() == [(2,)]


async def test_a_statement_on_the_driver_returns_its_value_and_raises_sqlalchemys_errors(
    sessions: LoopSessions,
) -> None:
    async with sessions() as session:
        assert await session.scalar(_RETURNING_ON_DRIVER, {"n": 4}) == 40
        await session.commit()
    with sqlite3.connect(sessions.engine.url.database or "") as setup:
        setup.execute("CREATE TABLE typed (id TEXT PRIMARY KEY, at TEXT, tags TEXT)")
    with pytest.raises(TypeError, match="no value for 'tags'"):
        async with sessions() as session:
            await session.execute(_INSERT_TYPED_ON_DRIVER, {"id": "short", "at": None})
    row = {"id": "twice", "at": None, "tags": None}
    with pytest.raises(IntegrityError):
        async with sessions() as session:
            await session.execute(_INSERT_TYPED_ON_DRIVER, row)
            await session.execute(_INSERT_TYPED_ON_DRIVER, row)


async def test_a_statement_expanded_when_executed_cannot_run_on_the_driver(
    sessions: LoopSessions,
) -> None:
    with pytest.raises(TypeError, match="expanded"):
        async with sessions() as session:
            await session.execute(_EXPANDING_ON_DRIVER, {"ns": [1, 2]})
