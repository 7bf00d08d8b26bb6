"""Images: probed, previewed and described through the isolated decoders (`ImageDecoders`)."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import TypeVar

from scopix.server.domain.errors import CorruptFile, ImageTooLarge, ResourceLimit, WrongMediaType
from scopix.server.domain.failures import Failure, resource_limit_failure
from scopix.server.domain.media import MediaKind, MediaType
from scopix.server.imaging.checked import ImageDecoders
from scopix.server.imaging.probe import ImageDecodeError
from scopix.server.imaging.variants import RenderedImage
from scopix.server.isolation import DecodeResourceLimit
from scopix.server.media.base import DescribeInputs, Extracted, Extraction, MediaFailed, Probe
from scopix.types.describe import DescriptionErrorType

T = TypeVar("T")


class ImageHandler:
    """Photos and pictures: WebP variants, an AI description, no text pipeline of their own."""

    kind: MediaKind = "image"
    has_previews = True
    describable = True
    extract_job: str | None = None
    shows_original = True

    def __init__(self, decoders: ImageDecoders) -> None:
        self.decoders = decoders

    def probes(self, size_bytes: int) -> bool:
        """Every image is: its decode at upload proves it whole."""
        return True

    async def probe(self, path: Path, media: MediaType, sizes: Mapping[str, int] | None) -> Probe:
        """The header checked against the limits and the whole image decoded once at the
        preview sizes (proving the file whole), in one isolated call."""
        probed = await _refused_at_upload(self.decoders.probe_upload(path, sizes))
        return Probe(probed.rendered)

    async def previews(
        self, path: Path, media: MediaType, sizes: Mapping[str, int]
    ) -> RenderedImage:
        return await _failed_in_job(self.decoders.render(path, sizes))

    async def describe_inputs(
        self, path: Path, media: MediaType, max_side: int, extracted: Extraction | None
    ) -> DescribeInputs:
        return DescribeInputs(await _failed_in_job(self.decoders.for_analysis(path, max_side)))

    async def extract(self, path: Path, media: MediaType, size_bytes: int) -> Extracted:
        """Never called: images have no extract job (`extract_job` is None)."""
        raise WrongMediaType("images have no text of their own to extract")

    async def render_page(self, path: Path, media: MediaType, number: int, max_side: int) -> bytes:
        raise WrongMediaType("an image has no pages; its variants are its renderings")


async def _refused_at_upload(decode: Awaitable[T]) -> T:
    """An isolated decode's refusals as domain errors: bytes that do not decode are
    CORRUPT_FILE, a decoder that crashed or overran twice RESOURCE_LIMIT (a header over the
    limits raises IMAGE_TOO_LARGE in the child itself)."""
    try:
        return await decode
    except ImageDecodeError as exc:
        raise CorruptFile(f"the image does not decode: {exc}") from None
    except DecodeResourceLimit as exc:
        raise ResourceLimit(f"the image could not be decoded within limits: {exc}") from None


async def _failed_in_job(decode: Awaitable[T]) -> T:
    """An isolated decode's refusals as a job's classified failure: bytes that do not decode
    are `validation`, a header over the limits or a decoder that crashed or overran twice
    `resource_limit` (permanent: the same bytes cost the same next time)."""
    try:
        return await decode
    except ImageDecodeError as exc:
        raise MediaFailed(
            Failure(DescriptionErrorType.VALIDATION_ERROR, f"the image does not decode: {exc}")
        ) from None
    except (DecodeResourceLimit, ImageTooLarge) as exc:
        raise MediaFailed(resource_limit_failure(str(exc))) from None
