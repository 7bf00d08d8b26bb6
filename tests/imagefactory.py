"""Test images made on the fly with pyvips: good ones in every format, and hostile ones."""

from __future__ import annotations

import functools
import io
import random
import struct
import zipfile
import zlib
from datetime import datetime
from pathlib import Path

import av
import numpy as np
import pyvips

_CHUNK = 1 << 20
#: Three lines of a page: text, left and top in pixels.
DOCUMENT_LINES = [
    ("INVOICE 2041", 80, 60),
    ("Coffee beans 12 kg", 80, 260),
    ("Total due 348 EUR", 520, 520),
]
PAGE_WIDTH, PAGE_HEIGHT = 1000, 700


def pattern(width: int, height: int, *, seed: int = 0) -> pyvips.Image:
    """Return a colourful, non-uniform 8-bit sRGB image: two ramps and diagonal stripes."""
    xy = pyvips.Image.xyz(width, height)
    x, y = xy[0], xy[1]
    red = x * 255 / max(width - 1, 1)
    green = y * 255 / max(height - 1, 1)
    blue = ((x + y * 3 + seed * 37) * 5) % 256
    return red.bandjoin([green, blue]).cast("uchar").copy(interpretation="srgb")


def jpeg_bytes(
    width: int,
    height: int,
    *,
    orientation: int | None = None,
    date_taken: datetime | None = None,
    quality: int = 85,
    seed: int = 0,
    cmyk: bool = False,
) -> bytes:
    """Return a JPEG, with EXIF Orientation / DateTimeOriginal (+ offset if tz-aware) when given."""
    image = pattern(width, height, seed=seed)
    if cmyk:
        image = image.icc_export(output_profile="cmyk")
    image = image.copy()
    if orientation is not None:
        image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    if date_taken is not None:
        _set_date_taken(image, date_taken)
    return image.jpegsave_buffer(Q=quality)


def _set_date_taken(image: pyvips.Image, date_taken: datetime) -> None:
    """Set the EXIF fields libvips writes back into the JPEG's EXIF block."""
    stamp = date_taken.strftime("%Y:%m:%d %H:%M:%S")
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd2-DateTimeOriginal", stamp)
    offset = date_taken.strftime("%z")
    if offset:
        image.set_type(
            pyvips.GValue.gstr_type, "exif-ifd2-OffsetTimeOriginal", f"{offset[:3]}:{offset[3:]}"
        )


def png_bytes(
    width: int, height: int, *, bits: int = 8, alpha: bool = False, grey: bool = False
) -> bytes:
    """Return a PNG of 8 or 16 bits per sample, optionally greyscale, optionally with alpha."""
    image = pattern(width, height)
    if grey:
        image = image.colourspace("b-w")
    if alpha:
        image = image.bandjoin((pyvips.Image.xyz(width, height)[0] * 7 % 256).cast("uchar"))
    if bits == 16:
        image = (image.cast("ushort") * 257).cast("ushort")
        image = image.copy(interpretation="grey16" if grey else "rgb16")
    return image.pngsave_buffer(bitdepth=bits)


def webp_bytes(width: int, height: int, *, alpha: bool = False) -> bytes:
    """Return a lossy WebP, optionally with an alpha channel."""
    image = pattern(width, height)
    if alpha:
        image = image.bandjoin(128)
    return image.webpsave_buffer(Q=80)


def gif_bytes(width: int, height: int, *, frames: int = 1) -> bytes:
    """Return a GIF with `frames` frames (an animation when more than one)."""
    pages = [pattern(width, height, seed=seed) for seed in range(frames)]
    image = pyvips.Image.arrayjoin(pages, across=1).copy()
    image.set_type(pyvips.GValue.gint_type, "page-height", height)
    return image.gifsave_buffer()


def tiff_bytes(width: int, height: int) -> bytes:
    """Return a single-page deflate TIFF."""
    return pattern(width, height).tiffsave_buffer(compression="deflate")


def truncated(data: bytes, keep_fraction: float = 0.5) -> bytes:
    """Return the first `keep_fraction` of `data`, as an interrupted upload would leave it."""
    return data[: int(len(data) * keep_fraction)]


def png_declaring(width: int, height: int) -> bytes:
    """Return a small, valid 1-bit greyscale all-black PNG whose IHDR declares width x height."""
    row = (width + 7) // 8 + 1  # a filter byte, then the packed bits of one row
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", ihdr),
            _png_chunk(b"IDAT", _zlib_zeros(row * height)),
            _png_chunk(b"IEND", b""),
        ]
    )


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    """Return one PNG chunk: length, type, body, CRC of type and body."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _zlib_zeros(size: int) -> bytes:
    """Return a zlib stream of `size` zero bytes, compressing one 1 MiB block and repeating it."""
    compressor = zlib.compressobj(9)
    whole, rest = divmod(size, _CHUNK)
    header = (compressor.compress(bytes(_CHUNK)) + compressor.flush(zlib.Z_FULL_FLUSH))[:2]
    # After a full flush the compressor keeps no history, so one flushed block can be repeated.
    block = compressor.compress(bytes(_CHUNK)) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.compress(bytes(rest)) + compressor.flush()
    checksum = struct.pack(">I", (size % 65521) << 16 | 1)  # adler32 of `size` zeros
    return header + block * whole + tail[:-4] + checksum


def zip_bytes() -> bytes:
    """Return a real zip archive holding one small text file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("notes.txt", "not an image\n" * 100)
    return buffer.getvalue()


