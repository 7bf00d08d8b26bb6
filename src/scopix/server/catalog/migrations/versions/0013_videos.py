"""videos: a video file's own facts, its scenes, and the per-scene analyses

Files gain `video_metadata` (the container's facts, domain.videos.VideoMetadata as JSON),
`video_analysis_status` (with its error and error type) and `scene_count`; `video_scenes`
holds each scene's times and the storage key of its thumbnail; `analyses.parts` keeps a
described video's per-scene results in scene order. No video was analysed before this
revision, so there is nothing to fill in.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 07:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The video columns of `files`, all nullable (other kinds leave them null).
_FILE_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("video_metadata", sa.JSON()),
    ("video_analysis_status", sa.String(length=16)),
    ("video_analysis_error", sa.Text()),
    ("video_analysis_error_type", sa.String(length=32)),
    ("scene_count", sa.Integer()),
)


def upgrade() -> None:
    with op.batch_alter_table("files", schema=None) as batch_op:
        for name, type_ in _FILE_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parts", sa.JSON(), nullable=True))
    op.create_table(
        "video_scenes",
        sa.Column("file_id", sa.String(length=36), nullable=False),
        sa.Column("scene_index", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("start_seconds", sa.Float(), nullable=False),
        sa.Column("end_seconds", sa.Float(), nullable=False),
        sa.Column("keyframe_seconds", sa.Float(), nullable=False),
        sa.Column("thumbnail_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["files.id"],
            name=op.f("fk_video_scenes_file_id_files"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_video_scenes_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("file_id", "scene_index", name=op.f("pk_video_scenes")),
    )


def downgrade() -> None:
    op.drop_table("video_scenes")
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.drop_column("parts")
    with op.batch_alter_table("files", schema=None) as batch_op:
        for name, _ in reversed(_FILE_COLUMNS):
            batch_op.drop_column(name)
