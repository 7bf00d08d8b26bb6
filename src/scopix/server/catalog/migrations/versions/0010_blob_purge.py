"""blobs: a state that keeps a dedup upload off bytes being purged

`blobs.state` is `live`, or `purging` while a purge removes the bytes (`purge_started_at` says
since when); deleted files get an index in the order they fall due for purging.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 15:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from scopix.server.catalog.models import UtcDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("state", sa.String(length=10), server_default="live", nullable=False)
        )
        batch_op.add_column(sa.Column("purge_started_at", UtcDateTime(), nullable=True))
        batch_op.create_index(
            "ix_blobs_purging",
            ["purge_started_at"],
            sqlite_where=sa.text("state = 'purging'"),
            postgresql_where=sa.text("state = 'purging'"),
        )
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.create_index(
            "ix_files_deleted_at",
            ["deleted_at"],
            sqlite_where=sa.text("deleted_at IS NOT NULL"),
            postgresql_where=sa.text("deleted_at IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_index("ix_files_deleted_at")
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.drop_index("ix_blobs_purging")
        batch_op.drop_column("purge_started_at")
        batch_op.drop_column("state")
