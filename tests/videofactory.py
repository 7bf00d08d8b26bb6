"""Test videos made on the fly with PyAV: scenes of known length, a caption on screen, one sample
per codec and container we accept, and hostile files (truncated, empty, audio only, absurd).

Every video is small (640x360 unless asked otherwise) and a few seconds long, so making one
takes well under a second; each is made once per test session (`functools.cache`). A scene is
a still picture the camera pans across slowly, so the frames of one scene differ a little (as
a real shot's do) while two scenes differ a lot. Text is drawn with the font inside Pillow's
wheel, so a video is the same on any machine.
"""

from __future__ import annotations

import functools
import io
import math
import os
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

# SVT-AV1 prints its whole configuration to stderr unless told to log errors only.
os.environ.setdefault("SVT_LOG", "1")

__all__ = [
    "CODEC_SAMPLES",
    "THREE_SCENES_CUTS",
    "CodecSample",
    "Picture",
    "absurd_dimensions",
    "audio_only",
    "audio_with_cover",
    "black_start_video",
    "captioned_video",
    "card",
    "codec_sample",
    "flat",
    "ftyp_only",
    "lying_dimensions",
    "photo",
    "rotated_video",
    "scenes_video",
    "three_scenes",
    "too_long",
    "truncated_mp4",
]

#: A scene's picture: any RGB image, scaled to cover the video's frame.
Picture = Image.Image

PHOTOS = Path(__file__).parent / "assets" / "photos"
SIZE = (640, 360)
FPS = 25
#: How far the camera pans across a scene, as a share of the frame: enough that no two frames
#: of a scene are equal, far too little to look like a cut.
_PAN = 0.08
_AUDIO_RATE = 48_000
_AUDIO_HZ = 440.0

#: The cuts of `three_scenes`, in seconds (whole frames at 25 fps).
THREE_SCENES_CUTS = (3.2, 6.0)
_THREE_SCENES_SECONDS = (3.2, 2.8, 3.0)


def photo(name: str) -> Picture:
    """One of the photographs in tests/assets/photos (e.g. "rocket.jpg"), as RGB."""
    with Image.open(PHOTOS / name) as image:
        return image.convert("RGB")


def flat(colour: tuple[int, int, int]) -> Picture:
    """A picture of one colour (black makes a fade-in; a flat colour is a 'blank' frame)."""
    return Image.new("RGB", SIZE, colour)


def card(
    text: str,
    background: tuple[int, int, int] = (250, 250, 245),
    ink: tuple[int, int, int] = (15, 15, 15),
    size: tuple[int, int] = SIZE,
) -> Picture:
    """A title card: `text` in big letters (lines split on newlines) centred on a plain
    background, sized to fill most of the frame's width, so OCR reads it at any variant size."""
    lines = text.split("\n")
    width, height = size
    font_px = _fitting_font_px(lines, width * 0.85, height * 0.7)
    font = ImageFont.load_default(font_px)
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    line_height = font_px * 1.25
    top = (height - line_height * len(lines)) / 2 + line_height / 2
    for row, line in enumerate(lines):
        draw.text((width / 2, top + row * line_height), line, font=font, fill=ink, anchor="mm")
    return image


def _fitting_font_px(lines: Sequence[str], max_width: float, max_height: float) -> int:
    """The largest font size (px) whose widest line fits `max_width` and lines `max_height`."""
    probe_px = 100
    font = ImageFont.load_default(probe_px)
    widest = max(font.getlength(line) for line in lines) or 1.0
    by_width = probe_px * max_width / widest
    by_height = max_height / (1.25 * len(lines))
    return max(8, int(min(by_width, by_height)))


