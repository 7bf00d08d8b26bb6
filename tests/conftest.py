"""Shared fixtures: real catalogs (a SQLite file and a fresh PostgreSQL database), a real app."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy.engine import make_url

from apiclient import Api, running_api
from scopix.server.settings import Settings

pytest_plugins = ["s3server"]

# Tests never assert on wall-clock time, and CI shares two cores: no per-example deadline.
hypothesis_settings.register_profile("scopix", deadline=None, print_blob=True)
hypothesis_settings.load_profile("scopix")

POSTGRES_URL = os.environ.get(
    "SCOPIX_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("SCOPIX_REQUIRE_POSTGRES") == "1"


def _postgres_reachable() -> bool:
    import psycopg

    url = make_url(POSTGRES_URL)
    try:
        psycopg.connect(_libpq(url.set(database="postgres")), connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True


def _libpq(url: object) -> str:
    parsed = make_url(str(url))
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    available = _postgres_reachable()
    if not available and REQUIRE_POSTGRES:
        pytest.fail(f"SCOPIX_REQUIRE_POSTGRES=1 but PostgreSQL at {POSTGRES_URL} is unreachable")
    return available


@pytest.fixture
def fresh_postgres_url(postgres_available: bool) -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped after the test."""
    if not postgres_available:
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable (set SCOPIX_TEST_POSTGRES_URL)")
    import psycopg

    name = f"scopix_test_{uuid.uuid4().hex[:12]}"
    admin = _libpq(make_url(POSTGRES_URL).set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_available: bool) -> Iterator[str]:
    """One PostgreSQL database brought to the newest schema once per run, which tests share,
    emptied before each: creating and migrating a database took 0.5 s a test (400 tests)."""
    if not postgres_available:
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable (set SCOPIX_TEST_POSTGRES_URL)")
    import psycopg

    from scopix.server.catalog.migrate import upgrade

    name = f"scopix_test_shared_{uuid.uuid4().hex[:12]}"
    admin = _libpq(make_url(POSTGRES_URL).set(database="postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def emptied_postgres_url(migrated_postgres_url: str) -> str:
    """The shared migrated database with every row gone: what a fresh database at the newest
    schema holds. Connections a previous test left open are ended first, as DROP ... WITH
    (FORCE) ended them, so no stale lock or session outlives its test."""
    import psycopg

    with psycopg.connect(_libpq(migrated_postgres_url), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        tables = conn.execute(
            "SELECT quote_ident(tablename) FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        ).fetchall()
        conn.execute(f"TRUNCATE {', '.join(t for (t,) in tables)} RESTART IDENTITY CASCADE")
    return migrated_postgres_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that uses this runs once on a new SQLite file and once on PostgreSQL: the
    shared database at the newest schema, emptied (upgrading it is a no-op), or a new one with
    no schema at all for a test marked `fresh_catalog`, which steps through the migrations."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}"
    fixture = (
        "fresh_postgres_url"
        if request.node.get_closest_marker("fresh_catalog")
        else "emptied_postgres_url"
    )
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # No background workers: tests run jobs themselves (Api.drain), at the moment they choose.
    return Settings(
        data_dir=tmp_path / "data", database_url=database_url, workers=0, retry_base_seconds=0
    )


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with running_api(settings) as running:
        yield running


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis of `SCOPIX_TEST_REDIS_URL`: tests skip when it does not answer, or fail with
    `SCOPIX_REQUIRE_REDIS=1`. Shared with whatever else runs there: tests use keys of their own
    and delete only those."""
    import redis

    url = os.environ.get("SCOPIX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError:
        if os.environ.get("SCOPIX_REQUIRE_REDIS") == "1":
            pytest.fail(f"SCOPIX_REQUIRE_REDIS=1 but Redis at {url} is unreachable")
        pytest.skip(f"Redis at {url} is unreachable (set SCOPIX_TEST_REDIS_URL)")
    finally:
        client.close()
    return url


@pytest.fixture
def redis_namespace(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own in that Redis; its keys are deleted afterwards, and no
    others."""
    import redis

    prefix = f"scopix-test:{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
    finally:
        client.close()
