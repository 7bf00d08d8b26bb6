"""A video's scenes through the description pipeline: each keyframe (real photos here, decoded as
a video handler gives them) goes through the real on-device models or a VLM over HTTP, and the
video is summed up from its scenes in order."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from scopix.server.imaging.analysis import decode_for_analysis
from scopix.server.media.base import DescribeInputs
from scopix.server.vision.base import (
    Analysis,
    AnalyzerError,
    DecodedImage,
    DocumentContext,
    SceneContext,
)
from scopix.server.vision.ondevice import OnDeviceAnalyzer
from scopix.server.vision.pipeline import SCENES_AT_ONCE, DescriptionPipeline
from scopix.server.vision.remote import OpenAICompatibleAnalyzer
from scopix.server.vision.remote.openai_compat import scene_prompt
from scopix.types.describe import DescriptionErrorType
from videofactory import card, photo
from vlmserver import FakeVLMServer

#: The scenes of `videofactory.three_scenes` (a rocket, a card, a cat) as (start, end) seconds.
SCENES = ((0.0, 3.2), (3.2, 6.0), (6.0, 9.0))


@pytest.fixture(scope="module")
def keyframes(tmp_path_factory: pytest.TempPathFactory) -> list[DecodedImage]:
    """The keyframes of `three_scenes` at the video's size, decoded as the analyzers get them."""
    folder = tmp_path_factory.mktemp("keyframes")
    pictures = [photo("rocket.jpg"), card("HARBOUR\nMASTER"), photo("chelsea.png")]
    decoded = []
    for n, picture in enumerate(pictures):
        path = folder / f"scene-{n}.png"
        picture.resize((640, 360)).save(path)
        decoded.append(decode_for_analysis(path))
    return decoded


@pytest.fixture(scope="module")
def ondevice() -> OnDeviceAnalyzer:
    analyzer = OnDeviceAnalyzer(threads=2)
    analyzer.load()
    return analyzer


def video_inputs(keyframes: list[DecodedImage]) -> DescribeInputs:
    parts = tuple(
        DescribeInputs(
            image,
            facts={"scene_index": index, "start_seconds": start, "end_seconds": end},
        )
        for index, (image, (start, end)) in enumerate(zip(keyframes, SCENES, strict=True))
    )
    video = {"duration_seconds": 9.0, "width": 640, "height": 360}
    return DescribeInputs(keyframes[0], facts={"video": video, "scene_count": 3}, parts=parts)


async def test_on_device_each_scene_is_described_and_the_video_tells_them_in_order(
    ondevice: OnDeviceAnalyzer, keyframes: list[DecodedImage]
) -> None:
    described = await DescriptionPipeline([ondevice], None).describe(video_inputs(keyframes))

    alone = [
        await DescriptionPipeline([ondevice], None).describe(DescribeInputs(k)) for k in keyframes
    ]
    parts = described.parts
    assert [(p.index, p.start_seconds, p.end_seconds) for p in parts] == [
        (0, 0.0, 3.2),
        (1, 3.2, 6.0),
        (2, 6.0, 9.0),
    ]
    # A scene is described exactly as the same picture uploaded alone.
    assert [p.merged.description for p in parts] == [a.merged.description for a in alone]
    assert [p.merged.visible_text for p in parts] == [a.merged.visible_text for a in alone]
    assert parts[1].merged.text_regions  # regions stay with their scene

    summary = described.merged
    # The rocket is no ImageNet class the tagger is sure of: its scene is said to show nothing.
    assert summary.description == (
        "A video of 3 scenes, 0:09 long. Scene 1 (0:00–0:03): nothing recognised. "
        f"Scene 2 (0:03–0:06): {parts[1].merged.description} "
        f"Scene 3 (0:06–0:09): {parts[2].merged.description}"
    )
    assert parts[1].merged.description == 'An image with the text "HARBOUR MASTER".'
    assert parts[2].merged.description.startswith("A cat")

    assert summary.tags[0] == "video" and "text" in summary.tags
    assert summary.visible_text == parts[1].merged.visible_text
    assert summary.text_regions == ()
    assert summary.image_features == parts[0].merged.image_features
    assert {"ocr", "tags"} <= summary.timings_ms.keys()


