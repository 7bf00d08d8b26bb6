"""documents: a document file's own facts, its pages, and its chunks with their full-text index

Files gain `document_type`, `document_title`, `page_count`, `text_extraction_status` (with
its error and error type) and `chunk_count`; `document_pages` holds each page's text and
regions, `document_chunks` the passages search reads, indexed like files are
(catalog/search_index.py): SQLite FTS5 rows keyed from `chunk_fts_keys`, PostgreSQL
`tsvector`s under a GIN index. No document was extracted before this revision, so there is
nothing to index yet.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 18:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from scopix.server.catalog.search_index import (
    CHUNK_POSTGRES_TABLE,
    CHUNK_SQLITE_KEYS,
    CHUNK_SQLITE_TABLE,
)

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The document columns of `files`, all nullable (other kinds leave them null).
_FILE_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("document_type", sa.String(length=10)),
    ("document_title", sa.Text()),
    ("page_count", sa.Integer()),
    ("text_extraction_status", sa.String(length=20)),
    ("text_extraction_error", sa.Text()),
    ("text_extraction_error_type", sa.String(length=20)),
    ("chunk_count", sa.Integer()),
)


def upgrade() -> None:
    with op.batch_alter_table("files", schema=None) as batch_op:
        for name, type_ in _FILE_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    op.create_table(
        "document_pages",
        sa.Column("file_id", sa.String(length=36), nullable=False),
        sa.Column("page_number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["files.id"],
            name=op.f("fk_document_pages_file_id_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("file_id", "page_number", name=op.f("pk_document_pages")),
    )
    op.create_table(
        "document_chunks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("file_id", sa.String(length=36), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("page_numbers", sa.JSON(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["files.id"],
            name=op.f("fk_document_chunks_file_id_files"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_document_chunks_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_chunks")),
        sa.UniqueConstraint("file_id", "chunk_index", name=op.f("uq_document_chunks_file_id")),
    )
    op.create_index("ix_document_chunks_tenant", "document_chunks", ["tenant_id"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"CREATE TABLE {CHUNK_SQLITE_KEYS} (id INTEGER PRIMARY KEY, chunk_id VARCHAR(36) "
            "NOT NULL UNIQUE REFERENCES document_chunks (id) ON DELETE CASCADE)"
        )
        op.execute(
            f"CREATE VIRTUAL TABLE {CHUNK_SQLITE_TABLE} USING fts5(tenant, content, "
            "tokenize = 'porter unicode61 remove_diacritics 2')"
        )
    else:
        op.execute(
            f"CREATE TABLE {CHUNK_POSTGRES_TABLE} ("
            "chunk_id VARCHAR(36) PRIMARY KEY REFERENCES document_chunks (id) ON DELETE CASCADE, "
            "tenant_id VARCHAR(36) NOT NULL, content TSVECTOR NOT NULL)"
        )
        op.execute(
            f"CREATE INDEX ix_{CHUNK_POSTGRES_TABLE}_content ON {CHUNK_POSTGRES_TABLE} "
            "USING GIN (content)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"DROP TABLE {CHUNK_SQLITE_TABLE}")
        op.execute(f"DROP TABLE {CHUNK_SQLITE_KEYS}")
    else:
        op.execute(f"DROP TABLE {CHUNK_POSTGRES_TABLE}")
    op.drop_index("ix_document_chunks_tenant", table_name="document_chunks")
    op.drop_table("document_chunks")
    op.drop_table("document_pages")
    with op.batch_alter_table("files", schema=None) as batch_op:
        for name, _ in reversed(_FILE_COLUMNS):
            batch_op.drop_column(name)
