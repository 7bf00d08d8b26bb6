"""Read an image's header (size, pages, orientation) without decoding a single pixel."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pyvips

from scopix.server.domain.decoding import decode_memory_estimate

__all__ = [
    "SUPPORTED_LOADERS",
    "ImageDecodeError",
    "ImageHeader",
    "header_of",
    "message_of",
    "open_header",
    "read_header",
    "without_paths",
]

# libvips' operation cache keys loads by file name (a file rewritten in place came back stale from
# a random-access open) and keeps up to 100 MB of results; each upload is decoded once anyway.
pyvips.cache_set_max(0)

#: libvips loaders we accept; others (svgload, vipsload, matrixload, ...) are refused.
SUPPORTED_LOADERS = frozenset(
    {"jpegload", "pngload", "webpload", "gifload", "tiffload", "heifload"}
)


#: Bytes per band of each libvips sample format.
_SAMPLE_BYTES = {
    "uchar": 1,
    "char": 1,
    "ushort": 2,
    "short": 2,
    "uint": 4,
    "int": 4,
    "float": 4,
    "complex": 8,
    "double": 8,
    "dpcomplex": 16,
}
# libvips names the file in its messages ('"/data/blobs/.staging/<id>.part" is not a known file
# format'): a quoted string holding a slash, or a bare absolute path.
_QUOTED_PATH = re.compile(r"\"[^\"]*[/\\][^\"]*\"|'[^']*[/\\][^']*'")
_BARE_PATH = re.compile(r"(?<![\w.~/-])(?:~|[A-Za-z]:)?[/\\][^\s\"':,;()]+")


class ImageDecodeError(Exception):
    """The bytes are not a decodable image (corrupt, truncated, unsupported by the decoder)."""


@dataclass(frozen=True)
class ImageHeader:
    """What an image's header declares, before any pixel is decoded."""

    loader: str
    width: int
    height: int
    pages: int
    orientation: int
    bands: int = 3
    sample_bytes: int = 1
    #: interlaced PNG or progressive JPEG: decoded whole, never streamed
    interlaced: bool = False

    @property
    def memory_estimate(self) -> int:
        """Bytes its decode may hold at once (domain.decoding.decode_memory_estimate)."""
        return decode_memory_estimate(self.width, self.height, self.bands, self.sample_bytes)

    @property
    def display_width(self) -> int:
        """Width as displayed, once the EXIF orientation is applied."""
        return self.height if self.orientation >= 5 else self.width

    @property
    def display_height(self) -> int:
        """Height as displayed, once the EXIF orientation is applied."""
        return self.width if self.orientation >= 5 else self.height


def read_header(path: Path) -> ImageHeader:
    """Read only the header of the image at `path`; raise ImageDecodeError if it is not one."""
    return header_of(open_header(path))


def header_of(image: pyvips.Image) -> ImageHeader:
    """Describe an image opened by `open_header`."""
    return ImageHeader(
        loader=image.get("vips-loader"),
        width=image.width,
        height=image.height,
        pages=max(_int_field(image, "n-pages"), 1),
        orientation=_orientation(image),
        bands=image.bands,
        sample_bytes=_SAMPLE_BYTES.get(image.format, 8),
        interlaced=_int_field(image, "interlaced") != 0,
    )


def open_header(path: Path) -> pyvips.Image:
    """Open the first page for sequential access: libvips reads the header and no pixels yet."""
    try:
        image = pyvips.Image.new_from_file(str(path), access="sequential")
    except pyvips.Error as exc:
        raise ImageDecodeError(message_of(exc)) from exc
    loader = image.get("vips-loader")
    if loader not in SUPPORTED_LOADERS:
        raise ImageDecodeError(f"unsupported image format ({loader})")
    return image


def _orientation(image: pyvips.Image) -> int:
    """Return the EXIF orientation, 1 when absent or out of range."""
    orientation = _int_field(image, "orientation")
    return orientation if 1 <= orientation <= 8 else 1


def _int_field(image: pyvips.Image, name: str) -> int:
    """Return an integer metadata field, 0 when absent."""
    if image.get_typeof(name) != pyvips.GValue.gint_type:
        return 0
    return int(image.get(name))


def message_of(exc: pyvips.Error) -> str:
    """Return the most telling line of a libvips error (its last non-empty one), with every
    file path in it replaced: clients see these messages, and paths are the server's own."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return without_paths(lines[-1]) if lines else "not a decodable image"


def without_paths(message: str) -> str:
    """`message` with quoted and bare file paths replaced by "the file"."""
    return _BARE_PATH.sub("the file", _QUOTED_PATH.sub("the file", message))
