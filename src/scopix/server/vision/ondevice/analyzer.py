"""The on-device Analyzer: OCR, ImageNet tags and a composed sentence, with no network at all.

A document's first page is tagged like any image; its text comes from extraction when there is
some (every page was read already, so no OCR runs), and its sentence says what the document is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Final, TypeVar

import anyio
import anyio.to_thread

from scopix.server.domain.regions import TextRegion, join_text
from scopix.server.vision.base import (
    Analysis,
    AnalyzerError,
    DecodedImage,
    DocumentContext,
    SceneContext,
    Tag,
)
from scopix.server.vision.caption import (
    CONFIDENT,
    PROBABLE,
    compose,
    compose_document,
    people_tag,
    text_tags,
)
from scopix.server.vision.ondevice.ocr_router import OcrRouter
from scopix.server.vision.ondevice.people import NO_PEOPLE, PeopleDetector
from scopix.server.vision.ondevice.tagger import Observation, Tagger, model_sha256
from scopix.types.describe import DescriptionErrorType

__all__ = ["PROVIDER", "OnDeviceAnalyzer"]

log = logging.getLogger("scopix.vision.ondevice")

PROVIDER: Final = "ondevice"
#: What produced each part of an analysis, for its provenance.
CAPTION_SOURCE: Final = f"{PROVIDER}:caption"
TAGGER_SOURCE: Final = f"{PROVIDER}:tagger"
#: Text read here: its engine follows, `ondevice:ocr/tesseract` or `ondevice:ocr/rapidocr`.
OCR_SOURCE: Final = f"{PROVIDER}:ocr"
PEOPLE_SOURCE: Final = f"{PROVIDER}:people"
#: A document's text was read by extraction (its text layer, or OCR of its pages), not here.
EXTRACTION_SOURCE: Final = "extraction"
# Bump when the code changes what an analysis contains for the same models and thresholds, so
# cached analyses are redone.
_REVISION: Final = 6  # 5: people (faces, count, person/people tags, "A person ..." captions)
# 6: OCR routed, tesseract reads clean pages

T = TypeVar("T")


class OnDeviceAnalyzer:
    """Reads text and tags objects in a worker thread, within `limiter` when one is given.

    Size the limiter to the cores: each analysis keeps `threads` cores busy for about a second,
    so the analyses that run at once times `threads` should be the cores.
    """

    def __init__(
        self,
        limiter: anyio.CapacityLimiter | None = None,
        *,
        threads: int = 1,
        reader: OcrRouter | None = None,
        tagger: Tagger | None = None,
        people: PeopleDetector | None = None,
    ) -> None:
        self._limiter = limiter
        self._threads = threads
        self._reader = reader or OcrRouter(threads=threads)
        self._tagger = tagger or Tagger(threads=threads)
        self._people = people or PeopleDetector(threads=threads)

    @property
    def name(self) -> str:
        return PROVIDER

    @property
    def fingerprint(self) -> str:
        """The models, their versions and every threshold that shapes the result."""
        tagger = self._tagger
        return ":".join(
            [
                f"{PROVIDER}/{_REVISION}",
                self._reader.fingerprint,
                f"efficientnet-lite0-{model_sha256()[:12]}>={tagger.min_score},top{tagger.max_classes}",
                f"caption>={PROBABLE}/{CONFIDENT}",
                f"people-{self._people.fingerprint}",
            ]
        )

    def load(self, engines: int = 1) -> None:
        """Load every model now (at startup) rather than on the first image, with `engines`
        of those that serve one thread at a time (one per analysis that runs at once)."""
        import cv2  # deferred: OpenCV maps some 35 MiB of libraries that only analyses need

        # OpenCV's own pool (HOG, resizes) starts a thread per core in every analysis running
        # at once: held to an analysis's share of the cores, as onnxruntime is, the analyses
        # that run at once do not oversubscribe them.
        cv2.setNumThreads(self._threads)
        self._reader.load(engines)
        self._tagger.load()
        self._people.load(engines)

    async def analyze(
        self,
        image: DecodedImage,
        document: DocumentContext | None = None,
        scene: SceneContext | None = None,
    ) -> Analysis:
        """Describe `image` (the first page of `document`, if given) off the event loop; raises
        AnalyzerError on a classified failure. A video's keyframe is captioned as any image:
        its `scene`'s times are said by the video's summary."""
        return await anyio.to_thread.run_sync(
            self.analyze_sync, image, document, limiter=self._limiter
        )

    def analyze_sync(
        self, image: DecodedImage, document: DocumentContext | None = None
    ) -> Analysis:
        """Describe `image` in the calling thread."""
        timings: dict[str, float] = {}
        extracted = document.text if document is not None else None
        regions: tuple[TextRegion, ...] = ()
        read_by: str | None = EXTRACTION_SOURCE
        if extracted is None:
            reading = _timed(timings, "ocr", lambda: self._reader.read_with_engine(image))
            regions, read_by = reading.regions, f"{OCR_SOURCE}/{reading.engine}"
        seen = _timed(timings, "tags", lambda: self._observe(image))
        findings = self._tagger.findings_from(seen.probabilities)
        people = NO_PEOPLE
        if document is None:  # a page's "faces" are photos in it, not people in the picture
            people = _timed(timings, "people", lambda: self._people.detect(image))
        visible_text = join_text(regions)
        read = visible_text if extracted is None else extracted
        if document is None:
            caption = compose(findings, read, people.count, people.confidence)
        else:
            caption = compose_document(findings, document, read)
        tags = [Tag(f.label, f.score, TAGGER_SOURCE) for f in findings]
        tags += [replace(tag, source=read_by) for tag in text_tags(read)]
        if people.count:
            tags.append(Tag(people_tag(people.count), people.confidence, PEOPLE_SOURCE))
        return Analysis(
            provider=PROVIDER,
            description=caption.description,
            tags=tuple(sorted(tags, key=lambda t: -t.score)),
            key_elements=caption.key_elements,
            # Extracted text is the document's, not this analyzer's reading: the merge keeps it.
            visible_text=visible_text or None,
            text_regions=regions,
            image_features=seen.feature_bytes(),
            class_scores=seen.top_classes(),
            timings_ms=timings,
            faces=people.faces,
            people_count=people.count,
            description_source=CAPTION_SOURCE,
            text_source=read_by if visible_text else None,
        )

    def _observe(self, image: DecodedImage) -> Observation:
        """The tagger's one pass over the image; its failures classified."""
        try:
            return self._tagger.observe(image)
        except Exception as exc:  # onnxruntime's errors are not classified; the pixels were
            # checked by OCR already, so this is no fault of the image. Its text may name model
            # files on this server: it goes to the log, not the client.
            log.warning("the tagger failed", exc_info=True)
            raise AnalyzerError(
                DescriptionErrorType.UNKNOWN, f"the tagger failed ({type(exc).__name__})"
            ) from exc


def _timed(timings: dict[str, float], stage: str, run: Callable[[], T]) -> T:
    """Run one stage and record its wall time in milliseconds."""
    start = time.perf_counter()
    try:
        return run()
    finally:
        timings[stage] = round((time.perf_counter() - start) * 1000, 1)
