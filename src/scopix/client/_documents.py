"""``client.documents``: search the text of every document, passage by passage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scopix.client._transport import Transport
from scopix.types.documents import DocumentSearchMode, DocumentSearchResults


class AsyncDocuments:
    """Document operations of an async client; reach it as ``client.documents``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def search(
        self,
        query: str,
        *,
        limit: int = 10,
        search_mode: DocumentSearchMode = "hybrid",
        file_ids: Sequence[str] | None = None,
    ) -> DocumentSearchResults:
        """The chunks of the tenant's documents that best match ``query``, best first
        (``limit`` 1-50), each with its document, its pages and a score from 0 to 1.

        ``search_mode``: ``text`` (ranked full text), ``semantic`` (by meaning) or
        ``hybrid`` (both rankings fused, the default). ``file_ids`` keeps the search to
        those documents.
        """
        body: dict[str, Any] = {"query": query, "limit": limit, "search_mode": search_mode}
        if file_ids is not None:
            body["file_ids"] = list(file_ids)
        answer = await self._transport.json("POST", "documents/search", body=body)
        return DocumentSearchResults.from_dict(answer)