def scenes_video(
    scenes: Sequence[Picture],
    seconds: Sequence[float],
    *,
    codec: str = "h264",
    container: str = "mp4",
    fps: int = FPS,
    size: tuple[int, int] = SIZE,
    audio: bool = False,
    rotation: int = 0,
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
) -> bytes:
    """A video showing each picture for its number of seconds (rounded to whole frames), the
    camera panning slowly across it. `codec` is an FFmpeg encoder or a short name ("h264",
    "hevc", "vp9", "av1", "mpeg4"), `container` an FFmpeg muxer ("mp4", "mov", "webm",
    "matroska", "avi", "ipod" for M4V); `audio` adds a quiet tone; `rotation` (degrees,
    counter-clockwise) goes in the container's display matrix, the pixels stay as drawn;
    `pix_fmt` is the frames' layout ("yuv420p10le": 10-bit, as phones record HDR)."""
    if len(scenes) != len(seconds):
        raise ValueError("one duration per scene")
    encoder, encoder_options = _ENCODERS.get(codec, (codec, {}))
    encoding = _Encoding(
        encoder, encoder_options, container, fps, size, audio, rotation, pix_fmt, options or {}
    )
    # Written to a file: a muxer that rewrites its output (MP4's faststart moves the index to
    # the front) reopens it.
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "video"
        _encode(path, scenes, seconds, encoding)
        return path.read_bytes()


@dataclass(frozen=True)
class _Encoding:
    encoder: str
    encoder_options: dict[str, str]
    container: str
    fps: int
    size: tuple[int, int]
    audio: bool
    rotation: int
    pix_fmt: str
    options: dict[str, str]


def _encode(
    path: Path, scenes: Sequence[Picture], seconds: Sequence[float], encoding: _Encoding
) -> None:
    fps, size = encoding.fps, encoding.size
    with av.open(str(path), "w", format=encoding.container, options=encoding.options) as output:
        video = output.add_stream(encoding.encoder, rate=fps, options=encoding.encoder_options)
        video.width, video.height = size
        video.pix_fmt = encoding.pix_fmt
        if encoding.rotation:
            video.set_display_rotation(encoding.rotation)
        sound = _add_audio(output, encoding.container) if encoding.audio else None
        frame_index = 0
        for picture, duration in zip(scenes, seconds, strict=True):
            frames = round(duration * fps)
            cover = _cover(picture, size)
            for step in range(frames):
                image = _panned(cover, size, step / max(frames - 1, 1))
                frame = av.VideoFrame.from_image(image).reformat(format=encoding.pix_fmt)
                frame.pts = frame_index
                frame.time_base = Fraction(1, fps)
                output.mux(video.encode(frame))
                frame_index += 1
        output.mux(video.encode(None))
        if sound is not None:
            _write_tone(output, sound, frame_index / fps)


_ENCODERS: dict[str, tuple[str, dict[str, str]]] = {
    "h264": ("libx264", {"preset": "ultrafast"}),
    "hevc": ("libx265", {"preset": "ultrafast", "x265-params": "log-level=error"}),
    "vp9": ("libvpx-vp9", {"deadline": "realtime", "cpu-used": "8"}),
    "av1": ("libsvtav1", {"preset": "12"}),
    "mpeg4": ("mpeg4", {}),
}

_AUDIO_CODECS = {"webm": "libopus", "matroska": "libopus", "avi": "mp3"}


def _add_audio(output: av.container.OutputContainer, container: str) -> av.AudioStream:
    codec = _AUDIO_CODECS.get(container, "aac")
    if codec == "mp3" and "libmp3lame" not in av.codecs_available:
        codec = "aac"
    return output.add_stream(codec, rate=_AUDIO_RATE, layout="mono")


