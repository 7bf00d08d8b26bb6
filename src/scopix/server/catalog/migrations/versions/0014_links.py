"""links: a saved link's own facts on its file

Files gain the URL a link was saved from (`source_url`, normalized) and its `domain`, how
fetching it went (`crawl_status` with its error and error type, `crawled_at`), and what its
page said of itself (`page_title`, `og_metadata`, `favicon_url`, `extracted_images` and their
count). A tenant's links are found by their URL through a partial index that uploaded files
stay out of. Blobs gain a partial index over links' URL lists, which the purge removes once a
crawl has moved their file onto its page. No link existed before this revision, so there is
nothing to fill in.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 13:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from scopix.server.catalog.models import UtcDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The link columns of `files`, all nullable (other kinds leave them null).
_FILE_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("source_url", sa.Text()),
    ("domain", sa.String(length=255)),
    ("page_title", sa.Text()),
    ("og_metadata", sa.JSON()),
    ("favicon_url", sa.Text()),
    ("crawl_status", sa.String(length=20)),
    ("crawl_error", sa.Text()),
    ("crawl_error_type", sa.String(length=32)),
    ("crawled_at", UtcDateTime(timezone=True)),
    ("extracted_images", sa.JSON()),
    ("extracted_images_count", sa.Integer()),
)


def upgrade() -> None:
    with op.batch_alter_table("files", schema=None) as batch_op:
        for name, type_ in _FILE_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        batch_op.create_index(
            "ix_files_tenant_source_url",
            ["tenant_id", "source_url"],
            sqlite_where=sa.text("source_url IS NOT NULL"),
            postgresql_where=sa.text("source_url IS NOT NULL"),
        )
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_blobs_url_lists",
            ["tenant_id", "sha256"],
            sqlite_where=sa.text("mime_type = 'text/uri-list'"),
            postgresql_where=sa.text("mime_type = 'text/uri-list'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.drop_index("ix_blobs_url_lists")
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_index("ix_files_tenant_source_url")
        for name, _ in reversed(_FILE_COLUMNS):
            batch_op.drop_column(name)
