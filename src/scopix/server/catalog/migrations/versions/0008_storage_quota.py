"""tenants: bytes of storage each one holds, reserved before bytes are kept

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 15:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

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


def downgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("storage_bytes")
