"""custom extraction: a tenant's schemas of fields, and what each one pulled out of a file

Two new tables, `extraction_schemas` and `extractions`. A file may have one extraction job per
schema at a time, so the `fields` job kind leaves the one-active-job-per-file index: its
extraction row names the one job allowed to write it instead.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 00:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from scopix.server.catalog.models import UtcDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = "state IN ('queued', 'running')"
_ACTIVE_NOT_FIELDS = "state IN ('queued', 'running') AND kind <> 'fields'"


def upgrade() -> None:
    op.create_table(
        "extraction_schemas",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("name_key", sa.String(length=1020), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("schema", sa.JSON(), nullable=False),
        sa.Column("prompt_hint", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_extraction_schemas_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extraction_schemas")),
    )
    op.create_index(
        "ux_extraction_schemas_tenant_name_key",
        "extraction_schemas",
        ["tenant_id", "name_key"],
        unique=True,
    )
    op.create_table(
        "extractions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("file_id", sa.String(length=36), nullable=False),
        sa.Column("schema_id", sa.String(length=64), nullable=False),
        sa.Column("schema", sa.JSON(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("confidence_score", sa.Float(), nullable=True),
        sa.Column("extractor", sa.String(length=100), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_type", sa.String(length=20), nullable=True),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("requested_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_extractions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["files.id"],
            name=op.f("fk_extractions_file_id_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extractions")),
    )
    op.create_index(
        "ux_extractions_file_schema", "extractions", ["file_id", "schema_id"], unique=True
    )
    _active_jobs_index(_ACTIVE_NOT_FIELDS)


def downgrade() -> None:
    op.execute("DELETE FROM jobs WHERE kind = 'fields'")
    _active_jobs_index(_ACTIVE)
    op.drop_index("ux_extractions_file_schema", table_name="extractions")
    op.drop_table("extractions")
    op.drop_index("ux_extraction_schemas_tenant_name_key", table_name="extraction_schemas")
    op.drop_table("extraction_schemas")


def _active_jobs_index(where: str) -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ux_jobs_active_per_file")
        batch_op.create_index(
            "ux_jobs_active_per_file",
            ["file_id", "kind"],
            unique=True,
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )
