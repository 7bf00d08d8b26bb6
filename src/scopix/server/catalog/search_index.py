"""The full-text index of files: SQLite FTS5 in the embedded profile, PostgreSQL `tsvector`s in
scale-out. Both hold folded text (domain.listing.fold) and stem English words, so the same query
finds the same files on either database.

The index holds the live files only: a row is written, rewritten or removed in the transaction
that changes what it indexes (a description, an edit, a delete or a restore). So a tenant's
matches can be counted and paged from the index alone, without reading `files` for each match,
which is what keeps a search for a common word fast.

SQLite: FTS5 rows are found by rowid (an FTS5 table has no other index), so `file_fts_keys`
gives each file a fixed integer key, assigned when it is first indexed: key order is upload
order, and "newest first" is descending key order. The tenant is a word of its own column,
required by every query.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, String, TextClause, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from scopix.server.catalog.loop_session import ON_DRIVER
from scopix.server.catalog.models import File
from scopix.server.domain.listing import SearchMode, TextSearch, searchable

#: Tables this module owns; the models do not describe them (migrations and `alembic check`
#: leave them alone: see migrations/env.py).
SQLITE_TABLE = "file_fts"
SQLITE_KEYS = "file_fts_keys"
POSTGRES_TABLE = "file_search"
#: PostgreSQL's text search configuration (made by migration 0005): English stemming like
#: FTS5's porter tokenizer, and like it no stop words ("that is red" needs all three words).
POSTGRES_CONFIG = "scopix_english"

_SQLITE_COLUMNS: dict[SearchMode, str] = {
    "all": "{metadata visible_text}",
    "metadata": "metadata",
    "visible_text": "visible_text",
}
_POSTGRES_COLUMNS: dict[SearchMode, str] = {
    "all": "document",
    "metadata": "metadata",
    "visible_text": "visible_text",
}
#: The matches' keys of `count_and_keys`: `created_at` in microseconds, ascending.
MatchKeys = np.ndarray[Any, np.dtype[np.int64]]
#: PostgreSQL's sort memory for numbering every match of a search (match_ranks).
_NUMBERING_WORK_MEM = "32MB"
#: bm25 weights per FTS5 column: tenant (never scored), metadata, visible text.
_SQLITE_RANK = f"bm25({SQLITE_TABLE}, 0.0, 2.0, 1.0)"


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


def tenant_token(tenant_id: str) -> str:
    """The tenant as one word of the SQLite index: digits only, which the tokenizer keeps whole
    and the stemmer leaves alone, so no two tenants' words can ever meet."""
    return str(int.from_bytes(hashlib.sha256(tenant_id.encode()).digest()[:16], "big"))


async def index_file(
    session: AsyncSession, file: File, tags: Sequence[str], *, new: bool = False
) -> None:
    """Write, rewrite or (for a deleted file) remove one file's row; `new`: the file has none
    yet (it was added in this transaction), so none is looked for."""
    metadata, visible = indexed_texts(
        file.filename, file.title, file.description, tags, file.visible_text
    )
    row = {
        "id": file.id,
        "tenant": file.tenant_id,
        "meta": metadata,
        "visible": visible,
        "created": file.created_at,
    }
    if _dialect(session) == "sqlite":
        await _index_sqlite(session, row, live=file.deleted_at is None, new=new)
    elif file.deleted_at is None:
        await session.execute(_POSTGRES_UPSERT, row)
    else:
        await session.execute(text(f"DELETE FROM {POSTGRES_TABLE} WHERE file_id = :id"), row)


async def _index_sqlite(
    session: AsyncSession, row: dict[str, Any], *, live: bool, new: bool
) -> None:
    key = None
    if not new:
        key = await session.scalar(text(f"SELECT id FROM {SQLITE_KEYS} WHERE file_id = :id"), row)
    if key is not None:
        await session.execute(text(f"DELETE FROM {SQLITE_TABLE} WHERE rowid = :key"), {"key": key})
    elif live:
        key = await session.scalar(_SQLITE_NEW_KEY, row)
    if live:
        await session.execute(
            _SQLITE_INSERT, {**row, "key": key, "tenant": tenant_token(row["tenant"])}
        )


