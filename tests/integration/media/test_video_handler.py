"""The video handler on generated videos, decoded in a real isolated pool: every codec and
container we accept gives its metadata and a thumbnail; a video of three scenes gives three
scenes at the right times with a thumbnail each; hostile files give the precise upload error or
the classified job failure, and the pool keeps serving after each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
import pyvips

import videofactory
from scopix.server.domain.errors import (
    CorruptFile,
    DomainError,
    ResourceLimit,
    VideoTooLarge,
    WrongMediaType,
)
from scopix.server.domain.limits import VideoLimits
from scopix.server.domain.media import SNIFF_BYTES, media_of_mime, sniff
from scopix.server.domain.variants import PREVIEW_SIZES, VARIANT_SIZES
from scopix.server.domain.videos import VideoMetadata
from scopix.server.isolation import CrashHook, IsolatedPool, IsolationLimits
from scopix.server.media.base import MediaFailed, SceneCut
from scopix.server.media.video import VideoHandler
from scopix.types.describe import DescriptionErrorType

pytestmark = pytest.mark.asyncio(loop_scope="module")

MiB = 1 << 20
MP4 = media_of_mime("video/mp4")
LIMITS = VideoLimits(
    max_duration_seconds=600.0,
    max_side=8192,
    max_bytes=2048 * MiB,
    scene_min_seconds=1.0,
    sample_fps=4.0,
    max_scenes=200,
    max_described_scenes=30,
)
# The server's defaults but a tighter wall clock: a decode that hangs fails the test quickly.
ISOLATION = IsolationLimits(
    address_space_bytes=2048 * MiB, cpu_seconds=60, wall_seconds=60, scratch_bytes=256 * MiB
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pool() -> AsyncIterator[IsolatedPool]:
    pool = IsolatedPool(2, 1024 * MiB)
    yield pool
    await pool.aclose()


@pytest.fixture
def handler(pool: IsolatedPool) -> VideoHandler:
    return VideoHandler(pool, ISOLATION, LIMITS)


def saved(tmp_path: Path, data: bytes, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def metadata_of(probe_fields: object) -> VideoMetadata:
    assert isinstance(probe_fields, dict)
    return VideoMetadata.from_record(probe_fields["video_metadata"])


def webp_image(data: bytes) -> pyvips.Image:
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    return pyvips.Image.new_from_buffer(data, "")


async def still_serves(handler: VideoHandler, tmp_path: Path) -> None:
    """The pool answers the next video as if nothing happened."""
    path = saved(tmp_path, videofactory.captioned_video("STILL HERE", 1.0), "after.mp4")
    probed = await handler.probe(path, MP4, None)
    assert metadata_of(probed.file_fields).duration_seconds == pytest.approx(1.0)


@pytest.mark.parametrize("name", videofactory.CODEC_SAMPLES)
async def test_every_codec_and_container_gives_its_metadata_and_a_thumbnail(
    handler: VideoHandler, tmp_path: Path, name: str
) -> None:
    sample = videofactory.codec_sample(name)
    media = sniff(sample.data[:SNIFF_BYTES])
    assert (media.kind, media.mime) == ("video", sample.mime)
    path = saved(tmp_path, sample.data, name)

    probed = await handler.probe(path, media, PREVIEW_SIZES)

    metadata = metadata_of(probed.file_fields)
    assert metadata.duration_seconds == pytest.approx(sample.duration_seconds, abs=0.05)
    assert (metadata.width, metadata.height) == (sample.width, sample.height)
    assert metadata.frame_rate == pytest.approx(sample.frame_rate)
    assert metadata.video_codec == sample.video_codec
    assert metadata.audio_codec == sample.audio_codec
    assert metadata.has_audio is (sample.audio_codec is not None)
    assert metadata.bit_rate is not None and metadata.bit_rate > 0
    assert metadata.rotation == 0
    assert probed.rendered is not None
    assert (probed.rendered.width, probed.rendered.height) == (sample.width, sample.height)
    assert set(probed.rendered.variants) == set(PREVIEW_SIZES)
    assert probed.rendered.blur_hash


@pytest.mark.parametrize("name", videofactory.CODEC_SAMPLES)
async def test_every_codec_and_container_is_cut_into_its_two_scenes(
    handler: VideoHandler, tmp_path: Path, name: str
) -> None:
    """Each sample shows a cup of coffee for its first half and a rocket for its second."""
    sample = videofactory.codec_sample(name)
    path = saved(tmp_path, sample.data, name)

    cut = await handler.extract(path, sniff(sample.data[:SNIFF_BYTES]), len(sample.data))

    assert isinstance(cut, SceneCut)
    first, second = [scene.span for scene in cut.scenes]
    assert first.end_seconds == second.start_seconds
    assert second.start_seconds == pytest.approx(sample.duration_seconds / 2, abs=0.25)
    assert second.end_seconds == pytest.approx(sample.duration_seconds, abs=0.05)
    for scene in cut.scenes:
        assert webp_image(scene.thumbnail or b"").width == sample.width


async def test_three_scenes_are_found_at_their_cuts_each_with_a_thumbnail(
    handler: VideoHandler, tmp_path: Path
) -> None:
    data, cuts = videofactory.three_scenes()
    path = saved(tmp_path, data, "three.mp4")

    cut = await handler.extract(path, MP4, len(data))

    assert isinstance(cut, SceneCut)
    spans = [scene.span for scene in cut.scenes]
    assert [span.index for span in spans] == [0, 1, 2]
    starts = [span.start_seconds for span in spans[1:]]
    assert starts == pytest.approx(cuts, abs=0.25)
    assert spans[0].start_seconds == 0.0
    assert spans[-1].end_seconds == pytest.approx(9.0)
    assert [span.end_seconds for span in spans[:-1]] == starts
    assert all(span.start_seconds < span.keyframe_seconds < span.end_seconds for span in spans)
    assert cut.metadata.duration_seconds == pytest.approx(9.0)
    thumbnails = [webp_image(scene.thumbnail or b"") for scene in cut.scenes]
    assert all(max(image.width, image.height) <= 512 for image in thumbnails)
    # The second scene is the white card with black letters: bright, and much brighter than
    # the night-time rocket before it.
    brightness = [image.colourspace("b-w").avg() for image in thumbnails]
    assert brightness[1] > 180
    assert brightness[1] > brightness[0] + 60


async def test_the_scenes_keyframes_and_facts_go_to_the_analyzers(
    handler: VideoHandler, tmp_path: Path
) -> None:
    data, _ = videofactory.three_scenes()
    path = saved(tmp_path, data, "three.mp4")
    cut = await handler.extract(path, MP4, len(data))
    assert isinstance(cut, SceneCut)

    inputs = await handler.describe_inputs(path, MP4, 1024, cut)

    assert inputs.image.pixels.shape == (360, 640, 3)
    assert inputs.facts == {"video": cut.metadata.as_record(), "scene_count": 3}
    assert [part.facts for part in inputs.parts] == [
        {
            "scene_index": scene.span.index,
            "start_seconds": scene.span.start_seconds,
            "end_seconds": scene.span.end_seconds,
        }
        for scene in cut.scenes
    ]
    card = inputs.parts[1].image.pixels
    assert card.shape == (360, 640, 3)
    assert card.mean() > 180  # the white card, not a frame of the scenes around it
    assert inputs.parts[1].image.jpeg[:2] == b"\xff\xd8"


async def test_only_the_first_scenes_are_described_past_the_limit(
    pool: IsolatedPool, tmp_path: Path
) -> None:
    handler = VideoHandler(pool, ISOLATION, replace(LIMITS, max_described_scenes=2))
    data, _ = videofactory.three_scenes()
    path = saved(tmp_path, data, "three.mp4")
    cut = await handler.extract(path, MP4, len(data))
    assert isinstance(cut, SceneCut)

    inputs = await handler.describe_inputs(path, MP4, 512, cut)

    assert [part.facts["scene_index"] for part in inputs.parts] == [0, 1]
    assert inputs.facts["scene_count"] == 3


async def test_without_scenes_the_analyzers_see_the_thumbnail_alone(
    handler: VideoHandler, tmp_path: Path
) -> None:
    path = saved(tmp_path, videofactory.black_start_video(), "black.mp4")

    inputs = await handler.describe_inputs(path, MP4, 512, None)

    assert inputs.parts == ()
    assert inputs.image.pixels.mean() > 40


async def test_the_thumbnail_is_not_the_black_frame_a_video_opens_on(
    handler: VideoHandler, tmp_path: Path
) -> None:
    path = saved(tmp_path, videofactory.black_start_video(1.5), "black.mp4")

    probed = await handler.probe(path, MP4, VARIANT_SIZES)
    rendered = await handler.previews(path, MP4, VARIANT_SIZES)

    assert probed.rendered is not None
    for result in (probed.rendered, rendered):
        image = webp_image(next(iter(result.variants.values())))
        assert image.colourspace("b-w").avg() > 40  # the coffee cup, not black (about 0)
        assert (result.width, result.height) == (640, 360)


async def test_a_turned_video_is_shown_upright(handler: VideoHandler, tmp_path: Path) -> None:
    """Stored 640x360 with a display matrix turning it a quarter counter-clockwise: shown
    360x640, and its thumbnail is the stored picture turned the same way."""
    path = saved(tmp_path, videofactory.rotated_video(90), "turned.mp4")

    probed = await handler.probe(path, MP4, {"large_1024": 1024})
    inputs = await handler.describe_inputs(path, MP4, 1024, None)

    metadata = metadata_of(probed.file_fields)
    assert (metadata.width, metadata.height, metadata.rotation) == (640, 360, 270)
    assert probed.rendered is not None
    assert (probed.rendered.width, probed.rendered.height) == (360, 640)
    shown = inputs.image.pixels
    assert shown.shape == (640, 360, 3)
    straight = videofactory.scenes_video([videofactory.photo("astronaut.png")], [1.0])
    stored = await handler.describe_inputs(saved(tmp_path, straight, "a.mp4"), MP4, 1024, None)
    turned = np.rot90(stored.image.pixels, k=1)
    assert np.abs(turned.astype(int) - shown.astype(int)).mean() < 8


@pytest.mark.parametrize(
    ("make", "error", "said"),
    [
        (
            videofactory.truncated_mp4,
            CorruptFile,
            "truncated: its frames end at 1.9 s of the 4.0 s",
        ),
        (videofactory.ftyp_only, CorruptFile, "holds no streams at all"),
        (videofactory.audio_only, CorruptFile, "holds no video stream, only audio"),
        (
            videofactory.audio_with_cover,
            CorruptFile,
            "holds no video stream, only audio and a cover picture",
        ),
        (videofactory.absurd_dimensions, VideoTooLarge, "at most 8192 px on a side"),
        (videofactory.lying_dimensions, CorruptFile, "declares no frame size"),
    ],
)
async def test_a_hostile_file_is_refused_at_upload_and_fails_its_job_cleanly(
    handler: VideoHandler,
    tmp_path: Path,
    make: object,
    error: type[DomainError],
    said: str,
) -> None:
    assert callable(make)
    data = make()
    path = saved(tmp_path, data, "hostile.mp4")

    with pytest.raises(error, match=said):
        await handler.probe(path, MP4, PREVIEW_SIZES)
    with pytest.raises(MediaFailed) as failed:
        await handler.extract(path, MP4, len(data))

    expected = (
        DescriptionErrorType.RESOURCE_LIMIT
        if error is VideoTooLarge
        else DescriptionErrorType.VALIDATION_ERROR
    )
    assert failed.value.failure.error_type == expected
    assert said in failed.value.failure.message
    await still_serves(handler, tmp_path)


async def test_a_video_longer_than_the_limit_is_refused(pool: IsolatedPool, tmp_path: Path) -> None:
    handler = VideoHandler(pool, ISOLATION, replace(LIMITS, max_duration_seconds=20))
    data = videofactory.too_long(30.0)
    path = saved(tmp_path, data, "long.mp4")

    with pytest.raises(VideoTooLarge, match="at most 0:20; this one lasts 0:30") as refused:
        await handler.probe(path, MP4, None)
    with pytest.raises(MediaFailed) as failed:
        await handler.extract(path, MP4, len(data))

    assert refused.value.code == "VIDEO_TOO_LARGE"
    assert failed.value.failure.error_type == DescriptionErrorType.RESOURCE_LIMIT
    await still_serves(handler, tmp_path)


async def test_a_video_larger_than_the_byte_limit_is_stored_unprobed_and_not_cut(
    pool: IsolatedPool, tmp_path: Path
) -> None:
    data, _ = videofactory.three_scenes()
    handler = VideoHandler(pool, ISOLATION, replace(LIMITS, max_bytes=len(data) - 1))
    path = saved(tmp_path, data, "big.mp4")

    assert not handler.probes(len(data))
    assert handler.probes(len(data) - 1)
    with pytest.raises(MediaFailed) as failed:
        await handler.extract(path, MP4, len(data))

    assert failed.value.failure.error_type == DescriptionErrorType.RESOURCE_LIMIT
    assert f"larger than {len(data) - 1:,} bytes" in failed.value.failure.message


async def test_a_video_has_no_pages(handler: VideoHandler, tmp_path: Path) -> None:
    path = saved(tmp_path, videofactory.captioned_video("PAGE"), "page.mp4")

    with pytest.raises(WrongMediaType):
        await handler.render_page(path, MP4, 1, 512)


async def test_the_handler_says_what_a_video_is(handler: VideoHandler) -> None:
    assert (handler.kind, handler.extract_job) == ("video", "scenes")
    assert handler.has_previews and handler.describable
    assert not handler.shows_original


async def test_a_decoder_that_crashes_is_a_resource_limit_and_the_pool_serves_on(
    tmp_path: Path,
) -> None:
    """A video whose decode kills its child (as a decoder bug would, by the test crash hook):
    refused at upload as RESOURCE_LIMIT, its job fails as resource_limit, and the next video
    decodes on a fresh child."""
    marker = b"SCOPIX-VIDEO-CRASH"
    hook = CrashHook(marker, frozenset({"upload", "scenes"}))
    pool = IsolatedPool(1, 1024 * MiB, crash_hook=hook)
    handler = VideoHandler(pool, ISOLATION, LIMITS)
    # An MP4 plays with a box of its own at the end: the marker rides in a `free` box.
    data = videofactory.captioned_video("CRASH", 1.0)
    data += (8 + len(marker)).to_bytes(4, "big") + b"free" + marker
    path = saved(tmp_path, data, "crash.mp4")
    try:
        with pytest.raises(ResourceLimit, match="could not be decoded within limits"):
            await handler.probe(path, MP4, None)
        with pytest.raises(MediaFailed) as failed:
            await handler.extract(path, MP4, len(data))
        assert failed.value.failure.error_type == DescriptionErrorType.RESOURCE_LIMIT
        assert "crashed (SIGSEGV)" in failed.value.failure.message
        await still_serves(handler, tmp_path)
    finally:
        await pool.aclose()
