"""Reading a video with PyAV (its bundled FFmpeg): open it, read its container's facts, check
that its packets reach the end it declares, and decode its frames, in order or at given times.

Everything here runs in an isolated child (`media.videos.isolated`). FFmpeg's refusals become
the domain's: bytes that do not open, hold no video stream or do not decode are CorruptFile; a
stream FFmpeg has no decoder for is UnsupportedMediaType. An allocation failure stays a
MemoryError, which the pool reports as a decode that needed too much memory.

MEDIA.md's traps: an `ftyp` box followed by a bogus box opens without error and with zero
streams; a faststart MP4 cut in half still declares its full duration (its index is whole), so
its packets are read to the end (cheap: no decoding) and must reach that duration.
"""

from __future__ import annotations

import bisect
import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Final

import av
import av.container
import av.error
import av.video.stream

from scopix.server.domain.errors import CorruptFile, UnsupportedMediaType
from scopix.server.domain.videos import VideoMetadata

__all__ = [
    "OpenVideo",
    "check_complete",
    "frames_at",
    "frames_in_order",
    "open_video",
    "read_metadata",
    "read_rotation",
]

#: Packets of a video that no frame may come out of before it is refused as undecodable (a
#: decoder holds a few frames back; a real video yields its first within a few dozen packets).
_PACKETS_BEFORE_A_FRAME: Final = 300
#: Packets that fail to decode that a video may have (concealed, as a player would) before
#: it is refused; beyond this share of its packets it is broken, not damaged.
_BAD_PACKET_SHARE: Final = 0.02
_BAD_PACKETS_ALWAYS_ALLOWED: Final = 3
#: The packets may end this much before the declared duration (rounding, a last frame's
#: duration unknown, audio padding) and the file still be whole.
_END_SLACK_SECONDS: Final = 0.5
_END_SLACK_SHARE: Final = 0.02


@dataclass
class OpenVideo:
    """An open video file: its container and its first video stream."""

    container: av.container.InputContainer
    stream: av.video.stream.VideoStream
    #: The stream's first timestamp, in seconds: a frame's time in the video is its own minus
    #: this (a player shows the first frame at 0).
    origin: float

    @property
    def frame_seconds(self) -> float | None:
        """How long one frame shows, from the stream's average rate."""
        rate = self.stream.average_rate or self.stream.guessed_rate
        return float(1 / rate) if rate else None

    @property
    def aspect(self) -> float:
        """The width of a pixel relative to its height (1 but for anamorphic video)."""
        ratio = self.stream.sample_aspect_ratio
        return float(ratio) if ratio and 0.1 <= ratio <= 10 else 1.0

    def seconds(self, frame: av.VideoFrame) -> float | None:
        """The frame's time in the video, or None when it carries no timestamp."""
        return None if frame.time is None else max(0.0, frame.time - self.origin)


@contextlib.contextmanager
def open_video(path: Path) -> Iterator[OpenVideo]:
    """Open the file and its first video stream, decoding with the threads FFmpeg picks. Raises
    CorruptFile when it does not open or holds no video stream."""
    with _refusals(), av.open(str(path), metadata_errors="replace") as container:
        stream = _video_stream(container)
        yield OpenVideo(container, stream, _origin(stream))


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """FFmpeg's errors as the domain's, without the file's path."""
    try:
        yield
    except av.error.DecoderNotFoundError as exc:
        raise UnsupportedMediaType(f"FFmpeg has no decoder for this video: {_said(exc)}") from None
    except av.error.MemoryError:
        raise MemoryError("FFmpeg could not allocate memory") from None
    except av.error.FFmpegError as exc:
        raise CorruptFile(f"the video cannot be read: {_said(exc)}") from None


def _said(exc: av.error.FFmpegError) -> str:
    """What FFmpeg said, without the path of the file it said it about."""
    return str(exc.strerror or type(exc).__name__).rstrip(".")


def _video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    if not container.streams:
        raise CorruptFile("the file holds no streams at all: nothing in it plays")
    moving = [stream for stream in container.streams.video if not _is_cover(stream)]
    if not moving:
        kinds = sorted({stream.type for stream in container.streams if not _is_cover(stream)})
        covered = " and a cover picture" if container.streams.video else ""
        raise CorruptFile(
            f"the file holds no video stream, only {', '.join(kinds) or 'nothing'}{covered}"
        )
    stream = moving[0]
    if stream.codec_context is None:
        raise UnsupportedMediaType("FFmpeg has no decoder for this video's codec")
    stream.thread_type = "AUTO"
    return stream


def _is_cover(stream: av.stream.Stream) -> bool:
    """Whether a "video" stream is a still attached to audio (a song's album art)."""
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _origin(stream: av.video.stream.VideoStream) -> float:
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def read_metadata(video: OpenVideo) -> VideoMetadata:
    """The container's facts, nothing decoded: the rotation is 0 until `read_rotation`."""
    stream, container = video.stream, video.container
    audio = container.streams.audio[0] if container.streams.audio else None
    return VideoMetadata(
        duration_seconds=_duration(video),
        width=stream.codec_context.width,
        height=stream.codec_context.height,
        frame_rate=_frame_rate(stream),
        video_codec=_codec_name(stream),
        audio_codec=None if audio is None else _codec_name(audio),
        bit_rate=container.bit_rate or stream.codec_context.bit_rate or None,
        has_audio=audio is not None,
    )


