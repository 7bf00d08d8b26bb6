"""projects: a tenant's named workspaces

A new table, `projects`, with a name unique per tenant by its case-folded key. No row existed
before this revision, so there is nothing to fill in.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 19:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from scopix.server.catalog.models import UtcDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("name_key", sa.String(length=1020), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_projects_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    op.create_index(
        "ux_projects_tenant_name_key", "projects", ["tenant_id", "name_key"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ux_projects_tenant_name_key", table_name="projects")
    op.drop_table("projects")
