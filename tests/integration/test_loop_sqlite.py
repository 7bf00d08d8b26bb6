"""SQLite's writer connection on the event loop, against a real database file held by another
connection (as another process would hold it)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from scopix.server.catalog import loop_sqlite
from scopix.server.catalog.db import connect
from scopix.server.catalog.loop_sqlite import begin_immediate, loop_connector


def _engine(path: Path, timeout_s: float) -> AsyncEngine:
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{path}", async_creator=loop_connector(str(path)), pool_size=1
    )

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        begin_immediate(conn, timeout_s)

    return engine


@pytest.fixture
def db_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "catalog.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (n INTEGER)")
    yield path


@pytest.fixture
async def engine(db_file: Path) -> AsyncIterator[AsyncEngine]:
    engine = _engine(db_file, timeout_s=5)
    yield engine
    await engine.dispose()


def _hold_lock(path: Path, seconds: float) -> threading.Event:
    """Hold SQLite's writer lock from another connection for `seconds`; set once held."""
    held = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t VALUES (1)")
        held.set()
        threading.Event().wait(seconds)
        other.execute("COMMIT")
        other.close()

    threading.Thread(target=hold, daemon=True).start()
    return held


async def test_statements_run_on_the_loops_own_thread(engine: AsyncEngine) -> None:
    seen: list[int] = []
    async with engine.begin() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.driver_connection, loop_sqlite.LoopConnection)
        await conn.execute(text("INSERT INTO t VALUES (2)"))
        seen.append(threading.get_ident())
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1
    assert seen == [threading.get_ident()]


async def test_a_writer_waits_for_anothers_lock_without_blocking_the_loop(
    engine: AsyncEngine, db_file: Path
) -> None:
    held = _hold_lock(db_file, seconds=0.4)
    await asyncio.to_thread(held.wait)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    async with engine.begin() as conn:  # waits for the other connection's commit
        await conn.execute(text("INSERT INTO t VALUES (2)"))
    ticker.cancel()
    assert ticks >= 10, "the loop kept running while the writer waited for the lock"
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 2


async def test_a_lock_held_past_the_timeout_is_an_error(db_file: Path) -> None:
    engine = _engine(db_file, timeout_s=0.1)
    held = _hold_lock(db_file, seconds=1.0)
    await asyncio.to_thread(held.wait)
    with pytest.raises(OperationalError, match="locked"):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t VALUES (2)"))
    await engine.dispose()


async def test_an_error_in_a_statement_reaches_the_caller_and_rolls_back(
    engine: AsyncEngine,
) -> None:
    with pytest.raises(OperationalError, match="no such table"):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t VALUES (3)"))
            await conn.execute(text("INSERT INTO missing VALUES (1)"))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0


async def test_the_catalogs_writer_and_lookups_are_loop_connections(tmp_path: Path) -> None:
    database = connect(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    writer, reader, looker = database.engines
    for engine, on_loop in ((writer, True), (reader, False), (looker, True)):
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            assert isinstance(raw.driver_connection, loop_sqlite.LoopConnection) is on_loop
    await database.dispose()


async def test_a_lookup_on_the_loop_reads_while_another_connection_writes(db_file: Path) -> None:
    database = connect(f"sqlite+aiosqlite:///{db_file}")
    held = _hold_lock(db_file, seconds=1.0)
    await asyncio.to_thread(held.wait)
    async with database.looker() as session:  # WAL: a reader never waits for the writer
        count = await session.scalar(text("SELECT count(*) FROM t"))
    assert count == 0  # the other connection's row is not committed yet
    await database.dispose()
