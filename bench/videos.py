"""Video analysis speed: seconds of scene analysis per minute of 720p video through Scopix's
video handler (isolated children, the server's default) against decoding the same sampled
frames with PyAV alone in this process, in the same run; and the time to a first thumbnail.

The video is generated (tests/videofactory.py): 720p H.264 at 25 fps, a photograph or a title
card per scene, the camera panning across each. PyAV alone opens it and decodes every frame in
order, as any reader of sampled frames must with a codec of keyframes and predicted frames,
and makes each sampled frame (`--sample-fps` a second, the server's default) a small RGB array:
the least a cut detector does. Scopix's scene analysis reads every packet to the end (a
truncated file is refused), decodes in order taking frame signatures, finds the cuts and makes
each scene's keyframe thumbnail. Rounds alternate the two so that drift of the machine hits both
alike. The first thumbnail is the upload's probe: the container read and checked to its end
and the preview variants of the first frame that is not blank, rendered in one isolated call.

    .venv/bin/python bench/videos.py [--minutes 1] [--scene-seconds 6] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from scopix.server.app import create_app  # noqa: E402
from scopix.server.domain.media import media_of_mime  # noqa: E402
from scopix.server.domain.variants import PREVIEW_SIZES  # noqa: E402
from scopix.server.media.base import MediaHandler, SceneCut  # noqa: E402
from scopix.server.services.container import Services  # noqa: E402
from scopix.server.settings import Settings  # noqa: E402
from videofactory import card, photo, scenes_video  # noqa: E402

MP4 = media_of_mime("video/mp4")
SIZE_720P = (1280, 720)
#: The small frame a sampled frame becomes: a cut detector needs no more.
SAMPLE_SIZE = (64, 36)


def video_of(minutes: float, scene_seconds: float, path: Path) -> int:
    """A 720p H.264 MP4 of `minutes` at `path`, a new picture every `scene_seconds`; its size."""
    pictures = [photo(name) for name in ("rocket.jpg", "chelsea.png", "coffee.png")]
    pictures += [card("HARBOUR\nMASTER", size=SIZE_720P), photo("astronaut.png")]
    scenes = max(round(minutes * 60 / scene_seconds), 1)
    shown = list(islice(cycle(pictures), scenes))
    seconds = [minutes * 60 / scenes] * scenes
    return path.write_bytes(scenes_video(shown, seconds, size=SIZE_720P))


def pyav_alone(path: Path, sample_fps: float) -> int:
    """Every frame decoded in order, the first at or after each 1/`sample_fps` second made a
    small RGB array: the sampled frames' count."""
    sampled = 0
    next_at = 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if frame.time is None or frame.time < next_at - 1e-3:
                continue
            width, height = SAMPLE_SIZE
            frame.reformat(width=width, height=height, format="rgb24").to_ndarray()
            sampled += 1
            next_at += 1 / sample_fps
    return sampled


async def ours(handler: MediaHandler, path: Path, size: int) -> SceneCut:
    cut = await handler.extract(path, MP4, size)
    assert isinstance(cut, SceneCut)
    return cut


async def analysis(
    handler: MediaHandler, path: Path, size: int, minutes: float, rounds: int
) -> None:
    sample_fps = handler.limits.sample_fps  # type: ignore[attr-defined]
    cut = await ours(handler, path, size)  # a warm pool child before timing
    scopix, alone = "scopix scene analysis", "pyav alone, sampled"
    seconds: dict[str, list[float]] = {scopix: [], alone: []}
    for _ in range(rounds):
        start = time.perf_counter()
        await ours(handler, path, size)
        seconds[scopix].append(time.perf_counter() - start)
        start = time.perf_counter()
        sampled = pyav_alone(path, sample_fps)
        seconds[alone].append(time.perf_counter() - start)
    print(
        f"scene analysis: {minutes:g} min of 720p H.264 at 25 fps, {len(cut.scenes)} scenes"
        f" found, {sampled} frames sampled at {sample_fps:g}/s, {rounds} rounds"
    )
    print(f"  {'reader':<24} {'best s/min':>10} {'median s/min':>12}   rounds (s)")
    for name, values in seconds.items():
        shown = " ".join(f"{value:.2f}" for value in values)
        print(
            f"  {name:<24} {min(values) / minutes:>10.2f}"
            f" {statistics.median(values) / minutes:>12.2f}   {shown}"
        )
    best = min(seconds[scopix]) / min(seconds[alone])
    median = statistics.median(seconds[scopix]) / statistics.median(seconds[alone])
    print(f"  scopix / pyav alone: {best:.2f}x the time by best, {median:.2f}x by median")
    for scene in cut.scenes:
        span = scene.span
        print(
            f"  scene {span.index}: {span.start_seconds:6.2f}-{span.end_seconds:6.2f} s,"
            f" keyframe at {span.keyframe_seconds:.2f} s"
        )


async def first_thumbnail(handler: MediaHandler, path: Path, rounds: int) -> None:
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        probed = await handler.probe(path, MP4, PREVIEW_SIZES)
        seconds.append(time.perf_counter() - start)
        assert probed.rendered is not None
    print(
        f"first thumbnail (the upload's probe, {len(PREVIEW_SIZES)} variants): best"
        f" {min(seconds):.2f} s, median {statistics.median(seconds):.2f} s"
    )


async def main(minutes: float, scene_seconds: float, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="scopix-bench-") as tmp:
        work = Path(tmp)
        path = work / "video.mp4"
        size = video_of(minutes, scene_seconds, path)
        app = create_app(Settings(data_dir=work / "data", workers=0))
        async with app.router.lifespan_context(app):
            services: Services = app.state.services
            handler = services.media.of(MP4)
            await first_thumbnail(handler, path, rounds)
            await analysis(handler, path, size, minutes, rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--scene-seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.minutes, args.scene_seconds, args.rounds))
