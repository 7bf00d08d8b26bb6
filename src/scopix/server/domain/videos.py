"""What a video is, as its container tells it, and the scenes its picture falls into (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["SceneSpan", "VideoMetadata"]


@dataclass(frozen=True)
class VideoMetadata:
    """The container's facts of a video (API.md "Videos": `video_metadata`). `rotation` is the
    clockwise turn (0, 90, 180, 270) a player applies; `width` and `height` are as stored,
    before that turn."""

    duration_seconds: float
    width: int
    height: int
    frame_rate: float | None
    video_codec: str
    audio_codec: str | None
    bit_rate: int | None
    has_audio: bool
    rotation: int = 0

    def as_record(self) -> dict[str, Any]:
        """The JSON the catalog stores and the API shows."""
        return asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> VideoMetadata:
        return cls(**{name: record[name] for name in cls.__dataclass_fields__ if name in record})


@dataclass(frozen=True)
class SceneSpan:
    """One scene: 0-based `index`, its start and end in seconds, and the time of the frame that
    shows it (its keyframe)."""

    index: int
    start_seconds: float
    end_seconds: float
    keyframe_seconds: float
