"""search: the full-text index holds live files only, keyed so matches count without `files`

SQLite: `file_fts` is rebuilt with integer keys from `file_fts_keys` (given in upload order)
and the tenant as an indexed word; PostgreSQL: `file_search` drops deleted files and gains
`created_at`. Listings get an index that answers "the tenant's live files, newest first".

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 06:40:00.000000
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from scopix.server.catalog.search_index import indexed_texts, tenant_token

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_index("ix_files_tenant_created")
        batch_op.create_index(
            "ix_files_tenant_live_created",
            ["tenant_id", "created_at", "id"],
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_index()
    else:
        _postgres_live_rows()


def _rebuild_sqlite_index() -> None:
    op.execute("DROP TABLE file_fts")
    op.execute(
        "CREATE TABLE file_fts_keys (id INTEGER PRIMARY KEY, file_id VARCHAR(36) NOT NULL "
        "UNIQUE REFERENCES files (id) ON DELETE CASCADE)"
    )
    op.execute(
        "CREATE VIRTUAL TABLE file_fts USING fts5(tenant, metadata, visible_text, "
        "tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    bind = op.get_bind()
    tags: dict[str, list[str]] = defaultdict(list)
    for file_id, tag in bind.execute(
        sa.text("SELECT file_id, tag FROM file_tags ORDER BY source DESC, position")
    ):
        tags[file_id].append(tag)
    files = bind.execute(
        sa.text(
            "SELECT id, tenant_id, filename, title, description, visible_text FROM files "
            "WHERE deleted_at IS NULL ORDER BY created_at, id"
        )
    )
    rows = []
    for key, f in enumerate(files, start=1):
        meta, visible = indexed_texts(
            f.filename, f.title, f.description, tags[f.id], f.visible_text
        )
        rows.append(
            {
                "key": key,
                "id": f.id,
                "tenant": tenant_token(f.tenant_id),
                "meta": meta,
                "visible": visible,
            }
        )
    if rows:
        bind.execute(sa.text("INSERT INTO file_fts_keys (id, file_id) VALUES (:key, :id)"), rows)
        bind.execute(
            sa.text(
                "INSERT INTO file_fts (rowid, tenant, metadata, visible_text) "
                "VALUES (:key, :tenant, :meta, :visible)"
            ),
            rows,
        )


def _postgres_live_rows() -> None:
    op.execute(
        "DELETE FROM file_search USING files "
        "WHERE files.id = file_search.file_id AND files.deleted_at IS NOT NULL"
    )
    op.execute("ALTER TABLE file_search ADD COLUMN created_at TIMESTAMP WITH TIME ZONE")
    op.execute(
        "UPDATE file_search SET created_at = files.created_at FROM files "
        "WHERE files.id = file_search.file_id"
    )
    op.execute("ALTER TABLE file_search ALTER COLUMN created_at SET NOT NULL")
    op.execute("CREATE INDEX ix_file_search_tenant_created ON file_search (tenant_id, created_at)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE file_fts_0005 USING fts5(file_id UNINDEXED, "
            "tenant_id UNINDEXED, metadata, visible_text, "
            "tokenize = 'porter unicode61 remove_diacritics 2')"
        )
        op.execute(
            "INSERT INTO file_fts_0005 (file_id, tenant_id, metadata, visible_text) "
            "SELECT k.file_id, f.tenant_id, s.metadata, s.visible_text FROM file_fts AS s "
            "JOIN file_fts_keys AS k ON k.id = s.rowid JOIN files AS f ON f.id = k.file_id"
        )
        op.execute("DROP TABLE file_fts")
        op.execute("DROP TABLE file_fts_keys")
        op.execute("ALTER TABLE file_fts_0005 RENAME TO file_fts")
    else:
        op.execute("DROP INDEX ix_file_search_tenant_created")
        op.execute("ALTER TABLE file_search DROP COLUMN created_at")
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_index("ix_files_tenant_live_created")
        batch_op.create_index("ix_files_tenant_created", ["tenant_id", "created_at"])