def read_rotation(video: OpenVideo) -> int:
    """The clockwise turn a player gives the picture (0, 90, 180 or 270), from the display
    matrix of the first frame (PyAV reads it from frames). Raises CorruptFile when no frame
    decodes."""
    first = next(frames_in_order(video), None)
    if first is None:
        raise CorruptFile("no frame of the video decodes")
    counter_clockwise = first[1].rotation
    return (-round(counter_clockwise / 90) * 90) % 360


def _duration(video: OpenVideo) -> float:
    """The declared duration: the container's, else the video stream's; NaN when neither."""
    if video.container.duration is not None and video.container.duration > 0:
        return float(video.container.duration) / av.time_base
    stream = video.stream
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return math.nan


def _frame_rate(stream: av.video.stream.VideoStream) -> float | None:
    rate = stream.average_rate or stream.guessed_rate
    return round(float(rate), 3) if rate else None


def _codec_name(stream: av.stream.Stream) -> str:
    """FFmpeg's name of the codec ("h264", "av1"), not of the decoder ("libdav1d")."""
    codec = stream.codec_context.codec
    return str(codec.canonical_name or codec.name)


def check_complete(video: OpenVideo, declared_seconds: float) -> float:
    """Read every packet of every stream (no decoding) and refuse the file (CorruptFile) when
    they end well before `declared_seconds`; where they end, in seconds."""
    end = 0.0
    for packet in video.container.demux():
        if packet.pts is None or packet.time_base is None:
            continue
        start = packet.stream.start_time or 0
        packet_end = (packet.pts - start + (packet.duration or 0)) * packet.time_base
        end = max(end, float(packet_end))
    slack = max(_END_SLACK_SECONDS, _END_SLACK_SHARE * declared_seconds)
    if end < declared_seconds - slack:
        raise CorruptFile(
            f"the file is truncated: its frames end at {end:.1f} s of the "
            f"{declared_seconds:.1f} s it declares",
            ends_at_seconds=round(end, 3),
            declared_seconds=round(declared_seconds, 3),
        )
    return end


def frames_in_order(video: OpenVideo) -> Iterator[tuple[float, av.VideoFrame]]:
    """Every frame from the current position with its time in the video. A damaged packet is
    skipped as a player would conceal it; a stream with more than a few, or that yields no
    frame at all from its first packets, is CorruptFile."""
    bad = packets = 0
    index = 0
    with _refusals():
        for packet in video.container.demux(video.stream):
            packets += 1
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                bad += 1
                if bad > max(_BAD_PACKETS_ALWAYS_ALLOWED, _BAD_PACKET_SHARE * packets):
                    raise CorruptFile(
                        f"the video does not decode: {bad} of its first {packets} packets "
                        "are damaged"
                    ) from None
                continue
            if not index and packets > _PACKETS_BEFORE_A_FRAME:
                raise CorruptFile(f"no frame decodes from the video's first {packets} packets")
            for frame in frames:
                yield _timed(video, frame, index), frame
                index += 1


def _timed(video: OpenVideo, frame: av.VideoFrame, index: int) -> float:
    """The frame's time; a frame without a timestamp is timed by its place at the frame rate."""
    seconds = video.seconds(frame)
    if seconds is not None:
        return seconds
    return index * (video.frame_seconds or 0.0)


def frames_at(
    video: OpenVideo, times: Sequence[float], keyframes: Sequence[float] | None = None
) -> Iterator[tuple[float, av.VideoFrame]]:
    """For each of `times` (seconds, ascending), the first frame shown at or after it (the last
    frame when the video ends before). Given the times of the video's keyframes (where decoding
    can start; ascending), it seeks only when one lies between the frame it is at and the time
    wanted, and otherwise decodes on; without them it seeks for every time."""
    frames: Iterator[tuple[float, av.VideoFrame]] | None = None
    position = -math.inf
    last: tuple[float, av.VideoFrame] | None = None
    for wanted in times:
        if last is not None and wanted <= position:
            yield last  # the frame found last is shown at this time too
            continue
        if frames is None or _keyframe_between(keyframes, position, wanted):
            _seek(video, wanted)
            frames = frames_in_order(video)
            last = None
        for seconds, frame in frames:
            last, position = (seconds, frame), seconds
            if seconds >= wanted - _TIME_SLACK:
                break
        if last is None:
            raise CorruptFile(f"no frame of the video decodes at {wanted:.2f} s")
        yield last


def _keyframe_between(keyframes: Sequence[float] | None, after: float, until: float) -> bool:
    """Whether decoding can start again past `after` and at or before `until` (unknown: yes)."""
    if keyframes is None:
        return True
    return bisect.bisect_right(keyframes, until + _TIME_SLACK) > bisect.bisect_right(
        keyframes, after + _TIME_SLACK
    )


#: Frames whose times are this close are one (timestamps are rounded to their time base).
_TIME_SLACK: Final = 1e-3


def _seek(video: OpenVideo, seconds: float) -> None:
    """Seek to the keyframe at or before `seconds` in the video."""
    stream = video.stream
    time_base = stream.time_base or Fraction(1, av.time_base)
    target = int((seconds + video.origin) / time_base)
    with _refusals():
        video.container.seek(target, stream=stream, backward=True, any_frame=False)
