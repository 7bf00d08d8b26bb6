"""Media kept as they are: stored and served, nothing decoded (videos until their pipeline)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from scopix.server.domain.errors import WrongMediaType
from scopix.server.domain.failures import Failure
from scopix.server.domain.media import MediaKind, MediaType
from scopix.server.imaging.variants import RenderedImage
from scopix.server.media.base import DescribeInputs, Extracted, Extraction, MediaFailed, Probe
from scopix.types.describe import DescriptionErrorType


class StoredHandler:
    """A kind whose bytes are only kept: no previews, no description, no extraction. Its
    flags keep every job away from it; the job methods refuse should one be asked anyway."""

    has_previews = False
    describable = False
    extract_job: str | None = None
    shows_original = False

    def __init__(self, kind: MediaKind) -> None:
        self.kind: MediaKind = kind

    def probes(self, size_bytes: int) -> bool:
        """Never: nothing reads the bytes."""
        return False

    async def probe(self, path: Path, media: MediaType, sizes: Mapping[str, int] | None) -> Probe:
        """Nothing to check beyond the sniffed type: the bytes are stored as they are."""
        return Probe(None)

    async def previews(
        self, path: Path, media: MediaType, sizes: Mapping[str, int]
    ) -> RenderedImage:
        raise self._unsupported("previews")

    async def describe_inputs(
        self, path: Path, media: MediaType, max_side: int, extracted: Extraction | None
    ) -> DescribeInputs:
        raise self._unsupported("descriptions")

    async def extract(self, path: Path, media: MediaType, size_bytes: int) -> Extracted:
        raise self._unsupported("text extraction")

    async def render_page(self, path: Path, media: MediaType, number: int, max_side: int) -> bytes:
        raise WrongMediaType(f"a {self.kind} file has no pages")

    def _unsupported(self, what: str) -> MediaFailed:
        return MediaFailed(
            Failure(
                DescriptionErrorType.VALIDATION_ERROR,
                f"{what} of {self.kind} files are not supported yet: they are stored as they are",
            )
        )