def _write_tone(
    output: av.container.OutputContainer, stream: av.AudioStream, seconds: float
) -> None:
    """A quiet 440 Hz tone as long as the video, in the encoder's frame size."""
    context = stream.codec_context
    samples_per_frame = context.frame_size or 1024
    total = int(seconds * _AUDIO_RATE)
    sample_format = context.format.name
    for start in range(0, total, samples_per_frame):
        count = min(samples_per_frame, total - start)
        times = (np.arange(start, start + count) / _AUDIO_RATE).astype(np.float32)
        wave = (0.1 * np.sin(2 * math.pi * _AUDIO_HZ * times)).astype(np.float32)
        if sample_format.startswith("s16"):
            wave = (wave * 32767).astype(np.int16)
        plane = wave.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(plane, format=sample_format, layout="mono")
        frame.sample_rate = _AUDIO_RATE
        frame.pts = start
        frame.time_base = Fraction(1, _AUDIO_RATE)
        output.mux(stream.encode(frame))
    output.mux(stream.encode(None))


def _cover(picture: Picture, size: tuple[int, int]) -> Image.Image:
    """`picture` scaled to cover a frame of `size` with a margin of `_PAN` either way."""
    scale = max(size[0] / picture.width, size[1] / picture.height) * (1 + _PAN)
    width, height = round(picture.width * scale), round(picture.height * scale)
    return picture.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)


def _panned(cover: Image.Image, size: tuple[int, int], progress: float) -> Image.Image:
    """The frame `progress` (0..1) of the way through a slow pan across the middle of `cover`,
    moving at most `_PAN` of the frame's size each way."""
    width, height = size
    left = _pan_offset(cover.width, width, progress)
    top = _pan_offset(cover.height, height, progress)
    return cover.crop((left, top, left + width, top + height))


def _pan_offset(cover_side: int, frame_side: int, progress: float) -> int:
    travel = min(cover_side - frame_side, round(frame_side * _PAN))
    start = (cover_side - frame_side - travel) // 2
    return start + round(travel * progress)


@functools.cache
def three_scenes() -> tuple[bytes, list[float]]:
    """A 9-second H.264 MP4 of three scenes anyone can tell apart and the on-device models
    describe: a cup of coffee (3.2 s), a white card reading "HARBOUR MASTER" (2.8 s), a cat
    (3.0 s); and its true cut times in seconds."""
    pictures = [photo("coffee.png"), card("HARBOUR\nMASTER"), photo("chelsea.png")]
    return scenes_video(pictures, _THREE_SCENES_SECONDS), list(THREE_SCENES_CUTS)


@functools.cache
def captioned_video(caption: str, seconds: float = 3.0) -> bytes:
    """An H.264 MP4 showing `caption` in big black letters on white for `seconds`."""
    return scenes_video([card(caption)], [seconds])


@functools.cache
def black_start_video(black_seconds: float = 1.0) -> bytes:
    """An H.264 MP4 that opens on `black_seconds` of black before a photo of a cup of coffee
    (2 s): its first frame is no thumbnail."""
    return scenes_video([flat((0, 0, 0)), photo("coffee.png")], [black_seconds, 2.0])


@functools.cache
def rotated_video(rotation: int = 90) -> bytes:
    """An H.264 MP4 of the astronaut photo whose display matrix turns it by `rotation`
    degrees counter-clockwise: pixels 640x360 stored, shown 360x640 for 90 or 270."""
    return scenes_video([photo("astronaut.png")], [1.0], rotation=rotation)


@dataclass(frozen=True)
class CodecSample:
    """A short video of one codec in one container, and what a probe must find in it."""

    name: str
    data: bytes
    mime: str  # what `filetype` reports for it
    video_codec: str  # FFmpeg's codec name
    audio_codec: str | None
    width: int
    height: int
    frame_rate: float
    duration_seconds: float


@dataclass(frozen=True)
class _SampleSpec:
    codec: str
    container: str
    mime: str
    video_codec: str
    audio_codec: str | None
    size: tuple[int, int] = (320, 240)
    fps: int = 25
    seconds: float = 2.0
    options: tuple[tuple[str, str], ...] = ()
    pix_fmt: str = "yuv420p"
    brands: str | None = None  # major brand of an M4V ftyp filetype reads as video/x-m4v


