"""The scene-cut rule on frame signatures: a cut where the picture changes at once, none within
a shot however it moves, scenes never shorter than the minimum, keyframes that show the scene."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from scopix.server.domain.scenes import (
    CUT_THRESHOLD,
    KEYFRAME_TOLERANCE,
    FrameSignature,
    difference,
    first_of_new_scene,
    is_blank,
    keyframe_of,
    representative,
    scene_cuts,
    scene_spans,
)

BINS = 16
CELLS = 4
STEP = 0.25  # 4 samples a second


def _histogram(weights: dict[int, float]) -> tuple[float, ...]:
    total = sum(weights.values())
    return tuple(weights.get(bin_, 0.0) / total for bin_ in range(BINS))


def look(colour: int, wobble: float = 0.0, seconds: float = 0.0) -> FrameSignature:
    """A frame of one look (`colour`: the bin most of every region lies in, and its brightness),
    `wobble` of it spilled into the next bin, as a moving camera spills it."""
    main, spill = colour % BINS, (colour + 1) % BINS
    cell = _histogram({main: 1 - wobble, spill: wobble} if wobble else {main: 1.0})
    luma = _histogram({main: 0.6, (main + 5) % BINS: 0.4})
    return FrameSignature(seconds, luma, (cell,) * CELLS)


def blank(seconds: float = 0.0) -> FrameSignature:
    return FrameSignature(seconds, _histogram({0: 1.0}), (_histogram({0: 1.0}),) * CELLS)


def sampled(scenes: list[tuple[int, int]], wobbles: list[float]) -> list[FrameSignature]:
    """Samples of scenes given as (colour, samples), each sample wobbling a little."""
    frames = []
    colours = (colour for colour, count in scenes for _ in range(count))
    for index, colour in enumerate(colours):
        frames.append(look(colour, wobbles[index % len(wobbles)], index * STEP))
    return frames


_colours = st.integers(0, BINS - 1)
# Scenes of 1 s to 5 s (4 to 20 samples), each a different colour from the one before.
_scenes = st.lists(st.tuples(_colours, st.integers(4, 20)), min_size=1, max_size=8).filter(
    lambda scenes: all(a[0] != b[0] for a, b in itertools.pairwise(scenes))
)
_wobbles = st.lists(st.floats(0.0, 0.1), min_size=1, max_size=10)


@given(_scenes, _wobbles)
def test_each_change_of_look_is_a_cut_at_the_first_sample_of_the_new_scene(
    scenes: list[tuple[int, int]], wobbles: list[float]
) -> None:
    samples = sampled(scenes, wobbles)
    duration = len(samples) * STEP
    cuts = scene_cuts(samples, duration, min_seconds=1.0, max_scenes=200)
    truth = list(itertools.accumulate(count * STEP for _, count in scenes))[:-1]
    assert cuts == pytest.approx(truth)


@given(_scenes, _wobbles, st.floats(0.01, STEP - 0.01))
def test_a_refined_cut_is_where_the_frames_between_the_samples_say(
    scenes: list[tuple[int, int]], wobbles: list[float], earlier: float
) -> None:
    samples = sampled(scenes, wobbles)
    refined = {
        index: frame.seconds - earlier
        for index, frame in enumerate(samples)
        if index and difference(samples[index - 1], frame) > CUT_THRESHOLD
    }
    # Scenes last 1 s or more between samples: a refined cut may make them 0.25 s shorter.
    cuts = scene_cuts(
        samples, len(samples) * STEP, min_seconds=0.75, max_scenes=200, refined=refined
    )
    assert cuts == sorted(refined.values())


@given(st.lists(_colours, min_size=1, max_size=3), st.lists(st.floats(0.0, 0.12), min_size=8))
def test_a_shot_that_moves_has_no_cut(colours: list[int], wobbles: list[float]) -> None:
    """Within one shot the picture moves (up to 12% of each region changes from sample to
    sample, as a pan across a star field does): never a cut."""
    samples = [look(colours[0], wobble, index * STEP) for index, wobble in enumerate(wobbles)]
    assert scene_cuts(samples, len(samples) * STEP, min_seconds=0.5, max_scenes=200) == []


def test_a_busy_shot_hides_a_change_no_larger_than_its_own() -> None:
    """A shot that changes by 0.35 every sample (water, confetti) holds no cut; a change of
    0.45 inside it is no cut either, but a wholesale change of look is."""

    def busy(index: int) -> FrameSignature:
        cell = _histogram({0: 0.65, 1 + index % 2: 0.35})
        return FrameSignature(index * STEP, look(0).luma, (cell,) * CELLS)

    samples = [busy(index) for index in range(40)]
    assert scene_cuts(samples, 10.0, min_seconds=1.0, max_scenes=200) == []
    changed = [*samples[:20], *(look(9, seconds=index * STEP) for index in range(20, 40))]
    assert scene_cuts(changed, 10.0, min_seconds=1.0, max_scenes=200) == [5.0]


@st.composite
def _any_samples(draw: st.DrawFn) -> list[FrameSignature]:
    colours = draw(st.lists(_colours, min_size=2, max_size=80))
    wobbles = draw(st.lists(st.floats(0.0, 0.5), min_size=len(colours), max_size=len(colours)))
    return [
        look(colour, wobble, index * STEP)
        for index, (colour, wobble) in enumerate(zip(colours, wobbles, strict=True))
    ]


@given(_any_samples(), st.floats(0.25, 5.0), st.integers(1, 10))
def test_scenes_are_never_shorter_than_the_minimum_nor_more_than_the_maximum(
    samples: list[FrameSignature], min_seconds: float, max_scenes: int
) -> None:
    duration = len(samples) * STEP
    cuts = scene_cuts(samples, duration, min_seconds=min_seconds, max_scenes=max_scenes)
    assert cuts == sorted(cuts)
    assert len(cuts) <= max_scenes - 1
    if cuts:  # a video shorter than the minimum is one scene all the same
        bounds = [0.0, *cuts, duration]
        assert all(b - a >= min_seconds - 0.01 for a, b in itertools.pairwise(bounds))
    assert set(cuts) <= {frame.seconds for frame in samples}


@given(_any_samples())
def test_the_strongest_cut_is_kept_when_scenes_must_be_few(samples: list[FrameSignature]) -> None:
    duration = len(samples) * STEP
    every = scene_cuts(samples, duration, min_seconds=STEP, max_scenes=1000)
    assume(every)
    strength = {
        b.seconds: difference(a, b) for a, b in itertools.pairwise(samples) if b.seconds in every
    }
    (kept,) = scene_cuts(samples, duration, min_seconds=STEP, max_scenes=2)
    assert strength[kept] == max(strength.values())


def test_a_flash_is_one_cut_not_a_scene_shorter_than_the_minimum() -> None:
    """A flash of white between two samples of the same shot: its two changes are one cut at
    most when scenes last a second or more."""
    samples = [look(3, seconds=index * STEP) for index in range(16)]
    samples[8] = look(12, seconds=8 * STEP)
    cuts = scene_cuts(samples, 4.0, min_seconds=1.0, max_scenes=200)
    assert len(cuts) <= 1


@given(st.integers(0, 6), st.integers(1, 6), st.integers(0, 6))
def test_the_new_scene_starts_at_the_first_frame_that_looks_like_it(
    old_frames: int, new_frames: int, flat_frames: int
) -> None:
    before, after = look(2, seconds=0.0), look(9, seconds=1.0)
    between = [look(2, 0.05, 0.1 + i * 0.01) for i in range(old_frames)]
    between += [look(9, 0.05, 0.5 + i * 0.01) for i in range(new_frames)]
    assert first_of_new_scene(before, between, after) == between[old_frames]
    only_old = [look(2, 0.05, 0.1 + i * 0.01) for i in range(flat_frames)]
    assert first_of_new_scene(before, only_old, after) == after


@given(_any_samples(), st.lists(st.floats(0.01, 0.99), max_size=6, unique=True))
def test_spans_cover_the_video_in_order_with_a_keyframe_inside_each(
    samples: list[FrameSignature], shares: list[float]
) -> None:
    duration = len(samples) * STEP
    cuts = sorted(share * duration for share in shares)
    spans = scene_spans(cuts, duration, samples)
    assert [span.index for span in spans] == list(range(len(cuts) + 1))
    assert spans[0].start_seconds == 0.0
    assert spans[-1].end_seconds == duration
    for span, following in itertools.pairwise(spans):
        assert span.end_seconds == following.start_seconds
    for span in spans:
        assert span.start_seconds <= span.keyframe_seconds <= span.end_seconds


def test_a_scene_keyframe_is_neither_blank_nor_a_frame_of_its_fade() -> None:
    """A scene that opens on black and fades into a shot: its keyframe is of the shot."""
    frames = [blank(0.0), blank(0.25), look(5, 0.4, 0.5), look(5, 0.2, 0.75)]
    frames += [look(5, 0.0, 1.0 + i * STEP) for i in range(6)]
    keyframe = keyframe_of(frames)
    assert keyframe is not None
    assert not is_blank(keyframe)
    assert keyframe.seconds >= 1.0
    assert keyframe_of([blank(0.0), blank(1.0)]) == blank(0.0)
    assert keyframe_of([]) is None


def test_black_white_and_flat_frames_are_blank_a_title_card_is_not() -> None:
    assert is_blank(blank())
    noisy_black = FrameSignature(0.0, _histogram({0: 0.7, 1: 0.28, 2: 0.02}), ())
    assert is_blank(noisy_black)
    card = FrameSignature(0.0, _histogram({15: 0.86, 14: 0.02, 0: 0.1, 7: 0.02}), ())
    assert not is_blank(card)
    assert not is_blank(look(4))


def test_the_thumbnail_is_the_first_frame_that_is_not_blank() -> None:
    shot = look(6, seconds=1.5)
    assert representative([blank(0.0), blank(0.5), shot, look(8, seconds=2.0)]) == shot
    darkest = blank(0.0)
    dim = FrameSignature(0.5, _histogram({0: 0.9, 1: 0.06, 9: 0.04}), ())
    assert representative([darkest, dim]) == dim
    assert representative([]) is None


@given(_any_samples())
def test_difference_is_a_symmetric_measure_from_zero_to_one(
    samples: list[FrameSignature],
) -> None:
    for a, b in itertools.pairwise(samples):
        assert difference(a, a) == 0.0
        assert difference(a, b) == pytest.approx(difference(b, a))
        assert 0.0 <= difference(a, b) <= 1.0


@given(_any_samples())
def test_a_keyframe_is_the_earliest_frame_about_as_typical_as_the_most_typical(
    frames: list[FrameSignature],
) -> None:
    """Of a scene's frames (none blank here), the keyframe is within the tolerance of the
    nearest to their average look, and no earlier frame is."""
    keyframe = keyframe_of(frames)
    assert keyframe is not None
    average = FrameSignature(
        0.0,
        frames[0].luma,
        tuple(
            tuple(sum(f.cells[c][b] for f in frames) / len(frames) for b in range(BINS))
            for c in range(CELLS)
        ),
    )
    nearest = min(difference(frame, average) for frame in frames)
    assert difference(keyframe, average) <= nearest + KEYFRAME_TOLERANCE + 1e-9
    earlier = [frame for frame in frames if frame.seconds < keyframe.seconds]
    assert all(difference(f, average) > nearest + KEYFRAME_TOLERANCE - 1e-9 for f in earlier)
