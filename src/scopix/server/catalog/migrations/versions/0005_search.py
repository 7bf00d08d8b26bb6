"""search: the full-text index of files, and the image features and class scores of analyses

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 03:40:00.000000
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from scopix.server.catalog.search_index import (
    POSTGRES_CONFIG,
    POSTGRES_TABLE,
    SQLITE_TABLE,
    indexed_texts,
)

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image_features", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("class_scores", sa.JSON(), nullable=True))
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.create_index("ix_files_tenant_updated", ["tenant_id", "updated_at"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"CREATE VIRTUAL TABLE {SQLITE_TABLE} USING fts5(file_id UNINDEXED, "
            "tenant_id UNINDEXED, metadata, visible_text, "
            "tokenize = 'porter unicode61 remove_diacritics 2')"
        )
    else:
        _create_postgres_config()
        op.execute(
            f"CREATE TABLE {POSTGRES_TABLE} ("
            "file_id VARCHAR(36) PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE, "
            "tenant_id VARCHAR(36) NOT NULL, metadata TSVECTOR NOT NULL, "
            "visible_text TSVECTOR NOT NULL, document TSVECTOR NOT NULL)"
        )
        for column in ("metadata", "visible_text", "document"):
            op.execute(
                f"CREATE INDEX ix_{POSTGRES_TABLE}_{column} ON {POSTGRES_TABLE} "
                f"USING GIN ({column})"
            )
    _index_existing_files()


def _create_postgres_config() -> None:
    op.execute(
        "CREATE TEXT SEARCH DICTIONARY scopix_english_stem "
        "(TEMPLATE = snowball, LANGUAGE = english)"
    )
    op.execute(f"CREATE TEXT SEARCH CONFIGURATION {POSTGRES_CONFIG} (COPY = english)")
    op.execute(
        f"ALTER TEXT SEARCH CONFIGURATION {POSTGRES_CONFIG} ALTER MAPPING FOR "
        "asciiword, word, hword_asciipart, hword_part, asciihword, hword "
        "WITH scopix_english_stem"
    )


def _index_existing_files() -> None:
    bind = op.get_bind()
    tags: dict[str, list[str]] = defaultdict(list)
    for file_id, tag in bind.execute(
        sa.text("SELECT file_id, tag FROM file_tags ORDER BY source DESC, position")
    ):
        tags[file_id].append(tag)
    files = bind.execute(
        sa.text(
            "SELECT id, tenant_id, filename, title, description, visible_text FROM files "
            "WHERE deleted_at IS NULL"
        )
    )
    rows = []
    for f in files:
        meta, visible = indexed_texts(
            f.filename, f.title, f.description, tags[f.id], f.visible_text
        )
        rows.append({"id": f.id, "tenant": f.tenant_id, "meta": meta, "visible": visible})
    if not rows:
        return
    if bind.dialect.name == "sqlite":
        insert = (
            f"INSERT INTO {SQLITE_TABLE} (file_id, tenant_id, metadata, visible_text) "
            "VALUES (:id, :tenant, :meta, :visible)"
        )
    else:
        insert = (
            f"INSERT INTO {POSTGRES_TABLE} (file_id, tenant_id, metadata, visible_text, document) "
            f"SELECT :id, :tenant, to_tsvector('{POSTGRES_CONFIG}', :meta), "
            f"to_tsvector('{POSTGRES_CONFIG}', :visible), "
            f"setweight(to_tsvector('{POSTGRES_CONFIG}', :meta), 'A') || "
            f"setweight(to_tsvector('{POSTGRES_CONFIG}', :visible), 'B')"
        )
    bind.execute(sa.text(insert), rows)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"DROP TABLE {SQLITE_TABLE}")
    else:
        op.execute(f"DROP TABLE {POSTGRES_TABLE}")
        op.execute(f"DROP TEXT SEARCH CONFIGURATION {POSTGRES_CONFIG}")
        op.execute("DROP TEXT SEARCH DICTIONARY scopix_english_stem")
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_index("ix_files_tenant_updated")
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.drop_column("class_scores")
        batch_op.drop_column("image_features")