_SAMPLES: dict[str, _SampleSpec] = {
    "h264.mp4": _SampleSpec("h264", "mp4", "video/mp4", "h264", "aac"),
    "hevc.mov": _SampleSpec("hevc", "mov", "video/quicktime", "hevc", "aac", fps=30),
    "hevc10.mp4": _SampleSpec("hevc", "mp4", "video/mp4", "hevc", None, pix_fmt="yuv420p10le"),
    "vp9.webm": _SampleSpec("vp9", "webm", "video/webm", "vp9", "opus", size=(426, 240)),
    "av1.mkv": _SampleSpec("av1", "matroska", "video/x-matroska", "av1", None, fps=24),
    "av1.mp4": _SampleSpec("av1", "mp4", "video/mp4", "av1", None, size=(352, 288)),
    "mpeg4.avi": _SampleSpec("mpeg4", "avi", "video/x-msvideo", "mpeg4", None, fps=15),
    "h264.m4v": _SampleSpec("h264", "ipod", "video/x-m4v", "h264", "aac", brands="M4V "),
    "h264.mkv": _SampleSpec("h264", "matroska", "video/x-matroska", "h264", "opus"),
}

#: The names of every codec sample (`codec_sample(name)`).
CODEC_SAMPLES = tuple(_SAMPLES)


@functools.cache
def codec_sample(name: str) -> CodecSample:
    """The codec sample called `name`, one of CODEC_SAMPLES: H.264 in MP4, M4V and MKV, HEVC
    in MOV (and in 10 bits in MP4), VP9 in WebM, AV1 in MKV and MP4, MPEG-4 Part 2 in AVI;
    those whose spec names an audio codec carry a tone in it."""
    spec = _SAMPLES[name]
    data = scenes_video(
        [photo("coffee.png"), photo("rocket.jpg")],
        [spec.seconds / 2, spec.seconds / 2],
        codec=spec.codec,
        container=spec.container,
        fps=spec.fps,
        size=spec.size,
        audio=spec.audio_codec is not None,
        pix_fmt=spec.pix_fmt,
        options=dict(spec.options),
    )
    if spec.brands is not None:
        data = _m4v_brands(data)
    return CodecSample(
        name=name,
        data=data,
        mime=spec.mime,
        video_codec=spec.video_codec,
        audio_codec=spec.audio_codec,
        width=spec.size[0],
        height=spec.size[1],
        frame_rate=float(spec.fps),
        duration_seconds=spec.seconds,
    )


def _m4v_brands(data: bytes) -> bytes:
    """The iPod muxer's M4V with an ftyp naming only Apple's brands, as iTunes writes it for
    video it sells: `filetype` reports an M4V only from a 28-byte ftyp without an MP4 brand
    (with one it says video/mp4). The freed 4 bytes join the `free` box after it, so no offset
    in the file moves."""
    ftyp_size = struct.unpack(">I", data[:4])[0]
    after = data[ftyp_size : ftyp_size + 8]
    if after[4:] != b"free":
        raise AssertionError("the iPod muxer no longer writes a free box after ftyp")
    free_size = struct.unpack(">I", after[:4])[0]
    ftyp = _box(b"ftyp", b"M4V " + struct.pack(">I", 1) + b"M4V M4A M4VP")
    free = _box(b"free", bytes(ftyp_size + free_size - len(ftyp) - 8))
    return ftyp + free + data[ftyp_size + free_size :]


# Hostile files.


