"""Videos (MP4, MOV, M4V, WebM, AVI, MKV): checked at upload from their container, thumbnails of
a frame that is not blank, scenes cut from the picture (the SCENES job), and each scene's
keyframe for the analyzers.

Every decode runs in the isolated pool (`media.videos.isolated`). A decode of the whole video
(cutting its scenes) is granted a wall clock and CPU time by the video's size
(`VideoLimits.decode_seconds`), never less than any decode's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Final, TypeVar

from scopix.server.domain.errors import (
    CorruptFile,
    ResourceLimit,
    UnsupportedMediaType,
    VideoTooLarge,
    WrongMediaType,
)
from scopix.server.domain.failures import Failure
from scopix.server.domain.limits import VideoLimits
from scopix.server.domain.media import MediaKind, MediaType
from scopix.server.domain.videos import VideoMetadata
from scopix.server.imaging.variants import RenderedImage
from scopix.server.isolation import DecodeResourceLimit, IsolatedPool, IsolationLimits
from scopix.server.jobs.records import SCENES
from scopix.server.media.base import (
    DescribeInputs,
    Extraction,
    MediaFailed,
    Probe,
    SceneCut,
)
from scopix.server.media.videos.isolated import (
    SCENE_THUMBNAIL_SIDE,
    cut_scenes,
    keyframe_images,
    probe_video,
    thumbnail_image,
    video_metadata,
    video_variants,
)
from scopix.server.vision.base import DecodedImage
from scopix.types.describe import DescriptionErrorType

__all__ = ["VideoHandler"]

T = TypeVar("T")

#: Keyframes decoded for the analyzers in one isolated call: each is up to the analyzers' size
#: (2048 px a side, 12 MB of pixels), and all of a call's come back at once.
_KEYFRAMES_PER_CALL: Final = 8


class VideoHandler:
    """MP4, MOV, M4V, WebM, AVI and MKV files: their scenes are cut by the SCENES job."""

    kind: MediaKind = "video"
    #: The variants of a frame that is not blank, near the start.
    has_previews = True
    describable = True
    extract_job: str | None = SCENES
    shows_original = False

    def __init__(self, pool: IsolatedPool, isolation: IsolationLimits, limits: VideoLimits) -> None:
        self.pool = pool
        self.isolation = isolation
        self.limits = limits

    def probes(self, size_bytes: int) -> bool:
        """Videos that will be analysed are checked at upload; larger ones are stored as they
        are (their SCENES job fails at once)."""
        return size_bytes <= self.limits.max_bytes

    async def probe(self, path: Path, media: MediaType, sizes: Mapping[str, int] | None) -> Probe:
        """The container's facts against the limits, every packet read to the end (a truncated
        file is refused here), and the thumbnail frame's variants unless `sizes` is None."""
        try:
            probed = await self._run(probe_video, path, sizes, stage="upload")
        except DecodeResourceLimit as exc:
            raise ResourceLimit(f"the video could not be decoded within limits: {exc}") from None
        return Probe(probed.rendered, {"video_metadata": probed.metadata.as_record()})

    async def previews(
        self, path: Path, media: MediaType, sizes: Mapping[str, int]
    ) -> RenderedImage:
        return await self._in_job(video_variants, path, sizes, stage="variants")

    async def extract(self, path: Path, media: MediaType, size_bytes: int) -> SceneCut:
        """The scenes, each with its keyframe's WebP thumbnail (512 px at most), and the
        metadata as the whole file shows it. The container is read first (a short decode) for
        the clock the whole decode is then granted (its header only: cutting the scenes
        reads every packet to the end first, as the probe does)."""
        if size_bytes > self.limits.max_bytes:
            raise MediaFailed(
                Failure(
                    DescriptionErrorType.RESOURCE_LIMIT,
                    f"the video is larger than {self.limits.max_bytes:,} bytes: it is stored, "
                    "its scenes were not cut",
                )
            )
        metadata = await self._in_job(video_metadata, path, stage="scenes")
        return await self._in_job(
            cut_scenes,
            path,
            SCENE_THUMBNAIL_SIDE,
            stage="scenes",
            isolation=self._whole_decode(metadata),
        )

    async def describe_inputs(
        self, path: Path, media: MediaType, max_side: int, extracted: Extraction | None
    ) -> DescribeInputs:
        """The thumbnail frame as the image; with the scenes, the video's metadata and scene
        count as facts and, as its parts, the keyframes of its first `max_described_scenes`
        scenes in order, each with its index and times."""
        image = await self._in_job(thumbnail_image, path, max_side, stage="analysis")
        if not isinstance(extracted, SceneCut):
            return DescribeInputs(image)
        scenes = extracted.scenes[: self.limits.max_described_scenes]
        times = [scene.span.keyframe_seconds for scene in scenes]
        keyframes = await self._keyframes(path, times, max_side)
        parts = tuple(
            DescribeInputs(
                keyframe,
                facts={
                    "scene_index": scene.span.index,
                    "start_seconds": scene.span.start_seconds,
                    "end_seconds": scene.span.end_seconds,
                },
            )
            for scene, keyframe in zip(scenes, keyframes, strict=True)
        )
        facts = {"video": extracted.metadata.as_record(), "scene_count": len(extracted.scenes)}
        return DescribeInputs(image, facts=facts, parts=parts)

    async def render_page(self, path: Path, media: MediaType, number: int, max_side: int) -> bytes:
        raise WrongMediaType("a video file has no pages")

    async def _keyframes(
        self, path: Path, times: Sequence[float], max_side: int
    ) -> list[DecodedImage]:
        """The frames at `times` for the analyzers, a few per isolated call (their pixels all
        come back at once); each call seeks to each of its times."""
        images: list[DecodedImage] = []
        for start in range(0, len(times), _KEYFRAMES_PER_CALL):
            batch = list(times[start : start + _KEYFRAMES_PER_CALL])
            images += await self._in_job(keyframe_images, path, batch, max_side, stage="analysis")
        return images

    def _whole_decode(self, metadata: VideoMetadata) -> IsolationLimits:
        """The limits of a decode of every frame: the wall clock grows with the video's pixels,
        and the CPU time with it on every core FFmpeg's threads may use."""
        wall = self.isolation.wall_seconds + self.limits.decode_seconds(metadata)
        cpu = max(self.isolation.cpu_seconds, int(wall * (os.cpu_count() or 1)))
        return replace(self.isolation, wall_seconds=wall, cpu_seconds=cpu)

    async def _run(
        self,
        fn: Callable[..., T],
        path: Path,
        *args: object,
        stage: str,
        isolation: IsolationLimits | None = None,
    ) -> T:
        """`fn(path, limits, *args)` in the isolated pool."""
        return await self.pool.run(
            fn, path, self.limits, *args, limits=isolation or self.isolation, stage=stage
        )

    async def _in_job(
        self,
        fn: Callable[..., T],
        path: Path,
        *args: object,
        stage: str,
        isolation: IsolationLimits | None = None,
    ) -> T:
        """An isolated decode whose refusals are a job's classified failure: bytes that are not
        a video FFmpeg can play are `validation`; a video over the limits or a decoder that
        crashed or overran twice `resource_limit` (the same bytes cost the same next time)."""
        try:
            return await self._run(fn, path, *args, stage=stage, isolation=isolation)
        except (CorruptFile, UnsupportedMediaType) as exc:
            raise MediaFailed(Failure(DescriptionErrorType.VALIDATION_ERROR, exc.message)) from None
        except (VideoTooLarge, ResourceLimit) as exc:
            raise MediaFailed(Failure(DescriptionErrorType.RESOURCE_LIMIT, exc.message)) from None
        except DecodeResourceLimit as exc:
            raise MediaFailed(
                Failure(
                    DescriptionErrorType.RESOURCE_LIMIT,
                    f"the video could not be decoded within limits: {exc}",
                )
            ) from None
