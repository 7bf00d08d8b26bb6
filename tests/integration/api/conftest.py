"""Fixtures of the API's integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from apiclient import Api


@pytest.fixture
async def web(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a third tenant with no rate limit, for tests that make many requests."""
    key = await api.services.keys.create_key("initech", tier="custom")
    async with httpx.AsyncClient(
        transport=api.transport,
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {key.plaintext}"},
    ) as client:
        yield client
