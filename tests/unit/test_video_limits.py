"""A video's limits, checked from its container's metadata: frame size, duration, and a
container that declares no picture at all; and the settings they come from."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.errors import CorruptFile, VideoTooLarge
from scopix.server.domain.limits import VideoLimits
from scopix.server.domain.videos import VideoMetadata
from scopix.server.settings import Settings

LIMITS = VideoLimits(
    max_duration_seconds=600.0,
    max_side=8192,
    max_bytes=2 << 30,
    scene_min_seconds=1.0,
    sample_fps=4.0,
    max_scenes=200,
    max_described_scenes=30,
)
CLIP = VideoMetadata(
    duration_seconds=12.5,
    width=1280,
    height=720,
    frame_rate=30.0,
    video_codec="h264",
    audio_codec="aac",
    bit_rate=2_000_000,
    has_audio=True,
)


@given(
    st.integers(1, LIMITS.max_side),
    st.integers(1, LIMITS.max_side),
    st.floats(0.001, LIMITS.max_duration_seconds),
)
def test_a_video_within_every_limit_passes(width: int, height: int, seconds: float) -> None:
    LIMITS.check(replace(CLIP, width=width, height=height, duration_seconds=seconds))


@given(st.integers(LIMITS.max_side + 1, 1 << 20), st.integers(1, 1 << 20), st.booleans())
def test_a_side_past_the_limit_is_too_large(long_side: int, other: int, wide: bool) -> None:
    width, height = (long_side, other) if wide else (other, long_side)
    with pytest.raises(VideoTooLarge) as refused:
        LIMITS.check(replace(CLIP, width=width, height=height))
    assert refused.value.code == "VIDEO_TOO_LARGE"
    assert f"{width}x{height}" in refused.value.message
    assert refused.value.details["max_side"] == LIMITS.max_side


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(600.4, "10:01"), (601.0, "10:01"), (3725.0, "1:02:05"), (1e9, "277777:46:40")],
)
def test_a_video_past_the_duration_limit_is_too_large(seconds: float, said: str) -> None:
    with pytest.raises(VideoTooLarge) as refused:
        LIMITS.check(replace(CLIP, duration_seconds=seconds))
    assert refused.value.message == f"videos may last at most 10:00; this one lasts {said}"
    assert refused.value.details["max_duration_seconds"] == 600.0


def test_exactly_the_longest_duration_passes() -> None:
    LIMITS.check(replace(CLIP, duration_seconds=600.0))


@pytest.mark.parametrize(("width", "height"), [(0, 0), (0, 720), (1280, 0), (-1, 720)])
def test_a_stream_without_a_frame_size_is_corrupt(width: int, height: int) -> None:
    with pytest.raises(CorruptFile, match="declares no frame size"):
        LIMITS.check(replace(CLIP, width=width, height=height))


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("nan"), float("inf")])
def test_a_video_without_a_duration_is_corrupt(seconds: float) -> None:
    with pytest.raises(CorruptFile, match="declares no duration"):
        LIMITS.check(replace(CLIP, duration_seconds=seconds))


def test_the_settings_defaults_are_the_documented_limits() -> None:
    settings = Settings()
    assert settings.video_max_duration_seconds == 600
    assert settings.video_max_side == 8192
    assert settings.video_max_bytes == 2 << 30
    assert settings.video_scene_min_seconds == 1.0
    assert settings.video_scene_sample_fps == 4.0
    assert settings.video_max_scenes == 200
    assert settings.video_max_described_scenes == 30


@pytest.mark.parametrize("seconds", [0.5, 7201])
def test_the_duration_setting_stays_between_a_second_and_two_hours(seconds: float) -> None:
    with pytest.raises(ValueError, match="video_max_duration_seconds"):
        Settings(video_max_duration_seconds=seconds)


def test_a_whole_decode_is_granted_time_by_the_video_s_pixels_within_bounds() -> None:
    minute_720p = replace(CLIP, duration_seconds=60.0, frame_rate=30.0)
    assert LIMITS.decode_seconds(minute_720p) == pytest.approx(60 * 30 * 1280 * 720 / 1e8)
    double = replace(minute_720p, duration_seconds=120.0)
    assert LIMITS.decode_seconds(double) == pytest.approx(2 * LIMITS.decode_seconds(minute_720p))
    no_rate = replace(minute_720p, frame_rate=None)
    assert LIMITS.decode_seconds(no_rate) == LIMITS.decode_seconds(minute_720p)


@given(st.floats(1, 7200), st.floats(0.1, 1e9), st.integers(1, 8192), st.integers(1, 8192))
def test_no_header_buys_a_decode_more_than_an_hour(
    seconds: float, rate: float, width: int, height: int
) -> None:
    video = replace(CLIP, duration_seconds=seconds, frame_rate=rate, width=width, height=height)
    assert 0 < LIMITS.decode_seconds(video) <= 3600
    fast = replace(video, frame_rate=max(rate, 1e6))
    assert LIMITS.decode_seconds(fast) <= LIMITS.decode_seconds(replace(video, frame_rate=240))
