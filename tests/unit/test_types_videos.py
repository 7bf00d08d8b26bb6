"""The SDK's video types: parsing the API's shapes, tolerating what newer or older servers
send, and the video fields of files and statuses."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.client._files import _settled
from scopix.types.files import FileDetails, FileList, ProcessingStatus
from scopix.types.videos import MatchedScene, Scene, SceneList, VideoMetadata

METADATA = {
    "duration_seconds": 12.5,
    "width": 640,
    "height": 360,
    "frame_rate": 25,
    "video_codec": "h264",
    "audio_codec": None,
    "bit_rate": "800000",
    "has_audio": False,
    "rotation": 90,
}
SCENE = {
    "scene_index": 1,
    "start_seconds": 4,
    "end_seconds": 8.5,
    "description": "A harbour at dusk.",
    "tags": ["harbour", "boat"],
    "visible_text": "HARBOUR",
    "thumbnail_url": "http://s/api/v2/files/v1/scenes/1/thumbnail",
}
DESCRIBED = {"image_id": "v1", "description_status": "completed"}
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)
UNKNOWN_KEYS = st.dictionaries(
    st.text(min_size=1).filter(lambda k: k not in METADATA and k not in SCENE and k != "items"),
    JSON_VALUES,
    max_size=4,
)


def test_metadata_reads_every_field_with_its_type() -> None:
    metadata = VideoMetadata.from_dict(METADATA)
    assert metadata == VideoMetadata(12.5, 640, 360, 25.0, "h264", None, 800000, False, 90)
    assert isinstance(metadata.frame_rate, float)
    sparse = VideoMetadata.from_dict({"duration_seconds": 3, "width": 2, "height": 2})
    assert (sparse.frame_rate, sparse.bit_rate, sparse.rotation, sparse.has_audio) == (
        None,
        None,
        0,
        False,
    )


def test_a_scene_reads_its_times_and_what_it_shows() -> None:
    scene = Scene.from_dict(SCENE)
    assert (scene.scene_index, scene.start_seconds, scene.end_seconds) == (1, 4.0, 8.5)
    assert (scene.tags, scene.visible_text, scene.duration_seconds) == (
        ["harbour", "boat"],
        "HARBOUR",
        4.5,
    )
    undescribed = Scene.from_dict(
        {"scene_index": 0, "start_seconds": 0, "end_seconds": 4, "description": None, "tags": None}
    )
    assert (undescribed.description, undescribed.tags, undescribed.thumbnail_url) == (
        None,
        [],
        None,
    )


def test_the_scene_playing_at_a_time_is_found_and_the_end_is_outside() -> None:
    scenes = SceneList.from_dict(
        {"items": [{**SCENE, "scene_index": 0, "start_seconds": 0, "end_seconds": 4}, SCENE]}
    )
    assert [scenes.at(t).scene_index for t in (0, 3.99, 4, 8.4)] == [0, 0, 1, 1]
    with pytest.raises(KeyError, match=r"no scene plays at 8\.5 s"):
        scenes.at(8.5)
    assert SceneList.from_dict({}) == SceneList([])


@given(extra=UNKNOWN_KEYS)
def test_unknown_keys_are_ignored_everywhere(extra: dict[str, Any]) -> None:
    assert VideoMetadata.from_dict({**METADATA, **extra}) == VideoMetadata.from_dict(METADATA)
    assert Scene.from_dict({**SCENE, **extra}) == Scene.from_dict(SCENE)
    scenes = SceneList.from_dict({"items": [{**SCENE, **extra}], **extra})
    assert scenes == SceneList([Scene.from_dict(SCENE)])
    matched = {"scene_index": 2, "start_seconds": 1, "end_seconds": 2}
    assert MatchedScene.from_dict({**matched, **extra}) == MatchedScene(2, 1.0, 2.0)


def test_files_and_statuses_carry_video_fields_and_older_servers_still_parse() -> None:
    fields = {
        "video_metadata": METADATA,
        "video_analysis_status": "completed",
        "video_analysis_error": None,
        "scene_count": "3",
    }
    details = FileDetails.from_dict({"id": "v1", "filename": "clip.mp4", **fields})
    assert details.video_metadata == VideoMetadata.from_dict(METADATA)
    assert (details.video_analysis_status, details.scene_count) == ("completed", 3)
    found = {"scene_index": 1, "start_seconds": 4, "end_seconds": 8.5}
    listed = FileList.from_dict({"items": [{"id": "v1", **fields, "matched_scene": found}]})
    assert listed.items[0].matched_scene == MatchedScene(1, 4.0, 8.5)
    image = FileDetails.from_dict({"id": "i1", "filename": "a.png", "video_metadata": None})
    assert (image.video_metadata, image.scene_count, image.matched_scene) == (None,) * 3
    status = ProcessingStatus.from_dict(
        {**DESCRIBED, **fields, "video_analysis_error_type": "resource_limit"}
    )
    assert (status.scene_count, status.video_analysis_error_type) == (3, "resource_limit")
    assert status.video_metadata is not None and status.video_metadata.rotation == 90
    assert ProcessingStatus.from_dict(DESCRIBED).video_analysis_status is None


@pytest.mark.parametrize(
    ("state", "final"),
    [
        (None, True),
        ("pending", False),
        ("processing", False),
        ("completed", True),
        ("failed", True),
        ("skipped", True),
    ],
)
def test_a_file_is_settled_only_once_its_scenes_are_found(state: str | None, final: bool) -> None:
    status = ProcessingStatus.from_dict({**DESCRIBED, "video_analysis_status": state})
    assert status.is_video_analysis_final is final
    assert _settled(status) is final
