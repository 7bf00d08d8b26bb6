"""Video types: a video's container facts, its scenes, and the scene a search matched."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scopix.types._parse import build, optional_int, string_list

__all__ = ["MatchedScene", "Scene", "SceneList", "VideoMetadata"]


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class VideoMetadata:
    """What a video's container says (``video_metadata`` on a video's details).

    ``rotation`` is the clockwise turn (0, 90, 180 or 270) a player applies; ``width`` and
    ``height`` are as stored, before that turn.
    """

    duration_seconds: float
    width: int
    height: int
    frame_rate: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    bit_rate: int | None = None
    has_audio: bool = False
    rotation: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VideoMetadata:
        """Parse ``video_metadata``; unknown keys are ignored."""
        return build(
            cls,
            {"duration_seconds": 0.0, "width": 0, "height": 0, **data},
            duration_seconds=float,
            width=int,
            height=int,
            frame_rate=_optional_float,
            bit_rate=optional_int,
            has_audio=bool,
            rotation=lambda v: int(v or 0),
        )


@dataclass(frozen=True)
class Scene:
    """One scene of a video: where it starts and ends, and what its keyframe shows (the
    description, tags and text stay empty until the video is described)."""

    scene_index: int
    start_seconds: float
    end_seconds: float
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    visible_text: str | None = None
    thumbnail_url: str | None = None

    @property
    def duration_seconds(self) -> float:
        """How long the scene lasts."""
        return self.end_seconds - self.start_seconds

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scene:
        """Parse one scene; unknown keys are ignored."""
        return build(
            cls,
            data,
            scene_index=int,
            start_seconds=float,
            end_seconds=float,
            tags=string_list,
        )


@dataclass(frozen=True)
class SceneList:
    """A video's scenes in order (``GET /files/{id}/scenes``)."""

    items: list[Scene]

    def at(self, seconds: float) -> Scene:
        """The scene playing at ``seconds``; ``KeyError`` past the video's end."""
        for scene in self.items:
            if scene.start_seconds <= seconds < scene.end_seconds:
                return scene
        raise KeyError(f"no scene plays at {seconds:g} s")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SceneList:
        """Parse the server's JSON."""
        return cls([Scene.from_dict(item) for item in data.get("items") or []])


@dataclass(frozen=True)
class MatchedScene:
    """The scene of a video whose words a file search found (``matched_scene`` of a search
    result)."""

    scene_index: int
    start_seconds: float
    end_seconds: float

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MatchedScene:
        """Parse ``matched_scene``; unknown keys are ignored."""
        return build(cls, data, scene_index=int, start_seconds=float, end_seconds=float)
