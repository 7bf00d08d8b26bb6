"""Decode an image for the vision analyzers: upright 8-bit RGB pixels plus a small JPEG."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import pyvips

from scopix.server.imaging.probe import ImageDecodeError, message_of, open_header
from scopix.server.vision.base import DecodedImage

__all__ = [
    "ANALYSIS_MAX_SIDE",
    "JPEG_MAX_SIDE",
    "JPEG_QUALITY",
    "decode_for_analysis",
    "decoded_image",
]

#: Longest side of the pixels the analyzers get: OCR reads 10 px text on an A4 scan at this size,
#: and rapidocr shrinks anything longer than 2000 px anyway.
ANALYSIS_MAX_SIDE: Final = 2048
#: Longest side and quality of the JPEG handed to providers that take an encoded image.
JPEG_MAX_SIDE: Final = 1024
JPEG_QUALITY: Final = 85


def decode_for_analysis(path: Path, max_side: int = ANALYSIS_MAX_SIDE) -> DecodedImage:
    """Decode the first page to fit max_side x max_side: upright (EXIF), sRGB, 8-bit, 3 bands.

    Transparency is flattened onto white, as viewers show it. Raises ImageDecodeError when the
    file is not a decodable image (corrupt, truncated, unsupported format).
    """
    try:
        image = _upright_rgb(path, max_side)
        pixels = np.ascontiguousarray(image.numpy(), dtype=np.uint8)
        jpeg = _jpeg(image)
    except pyvips.Error as exc:
        raise ImageDecodeError(message_of(exc)) from exc
    return DecodedImage(pixels=pixels, jpeg=jpeg)


def decoded_image(image: pyvips.Image) -> DecodedImage:
    """An 8-bit, 3-band sRGB image already in memory (a rendered page) as the analyzers see it."""
    pixels = np.ascontiguousarray(image.numpy(), dtype=np.uint8)
    return DecodedImage(pixels=pixels, jpeg=_jpeg(image))


def _upright_rgb(path: Path, max_side: int) -> pyvips.Image:
    """Shrink-on-load to fit, rotate upright, and bring to 8-bit sRGB with exactly 3 bands."""
    # The header tells whether an ICC profile needs a transform (as in variants._decode: untagged
    # pixels are sRGB already) and refuses formats ingest refuses (SVG, PDF, ...).
    profile = {"output_profile": "srgb"} if _has_profile(open_header(path)) else {}
    image = pyvips.Image.thumbnail(
        str(path), max_side, height=max_side, size="down", fail_on="error", **profile
    )
    if image.interpretation != "srgb":
        image = image.colourspace("srgb")  # grey, 16-bit, CMYK, ... -> sRGB, alpha kept
    if image.format != "uchar":
        image = image.cast("uchar")
    if image.hasalpha():
        image = image.flatten(background=255)
    if image.bands == 1:
        image = image.bandjoin([image, image])
    elif image.bands > 3:
        image = image.extract_band(0, n=3)  # an extra non-alpha band libvips cannot flatten
    return image.copy_memory()


def _has_profile(image: pyvips.Image) -> bool:
    """Whether the image embeds an ICC profile."""
    return bool(image.get_typeof("icc-profile-data") != 0)


def _jpeg(image: pyvips.Image) -> bytes:
    """The picture shrunk to fit JPEG_MAX_SIDE, as a JPEG with no metadata at all."""
    small = image.thumbnail_image(JPEG_MAX_SIDE, height=JPEG_MAX_SIDE, size="down")
    return bytes(small.jpegsave_buffer(Q=JPEG_QUALITY, keep=pyvips.enums.ForeignKeep.NONE))
