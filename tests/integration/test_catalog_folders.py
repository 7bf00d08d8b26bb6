"""The folders revision on a real SQLite file and a real PostgreSQL database: the folder and
project ids files kept while the API ignored them name nothing, and are cleared."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from catalogrows import blob_row, file_row, tenant_row
from scopix.server.catalog.db import sync_url
from scopix.server.catalog.migrate import alembic_config, upgrade
from scopix.server.catalog.models import File, Project
from scopix.server.domain.ids import new_id

SHA = "cd" * 32


@pytest.mark.fresh_catalog
def test_upgrading_clears_placements_that_name_nothing(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "0016")
    tenant, other = tenant_row(), tenant_row()
    tenant.storage_bytes = other.storage_bytes = 0
    now = datetime.now(UTC)
    project = Project(
        id=new_id(),
        tenant_id=tenant.id,
        name="Work",
        name_key="work",
        created_at=now,
        updated_at=now,
    )
    kept, foreign, unknown = (file_row(tenant.id, SHA, now) for _ in range(3))
    kept.folder_id, kept.project_id = "made-up folder", project.id
    foreign.project_id = new_id()  # a project of no one's
    unknown.project_id = "made-up project"
    theirs = Project(
        id=new_id(),
        tenant_id=other.id,
        name="Theirs",
        name_key="theirs",
        created_at=now,
        updated_at=now,
    )
    foreign.project_id = theirs.id  # another tenant's project is not this file's
    engine = create_engine(sync_url(database_url))
    # Revision 0017 changes no column of these tables: today's models write them as 0016 has them.
    with Session(engine, expire_on_commit=False) as session:
        for rows in ([tenant, other], [blob_row(tenant.id, SHA), project, theirs]):
            session.add_all(rows)
            session.flush()  # the models declare no relationships to order inserts by
        session.add_all([kept, foreign, unknown])
        session.commit()
    engine.dispose()

    upgrade(database_url)
    engine = create_engine(sync_url(database_url))
    with engine.connect() as conn:
        placed = {
            row.id: (row.folder_id, row.project_id)
            for row in conn.execute(select(File.id, File.folder_id, File.project_id))
        }
    engine.dispose()
    assert placed == {
        kept.id: (None, project.id),
        foreign.id: (None, None),
        unknown.id: (None, None),
    }
