"""Decoded video frames as the scene rule and the thumbnails need them: a signature read from a
sparse grid of the frame's own planes (no conversion, no scaling), and an upright RGB picture
scaled to fit a size.

A signature reads about 160x90 points of the luma plane and as many of the chroma planes, where
they lie in the decoder's buffer: it costs the same at 4K as at 360p, a few hundredths of a
millisecond, so every decoded frame gets one (the frames between two samples place a cut).
"""

from __future__ import annotations

from typing import Final

import av
import numpy as np
import numpy.typing as npt
import pyvips

from scopix.server.domain.scenes import FrameSignature

__all__ = ["picture", "signature", "upright_size"]

#: Points read across and down a frame's luma plane for its signature.
_GRID_POINTS: Final = (160, 90)
#: Regions across and down, each with its own colour histograms.
_CELLS: Final = 2
_LUMA_BINS: Final = 16
_CHROMA_BINS: Final = 16
#: A region's histogram: brightness counts half, each colour difference a quarter.
_WEIGHTS: Final = (0.5, 0.25, 0.25)
#: Planar YUV layouts a signature reads in place; any other is converted (small) first.
_PLANAR_YUV: Final = frozenset(
    f"yuv{sub}p{depth}" for sub in ("420", "422", "444", "440") for depth in ("", "10le", "12le")
) | frozenset({"yuvj420p", "yuvj422p", "yuvj444p", "yuvj440p"})

Plane = npt.NDArray[np.uint8]


def signature(frame: av.VideoFrame, seconds: float) -> FrameSignature:
    """The frame's brightness histogram and its regions' colour histograms (domain.scenes)."""
    luma, blue, red = _sparse_planes(frame)
    cells = []
    for row in range(_CELLS):
        for column in range(_CELLS):
            planes = (_cell(plane, row, column) for plane in (luma, blue, red))
            cells.append(_histograms(*planes))
    whole = np.bincount(luma.ravel() >> 4, minlength=_LUMA_BINS) / max(luma.size, 1)
    return FrameSignature(seconds, tuple(whole.tolist()), tuple(cells))


def _sparse_planes(frame: av.VideoFrame) -> tuple[Plane, Plane, Plane]:
    """About `_GRID_POINTS` samples of the Y, U and V planes, 8 bits each."""
    if frame.format.name not in _PLANAR_YUV:
        width, height = _GRID_POINTS
        frame = frame.reformat(width=width, height=height, format="yuv444p", interpolation="AREA")
    bits = frame.format.components[0].bits
    planes = [_plane(plane, bits) for plane in frame.planes[:3]]
    across, down = _GRID_POINTS
    luma = planes[0]
    step_y, step_x = max(1, luma.shape[0] // down), max(1, luma.shape[1] // across)
    sampled = [luma[::step_y, ::step_x]]
    for chroma in planes[1:]:
        # A subsampled chroma plane is read at the same points of the picture as the luma.
        scale_y = max(1, round(luma.shape[0] / chroma.shape[0]))
        scale_x = max(1, round(luma.shape[1] / chroma.shape[1]))
        sampled.append(chroma[:: max(1, step_y // scale_y), :: max(1, step_x // scale_x)])
    return sampled[0], sampled[1], sampled[2]


def _plane(plane: av.video.plane.VideoPlane, bits: int) -> Plane:
    """One plane's pixels in 8 bits, a view of the decoder's buffer when it is 8-bit."""
    buffer = memoryview(plane)
    if bits <= 8:
        rows: Plane = np.frombuffer(buffer, np.uint8).reshape(-1, plane.line_size)
        return rows[: plane.height, : plane.width]
    wide = np.frombuffer(buffer, np.dtype("<u2")).reshape(-1, plane.line_size // 2)
    return (wide[: plane.height, : plane.width] >> (bits - 8)).astype(np.uint8)


def _cell(plane: Plane, row: int, column: int) -> Plane:
    height, width = plane.shape
    return plane[
        row * height // _CELLS : (row + 1) * height // _CELLS,
        column * width // _CELLS : (column + 1) * width // _CELLS,
    ]


def _histograms(luma: Plane, blue: Plane, red: Plane) -> tuple[float, ...]:
    """A region's Y, U and V histograms, weighted and joined: together they sum to 1."""
    joined: list[float] = []
    bins = (_LUMA_BINS, _CHROMA_BINS, _CHROMA_BINS)
    for plane, weight, count in zip((luma, blue, red), _WEIGHTS, bins, strict=True):
        counts = np.bincount(plane.ravel() >> 4, minlength=count)
        joined.extend((counts * (weight / max(plane.size, 1))).tolist())
    return tuple(joined)


def upright_size(width: int, height: int, rotation: int, aspect: float) -> tuple[int, int]:
    """The size a frame is shown at: its width stretched by its pixels' aspect ratio, turned by
    its rotation (counter-clockwise degrees, a multiple of 90)."""
    shown = max(1, round(width * aspect)), height
    return (shown[1], shown[0]) if rotation % 180 else shown


def picture(frame: av.VideoFrame, max_side: int, rotation: int, aspect: float) -> pyvips.Image:
    """The frame as an upright 8-bit sRGB image fitting `max_side` (never enlarged), shown
    as a player would: pixels stretched by their aspect ratio and turned by `rotation`
    (counter-clockwise degrees)."""
    shown_width, shown_height = max(1, round(frame.width * aspect)), frame.height
    scale = min(1.0, max_side / max(shown_width, shown_height))
    width = max(1, round(shown_width * scale))
    height = max(1, round(shown_height * scale))
    converted = frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")
    rgb = np.asarray(converted, dtype=np.uint8)
    turns = round(rotation / 90) % 4
    if turns:
        rgb = np.ascontiguousarray(np.rot90(rgb, k=turns))
    rows, columns = rgb.shape[:2]
    image = pyvips.Image.new_from_memory(rgb.tobytes(), columns, rows, 3, "uchar")
    return image.copy(interpretation="srgb")
