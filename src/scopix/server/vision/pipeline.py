"""Run the configured analyzers on what a media handler gives them, merge it and embed it.

A document reaches the analyzers as its first page and a `DocumentContext` (its text, title, page
count and type), and the merge keeps its extracted text and regions. A video reaches them as its
scenes' keyframes (`DescribeInputs.parts`), each analysed as an image; the video is then summed up
from its scenes (`merge_scenes`) and that summary is embedded.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol, runtime_checkable

import anyio
import numpy as np

from scopix.server.media.base import DescribeInputs
from scopix.server.vision import provenance
from scopix.server.vision.base import (
    Analysis,
    Analyzer,
    AnalyzerError,
    DecodedImage,
    DocumentContext,
    SceneContext,
    TextEmbedder,
)
from scopix.server.vision.caption import cut_at_word
from scopix.server.vision.merge import (
    MAX_DOCUMENT_TEXT_CHARS,
    MergedAnalysis,
    SceneAnalysis,
    merge,
    merge_scenes,
)

# Bumped whenever merge rules or the embedded text change, so cached analyses are redone.
MERGE_VERSION = "3"  # 2: image features and class scores; 3: provenance and faces
#: Scenes of one video analysed at once: on-device inference waits on its own limiter anyway,
#: and a VLM is not sent a whole video's keyframes in one burst.
SCENES_AT_ONCE: Final = 4
#: Where a search embedding comes from, before its embedder's fingerprint.
EMBEDDER: Final = "ondevice:embedder"


@dataclass(frozen=True)
class Described:
    """A merged analysis and its search embedding (float32, unit length); for a media made of
    parts (a video), each part's own analysis in order, and `merged` sums them up."""

    merged: MergedAnalysis
    embedding: bytes | None
    parts: tuple[SceneAnalysis, ...] = ()


@runtime_checkable
class _Loadable(Protocol):
    """An on-device analyzer, whose models can load before its first image."""

    def load(self, engines: int = 1) -> None: ...


class DescriptionPipeline:
    """Analyzers given best first (a VLM before the on-device captioner); all run concurrently.
    The bytes are decoded by the file's media handler (`describe_inputs`), never here."""

    def __init__(
        self, analyzers: Sequence[Analyzer], embedder: TextEmbedder | None, max_side: int = 2048
    ) -> None:
        if not analyzers:
            raise ValueError("a description pipeline needs at least one analyzer")
        self.analyzers = tuple(analyzers)
        self.embedder = embedder
        #: the longest side handlers decode the analyzers' image at
        self.max_side = max_side

    @property
    def fingerprint(self) -> str:
        """Names every model and option that shapes a description: the analysis cache's key."""
        parts = [f"merge={MERGE_VERSION}", f"max_side={self.max_side}"]
        parts += [f"analyzer={a.fingerprint}" for a in self.analyzers]
        parts.append(f"embedder={self.embedder.fingerprint if self.embedder else None}")
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def load(self, engines: int = 1) -> None:
        """Load the on-device models now, in the calling thread, rather than in the first
        description: `engines` of those that serve one thread at a time (one per analysis that
        will run at once). Remote analyzers have nothing to load."""
        # The fingerprint, every job's cache key, hashes the tagger's model file once (~40 ms).
        _ = self.fingerprint
        for analyzer in self.analyzers:
            if isinstance(analyzer, _Loadable):
                analyzer.load(engines)
        # The TextEmbedder port has no load: an on-device embedder's is its own.
        load_embedder = getattr(self.embedder, "load", None)
        if callable(load_embedder):
            load_embedder()

    async def describe(self, inputs: DescribeInputs) -> Described:
        """Analyse, merge, embed. Raises AnalyzerError, classified."""
        parts: tuple[SceneAnalysis, ...] = ()
        if inputs.parts:
            scenes = scene_contexts(inputs)
            parts = await self._analyze_scenes(inputs.parts, scenes)
            merged = merge_scenes(parts, scenes[0].scene_count, scenes[0].duration_seconds)
        else:
            merged = await self._merged(inputs)
        started = time.perf_counter()
        embedding = await self._embed(merged)
        merged.timings_ms.update(embedding=_ms_since(started))
        return Described(replace(merged, provenance=self._provenance(merged)), embedding, parts)

    def _provenance(self, merged: MergedAnalysis) -> dict[str, Any]:
        """The merge's provenance, with the embedding's and this pipeline's fingerprint."""
        embedding = None
        if self.embedder is not None:
            embedding = provenance.source(f"{EMBEDDER}/{self.embedder.fingerprint}", None)
        return {**merged.provenance, "embedding": embedding, "pipeline": self.fingerprint}

    async def _merged(
        self, inputs: DescribeInputs, scene: SceneContext | None = None
    ) -> MergedAnalysis:
        document = document_context(inputs)
        return merge(await self._analyze(inputs.image, document, scene), document)

    async def _analyze_scenes(
        self, parts: Sequence[DescribeInputs], scenes: Sequence[SceneContext]
    ) -> tuple[SceneAnalysis, ...]:
        """Every scene's keyframe analysed as an image, SCENES_AT_ONCE at a time; the first
        failure stops the rest and is raised, as one provider's failure fails an image."""
        results: list[SceneAnalysis | None] = [None] * len(parts)
        failures: list[AnalyzerError] = []
        limiter = anyio.CapacityLimiter(SCENES_AT_ONCE)

        async def run(position: int, part: DescribeInputs, scene: SceneContext) -> None:
            async with limiter:
                try:
                    merged = await self._merged(part, scene)
                    results[position] = SceneAnalysis(
                        scene.index, scene.start_seconds, scene.end_seconds, merged
                    )
                except AnalyzerError as exc:
                    failures.append(exc)
                    group.cancel_scope.cancel()

        async with anyio.create_task_group() as group:
            for position, (part, scene) in enumerate(zip(parts, scenes, strict=True)):
                group.start_soon(run, position, part, scene)
        if failures:
            raise failures[0]
        return tuple(r for r in results if r is not None)

    async def _analyze(
        self, image: DecodedImage, document: DocumentContext | None, scene: SceneContext | None
    ) -> list[Analysis]:
        results: list[Analysis | None] = [None] * len(self.analyzers)
        failures: list[AnalyzerError] = []

        async def run(index: int, analyzer: Analyzer) -> None:
            try:
                results[index] = await analyzer.analyze(image, document, scene)
            except AnalyzerError as exc:
                # One failed provider fails the attempt: stop the others, report this one.
                failures.append(exc)
                group.cancel_scope.cancel()

        async with anyio.create_task_group() as group:
            for index, analyzer in enumerate(self.analyzers):
                group.start_soon(run, index, analyzer)
        if failures:
            raise failures[0]
        return [r for r in results if r is not None]

    async def _embed(self, merged: MergedAnalysis) -> bytes | None:
        if self.embedder is None:
            return None
        vector = await self.embedder.embed_passage(merged.embedding_text())
        return np.asarray(vector, dtype="<f4").tobytes()


