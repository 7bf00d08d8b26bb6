"""A server with workers loads its models at start: the first descriptions load nothing."""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread

from scopix.server.imaging.analysis import decode_for_analysis
from scopix.server.services.container import build_services
from scopix.server.settings import Settings
from scopix.server.vision.ondevice import OnDeviceAnalyzer, people, tesseract

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def engines_made() -> tuple[int, int]:
    """HOG body detectors and tesseract engines this process has made."""
    return people._body_detectors.made, tesseract._apis.made


async def test_the_first_descriptions_find_every_engine_loaded(tmp_path: Path) -> None:
    services = build_services(Settings(data_dir=tmp_path, workers=2, inference_threads=2))
    try:
        await services.warm_up()
        warmed = engines_made()
        assert min(warmed) >= 2, "one of each per analysis that runs at once"
        (analyzer,) = services.pipeline.analyzers
        assert isinstance(analyzer, OnDeviceAnalyzer)
        photo = decode_for_analysis(ASSETS / "photos" / "astronaut.png")
        page = decode_for_analysis(ASSETS / "ocr" / "document_memo.png")
        async with anyio.create_task_group() as group:  # two at once, each on its own thread
            for image in (photo, page):
                group.start_soon(anyio.to_thread.run_sync, analyzer.analyze_sync, image)
        assert engines_made() == warmed
    finally:
        await services.close()
