"""folders: a tenant's tree of folders, and files placed in folders and projects

A new table, `folders`. Files kept `folder_id` and `project_id` since the first revision, as
ids the API accepted and ignored: nothing here named a folder, and no project id was checked.
Those values name nothing, so they are cleared (a folder id always, a project id unless it
names one of the tenant's projects); from this revision on every id on a file names a row.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 21:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from scopix.server.catalog.models import UtcDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "folders",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=True),
        sa.Column("parent_id", sa.String(length=36), nullable=True),
        sa.Column("siblings", sa.String(length=48), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("name_key", sa.String(length=1020), nullable=False),
        sa.Column("path", sa.String(length=800), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_folders_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_folders_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["folders.id"], name=op.f("fk_folders_parent_id_folders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_folders")),
    )
    op.create_index(
        "ux_folders_tenant_siblings_name",
        "folders",
        ["tenant_id", "siblings", "name_key"],
        unique=True,
    )
    op.create_index("ix_folders_tenant_path", "folders", ["tenant_id", "path"])
    op.create_index("ix_folders_tenant_project", "folders", ["tenant_id", "project_id", "depth"])
    op.execute("UPDATE files SET folder_id = NULL WHERE folder_id IS NOT NULL")
    op.execute(
        "UPDATE files SET project_id = NULL WHERE project_id IS NOT NULL AND NOT EXISTS ("
        "SELECT 1 FROM projects WHERE projects.id = files.project_id"
        " AND projects.tenant_id = files.tenant_id)"
    )
    for column in ("folder_id", "project_id"):
        op.create_index(
            f"ix_files_tenant_{column.removesuffix('_id')}",
            "files",
            ["tenant_id", column],
            sqlite_where=sa.text(f"{column} IS NOT NULL"),
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
        )


def downgrade() -> None:
    op.drop_index("ix_files_tenant_project", table_name="files")
    op.drop_index("ix_files_tenant_folder", table_name="files")
    op.drop_index("ix_folders_tenant_project", table_name="folders")
    op.drop_index("ix_folders_tenant_path", table_name="folders")
    op.drop_index("ux_folders_tenant_siblings_name", table_name="folders")
    op.drop_table("folders")
