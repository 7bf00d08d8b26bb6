"""The decodes of untrusted bytes as they run inside an isolated child (`server.isolation`).

Each one reads the header again, checks it against the limits (a stored file is checked at every
decode, not only at upload: limits change, and bytes may have been swapped), reserves the memory
its header says it may take, and only then decodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pyvips

from scopix.server.domain.limits import ImageLimits
from scopix.server.imaging.analysis import decode_for_analysis
from scopix.server.imaging.probe import ImageHeader, header_of, open_header
from scopix.server.imaging.variants import RenderedImage, render_variants
from scopix.server.isolation import IsolatedPool, IsolationLimits, reserve_memory
from scopix.server.vision.base import DecodedImage

__all__ = [
    "ImageDecoders",
    "ProbedUpload",
    "analysis_checked",
    "checked_header",
    "probe_upload",
    "render_checked",
]


@dataclass(frozen=True)
class ProbedUpload:
    """An upload's header, and its preview variants when they were asked for."""

    header: ImageHeader
    rendered: RenderedImage | None


def checked_header(path: Path, limits: ImageLimits, *, decoding: bool = True) -> ImageHeader:
    """The header, once it passed the limits and, when pixels are to be decoded next, its
    decode's memory is reserved."""
    return _checked(path, limits, decoding=decoding)[1]


def _checked(
    path: Path, limits: ImageLimits, *, decoding: bool
) -> tuple[pyvips.Image, ImageHeader]:
    """`checked_header`, and the image it was read from (opened for its header only)."""
    image = open_header(path)
    header = header_of(image)
    limits.check(header.display_width, header.display_height, interlaced=header.interlaced)
    if decoding:
        reserve_memory(header.memory_estimate)
    return image, header


def probe_upload(path: Path, limits: ImageLimits, sizes: Mapping[str, int] | None) -> ProbedUpload:
    """An upload's header probe, limit check and first decode in one call: the preview
    variants of `sizes`, or none when `sizes` is None (the bytes are stored already)."""
    image, header = _checked(path, limits, decoding=sizes is not None)
    rendered = None if sizes is None else render_variants(path, sizes, opened=image)
    return ProbedUpload(header, rendered)


def render_checked(path: Path, limits: ImageLimits, sizes: Mapping[str, int]) -> RenderedImage:
    """The variants of a stored original, its header checked first."""
    image, _ = _checked(path, limits, decoding=True)
    return render_variants(path, sizes, opened=image)


def analysis_checked(path: Path, limits: ImageLimits, max_side: int) -> DecodedImage:
    """The analyzers' pixels of a stored original, its header checked first."""
    checked_header(path, limits)
    return decode_for_analysis(path, max_side)


@dataclass(frozen=True)
class ImageDecoders:
    """The server's side of these decodes: each runs in `pool` under `limits`."""

    pool: IsolatedPool
    limits: IsolationLimits
    image: ImageLimits

    async def probe_upload(self, path: Path, sizes: Mapping[str, int] | None) -> ProbedUpload:
        """`probe_upload` in a child. Raises ImageDecodeError, ImageTooLarge or
        DecodeResourceLimit."""
        return await self.pool.run(
            probe_upload, path, self.image, sizes, limits=self.limits, stage="upload"
        )

    async def render(self, path: Path, sizes: Mapping[str, int]) -> RenderedImage:
        """`render_checked` in a child, for the variants job."""
        return await self.pool.run(
            render_checked, path, self.image, sizes, limits=self.limits, stage="variants"
        )

    async def for_analysis(self, path: Path, max_side: int) -> DecodedImage:
        """`analysis_checked` in a child, for the describe job."""
        return await self.pool.run(
            analysis_checked, path, self.image, max_side, limits=self.limits, stage="analysis"
        )
