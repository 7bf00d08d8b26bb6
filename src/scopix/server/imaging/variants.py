"""Decode an image once and render its WebP variants, its blurhash and its EXIF date."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyvips

# blurhash-python's own encode() takes a Pillow image and calls Image.getdata, deprecated in
# Pillow 13 and removed in 14: call its C encoder on libvips' raw pixels instead.
from blurhash._functions import ffi as _blurhash_ffi
from blurhash._functions import lib as _blurhash_lib

from scopix.server.imaging.probe import ImageDecodeError, header_of, message_of, open_header

__all__ = [
    "BLURHASH_COMPONENTS",
    "RenderedImage",
    "content_created_at",
    "render_variants",
    "variants_of",
    "webp_of",
]

#: Blurhash components across and down.
BLURHASH_COMPONENTS = (4, 3)
_BLURHASH_SIZE = 32
_WEBP_QUALITY = 80
# effort 2 encodes twice as fast as the default 4, for files within 3% of the size (measured).
_WEBP_EFFORT = 2
# (date field, the field holding its UTC offset), best first.
_DATE_FIELDS = (
    ("exif-ifd2-DateTimeOriginal", "exif-ifd2-OffsetTimeOriginal"),
    ("exif-ifd2-DateTimeDigitized", "exif-ifd2-OffsetTimeDigitized"),
    ("exif-ifd0-DateTime", "exif-ifd2-OffsetTime"),
)
_DATE = re.compile(r"\s*(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"\s*([+-])(\d{2}):?(\d{2})")


@dataclass(frozen=True)
class RenderedImage:
    """An image's display size, EXIF date, blurhash and WebP variants."""

    width: int
    height: int
    content_created_at: datetime | None
    blur_hash: str | None
    variants: dict[str, bytes]


def render_variants(
    path: Path, sizes: Mapping[str, int], opened: pyvips.Image | None = None
) -> RenderedImage:
    """Decode the first page once and render a WebP per entry of `sizes` (name -> longest side).
    `opened`: the file's header as `open_header` read it already."""
    image = opened if opened is not None else open_header(path)
    header = header_of(image)
    try:
        largest = _decode(path, max(sizes.values(), default=_BLURHASH_SIZE), _has_profile(image))
        variants = {name: _webp(_fit(largest, size)) for name, size in sizes.items()}
        blur_hash = _blur_hash(largest)
    except pyvips.Error as exc:
        raise ImageDecodeError(message_of(exc)) from exc
    return RenderedImage(
        width=header.display_width,
        height=header.display_height,
        content_created_at=content_created_at(image),
        blur_hash=blur_hash,
        variants=variants,
    )


def variants_of(image: pyvips.Image, sizes: Mapping[str, int]) -> RenderedImage:
    """The variants and blurhash of an 8-bit sRGB image already in memory (a rendered page)."""
    return RenderedImage(
        width=image.width,
        height=image.height,
        content_created_at=None,
        blur_hash=_blur_hash(image),
        variants={name: _webp(_fit(image, size)) for name, size in sizes.items()},
    )


def webp_of(image: pyvips.Image) -> bytes:
    """An in-memory image as the variants' WebP."""
    return _webp(image)


def _decode(path: Path, size: int, has_profile: bool) -> pyvips.Image:
    """Decode to fit size x size (shrink-on-load), upright, 8-bit sRGB, failing on any error."""
    # Only an embedded profile needs a transform: untagged pixels are sRGB already, and CMYK is
    # converted anyway. Transforming untagged images too would double the time of a decode.
    profile = {"output_profile": "srgb"} if has_profile else {}
    image = pyvips.Image.thumbnail(
        str(path), size, height=size, size="down", fail_on="error", **profile
    )
    if image.interpretation != "srgb":
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    return image.copy_memory()


def _has_profile(image: pyvips.Image) -> bool:
    """Whether the image embeds an ICC profile (Display P3 from a phone, Adobe RGB, CMYK, ...)."""
    return bool(image.get_typeof("icc-profile-data") != 0)


def _fit(image: pyvips.Image, size: int) -> pyvips.Image:
    """Shrink an in-memory image to fit size x size; never enlarge it."""
    if image.width <= size and image.height <= size:
        return image  # as it is: libvips would take a third of a millisecond to say so
    return image.thumbnail_image(size, height=size, size="down")


