"""The video decodes that `IsolatedPool.run` calls in a child: top-level functions of paths and
small values, whose results pickle back. Each opens the file again and checks its container
against the limits before it decodes: limits change, and stored bytes are checked at every
decode.

A probe reads the container's facts, refuses what the limits refuse, reads every packet to the
end (a truncated file is refused at upload, where its container shows it) and picks the
thumbnail frame. Cutting scenes decodes the whole video once, in order, keeping a signature of
a few frames a second (domain.scenes); the keyframes of the scenes are then decoded again by
seeking to them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final, TypeVar

import av
import pyvips

from scopix.server.domain.errors import CorruptFile
from scopix.server.domain.limits import VideoLimits
from scopix.server.domain.scenes import (
    CUT_THRESHOLD,
    FrameSignature,
    difference,
    first_of_new_scene,
    is_blank,
    representative,
    scene_cuts,
    scene_spans,
)
from scopix.server.domain.videos import VideoMetadata
from scopix.server.imaging.analysis import decoded_image
from scopix.server.imaging.variants import RenderedImage, variants_of, webp_of
from scopix.server.isolation import reserve_memory
from scopix.server.media.base import Scene, SceneCut
from scopix.server.media.videos.decode import (
    OpenVideo,
    check_complete,
    frames_at,
    frames_in_order,
    open_video,
    read_metadata,
    read_rotation,
)
from scopix.server.media.videos.frames import picture, signature, upright_size
from scopix.server.vision.base import DecodedImage

__all__ = [
    "SCENE_THUMBNAIL_SIDE",
    "Sampling",
    "VideoProbe",
    "cut_scenes",
    "keyframe_images",
    "probe_video",
    "sample_video",
    "thumbnail_image",
    "video_metadata",
    "video_variants",
]

T = TypeVar("T")

#: Longest side of a scene's thumbnail.
SCENE_THUMBNAIL_SIDE: Final = 512
#: The thumbnail is the first frame that is not blank among frames this far apart...
_THUMBNAIL_STEP_SECONDS: Final = 0.5
#: ... from the video's first this many seconds.
_THUMBNAIL_SEARCH_SECONDS: Final = 10.0
#: Frames between two samples held to place a cut among them: 30 fps sampled 4 times a second
#: holds 7; a faster video holds every other frame, or every fourth, and so on.
_HELD_FRAMES: Final = 16
#: Frames a decode holds at once: the decoder's reference frames (16 at most in H.264, HEVC),
#: those in flight on its threads, and ours.
_DECODER_FRAMES: Final = 16 + 8 + _HELD_FRAMES
#: Bytes per pixel of a decoded frame: 4:2:0 in 16-bit samples (10-bit HDR), or 4:4:4 in 8.
_FRAME_BYTES_PER_PIXEL: Final = 3
#: What a decode holds besides frames: FFmpeg's contexts, the packets, numpy, the signatures.
_DECODE_OVERHEAD: Final = 64 << 20


@dataclass(frozen=True)
class VideoProbe:
    """What an upload shows of itself: its container's facts, and the thumbnail frame's
    variants when they were asked for."""

    metadata: VideoMetadata
    rendered: RenderedImage | None


@dataclass
class Sampling:
    """A video decoded in order: the signatures of its frames a few times a second, the
    refined time of each change between two samples that may be a cut (by the index of the
    later sample), where its last frame ends, and the times of its keyframes (where decoding
    can start)."""

    samples: list[FrameSignature] = field(default_factory=list)
    refined: dict[int, float] = field(default_factory=dict)
    end_seconds: float = 0.0
    keyframes: list[float] = field(default_factory=list)


def probe_video(path: Path, limits: VideoLimits, sizes: Mapping[str, int] | None) -> VideoProbe:
    """The container's facts (checked against the limits), every packet read to the end, and
    unless `sizes` is None the variants of the thumbnail frame."""
    metadata = _checked_to_the_end(path, limits)
    rendered = None if sizes is None else video_variants(path, limits, sizes)
    return VideoProbe(metadata, rendered)


def video_metadata(path: Path, limits: VideoLimits) -> VideoMetadata:
    """The container's facts, checked against the limits (its header only: no packet read)."""
    with open_video(path) as video:
        return _checked(video, limits)


def _checked_to_the_end(path: Path, limits: VideoLimits) -> VideoMetadata:
    """The container's facts, checked against the limits before and after every packet is read:
    a file whose packets end well before its declared duration is truncated, and one whose
    packets run on past it lasts as long as they do."""
    with open_video(path) as video:
        metadata = _checked(video, limits)
        end = check_complete(video, metadata.duration_seconds)
    limits.check(replace(metadata, duration_seconds=max(metadata.duration_seconds, end)))
    return metadata


def _checked(video: OpenVideo, limits: VideoLimits) -> VideoMetadata:
    """The container's facts, refused when over the limits before anything is decoded; then,
    with memory for the decode reserved, the rotation from the first frame."""
    metadata = read_metadata(video)
    limits.check(metadata)
    _reserve(metadata)
    return replace(metadata, rotation=read_rotation(video))


def video_variants(path: Path, limits: VideoLimits, sizes: Mapping[str, int]) -> RenderedImage:
    """The variants of `sizes` and the blurhash of the video's thumbnail frame (the first that
    is not blank), upright; its width and height are the video's as shown."""
    largest = max(sizes.values(), default=64)
    with open_video(path) as video:
        metadata = _checked(video, limits)
    with open_video(path) as video:
        frame = _thumbnail_frame(video)
        rendered = variants_of(picture(frame, largest, -metadata.rotation, video.aspect), sizes)
        width, height = upright_size(
            metadata.width, metadata.height, metadata.rotation, video.aspect
        )
    return replace(rendered, width=width, height=height)


