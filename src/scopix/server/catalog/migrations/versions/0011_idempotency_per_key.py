"""idempotency_keys: scoped per API key, not per tenant

Records already kept are dropped: they say which tenant, not which of its keys, sent them, and
they live 24 h at most. A retry of one of them runs again instead of replaying (a keyed upload
then stores its file anew under the new record).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 15:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM idempotency_keys")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("api_key_id", sa.String(length=36), nullable=False))
        batch_op.drop_constraint("uq_idempotency_keys_tenant_id", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_idempotency_keys_api_key_id"), ["api_key_id", "key"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_idempotency_keys_api_key_id_api_keys"),
            "api_keys",
            ["api_key_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_keys")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_constraint("fk_idempotency_keys_api_key_id_api_keys", type_="foreignkey")
        batch_op.drop_constraint("uq_idempotency_keys_api_key_id", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_idempotency_keys_tenant_id"), ["tenant_id", "key"]
        )
        batch_op.drop_column("api_key_id")