def _webp(image: pyvips.Image) -> bytes:
    """Encode as lossy WebP with no metadata at all (no EXIF, XMP or ICC)."""
    return bytes(
        image.webpsave_buffer(
            Q=_WEBP_QUALITY, effort=_WEBP_EFFORT, keep=pyvips.enums.ForeignKeep.NONE
        )
    )


def _blur_hash(image: pyvips.Image) -> str:
    """Return the blurhash of an 8-bit sRGB image, transparent areas shown on white, from at
    most _BLURHASH_SIZE pixels a side. An image up to twice that (the 64 px preview) is
    averaged 2 x 2 here: a libvips resize of so few pixels costs three times the hash."""
    if image.width > 2 * _BLURHASH_SIZE or image.height > 2 * _BLURHASH_SIZE:
        image = _fit(image, _BLURHASH_SIZE)
    if image.hasalpha():
        image = image.flatten(background=255)
    pixels = np.frombuffer(image.write_to_memory(), np.uint8).reshape(
        image.height, image.width, image.bands
    )
    if max(image.width, image.height) > _BLURHASH_SIZE:
        pixels = _halved(pixels)
    pixels = _at_least_two_a_side(pixels)
    height, width, _ = pixels.shape
    x_components, y_components = BLURHASH_COMPONENTS
    destination = _blurhash_ffi.new("char[]", 6 + 2 * (x_components * y_components - 1) + 1)
    result = _blurhash_lib.create_hash_from_pixels(
        x_components,
        y_components,
        width,
        height,
        _blurhash_ffi.from_buffer("uint8_t[]", pixels),
        width * 3,
        destination,
    )
    return str(_blurhash_ffi.string(result).decode("ascii"))


def _halved(pixels: np.ndarray) -> np.ndarray:
    """Each 2 x 2 block of an (h, w, 3) image averaged, along the sides at least 2 long."""
    height, width, _ = pixels.shape
    rows, cols = (2 if height >= 2 else 1), (2 if width >= 2 else 1)
    even = pixels[: height - height % rows, : width - width % cols].astype(np.uint16)
    blocks = even.reshape(even.shape[0] // rows, rows, even.shape[1] // cols, cols, 3)
    return np.ascontiguousarray(
        (blocks.sum(axis=(1, 3)) + rows * cols // 2) // (rows * cols), np.uint8
    )


def _at_least_two_a_side(pixels: np.ndarray) -> np.ndarray:
    """The blurhash encoder's answer for a side of one pixel decodes as black: the pixels
    of such a side are repeated once (the image looks the same)."""
    height, width, _ = pixels.shape
    taller = pixels.repeat(2 if height == 1 else 1, axis=0)
    return np.ascontiguousarray(taller.repeat(2 if width == 1 else 1, axis=1))


def content_created_at(image: pyvips.Image) -> datetime | None:
    """Return when the picture was taken, from EXIF, tz-aware (UTC without an offset); or None."""
    for date_field, offset_field in _DATE_FIELDS:
        taken = _exif_datetime(_exif_text(image, date_field), _exif_text(image, offset_field))
        if taken is not None:
            return taken
    return None


def _exif_text(image: pyvips.Image, field: str) -> str:
    """Return an EXIF field as libvips renders it ("value (value, ASCII, ...)"), or ""."""
    value = image.get(field) if image.get_typeof(field) else None
    return value if isinstance(value, str) else ""


def _exif_datetime(date_text: str, offset_text: str) -> datetime | None:
    """Parse "YYYY:MM:DD HH:MM:SS" plus an optional "+HH:MM"; None when absent or invalid."""
    date = _DATE.match(date_text)
    if date is None:
        return None
    year, month, day, hour, minute, second = map(int, date.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=_exif_offset(offset_text))
    except ValueError:
        return None


def _exif_offset(offset_text: str) -> timezone:
    """Parse an EXIF offset such as "+02:00"; UTC when absent. Raises ValueError when absurd."""
    offset = _OFFSET.match(offset_text)
    if offset is None:
        return UTC
    sign, hours, minutes = offset.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    return timezone(-delta if sign == "-" else delta)