def thumbnail_image(path: Path, limits: VideoLimits, max_side: int) -> DecodedImage:
    """The video's thumbnail frame as the analyzers see it, at most `max_side` a side."""
    with open_video(path) as video:
        metadata = _checked(video, limits)
    with open_video(path) as video:
        frame = _thumbnail_frame(video)
        return decoded_image(picture(frame, max_side, -metadata.rotation, video.aspect))


def _thumbnail_frame(video: OpenVideo) -> av.VideoFrame:
    """From the start, the first frame that is not blank among frames half a second apart (the
    busiest of them when all are blank: a dark video is still shown)."""
    best: tuple[FrameSignature, av.VideoFrame] | None = None
    next_at = 0.0
    for seconds, frame in frames_in_order(video):
        if seconds > _THUMBNAIL_SEARCH_SECONDS:
            break
        if seconds < next_at - _TIME_SLACK:
            continue
        taken = signature(frame, seconds)
        if not is_blank(taken):
            return frame
        if best is None or representative([best[0], taken]) is taken:
            best = (taken, frame)  # one blank frame held, not every one
        next_at = seconds + _THUMBNAIL_STEP_SECONDS
    if best is None:
        raise CorruptFile("no frame of the video decodes")
    return best[1]


def sample_video(path: Path, sample_fps: float) -> Sampling:
    """Decode the whole video in order and keep the signature of the first frame at or after
    each 1/`sample_fps` second; where two samples differ like a cut, find among the frames
    between them the first of the new scene. For benchmarks: the same decode as `cut_scenes`
    with no limits checked."""
    with open_video(path) as video:
        return _sample(video, sample_fps)


def _sample(video: OpenVideo, sample_fps: float) -> Sampling:
    sampling = Sampling()
    step = 1 / sample_fps
    frame_seconds = video.frame_seconds or step
    next_at = 0.0
    # The frames since the last sample, signed only when the next sample differs like a cut.
    held: list[tuple[float, av.VideoFrame]] = []
    for seconds, frame in frames_in_order(video):
        if frame.key_frame:
            sampling.keyframes.append(seconds)
        sampling.end_seconds = max(sampling.end_seconds, seconds + frame_seconds)
        if seconds < next_at - _TIME_SLACK:
            if sampling.samples:
                held.append((seconds, frame))
                if len(held) > _HELD_FRAMES:
                    held = held[::2]  # a fast video: every other frame places the cut
            continue
        taken = signature(frame, seconds)
        if sampling.samples and held:
            previous = sampling.samples[-1]
            if difference(previous, taken) >= CUT_THRESHOLD:
                between = [signature(early, when) for when, early in held]
                first = first_of_new_scene(previous, between, taken)
                sampling.refined[len(sampling.samples)] = first.seconds
        sampling.samples.append(taken)
        held = []
        next_at = (math.floor(seconds * sample_fps + _TIME_SLACK) + 1) * step
    return sampling


#: Frame times this close are one (timestamps are rounded to their time base).
_TIME_SLACK: Final = 1e-3


def cut_scenes(path: Path, limits: VideoLimits, thumbnail_side: int) -> SceneCut:
    """The video's scenes with a WebP thumbnail of each one's keyframe (at most
    `thumbnail_side` a side), and its metadata as the whole file shows it: the duration is
    where its last frame ends."""
    metadata = _checked_to_the_end(path, limits)
    with open_video(path) as video:
        sampling = _sample(video, limits.sample_fps)
    duration = sampling.end_seconds or metadata.duration_seconds
    cuts = scene_cuts(
        sampling.samples,
        duration,
        min_seconds=limits.scene_min_seconds,
        max_scenes=limits.max_scenes,
        refined=sampling.refined,
    )
    spans = scene_spans(cuts, duration, sampling.samples)
    times = [span.keyframe_seconds for span in spans]
    thumbnails = _keyframes(path, times, sampling.keyframes, thumbnail_side, webp_of)
    scenes = tuple(Scene(span, thumb) for span, thumb in zip(spans, thumbnails, strict=True))
    return SceneCut(replace(metadata, duration_seconds=round(duration, 3)), scenes)


def keyframe_images(
    path: Path, limits: VideoLimits, times: Sequence[float], max_side: int
) -> tuple[DecodedImage, ...]:
    """The frames shown at `times` (seconds, ascending) as the analyzers see them, at most
    `max_side` a side, each found by seeking to it."""
    with open_video(path) as video:
        _checked(video, limits)
    return tuple(_keyframes(path, times, None, max_side, decoded_image))


def _keyframes(
    path: Path,
    times: Sequence[float],
    keyframes: Sequence[float] | None,
    max_side: int,
    encode: Callable[[pyvips.Image], T],
) -> list[T]:
    """The frames shown at `times`, upright, fitting `max_side`, each made into `encode`'s;
    `keyframes` (the times decoding can start at, when known) spare needless seeks."""
    with open_video(path) as video:
        rotation = -read_rotation(video)
    with open_video(path) as video:
        return [
            encode(picture(frame, max_side, rotation, video.aspect))
            for _, frame in frames_at(video, times, keyframes)
        ]


def _reserve(metadata: VideoMetadata) -> None:
    """Wait until the memory budget has room for this video's decode."""
    frame = metadata.width * metadata.height * _FRAME_BYTES_PER_PIXEL
    reserve_memory(frame * _DECODER_FRAMES + _DECODE_OVERHEAD)
