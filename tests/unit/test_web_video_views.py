"""How the web page shows a video: times in it, its facts, whether its card still moves."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from scopix.server.catalog.models import File
from scopix.server.domain.videos import VideoMetadata
from scopix.server.web.views import (
    DocumentFacts,
    clock,
    is_moving,
    pipeline_status,
    video_facts,
)

METADATA = VideoMetadata(
    duration_seconds=65.4,
    width=1280,
    height=720,
    frame_rate=25.0,
    video_codec="h264",
    audio_codec="aac",
    bit_rate=2_000_000,
    has_audio=True,
)


def test_times_read_as_a_player_shows_them() -> None:
    assert clock(0) == "0:00"
    assert clock(7.99) == "0:07"
    assert clock(65.4) == "1:05"
    assert clock(750) == "12:30"
    assert clock(3723) == "1:02:03"
    assert clock(-0.01) == "0:00"


@given(st.floats(min_value=0, max_value=10 * 24 * 3600, allow_nan=False))
def test_a_time_shown_is_never_after_the_moment(seconds: float) -> None:
    parts = [int(p) for p in clock(seconds).split(":")]
    shown = sum(value * 60**power for power, value in enumerate(reversed(parts)))
    assert shown <= seconds < shown + 1
    assert re.fullmatch(r"(\d+:\d\d:\d\d|\d{1,2}:\d\d)", clock(seconds))


def test_a_video_says_its_length_and_codecs() -> None:
    facts = video_facts(
        File(
            media_type="video",
            video_metadata=METADATA.as_record(),
            video_analysis_status="completed",
            scene_count=3,
        )
    )
    assert facts is not None
    assert facts.metadata == METADATA
    assert facts.label == "Video · 1:05"
    assert facts.codecs == "h264 · aac"
    assert facts.analysis_status == "completed"
    assert facts.scene_count == 3


def test_a_silent_or_unprobed_video_says_so() -> None:
    silent = METADATA.as_record() | {"audio_codec": None, "has_audio": False}
    facts = video_facts(
        File(media_type="video", video_metadata=silent, video_analysis_status="completed")
    )
    assert facts is not None and facts.codecs == "h264 · no sound"
    stored = video_facts(File(media_type="video", video_analysis_status="failed"))
    assert stored is not None
    assert (stored.label, stored.codecs) == ("Video", "—")
    assert video_facts(File(media_type="image")) is None


def test_a_video_card_moves_while_its_scenes_are_found() -> None:
    finding = video_facts(File(media_type="video", video_analysis_status="processing"))
    found = video_facts(File(media_type="video", video_analysis_status="completed"))
    assert pipeline_status(None, finding) == "processing"
    assert is_moving("completed", "completed", pipeline_status(None, finding))
    assert not is_moving("completed", "completed", pipeline_status(None, found))
    assert pipeline_status(None, None) is None
    document = DocumentFacts("pdf", 2, "pending", None, None, None)
    assert pipeline_status(document, None) == "pending"
