"""tenants: bytes of storage each one holds, reserved before bytes are kept; the
reservations of uploads under way, so a process that dies mid-upload does not hold room forever

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 15:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from scopix.server.catalog.models import UtcDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("storage_bytes", sa.BigInteger(), nullable=False, server_default="0")
        )
    # What each tenant already stores: every blob once, as the quota counts it from now on.
    op.execute(
        "UPDATE tenants SET storage_bytes = COALESCE("
        "(SELECT SUM(blobs.size_bytes) FROM blobs WHERE blobs.tenant_id = tenants.id), 0)"
    )
    op.create_table(
        "storage_reservations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("nbytes", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_storage_reservations_expiry",
        "storage_reservations",
        ["tenant_id", "expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_storage_reservations_expiry", table_name="storage_reservations")
    op.drop_table("storage_reservations")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("storage_bytes")
