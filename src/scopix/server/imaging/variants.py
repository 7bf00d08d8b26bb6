"""Decode an image once and render its WebP variants, its blurhash and its EXIF date."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyvips

# blurhash-python's own encode() takes a Pillow image and calls Image.getdata, deprecated in
# Pillow 13 and removed in 14: call its C encoder on the raw pixels instead.
from blurhash._functions import ffi as _blurhash_ffi
from blurhash._functions import lib as _blurhash_lib
from PIL import Image

from scopix.server.imaging.fitted import decode_fitted, fit, to_pillow
from scopix.server.imaging.probe import header_of, open_header

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
    largest = decode_fitted(path, image, header, max(sizes.values(), default=_BLURHASH_SIZE))
    return _rendered(
        header.display_width, header.display_height, content_created_at(image), largest, sizes
    )


def variants_of(image: pyvips.Image, sizes: Mapping[str, int]) -> RenderedImage:
    """The variants and blurhash of an 8-bit sRGB image already in memory (a rendered page)."""
    return _rendered(image.width, image.height, None, to_pillow(image), sizes)


def webp_of(image: pyvips.Image) -> bytes:
    """An in-memory image as the variants' WebP."""
    return _webp(to_pillow(image))


def _rendered(
    width: int,
    height: int,
    taken: datetime | None,
    largest: Image.Image,
    sizes: Mapping[str, int],
) -> RenderedImage:
    return RenderedImage(
        width=width,
        height=height,
        content_created_at=taken,
        blur_hash=_blur_hash(largest),
        variants={name: _webp(fit(largest, size)) for name, size in sizes.items()},
    )


def _webp(image: Image.Image) -> bytes:
    """Encode as lossy WebP with no metadata at all (no EXIF, XMP or ICC)."""
    out = io.BytesIO()
    image.save(out, "WEBP", quality=_WEBP_QUALITY, method=_WEBP_EFFORT)
    return out.getvalue()


def _blur_hash(image: Image.Image) -> str:
    """Return the blurhash of an 8-bit sRGB image, transparent areas shown on white, from at
    most _BLURHASH_SIZE pixels a side. An image up to twice that (the 64 px preview) is
    averaged 2 x 2 here: a resize of so few pixels costs three times the hash."""
    if image.width > 2 * _BLURHASH_SIZE or image.height > 2 * _BLURHASH_SIZE:
        image = fit(image, _BLURHASH_SIZE)
    pixels = np.asarray(_on_white(image))
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


def _on_white(image: Image.Image) -> Image.Image:
    """3-band RGB, any transparency flattened onto white."""
    if "A" not in image.getbands():
        return image.convert("RGB")
    white = Image.new("RGB", image.size, (255, 255, 255))
    white.paste(image.convert("RGBA"), mask=image.getchannel("A"))
    return white


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
