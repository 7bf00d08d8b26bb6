"""Decode cost rules: the memory a decode reserves, and how a decoder that was stopped is named.

A decode's worst case is the whole first page in memory at its native depth: libvips streams
most loads, but interlaced PNG, progressive JPEG, GIF and HEIF hold the full frame. The estimate
is that worst case, so concurrent decodes share a memory budget instead of a count of cores.
"""

from __future__ import annotations

import signal
from typing import Final

MiB: Final = 1024 * 1024

#: The least a decode reserves: libvips' buffers, a few tiles and the encoded variants.
DECODE_MEMORY_FLOOR: Final = 16 * MiB


def decode_memory_estimate(width: int, height: int, bands: int, sample_bytes: int) -> int:
    """Bytes the decode of one frame may hold at once: width x height x bands x sample size,
    never under `DECODE_MEMORY_FLOOR`."""
    frame = max(width, 0) * max(height, 0) * max(bands, 1) * max(sample_bytes, 1)
    return max(frame, DECODE_MEMORY_FLOOR)


def reservation(estimate: int, budget: int) -> int:
    """What a decode takes from the budget: its estimate, but never more than the whole budget,
    so that one decode larger than the budget still runs (alone) instead of waiting forever;
    the child's address-space limit is the hard stop."""
    return min(max(estimate, 0), budget)


def stop_reason(exitcode: int | None, *, wall_seconds: float, overran: bool) -> str:
    """Why a decoder child is gone, in words a client may read (no path, no host)."""
    if overran:
        return f"decoding took longer than {wall_seconds:g} s"
    if exitcode is None or exitcode >= 0:
        return "the decoder exited unexpectedly"
    number = -exitcode
    if number == signal.SIGXCPU:
        return "decoding used more CPU time than allowed"
    if number == signal.SIGXFSZ:
        return "decoding wrote more scratch data than allowed"
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    return f"the decoder crashed ({name})"


def out_of_memory_reason(address_space_bytes: int) -> str:
    """The reason given when a decode ran out of its address space."""
    return f"decoding needed more than {address_space_bytes // MiB} MiB of memory"