@functools.cache
def truncated_mp4() -> bytes:
    """A faststart H.264 MP4 (index first) cut in half: its index still claims every frame
    and the full duration, but the second half of the media data is gone."""
    whole = scenes_video(
        [photo("rocket.jpg"), photo("coffee.png")], [2.0, 2.0], options={"movflags": "faststart"}
    )
    return whole[: len(whole) // 2]


def ftyp_only() -> bytes:
    """An `ftyp` box saying "MP4", an empty `moov` and a box of a type nobody knows: FFmpeg
    opens it without an error, with zero streams and no duration."""
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    bogus = _box(b"zzzz", bytes(range(256)) * 4)
    return ftyp + _box(b"moov", b"") + bogus


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


@functools.cache
def audio_only(seconds: float = 2.0) -> bytes:
    """An MP4 holding a tone in AAC and no video stream at all."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as output:
        stream = output.add_stream("aac", rate=_AUDIO_RATE, layout="mono")
        _write_tone(output, stream, seconds)
    return out.getvalue()


@functools.cache
def audio_with_cover(seconds: float = 2.0) -> bytes:
    """An MP4 holding a tone in AAC and a cover picture (a JPEG "video" stream of one frame
    marked as an attached picture, as music files carry their album art): no video either."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "song.mp4"
        with av.open(str(path), "w", format="mp4") as output:
            sound = output.add_stream("aac", rate=_AUDIO_RATE, layout="mono")
            cover = output.add_stream("mjpeg", rate=1)
            cover.width, cover.height = 320, 240
            cover.pix_fmt = "yuvj420p"
            cover.disposition = av.stream.Disposition.attached_pic
            image = photo("coffee.png").resize((320, 240))
            frame = av.VideoFrame.from_image(image).reformat(format="yuvj420p")
            frame.pts, frame.time_base = 0, Fraction(1, 1)
            output.mux(cover.encode(frame))
            output.mux(cover.encode(None))
            _write_tone(output, sound, seconds)
        return path.read_bytes()


#: The width of `absurd_dimensions`: twice the largest side a server accepts by default.
ABSURD_WIDTH = 16_384
#: What `lying_dimensions` claims its frames measure.
LYING_SIDE = 60_000


@functools.cache
def absurd_dimensions() -> bytes:
    """An H.264 MP4 of frames truly 16384x16 pixels: a few pixels, but wider than any
    `video_max_side` (cheap to make and to refuse)."""
    size = (ABSURD_WIDTH, 16)
    return scenes_video([Image.new("RGB", size, (200, 30, 30))], [0.4], fps=5, size=size)


@functools.cache
def lying_dimensions() -> bytes:
    """A VP9 WebM whose container and first frame both claim 60000x60000 pixels (PixelWidth,
    PixelHeight and the keyframe header rewritten; the frame is truly 320x256): FFmpeg cannot
    decode it and opens it with a stream of size 0x0."""
    data = bytearray(
        scenes_video([flat((40, 90, 160))], [1.0], codec="vp9", container="webm", size=(320, 256))
    )
    for element_id, side in ((b"\xb0", 320), (b"\xba", 256)):
        # An EBML unsigned integer of 2 bytes: the element id, the size byte 0x82, the value.
        old = element_id + b"\x82" + struct.pack(">H", side)
        at = data.find(old)
        if at < 0:
            raise AssertionError(f"no 2-byte element {element_id.hex()} in the WebM header")
        data[at : at + len(old)] = element_id + b"\x82" + struct.pack(">H", LYING_SIDE)
    # A VP9 keyframe's header (profile 0): a byte of flags, the sync code 49 83 42, then 4 bits
    # of colour space and range, and width - 1 and height - 1 in 16 bits each.
    sync = data.find(b"\x49\x83\x42")
    fields = int.from_bytes(data[sync + 3 : sync + 8], "big")
    colour, rest = fields >> 36, fields & 0xF
    lie = (colour << 36) | ((LYING_SIDE - 1) << 20) | ((LYING_SIDE - 1) << 4) | rest
    data[sync + 3 : sync + 8] = lie.to_bytes(5, "big")
    return bytes(data)


@functools.cache
def too_long(seconds: float = 30.0) -> bytes:
    """A tiny H.264 MP4 (160x96, 5 fps) lasting `seconds`: past a test's small duration limit."""
    return scenes_video([flat((30, 120, 60))], [seconds], fps=5, size=(160, 96))