async def test_media_without_parts_is_described_as_its_picture(
    ondevice: OnDeviceAnalyzer, keyframes: list[DecodedImage]
) -> None:
    described = await DescriptionPipeline([ondevice], None).describe(DescribeInputs(keyframes[0]))
    assert described.parts == ()
    assert "video" not in described.merged.tags


@pytest.fixture
async def vlm_pipeline() -> AsyncIterator[tuple[FakeVLMServer, DescriptionPipeline]]:
    with FakeVLMServer() as vlm:
        async with OpenAICompatibleAnalyzer(vlm.base_url, vlm.model, timeout=10) as analyzer:
            yield vlm, DescriptionPipeline([analyzer], None)


async def test_a_vlm_describes_each_scene_keyframe_as_an_image(
    vlm_pipeline: tuple[FakeVLMServer, DescriptionPipeline], keyframes: list[DecodedImage]
) -> None:
    vlm, pipeline = vlm_pipeline
    vlm.behave("ok", description="A harbour at dusk.", visible_text="HARBOUR", tags=["harbour"])
    described = await pipeline.describe(video_inputs(keyframes))

    asked = {r.image: r.messages[1]["content"][0]["text"] for r in vlm.requests}
    assert asked.keys() == {k.jpeg for k in keyframes}
    assert asked[keyframes[1].jpeg] == (
        "This image is a frame of a video 0:09 long: the keyframe of scene 2 of 3, which runs "
        "from 0:03 to 0:06.\nDescribe this scene as that JSON object: the description says "
        "what the scene shows."
    )
    assert asked[keyframes[0].jpeg] == scene_prompt(SceneContext(0, 3, 0.0, 3.2, 9.0))
    assert [p.merged.description for p in described.parts] == ["A harbour at dusk."] * 3
    summary = described.merged
    assert summary.description.count("A harbour at dusk.") == 3
    assert summary.tags == ("video", "harbour")
    assert summary.visible_text == "HARBOUR"  # said once, though every scene shows it


async def test_one_scene_failing_fails_the_video_with_its_error(
    vlm_pipeline: tuple[FakeVLMServer, DescriptionPipeline], keyframes: list[DecodedImage]
) -> None:
    vlm, pipeline = vlm_pipeline
    vlm.script(["ok", ("rate_limit", {"retry_after": "30"})])
    with pytest.raises(AnalyzerError) as failed:
        await pipeline.describe(video_inputs(keyframes))
    assert failed.value.error_type is DescriptionErrorType.RATE_LIMIT
    assert failed.value.retry_after == 30


class Counting:
    """Passes each call on to a real analyzer, counting how many are in flight at once."""

    def __init__(self, inner: OpenAICompatibleAnalyzer) -> None:
        self.inner = inner
        self.running = 0
        self.most = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def fingerprint(self) -> str:
        return self.inner.fingerprint

    async def analyze(
        self,
        image: DecodedImage,
        document: DocumentContext | None = None,
        scene: SceneContext | None = None,
    ) -> Analysis:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            return await self.inner.analyze(image, document, scene)
        finally:
            self.running -= 1


async def test_scenes_are_analysed_a_few_at_a_time(keyframes: list[DecodedImage]) -> None:
    many = SCENES_AT_ONCE * 2 + 1
    parts = tuple(DescribeInputs(keyframes[i % 3], facts={"scene_index": i}) for i in range(many))
    with FakeVLMServer() as vlm:
        # Each answer takes a while, so every scene let in is in flight before any ends.
        vlm.behave("slow", delay=0.3)
        async with OpenAICompatibleAnalyzer(vlm.base_url, vlm.model, timeout=10) as analyzer:
            counting = Counting(analyzer)
            described = await DescriptionPipeline([counting], None).describe(
                DescribeInputs(keyframes[0], parts=parts)
            )
    assert counting.most == SCENES_AT_ONCE
    assert [p.index for p in described.parts] == list(range(many))
    assert described.merged.description.startswith(f"A video of {many} scenes.")
