"""Fixtures for integration tests: the catalog's units of work on a migrated database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from scopix.server.catalog.db import connect
from scopix.server.catalog.migrate import upgrade
from scopix.server.catalog.uow import UnitOfWorkFactory


@pytest.fixture
async def uows(database_url: str) -> AsyncIterator[UnitOfWorkFactory]:
    upgrade(database_url)
    database = connect(database_url)
    yield UnitOfWorkFactory(database)
    await database.dispose()
