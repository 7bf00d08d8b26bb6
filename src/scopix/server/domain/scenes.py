"""Where a video's picture cuts from one scene to the next, from signatures of its frames (pure).

A frame's signature is a few colour histograms of its regions (a 2x2 grid of brightness and
colour) and one of its whole brightness. Two frames of one shot have nearly the same
histograms, however the camera moves; a cut changes them at once. So a cut lies between two
sampled frames (a few a second) whose histograms differ by at least `CUT_THRESHOLD`, and by
`CUT_CONTRAST` times more than the frames around them usually do (a busy shot of water or
confetti changes a lot from frame to frame, but steadily), or by `CERTAIN_CUT` whatever the
frames around them do. The frames decoded between those two
samples then place the cut on the first frame that looks like the new scene, not the old.

Cuts closer together than the minimum scene length (a flash, a fast montage) are not all kept:
the strongest cuts are taken first, each only when it leaves every scene at least that long,
and at most `max_scenes - 1` of them.

A scene's keyframe is the sampled frame nearest its scene's average look (so not a frame of
a fade at its start or end), and never a blank one (black, a flat colour) while the scene has
another. The same test of blankness picks a video's thumbnail.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from scopix.server.domain.videos import SceneSpan

__all__ = [
    "BLANK_SHARE",
    "CERTAIN_CUT",
    "CUT_CONTRAST",
    "CUT_THRESHOLD",
    "KEYFRAME_TOLERANCE",
    "FrameSignature",
    "difference",
    "first_of_new_scene",
    "is_blank",
    "keyframe_of",
    "representative",
    "scene_cuts",
    "scene_spans",
]

#: Histogram difference (0: the same, 1: nothing in common) from which two sampled frames may
#: be two scenes. Measured on generated 720p videos: cuts between photographs differ by 0.48 to
#: 0.93, the frames of a panning shot of a star field by up to 0.12.
CUT_THRESHOLD: Final = 0.3
#: A cut differs at least this many times more than the median of the differences around it...
CUT_CONTRAST: Final = 3.0
#: ... unless it differs this much: then the picture changed wholesale, however busy the shot.
CERTAIN_CUT: Final = 0.6
#: Sample pairs on each side of a cut whose differences make its surroundings.
_CONTEXT: Final = 4
#: Seconds by which a scene may fall short of the minimum length: containers round times (to
#: the millisecond in Matroska), so a scene of exactly the minimum may measure a little less.
_ROUNDING: Final = 0.01
#: A scene's keyframe differs from its average look at most this much more than the frame
#: nearest that look (frames of one steady shot differ by a few hundredths).
KEYFRAME_TOLERANCE: Final = 0.03
#: A frame is blank when this share of its pixels or more lies in two neighbouring brightness
#: bins (a sixteenth of the range each): black, white or one flat colour, maybe with noise. A
#: title card of big black letters on white is not blank (its ink is a tenth of it or more).
BLANK_SHARE: Final = 0.95


@dataclass(frozen=True)
class FrameSignature:
    """One decoded frame: its time (seconds from the video's start), the histogram of its
    brightness (`luma`, summing to 1) and the colour histograms of its regions (`cells`, each
    summing to 1), all made the same way for every frame of a video."""

    seconds: float
    luma: tuple[float, ...]
    cells: tuple[tuple[float, ...], ...]


def difference(a: FrameSignature, b: FrameSignature) -> float:
    """How different two frames look, from 0 (the same histograms) to 1 (no colour in common
    in any region): the mean over regions of half the L1 distance of their histograms."""
    if not a.cells:
        return 0.0
    total = 0.0
    for cell_a, cell_b in zip(a.cells, b.cells, strict=True):
        total += sum(abs(x - y) for x, y in zip(cell_a, cell_b, strict=True))
    return min(1.0, total / (2 * len(a.cells)))


def is_blank(frame: FrameSignature) -> bool:
    """Whether the frame shows nothing: (nearly) all of it one brightness."""
    luma = frame.luma
    if len(luma) < 2:
        return True
    return max(luma[i] + luma[i + 1] for i in range(len(luma) - 1)) >= BLANK_SHARE


def first_of_new_scene(
    before: FrameSignature, between: Sequence[FrameSignature], after: FrameSignature
) -> FrameSignature:
    """Of the frames decoded between two samples that differ like a cut, and the later sample,
    the first that looks more like the later sample than like the earlier one."""
    for frame in between:
        if difference(frame, after) < difference(frame, before):
            return frame
    return after


def scene_cuts(
    samples: Sequence[FrameSignature],
    duration_seconds: float,
    *,
    min_seconds: float,
    max_scenes: int,
    refined: Mapping[int, float] | None = None,
) -> list[float]:
    """The cut times, in order, of a video sampled as `samples` (in time order). A cut between
    samples i-1 and i is at `refined[i]` when given (the first frame of the new scene, see
    `first_of_new_scene`), else at sample i. Every scene lasts `min_seconds` or more, and there
    are at most `max_scenes`."""
    refined = refined or {}
    differences = [difference(a, b) for a, b in itertools.pairwise(samples)]
    candidates = [
        (strength, refined.get(pair + 1, samples[pair + 1].seconds))
        for pair, strength in enumerate(differences)
        if _is_cut(differences, pair)
    ]
    kept: list[float] = []
    for _, seconds in sorted(candidates, key=lambda candidate: -candidate[0]):
        if len(kept) >= max_scenes - 1:
            break
        bounds = [0.0, duration_seconds, *kept]
        if all(abs(seconds - bound) >= min_seconds - _ROUNDING for bound in bounds):
            kept.append(seconds)
    return sorted(kept)


def _is_cut(differences: Sequence[float], pair: int) -> bool:
    strength = differences[pair]
    if strength < CUT_THRESHOLD:
        return False
    around = [
        *differences[max(0, pair - _CONTEXT) : pair],
        *differences[pair + 1 : pair + 1 + _CONTEXT],
    ]
    if not around or strength >= CERTAIN_CUT:
        return True
    return strength >= CUT_CONTRAST * statistics.median(around)


def scene_spans(
    cuts: Sequence[float], duration_seconds: float, samples: Sequence[FrameSignature]
) -> list[SceneSpan]:
    """The scenes between the cuts (sorted, inside the video), each with its keyframe's time
    (`keyframe_of` its samples, which are in time order; its middle when no sample falls in
    it)."""
    bounds = [0.0, *cuts, duration_seconds]
    times = [frame.seconds for frame in samples]
    spans = []
    for index, (start, end) in enumerate(itertools.pairwise(bounds)):
        inside = samples[bisect.bisect_left(times, start) : bisect.bisect_left(times, end)]
        keyframe = keyframe_of(inside)
        seconds = keyframe.seconds if keyframe is not None else (start + end) / 2
        spans.append(SceneSpan(index, start, end, seconds))
    return spans


def keyframe_of(frames: Sequence[FrameSignature]) -> FrameSignature | None:
    """The frame that shows a scene best: of its frames that are not blank (of all of them if
    every one is), the earliest that is about as near their average look as the nearest one
    (within `KEYFRAME_TOLERANCE`): decoding it again costs the least, as a video's keyframes
    (where decoding starts) mostly lie where its scenes start."""
    shown = [frame for frame in frames if not is_blank(frame)] or list(frames)
    if not shown:
        return None
    average = _average(shown)
    distances = [difference(frame, average) for frame in shown]
    nearest = min(distances)
    return next(
        frame
        for frame, distance in zip(shown, distances, strict=True)
        if distance <= nearest + KEYFRAME_TOLERANCE
    )


def representative(frames: Sequence[FrameSignature]) -> FrameSignature | None:
    """A video's thumbnail among frames from its start, in time order: the first that is not
    blank; when all are, the one with the widest spread of brightness."""
    for frame in frames:
        if not is_blank(frame):
            return frame
    return max(frames, key=_spread, default=None)


def _spread(frame: FrameSignature) -> float:
    """How much of the frame lies outside its most common brightness bin."""
    return 1.0 - max(frame.luma, default=1.0)


def _average(frames: Sequence[FrameSignature]) -> FrameSignature:
    count = len(frames)
    first = frames[0]
    cells = tuple(
        tuple(sum(frame.cells[cell][bin_] for frame in frames) / count for bin_ in range(size))
        for cell, size in enumerate(len(cell) for cell in first.cells)
    )
    luma = tuple(
        sum(frame.luma[bin_] for frame in frames) / count for bin_ in range(len(first.luma))
    )
    return FrameSignature(first.seconds, luma, cells)
