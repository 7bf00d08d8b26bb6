"""A remote analyzer behind a circuit breaker: a provider that keeps failing is left alone for a
while instead of making every queued description wait out its timeout."""

from __future__ import annotations

import time

from scopix.server.domain.breaker import CircuitBreaker
from scopix.server.vision.base import (
    Analysis,
    Analyzer,
    AnalyzerError,
    DecodedImage,
    DocumentContext,
    SceneContext,
)
from scopix.types.describe import DescriptionErrorType

# A rate limit is the provider being healthy and strict: it does not count against the breaker.
_UNHEALTHY = frozenset({DescriptionErrorType.TIMEOUT, DescriptionErrorType.VLM_ERROR})


class GuardedAnalyzer:
    """Delegates to `inner` while the breaker allows it; fails fast while the breaker is open."""

    def __init__(self, inner: Analyzer, breaker: CircuitBreaker) -> None:
        self.inner = inner
        self.breaker = breaker

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
        now = time.monotonic()
        if not self.breaker.allow(now):
            retry_at = self.breaker.retry_at(now) or now
            raise AnalyzerError(
                DescriptionErrorType.VLM_ERROR,
                "the vision model failed repeatedly; it is given a rest before the next try",
                retry_after=max(retry_at - now, 0.0),
            )
        try:
            analysis = await self.inner.analyze(image, document, scene)
        except AnalyzerError as exc:
            if exc.error_type in _UNHEALTHY:
                self.breaker.record_failure(time.monotonic())
            else:
                self.breaker.abandon_trial(time.monotonic())
            raise
        except BaseException:
            self.breaker.abandon_trial(time.monotonic())
            raise
        self.breaker.record_success(time.monotonic())
        return analysis
