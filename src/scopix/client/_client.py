"""``Scopix``: the async client, and ``client.usage``."""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any, Literal

import httpx

from scopix.client._documents import AsyncDocuments
from scopix.client._events import AsyncEvents, AsyncWebhooks
from scopix.client._extraction import AsyncExtraction
from scopix.client._files import AsyncFiles
from scopix.client._folders import AsyncFolders
from scopix.client._options import ClientOptions, from_environment
from scopix.client._projects import AsyncProjects
from scopix.client._transport import Transport
from scopix.types.quota import UsageCheck

AnalysisLevel = Literal["basic", "standard", "detailed"]


class AsyncUsage:
    """Credit checks; reach it as ``client.usage``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def check(
        self, item_count: int = 1, analysis_level: AnalysisLevel = "standard"
    ) -> UsageCheck:
        """Whether ``item_count`` descriptions fit in the tenant's remaining credits."""
        answer = await self._transport.json(
            "POST",
            "usage/check",
            body={"item_count": item_count, "analysis_level": analysis_level},
        )
        return UsageCheck.from_dict(answer)


class Scopix:
    """The async Scopix client.

    ```python
    async with Scopix(api_key="scopix_...") as client:
        result = await client.files.upload("photo.jpg")
        print(result.description, result.tags)
    ```

    ``api_key`` and ``base_url`` fall back to ``SCOPIX_API_KEY`` and ``SCOPIX_BASE_URL``
    (then ``http://127.0.0.1:8080/api/v2``). Requests time out after ``timeout`` seconds
    and are retried up to ``max_retries`` times (connection errors, 408, 409 locks, 429,
    5xx) with exponential backoff from ``retry_delay`` and jitter, honouring
    ``Retry-After``. Waiting for descriptions polls every ``polling_interval`` seconds
    for at most ``polling_timeout``. ``tenant_id`` is sent as ``X-Tenant-ID``; the key
    decides the tenant, and a server refuses a key used for another tenant.
    ``http_client`` replaces the internal ``httpx.AsyncClient`` (its base URL, timeout
    and proxy then apply instead of this client's).
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 300.0,
        max_retries: int = 3,
        retry_delay: float = 1.0,
        polling_interval: float = 2.0,
        polling_timeout: float = 360.0,
        tenant_id: str | None = None,
        proxy_url: str | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.options = ClientOptions.resolve(
            api_key,
            base_url,
            timeout=timeout,
            max_retries=max_retries,
            retry_delay=retry_delay,
            polling_interval=polling_interval,
            polling_timeout=polling_timeout,
            tenant_id=tenant_id,
            proxy_url=proxy_url,
        )
        self._transport = Transport(self.options, http_client)
        self.files = AsyncFiles(self._transport)
        self.documents = AsyncDocuments(self._transport)
        self.projects = AsyncProjects(self._transport)
        self.folders = AsyncFolders(self._transport)
        self.extraction = AsyncExtraction(self._transport)
        self.events = AsyncEvents(self._transport)
        self.webhooks = AsyncWebhooks(self._transport)
        self.usage = AsyncUsage(self._transport)

    @classmethod
    def from_env(cls, **overrides: Any) -> Scopix:
        """A client configured from ``SCOPIX_API_KEY``, ``SCOPIX_BASE_URL``,
        ``SCOPIX_TIMEOUT``, ``SCOPIX_MAX_RETRIES``, ``SCOPIX_RETRY_DELAY``,
        ``SCOPIX_POLLING_INTERVAL``, ``SCOPIX_POLLING_TIMEOUT``, ``SCOPIX_TENANT_ID`` and
        ``SCOPIX_PROXY_URL``; keyword ``overrides`` win over the environment."""
        return cls(**from_environment(os.environ, overrides))

    async def close(self) -> None:
        """Close the client's connections."""
        await self._transport.close()

    async def __aenter__(self) -> Scopix:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
