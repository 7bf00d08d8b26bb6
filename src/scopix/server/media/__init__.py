"""One handler per media type behind one Protocol (base.py); `MediaHandlers` finds a file's."""

from __future__ import annotations

from collections.abc import Iterable

from scopix.server.domain.media import MediaType, media_of_mime
from scopix.server.media.base import MediaHandler


class MediaHandlers:
    """The server's handlers by kind: the only place that knows which kinds exist."""

    def __init__(self, handlers: Iterable[MediaHandler]) -> None:
        self._by_kind: dict[str, MediaHandler] = {}
        for handler in handlers:
            if handler.kind in self._by_kind:
                raise ValueError(f"two handlers for {handler.kind} media")
            self._by_kind[handler.kind] = handler

    def handler_for(self, kind: str) -> MediaHandler:
        """The handler of `kind`; a kind without one is a wiring bug (sniff accepted it)."""
        try:
            return self._by_kind[kind]
        except KeyError:
            raise LookupError(f"no handler for {kind} media") from None

    def of(self, media: MediaType) -> MediaHandler:
        """The handler of sniffed bytes."""
        return self.handler_for(media.kind)

    def for_mime(self, mime: str) -> MediaHandler:
        """The handler of bytes stored under `mime` (which sniff gave them)."""
        return self.handler_for(media_of_mime(mime).kind)

    @property
    def handlers(self) -> tuple[MediaHandler, ...]:
        return tuple(self._by_kind.values())