def elf_bytes() -> bytes:
    """Return a 64-bit little-endian x86-64 ELF executable header followed by padding."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, 0x401000, 64, 0, 0, 64, 56, 0, 64, 0, 0)
    return ident + header + bytes(192)


def svg_bytes() -> bytes:
    """Return a small SVG document (text, which the server refuses as an image)."""
    return (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80">'
        b'<rect width="120" height="80" fill="#c33"/></svg>\n'
    )


def multipage_tiff(path: Path, pages: int, width: int, height: int) -> Path:
    """Stream an uncompressed multi-page 8-bit RGB TIFF to `path`; memory stays bounded."""
    band = pattern(width, min(height, 256)).copy_memory()  # repeated down the page: cheap to make
    page = band.replicate(1, -(-height // band.height)).crop(0, 0, width, height)
    image = pyvips.Image.arrayjoin([page] * pages, across=1).copy()
    image.set_type(pyvips.GValue.gint_type, "page-height", height)
    image.tiffsave(str(path), compression="none")
    return path


def mp4_bytes(size: int, *, seed: int = 0) -> bytes:
    """`size` bytes of a playable MP4 video (a second of a 16x16 ramp), padded with a `free` box
    of seeded noise: any size from 2 KiB, different bytes for each seed, probed in a moment."""
    video = tiny_mp4()
    padding = size - len(video) - 8
    if padding < 0:
        raise ValueError(f"an MP4 takes at least {len(video) + 8} bytes")
    free = struct.pack(">I", padding + 8) + b"free" + random.Random(seed).randbytes(padding)
    return video + free


@functools.cache
def tiny_mp4() -> bytes:
    """A second of a 16x16 ramp in an H.264 MP4 (under 2 KiB): a video the server probes."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        ramp = np.repeat(np.arange(0, 256, 16, dtype=np.uint8), 48).reshape(16, 16, 3)
        for _ in range(10):
            frame = av.VideoFrame.from_ndarray(ramp, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


def document_png() -> tuple[bytes, dict[str, tuple[float, float, float, float]]]:
    """A white page with three lines of black text; each line's normalized (x, y, w, h)."""
    page = pyvips.Image.black(PAGE_WIDTH, PAGE_HEIGHT) + 255
    boxes = {}
    for text, left, top in DOCUMENT_LINES:
        mask = pyvips.Image.text(text, font="sans 40", dpi=72)
        page = page.insert(255 - mask, left, top)  # black text on white
        boxes[text] = (
            left / PAGE_WIDTH,
            top / PAGE_HEIGHT,
            mask.width / PAGE_WIDTH,
            mask.height / PAGE_HEIGHT,
        )
    return bytes(page.cast("uchar").pngsave_buffer()), boxes


def _intersection(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    width = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    height = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    return width * height


def overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    inter = _intersection(a, b)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def coverage(inner: tuple[float, ...], outer: tuple[float, ...]) -> float:
    """How much of the (x, y, w, h) box `inner` lies inside `outer`, from 0 to 1."""
    return _intersection(inner, outer) / (inner[2] * inner[3])


#: A generated invoice's lines (left, top) and the fields an extraction must read from them;
#: the subtotal and tax are there to be passed over.
INVOICE_LINES = (
    ("ACME Supplies Ltd.", 60, 50),
    ("INVOICE", 60, 110),
    ("Invoice No: INV-2024-0042", 60, 190),
    ("Date: 2024-03-15", 60, 240),
    ("Bill To: Initech Corp", 60, 290),
    ("Subtotal: $1,100.00", 60, 380),
    ("Tax: $134.56", 60, 430),
    ("Total: $1,234.56", 60, 480),
    ("Email: billing@acme-supplies.com", 60, 560),
)
INVOICE_FIELDS = {
    "invoice_number": "INV-2024-0042",
    "date": "2024-03-15",
    "total": 1234.56,
    "email": "billing@acme-supplies.com",
}


def invoice_png() -> bytes:
    """A white 1000x700 invoice of black text (INVOICE_LINES)."""
    page = pyvips.Image.black(1000, 700) + 255
    for text, left, top in INVOICE_LINES:
        mask = pyvips.Image.text(text, font="sans 30", dpi=72)
        page = page.insert(255 - mask, left, top)
    return bytes(page.cast("uchar").pngsave_buffer())
