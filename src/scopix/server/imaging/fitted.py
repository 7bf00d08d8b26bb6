"""Decode an image shrunk to fit a box, upright and 8-bit sRGB, as a Pillow image.

JPEGs of 8-bit grey or YCbCr (with any ICC profile on YCbCr, converted by littlecms as libvips
would) are decoded by Pillow, every other image by libvips. Both run libjpeg-turbo's scaled
DCT (shrink-on-load), but libvips pays about 2 ms a pipeline before its first pixel: a 320x240
JPEG to 64 px took 3.3 ms of CPU with libvips and 0.7 with Pillow, a 640x427 one 4.0 against
1.8, and a 4096 px photo to 1024 px 92 against 66 ms (this 2-core machine). libvips keeps
everything else: CMYK, 16-bit, profiles on grey, the other formats, and PNGs, which it streams
where Pillow holds the whole image.

libvips has the last word on whether bytes decode: a JPEG Pillow refuses or warns about
(truncated, corrupt, a variant it does not read, damaged EXIF) is decoded again by libvips,
which reads it or says why not.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Final

import pyvips
from PIL import Image, ImageCms

from scopix.server.imaging.probe import ImageDecodeError, ImageHeader, message_of

__all__ = ["decode_fitted", "fit", "to_pillow"]

_PILLOW_MODES: Final = frozenset({"L", "RGB"})
#: Pillow's own decompression-bomb check warns above this many pixels: larger images (already
#: checked against our limits) go to libvips.
_PILLOW_MAX_PIXELS: Final = Image.MAX_IMAGE_PIXELS or 0
_SRGB: Final = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
#: How an EXIF orientation is undone (the same table as PIL.ImageOps.exif_transpose).
_UPRIGHT: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_MODE_OF_BANDS: Final = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def decode_fitted(path: Path, opened: pyvips.Image, header: ImageHeader, size: int) -> Image.Image:
    """The first page shrunk to fit size x size (never enlarged), upright, 8-bit sRGB with its
    alpha, and no metadata; `opened` and `header`: the file's header as libvips read it.
    Raises ImageDecodeError when the bytes do not decode."""
    if _pillow_reads(header):
        try:
            return _pillow_jpeg(path, size, header.orientation)
        except MemoryError:
            raise  # the child's memory limit, reported as such
        except Exception:  # whatever Pillow makes of hostile bytes, libvips decides below
            pass
    try:
        return to_pillow(_vips_decode(path, size, _has_profile(opened)))
    except pyvips.Error as exc:
        raise ImageDecodeError(message_of(exc)) from exc


def fit(image: Image.Image, size: int) -> Image.Image:
    """Shrink to fit size x size, keeping the aspect ratio; never enlarge."""
    longest = max(image.width, image.height)
    if longest <= size:
        return image
    scale = size / longest
    box = (max(round(image.width * scale), 1), max(round(image.height * scale), 1))
    # reducing_gap: a box reduction first, then Lanczos over at least 3x the target's pixels.
    return image.resize(box, Image.Resampling.LANCZOS, reducing_gap=3.0)


def to_pillow(image: pyvips.Image) -> Image.Image:
    """An 8-bit image in memory (1 to 4 bands, sRGB or grey) as a Pillow image."""
    mode = _MODE_OF_BANDS[image.bands]
    return Image.frombytes(mode, (image.width, image.height), image.write_to_memory())


def _pillow_reads(header: ImageHeader) -> bool:
    return (
        header.loader == "jpegload"
        and header.sample_bytes == 1
        and header.bands in (1, 3)
        and header.width * header.height <= _PILLOW_MAX_PIXELS
    )


def _pillow_jpeg(path: Path, size: int, orientation: int) -> Image.Image:
    with Image.open(path, formats=["JPEG"]) as image:  # its opener takes MPO files too
        profile = image.info.get("icc_profile")
        if image.mode not in _PILLOW_MODES or (profile and image.mode != "RGB"):
            raise ValueError(f"a {image.mode} JPEG of this profile is libvips' to convert")
        image.draft(image.mode, (size, size))  # scaled DCT: at least size x size pixels
        image.load()
    fitted = fit(image if image.mode == "RGB" else image.convert("RGB"), size)
    fitted.info.clear()  # nothing of the file's EXIF, XMP, ICC or comments may reach a variant
    if profile:  # converted once shrunk, as libvips' thumbnail does
        fitted = _to_srgb(profile).apply(fitted)
    transpose = _UPRIGHT.get(orientation)
    return fitted if transpose is None else fitted.transpose(transpose)


@functools.lru_cache(maxsize=16)
def _to_srgb(profile: bytes) -> ImageCms.ImageCmsTransform:
    """The transform of a profile's RGB to sRGB, built once (5 ms) for the images that share it."""
    return ImageCms.buildTransform(
        ImageCms.ImageCmsProfile(io.BytesIO(profile)),
        _SRGB,
        "RGB",
        "RGB",
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
    )


def _vips_decode(path: Path, size: int, has_profile: bool) -> pyvips.Image:
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
