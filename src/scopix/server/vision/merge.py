"""Merge what several providers found into one description (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from scopix.server.domain.regions import TextRegion
from scopix.server.vision.base import Analysis

MAX_TAGS = 20
MAX_KEY_ELEMENTS = 15
# The text an embedding sees: the model reads 512 tokens at most, so a page of OCR is cut.
MAX_EMBEDDED_CHARS = 2000


@dataclass(frozen=True)
class MergedAnalysis:
    """One description of an image, from every provider that contributed."""

    description: str
    tags: tuple[str, ...]
    key_elements: tuple[str, ...]
    visible_text: str | None
    text_regions: tuple[TextRegion, ...]
    confidence_score: float | None
    providers: tuple[str, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)
    image_features: bytes | None = None
    class_scores: tuple[tuple[int, float], ...] = ()

    @property
    def provider_count(self) -> int:
        return len(self.providers)

    def embedding_text(self) -> str:
        """What the search embedding is computed from: description, tags, then visible text."""
        parts = [self.description, ", ".join(self.tags), self.visible_text or ""]
        return "\n".join(p for p in parts if p)[:MAX_EMBEDDED_CHARS]


def merge(analyses: Sequence[Analysis]) -> MergedAnalysis:
    """Combine analyses given best first: the first description wins, tags and key elements are
    united in order, text comes from the provider that located it (OCR regions) before one that
    only read it, and image features and class scores from the first provider that gave them
    (even one with nothing else to say: a blank photo still has features to compare)."""
    contributing = [a for a in analyses if _contributes(a)]
    located = next((a for a in contributing if a.text_regions), None)
    read = next((a for a in contributing if a.visible_text), None)
    text_source = located or read
    description = next((a.description for a in contributing if a.description), None)
    return MergedAnalysis(
        description=description or "An image with no objects or text recognised.",
        tags=_united((t.label for a in contributing for t in a.tags), MAX_TAGS),
        key_elements=_united((k for a in contributing for k in a.key_elements), MAX_KEY_ELEMENTS),
        visible_text=text_source.visible_text if text_source else None,
        text_regions=located.text_regions if located else (),
        confidence_score=_confidence(contributing),
        providers=tuple(a.provider for a in contributing),
        timings_ms={k: v for a in analyses for k, v in a.timings_ms.items()},
        image_features=next((a.image_features for a in analyses if a.image_features), None),
        class_scores=next((a.class_scores for a in analyses if a.class_scores), ()),
    )


def _contributes(analysis: Analysis) -> bool:
    return bool(
        analysis.description
        or analysis.tags
        or analysis.key_elements
        or analysis.visible_text
        or analysis.text_regions
    )


def _united(items: Iterable[str], limit: int) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for item in items:
        key = item.strip().casefold()
        if key and key not in seen:
            seen[key] = item.strip()
    return tuple(seen.values())[:limit]


def _confidence(analyses: Sequence[Analysis]) -> float | None:
    """The mean of each provider's best tag score and mean OCR confidence, where it gave one."""
    scores = [max(t.score for t in a.tags) for a in analyses if a.tags]
    scores += [
        sum(r.confidence for r in a.text_regions) / len(a.text_regions)
        for a in analyses
        if a.text_regions
    ]
    return round(sum(scores) / len(scores), 4) if scores else None
