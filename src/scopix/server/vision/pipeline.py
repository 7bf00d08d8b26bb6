"""Run the configured analyzers on one image, merge what they found and embed it."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import numpy as np

from scopix.server.domain.errors import ImageTooLarge
from scopix.server.domain.failures import resource_limit_failure
from scopix.server.imaging.checked import ImageDecoders
from scopix.server.imaging.probe import ImageDecodeError
from scopix.server.isolation import DecodeResourceLimit
from scopix.server.vision.base import Analysis, Analyzer, AnalyzerError, DecodedImage, TextEmbedder
from scopix.server.vision.merge import MergedAnalysis, merge
from scopix.types.describe import DescriptionErrorType

# Bumped whenever merge rules or the embedded text change, so cached analyses are redone.
MERGE_VERSION = "2"  # 2: image features and class scores


@dataclass(frozen=True)
class Described:
    """A merged analysis and its search embedding (float32, unit length)."""

    merged: MergedAnalysis
    embedding: bytes | None


class DescriptionPipeline:
    """Analyzers given best first (a VLM before the on-device captioner); all run concurrently."""

    def __init__(
        self,
        analyzers: Sequence[Analyzer],
        embedder: TextEmbedder | None,
        decoders: ImageDecoders,
        max_side: int = 2048,
    ) -> None:
        if not analyzers:
            raise ValueError("a description pipeline needs at least one analyzer")
        self.analyzers = tuple(analyzers)
        self.embedder = embedder
        self.decoders = decoders
        self.max_side = max_side

    @property
    def fingerprint(self) -> str:
        """Names every model and option that shapes a description: the analysis cache's key."""
        parts = [f"merge={MERGE_VERSION}", f"max_side={self.max_side}"]
        parts += [f"analyzer={a.fingerprint}" for a in self.analyzers]
        parts.append(f"embedder={self.embedder.fingerprint if self.embedder else None}")
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    async def describe(self, path: Path) -> Described:
        """Decode, analyse, merge, embed. Raises AnalyzerError, classified."""
        started = time.perf_counter()
        image = await self._decode(path)
        decode_ms = _ms_since(started)
        merged = merge(await self._analyze(image))
        started = time.perf_counter()
        embedding = await self._embed(merged)
        merged.timings_ms.update(decode=decode_ms, embedding=_ms_since(started))
        return Described(merged, embedding)

    async def _decode(self, path: Path) -> DecodedImage:
        try:
            return await self.decoders.for_analysis(path, self.max_side)
        except ImageDecodeError as exc:
            raise AnalyzerError(
                DescriptionErrorType.VALIDATION_ERROR, f"the image does not decode: {exc}"
            ) from None
        except (DecodeResourceLimit, ImageTooLarge) as exc:
            failure = resource_limit_failure(str(exc))
            raise AnalyzerError(failure.error_type, failure.message) from None

    async def _analyze(self, image: DecodedImage) -> list[Analysis]:
        results: list[Analysis | None] = [None] * len(self.analyzers)
        failures: list[AnalyzerError] = []

        async def run(index: int, analyzer: Analyzer) -> None:
            try:
                results[index] = await analyzer.analyze(image)
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


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
