"""The full-text index of files: SQLite FTS5 in the embedded profile, PostgreSQL `tsvector`s in
scale-out. Both hold folded text (domain.listing.fold) and stem English words, so the same query
finds the same files on either database.

Rows are written in the transaction that changes what they index, and searched joined to
`files`, so a deleted file never appears even before its row is gone.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from scopix.server.catalog.models import File
from scopix.server.domain.listing import SearchMode, TextSearch, searchable

#: Tables this module owns; the models do not describe them (migrations and `alembic check`
#: leave them alone: see migrations/env.py).
SQLITE_TABLE = "file_fts"
POSTGRES_TABLE = "file_search"
#: PostgreSQL's text search configuration (made by migration 0005): English stemming like
#: FTS5's porter tokenizer, and like it no stop words ("that is red" needs all three words).
POSTGRES_CONFIG = "scopix_english"

_SQLITE_COLUMNS: dict[SearchMode, str] = {
    "all": SQLITE_TABLE,
    "metadata": "metadata",
    "visible_text": "visible_text",
}
_POSTGRES_COLUMNS: dict[SearchMode, str] = {
    "all": "document",
    "metadata": "metadata",
    "visible_text": "visible_text",
}


def indexed_texts(
    filename: str,
    title: str | None,
    description: str | None,
    tags: Sequence[str],
    visible_text: str | None,
) -> tuple[str, str]:
    """(metadata, visible text) of a file, folded as the index holds them."""
    metadata = " ".join(part for part in (filename, title, description, *tags) if part)
    return searchable(metadata), searchable(visible_text or "")


async def index_file(session: AsyncSession, file: File, tags: Sequence[str]) -> None:
    """Write (or rewrite) one file's row."""
    metadata, visible = indexed_texts(
        file.filename, file.title, file.description, tags, file.visible_text
    )
    params = {"id": file.id, "tenant": file.tenant_id, "meta": metadata, "visible": visible}
    if _dialect(session) == "sqlite":
        await session.execute(text(f"DELETE FROM {SQLITE_TABLE} WHERE file_id = :id"), params)
        await session.execute(
            text(
                f"INSERT INTO {SQLITE_TABLE} (file_id, tenant_id, metadata, visible_text) "
                "VALUES (:id, :tenant, :meta, :visible)"
            ),
            params,
        )
        return
    await session.execute(_POSTGRES_UPSERT, params)


def ranked_matches(session: AsyncSession, search: TextSearch) -> TextClause:
    """`(file_id, rank)` of the files matching every word; a lower rank is a better match."""
    if _dialect(session) == "sqlite":
        column = _SQLITE_COLUMNS[search.mode]
        # bm25 weights per column: file_id, tenant_id (unindexed), metadata, visible_text.
        return text(
            f"SELECT file_id, bm25({SQLITE_TABLE}, 0, 0, 2.0, 1.0) AS rank "
            f"FROM {SQLITE_TABLE} WHERE {column} MATCH :query"
        ).bindparams(query=fts5_query(search.words))
    column = _POSTGRES_COLUMNS[search.mode]
    return text(
        f"SELECT file_id, -ts_rank_cd({column}, query) AS rank "
        f"FROM {POSTGRES_TABLE}, plainto_tsquery('{POSTGRES_CONFIG}', :query) AS query "
        f"WHERE {column} @@ query"
    ).bindparams(query=" ".join(search.words))


def fts5_query(words: Sequence[str]) -> str:
    """Every word as an FTS5 string (quotes doubled), all required."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def _dialect(session: AsyncSession) -> str:
    bind = session.get_bind()
    return str(bind.dialect.name)


_POSTGRES_UPSERT = text(
    f"""
    INSERT INTO {POSTGRES_TABLE} (file_id, tenant_id, metadata, visible_text, document)
    SELECT :id, :tenant, m, v, setweight(m, 'A') || setweight(v, 'B')
    FROM to_tsvector('{POSTGRES_CONFIG}', :meta) AS m,
         to_tsvector('{POSTGRES_CONFIG}', :visible) AS v
    ON CONFLICT (file_id) DO UPDATE SET
        metadata = excluded.metadata,
        visible_text = excluded.visible_text,
        document = excluded.document
    """
)
