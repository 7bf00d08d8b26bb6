"""Alembic environment: runs migrations on the synchronous connection it is handed."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from scopix.server.catalog.models import Base
from scopix.server.catalog.search_index import (
    CHUNK_POSTGRES_TABLE,
    CHUNK_SQLITE_TABLE,
    POSTGRES_TABLE,
    SQLITE_TABLE,
)

UNMODELLED_PREFIXES = (SQLITE_TABLE, POSTGRES_TABLE, CHUNK_SQLITE_TABLE, CHUNK_POSTGRES_TABLE)
#: The advisory lock that serializes migrations (any constant, the same in every process).
MIGRATION_LOCK = 0x5C0_9117

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Migrate the database named in the config, or the connection passed in attributes."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_name=_described_by_models,
    )
    with context.begin_transaction():
        if context.get_context().dialect.name == "postgresql":
            # Replicas starting together migrate one at a time: the others wait here, then
            # find the schema at head and do nothing. Released when the transaction ends.
            context.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        context.run_migrations()


def _described_by_models(name: str | None, kind: str, parent_names: object) -> bool:
    """The full-text tables are dialect-specific SQL (catalog/search_index.py), not models."""
    return not (kind == "table" and name is not None and name.startswith(UNMODELLED_PREFIXES))


run_migrations_online()
