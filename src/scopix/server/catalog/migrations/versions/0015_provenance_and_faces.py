"""provenance and faces: where each part of an analysis came from, and the faces it found

Analyses gain `provenance` (for the description, each tag, the visible text and the embedding:
the analyzer that produced it, how sure it was, and the pipeline fingerprint) and `faces` (the
boxes of the faces found, normalized 0-1, with a confidence: where, never who). Analyses made
before this revision have neither and keep null: their pipeline fingerprint names an older
revision, so describing the file again writes both.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 17:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provenance", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("faces", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.drop_column("faces")
        batch_op.drop_column("provenance")