async def unindex_files(session: AsyncSession, file_ids: Sequence[str]) -> None:
    """Remove every trace of these files from the index (they are being purged)."""
    ids = {"ids": list(file_ids)}
    if _dialect(session) == "sqlite":
        keys = f"SELECT id FROM {SQLITE_KEYS} WHERE file_id IN :ids"
        await session.execute(
            _expanding(f"DELETE FROM {SQLITE_TABLE} WHERE rowid IN ({keys})"), ids
        )
        await session.execute(_expanding(f"DELETE FROM {SQLITE_KEYS} WHERE file_id IN :ids"), ids)
    else:
        await session.execute(
            _expanding(f"DELETE FROM {POSTGRES_TABLE} WHERE file_id IN :ids"), ids
        )


def _expanding(sql: str) -> TextClause:
    # Typed, so that an empty list becomes an empty set of strings, not of integers.
    return text(sql).bindparams(bindparam("ids", expanding=True, type_=String))


def bulk_index(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Index many new live files at once, in the order given (bulk loads: the bench).

    Each row: id, tenant, meta, visible (texts from `indexed_texts`), created."""
    if conn.dialect.name != "sqlite":
        conn.execute(_POSTGRES_UPSERT, list(rows))
        return
    first = conn.scalar(text(f"SELECT coalesce(max(id), 0) + 1 FROM {SQLITE_KEYS}"))
    keyed = [
        {**row, "key": first + n, "tenant": tenant_token(row["tenant"])}
        for n, row in enumerate(rows)
    ]
    conn.execute(text(f"INSERT INTO {SQLITE_KEYS} (id, file_id) VALUES (:key, :id)"), keyed)
    conn.execute(_SQLITE_INSERT, keyed)


async def count_matches(session: AsyncSession, tenant_id: str, search: TextSearch) -> int:
    """How many of the tenant's live files match every word (read from the index alone)."""
    if _dialect(session) == "sqlite":
        stmt = text(f"SELECT count(*) FROM {SQLITE_TABLE} WHERE {SQLITE_TABLE} MATCH :query")
        return int(await session.scalar(stmt, {"query": _fts5_match(tenant_id, search)}) or 0)
    column = _POSTGRES_COLUMNS[search.mode]
    stmt = text(
        f"SELECT count(*) FROM {POSTGRES_TABLE} "
        f"WHERE tenant_id = :tenant AND {column} @@ plainto_tsquery('{POSTGRES_CONFIG}', :query)"
    )
    return int(await session.scalar(stmt, _postgres_params(tenant_id, search)) or 0)


async def count_and_keys(
    session: AsyncSession, tenant_id: str, search: TextSearch
) -> tuple[int, MatchKeys | None]:
    """`count_matches`, and on PostgreSQL the keys of the matches from the same scan, for
    `key_ranks`: each match's `created_at` in microseconds, sorted. SQLite gives no keys: it
    numbers every match fast enough (`match_ranks`).

    Why keys: numbering 64,000 matches newest first on PostgreSQL sorted all of them after the
    meaning ranking was known (78-113 ms on this 2-core machine), where adding the keys to the
    count, read while the query is embedded, costs the scan 15-30 ms more."""
    if _dialect(session) == "sqlite":
        return await count_matches(session, tenant_id, search), None
    column = _POSTGRES_COLUMNS[search.mode]
    stmt = text(
        "SELECT count(*), string_agg(timestamptz_send(created_at), ''::bytea) "
        f"FROM {POSTGRES_TABLE}, plainto_tsquery('{POSTGRES_CONFIG}', :query) AS query "
        f"WHERE tenant_id = :tenant AND {column} @@ query"
    )
    total, packed = (await session.execute(stmt, _postgres_params(tenant_id, search))).one()
    # timestamptz_send: 8 bytes, big-endian, microseconds since 2000: ordered as created_at.
    keys = np.sort(np.frombuffer(packed or b"", dtype=">i8").astype(np.int64))
    return int(total), keys


async def key_ranks(
    session: AsyncSession,
    tenant_id: str,
    search: TextSearch,
    keys: MatchKeys,
    ids: Sequence[str],
    *,
    descending: bool,
) -> dict[str, int]:
    """PostgreSQL: the rank (1 = first) of each of `ids` that matches the words, in the order of
    `matching_ids` newest first (oldest first when not `descending`), from the matches' `keys`
    (`count_and_keys`): one more than the matches newer than it, and than those of the same
    microsecond that the order puts before it by id. Only these ids are read."""
    if not ids:
        return {}
    column = _POSTGRES_COLUMNS[search.mode]
    ahead = ">" if descending else "<"
    stmt = _expanding(
        "SELECT m.file_id, timestamptz_send(m.created_at), "
        f"(SELECT count(*) FROM {POSTGRES_TABLE} AS tie WHERE tie.tenant_id = :tenant "
        f"AND tie.created_at = m.created_at AND tie.file_id {ahead} m.file_id "
        f"AND tie.{column} @@ query) "
        f"FROM {POSTGRES_TABLE} AS m, plainto_tsquery('{POSTGRES_CONFIG}', :query) AS query "
        f"WHERE m.tenant_id = :tenant AND m.{column} @@ query AND m.file_id IN :ids"
    )
    params = {**_postgres_params(tenant_id, search), "ids": list(ids)}
    rows = (await session.execute(stmt, params)).all()
    if not rows:
        return {}
    found = np.array([int.from_bytes(key, "big", signed=True) for _, key, _ in rows])
    if descending:
        newer = len(keys) - np.searchsorted(keys, found, side="right")
    else:
        newer = np.searchsorted(keys, found, side="left")
    return {
        file_id: int(n) + int(tied) + 1 for (file_id, _, tied), n in zip(rows, newer, strict=True)
    }


async def matching_ids(
    session: AsyncSession,
    tenant_id: str,
    search: TextSearch,
    *,
    by_relevance: bool,
    descending: bool,
    limit: int | None,
    offset: int = 0,
) -> list[str]:
    """A window of the matching files' ids: best match first (then newest) or newest first
    (oldest first when not `descending`). `limit` None: every match."""
    direction = "DESC" if descending else "ASC"
    window = "" if limit is None else f" LIMIT {int(limit)} OFFSET {int(offset)}"
    if _dialect(session) == "sqlite":
        order = f"{_SQLITE_RANK}, " if by_relevance else ""
        stmt = text(
            f"SELECT k.file_id FROM {SQLITE_TABLE} "
            f"JOIN {SQLITE_KEYS} AS k ON k.id = {SQLITE_TABLE}.rowid "
            f"WHERE {SQLITE_TABLE} MATCH :query "
            f"ORDER BY {order}{SQLITE_TABLE}.rowid {direction}{window}"
        )
        params: dict[str, Any] = {"query": _fts5_match(tenant_id, search)}
    else:
        column = _POSTGRES_COLUMNS[search.mode]
        order = f"ts_rank_cd({column}, query) DESC, " if by_relevance else ""
        stmt = text(
            f"SELECT file_id FROM {POSTGRES_TABLE}, "
            f"plainto_tsquery('{POSTGRES_CONFIG}', :query) AS query "
            f"WHERE tenant_id = :tenant AND {column} @@ query "
            f"ORDER BY {order}created_at {direction}, file_id {direction}{window}"
        )
        params = _postgres_params(tenant_id, search)
    return list(await session.scalars(stmt, params))


async def match_ranks(
    session: AsyncSession,
    tenant_id: str,
    search: TextSearch,
    ids: Sequence[str],
    *,
    by_relevance: bool,
    descending: bool,
    first: int = 0,
) -> dict[str, int]:
    """The rank (1 = first) that each of `ids` matching the words holds in the order of
    `matching_ids`, and the ranks of the `first` matches; ids that do not match are left out.
    The database numbers the matches once, so only these ids come back, however many match."""
    if not ids and first <= 0:
        return {}
    direction = "DESC" if descending else "ASC"
    wanted = "(n <= :first OR file_id IN :ids)"
    if _dialect(session) == "sqlite":
        order = "score, " if by_relevance else ""
        score = _SQLITE_RANK if by_relevance else "0.0"
        stmt = _expanding(
            f"WITH found AS (SELECT rowid AS key, {score} AS score FROM {SQLITE_TABLE} "
            f"WHERE {SQLITE_TABLE} MATCH :query), "
            f"ranked AS (SELECT key, row_number() OVER (ORDER BY {order}key {direction}) AS n "
            "FROM found) "
            f"SELECT k.file_id, ranked.n FROM ranked JOIN {SQLITE_KEYS} AS k ON k.id = ranked.key "
            "WHERE (ranked.n <= :first OR k.file_id IN :ids)"
        )
        params: dict[str, Any] = {"query": _fts5_match(tenant_id, search)}
    else:
        column = _POSTGRES_COLUMNS[search.mode]
        order = f"ts_rank_cd({column}, query) DESC, " if by_relevance else ""
        stmt = _expanding(
            "SELECT file_id, n FROM (SELECT file_id, row_number() OVER "
            f"(ORDER BY {order}created_at {direction}, file_id {direction}) AS n "
            f"FROM {POSTGRES_TABLE}, plainto_tsquery('{POSTGRES_CONFIG}', :query) AS query "
            f"WHERE tenant_id = :tenant AND {column} @@ query) AS ranked WHERE {wanted}"
        )
        params = _postgres_params(tenant_id, search)
        # Numbering 40,000 matches sorts some 5 MB: past the default 4 MB of work_mem the sort
        # spilled to disk (93 ms against 72 ms in memory). For this transaction only.
        await session.execute(text(f"SET LOCAL work_mem = '{_NUMBERING_WORK_MEM}'"))
    rows = await session.execute(stmt, {**params, "ids": list(ids), "first": first})
    return {file_id: int(rank) for file_id, rank in rows}


def matches(
    session: AsyncSession, tenant_id: str, search: TextSearch, *, ranked: bool
) -> TextClause:
    """`(file_id, rank)` of the tenant's files matching every word, to join with `files`; a lower
    rank is a better match (0 for all when not `ranked`, which skips scoring)."""
    if _dialect(session) == "sqlite":
        rank = _SQLITE_RANK if ranked else "0.0"
        return text(
            f"SELECT k.file_id AS file_id, {rank} AS rank FROM {SQLITE_TABLE} "
            f"JOIN {SQLITE_KEYS} AS k ON k.id = {SQLITE_TABLE}.rowid "
            f"WHERE {SQLITE_TABLE} MATCH :query"
        ).bindparams(query=_fts5_match(tenant_id, search))
    column = _POSTGRES_COLUMNS[search.mode]
    rank = f"-ts_rank_cd({column}, query)" if ranked else "0.0"
    return text(
        f"SELECT file_id, {rank} AS rank "
        f"FROM {POSTGRES_TABLE}, plainto_tsquery('{POSTGRES_CONFIG}', :query) AS query "
        f"WHERE tenant_id = :tenant AND {column} @@ query"
    ).bindparams(**_postgres_params(tenant_id, search))


def fts5_query(words: Sequence[str]) -> str:
    """Every word as an FTS5 string (quotes doubled), all required."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def _fts5_match(tenant_id: str, search: TextSearch) -> str:
    column = _SQLITE_COLUMNS[search.mode]
    return f'tenant : "{tenant_token(tenant_id)}" AND {column} : ({fts5_query(search.words)})'


def _postgres_params(tenant_id: str, search: TextSearch) -> dict[str, str]:
    return {"tenant": tenant_id, "query": " ".join(search.words)}


def _dialect(session: AsyncSession) -> str:
    bind = session.get_bind()
    return str(bind.dialect.name)


_SQLITE_INSERT = text(
    f"INSERT INTO {SQLITE_TABLE} (rowid, tenant, metadata, visible_text) "
    "VALUES (:key, :tenant, :meta, :visible)"
).execution_options(**ON_DRIVER)
_SQLITE_NEW_KEY = text(
    f"INSERT INTO {SQLITE_KEYS} (file_id) VALUES (:id) RETURNING id"
).execution_options(**ON_DRIVER)
_POSTGRES_UPSERT = text(
    f"""
    INSERT INTO {POSTGRES_TABLE} (file_id, tenant_id, created_at, metadata, visible_text, document)
    SELECT :id, :tenant, :created, m, v, setweight(m, 'A') || setweight(v, 'B')
    FROM to_tsvector('{POSTGRES_CONFIG}', :meta) AS m,
         to_tsvector('{POSTGRES_CONFIG}', :visible) AS v
    ON CONFLICT (file_id) DO UPDATE SET
        metadata = excluded.metadata,
        visible_text = excluded.visible_text,
        document = excluded.document
    """
)


# The full-text index of document chunks, kept the same way: SQLite FTS5 rows keyed by integers
# from `chunk_fts_keys` with the tenant as a word of its own column; PostgreSQL `tsvector`s
# under a GIN index. Rows are written with their chunks and removed with them (a re-extraction
# replaces a document's chunks; a purge removes them), so a query needs only `files` to leave
# deleted documents out.
CHUNK_SQLITE_TABLE = "chunk_fts"
CHUNK_SQLITE_KEYS = "chunk_fts_keys"
CHUNK_POSTGRES_TABLE = "chunk_search"


async def index_chunks(session: AsyncSession, rows: Sequence[Mapping[str, str]]) -> None:
    """Index new chunks; each row: chunk_id, tenant, content (as stored)."""
    if not rows:
        return
    if _dialect(session) == "sqlite":
        for row in rows:
            key = await session.scalar(
                text(f"INSERT INTO {CHUNK_SQLITE_KEYS} (chunk_id) VALUES (:chunk_id) RETURNING id"),
                row,
            )
            await session.execute(
                text(
                    f"INSERT INTO {CHUNK_SQLITE_TABLE} (rowid, tenant, content) "
                    "VALUES (:key, :tenant, :content)"
                ),
                {
                    "key": key,
                    "tenant": tenant_token(row["tenant"]),
                    "content": searchable(row["content"]),
                },
            )
        return
    await session.execute(
        text(
            f"INSERT INTO {CHUNK_POSTGRES_TABLE} (chunk_id, tenant_id, content) "
            f"VALUES (:chunk_id, :tenant, to_tsvector('{POSTGRES_CONFIG}', :content))"
        ),
        [{**row, "content": searchable(row["content"])} for row in rows],
    )


async def unindex_chunks_of(session: AsyncSession, file_ids: Sequence[str]) -> None:
    """Remove the index rows of these documents' chunks (before the chunks themselves go)."""
    ids = {"ids": list(file_ids)}
    if not file_ids:
        return
    chunks = "SELECT id FROM document_chunks WHERE file_id IN :ids"
    if _dialect(session) == "sqlite":
        keys = f"SELECT id FROM {CHUNK_SQLITE_KEYS} WHERE chunk_id IN ({chunks})"
        await session.execute(
            _expanding(f"DELETE FROM {CHUNK_SQLITE_TABLE} WHERE rowid IN ({keys})"), ids
        )
        await session.execute(
            _expanding(f"DELETE FROM {CHUNK_SQLITE_KEYS} WHERE chunk_id IN ({chunks})"), ids
        )
    else:
        await session.execute(
            _expanding(f"DELETE FROM {CHUNK_POSTGRES_TABLE} WHERE chunk_id IN ({chunks})"), ids
        )


def chunk_matches(session: AsyncSession, tenant_id: str, words: Sequence[str]) -> TextClause:
    """`(chunk_id, rank)` of the tenant's chunks holding every word; a lower rank is a better
    match. Deleted documents' chunks are still here: join with `files` to leave them out."""
    if _dialect(session) == "sqlite":
        query = f'tenant : "{tenant_token(tenant_id)}" AND content : ({fts5_query(words)})'
        return text(
            f"SELECT k.chunk_id AS chunk_id, bm25({CHUNK_SQLITE_TABLE}, 0.0, 1.0) AS rank "
            f"FROM {CHUNK_SQLITE_TABLE} "
            f"JOIN {CHUNK_SQLITE_KEYS} AS k ON k.id = {CHUNK_SQLITE_TABLE}.rowid "
            f"WHERE {CHUNK_SQLITE_TABLE} MATCH :query"
        ).bindparams(query=query)
    return text(
        f"SELECT chunk_id, -ts_rank_cd(content, query) AS rank "
        f"FROM {CHUNK_POSTGRES_TABLE}, plainto_tsquery('{POSTGRES_CONFIG}', :query) AS query "
        f"WHERE tenant_id = :tenant AND content @@ query"
    ).bindparams(tenant=tenant_id, query=" ".join(words))