def document_context(inputs: DescribeInputs) -> DocumentContext | None:
    """What the inputs' media says of itself (a document's text, regions, title, page count and
    `facts["document_type"]`; a web page's site from `facts["site_name"]`, else
    `facts["domain"]`), or None for media that is only its image."""
    document_type = inputs.facts.get("document_type")
    said = (inputs.text, inputs.regions, inputs.title, inputs.page_count, document_type)
    if all(fact is None for fact in said):
        return None
    text = inputs.text
    if text is None and inputs.regions is not None:
        text = "\n".join(region.text for region in inputs.regions)
    if text is not None:
        # A 2,000-page document's text runs to megabytes; no analyzer reads, nor the merge
        # keeps, more than this.
        text = cut_at_word(text, MAX_DOCUMENT_TEXT_CHARS, marker="")
    site = inputs.facts.get("site_name") or inputs.facts.get("domain")
    return DocumentContext(
        text=text,
        regions=inputs.regions or (),
        title=inputs.title,
        page_count=inputs.page_count,
        document_type=document_type if isinstance(document_type, str) else None,
        site=site if isinstance(site, str) else None,
    )


def scene_contexts(inputs: DescribeInputs) -> list[SceneContext]:
    """Where each of a video's parts sits, from the facts its handler gave: the part's
    `scene_index`, `start_seconds` and `end_seconds` (its position, and no length, when
    missing), the video's `scene_count` (at least its parts) and `video["duration_seconds"]`."""
    video = inputs.facts.get("video")
    duration = _number(video.get("duration_seconds")) if isinstance(video, Mapping) else None
    count = max(int(_number(inputs.facts.get("scene_count")) or 0), len(inputs.parts))
    scenes = []
    for position, part in enumerate(inputs.parts):
        index = _number(part.facts.get("scene_index"))
        start = _number(part.facts.get("start_seconds")) or 0.0
        end = _number(part.facts.get("end_seconds"))
        scenes.append(
            SceneContext(
                index=position if index is None else int(index),
                scene_count=count,
                start_seconds=start,
                end_seconds=start if end is None else end,
                duration_seconds=duration,
            )
        )
    return scenes


def _number(value: object) -> float | None:
    """A fact that is a number (bools are not), as a float; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
