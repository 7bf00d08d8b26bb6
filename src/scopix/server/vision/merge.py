"""Merge what several providers found into one description (pure).

A document's description keeps the document's own text and regions (every page, read by
extraction) as its visible text, rather than what a provider read on its first page. A video's
sums up its scenes' merged analyses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scopix.server.domain.regions import TextRegion
from scopix.server.vision import provenance
from scopix.server.vision.base import Analysis, DocumentContext, Face
from scopix.server.vision.caption import SceneCaption, compose_video, cut_at_word, document_tags

MAX_TAGS = 20
MAX_KEY_ELEMENTS = 15
# The text an embedding sees: the model reads 512 tokens at most, so a page of OCR is cut.
MAX_EMBEDDED_CHARS = 2000
# A document's description keeps this much of its text, as a VLM's reading of an image is capped:
# it travels with the file's details and its search row, while the whole text stays in the
# document's pages and chunks (GET /files/{id}/text, /documents/search).
MAX_DOCUMENT_TEXT_CHARS = 20_000
#: The search tag every video gets first, as a document gets "document".
VIDEO_TAG = "video"


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
    #: where each part came from, JSON-ready (see `vision.provenance`)
    provenance: dict[str, Any] = field(default_factory=dict)
    #: the faces found in the picture; None for a video, whose scenes are several pictures
    faces: tuple[Face, ...] | None = ()

    @property
    def provider_count(self) -> int:
        return len(self.providers)

    def embedding_text(self) -> str:
        """What the search embedding is computed from: description, tags, then visible text."""
        parts = [self.description, ", ".join(self.tags), self.visible_text or ""]
        return "\n".join(p for p in parts if p)[:MAX_EMBEDDED_CHARS]


def merge(analyses: Sequence[Analysis], document: DocumentContext | None = None) -> MergedAnalysis:
    """Combine analyses given best first: the first description wins, tags and key elements are
    united in order, text comes from the provider that located it (OCR regions) before one that
    only read it, and image features and class scores from the first provider that gave them
    (even one with nothing else to say: a blank photo still has features to compare).

    The analyses of a `document`'s first page get its tags ("document", its type's) first, and
    its extracted text and regions, when it has them, instead of any provider's reading.

    The provenance names the analyzer of each part kept (`vision.provenance`); the faces are
    the first analysis's that found any."""
    contributing = [a for a in analyses if _contributes(a)]
    located = next((a for a in contributing if a.text_regions), None)
    read = next((a for a in contributing if a.visible_text), None)
    text_source = located or read
    visible_text = text_source.visible_text if text_source else None
    regions = located.text_regions if located else ()
    region_sets = [a.text_regions for a in contributing if a.text_regions]
    text_reader = (text_source.text_source or text_source.provider) if text_source else None
    tags = [o for a in contributing for o in provenance.tag_origins(a)]
    if document is not None:
        tags = provenance.fact_origins(document_tags(document.document_type)) + tags
    if document is not None and document.text is not None:
        visible_text, regions = _document_text(document)
        region_sets = [regions] if regions else []
        text_reader = provenance.EXTRACTION
    described_by = next((a for a in contributing if a.description), None)
    description = described_by.description if described_by else None
    tag_origins = provenance.united(tags, MAX_TAGS)
    element_origins = provenance.united(
        (o for a in contributing for o in provenance.key_element_origins(a)), MAX_KEY_ELEMENTS
    )
    return MergedAnalysis(
        description=description or "An image with no objects or text recognised.",
        tags=tuple(o.label for o in tag_origins),
        key_elements=tuple(o.label for o in element_origins),
        visible_text=visible_text,
        text_regions=regions,
        confidence_score=_confidence(contributing, region_sets),
        providers=tuple(a.provider for a in contributing),
        timings_ms={k: v for a in analyses for k, v in a.timings_ms.items()},
        image_features=next((a.image_features for a in analyses if a.image_features), None),
        class_scores=next((a.class_scores for a in analyses if a.class_scores), ()),
        provenance=provenance.record(
            provenance.description_source(described_by) if described_by else None,
            tag_origins,
            element_origins,
            provenance.text_source(text_reader, regions) if visible_text and text_reader else None,
        ),
        faces=next((a.faces for a in analyses if a.faces), ()),
    )


@dataclass(frozen=True)
class SceneAnalysis:
    """One scene of a video (0-based `index`, its times in seconds) and its keyframe's merged
    analysis, whose text regions are normalized to the keyframe."""

    index: int
    start_seconds: float
    end_seconds: float
    merged: MergedAnalysis


def merge_scenes(
    scenes: Sequence[SceneAnalysis], scene_count: int, duration_seconds: float | None
) -> MergedAnalysis:
    """Sum up a video from its scenes given in order (at least one): the description tells each
    scene in order; tags ("video" first) and key elements are united, those found in more
    scenes first; the visible text is the scenes' lines in order, each said once; no regions
    (each scene keeps its own); image features and class scores are the first scene's that has
    them; the confidence is the scenes' mean; each part's provenance sums up the scenes'
    (`provenance.scenes_record`); no faces (each scene keeps its own)."""
    if not scenes:
        raise ValueError("a video is summed up from at least one scene")
    merged = [scene.merged for scene in scenes]
    captions = [
        SceneCaption(s.index, s.start_seconds, s.end_seconds, s.merged.description) for s in scenes
    ]
    confidences = [m.confidence_score for m in merged if m.confidence_score is not None]
    timings: Counter[str] = Counter()
    for m in merged:
        timings.update(m.timings_ms)
    tags = _united((VIDEO_TAG, *_most_shared([m.tags for m in merged])), MAX_TAGS)
    key_elements = _united(_most_shared([m.key_elements for m in merged]), MAX_KEY_ELEMENTS)
    return MergedAnalysis(
        description=compose_video(captions, max(scene_count, len(scenes)), duration_seconds),
        tags=tags,
        key_elements=key_elements,
        visible_text=_lines_once(m.visible_text for m in merged),
        text_regions=(),
        confidence_score=round(sum(confidences) / len(confidences), 4) if confidences else None,
        providers=_distinct(p for m in merged for p in m.providers),
        timings_ms={stage: round(ms, 1) for stage, ms in timings.items()},
        image_features=next((m.image_features for m in merged if m.image_features), None),
        class_scores=next((m.class_scores for m in merged if m.class_scores), ()),
        provenance=provenance.scenes_record([m.provenance for m in merged], tags, key_elements),
        faces=None,
    )


def _most_shared(groups: Sequence[Sequence[str]]) -> tuple[str, ...]:
    """The labels of all `groups` (each counted once per group, ignoring case) by how many
    groups name them, then in order of first appearance."""
    firsts = _distinct(label for group in groups for label in group)
    counts = Counter(key for group in groups for key in {t.strip().casefold() for t in group})
    order = sorted(range(len(firsts)), key=lambda i: -counts[firsts[i].casefold()])
    return tuple(firsts[i] for i in order)


def _lines_once(texts: Iterable[str | None]) -> str | None:
    """The texts' lines in order, each said once (ignoring case and spacing), as one text of
    at most MAX_DOCUMENT_TEXT_CHARS; None when there is none."""
    seen: set[str] = set()
    lines: list[str] = []
    for text in texts:
        for line in (text or "").splitlines():
            flat = " ".join(line.split())
            if flat and flat.casefold() not in seen:
                seen.add(flat.casefold())
                lines.append(flat)
    joined = cut_at_word("\n".join(lines), MAX_DOCUMENT_TEXT_CHARS, marker="")
    return joined or None


def _document_text(document: DocumentContext) -> tuple[str | None, tuple[TextRegion, ...]]:
    """The document's text cut to MAX_DOCUMENT_TEXT_CHARS at a word, and the regions of the
    text kept (in reading order, while their text fits in that many characters)."""
    text = (document.text or "").strip()
    kept = cut_at_word(text, MAX_DOCUMENT_TEXT_CHARS, marker="")
    regions: list[TextRegion] = []
    budget = MAX_DOCUMENT_TEXT_CHARS
    for region in document.regions:
        budget -= len(region.text) + 1  # each line is followed by a line break
        if budget < 0:
            break
        regions.append(region)
    return kept or None, tuple(regions)


def _contributes(analysis: Analysis) -> bool:
    return bool(
        analysis.description
        or analysis.tags
        or analysis.key_elements
        or analysis.visible_text
        or analysis.text_regions
    )


def _united(items: Iterable[str], limit: int) -> tuple[str, ...]:
    return _distinct(items)[:limit]


def _distinct(items: Iterable[str]) -> tuple[str, ...]:
    """The non-blank items, trimmed, each once ignoring case, in order of first appearance."""
    seen: dict[str, str] = {}
    for item in items:
        key = item.strip().casefold()
        if key and key not in seen:
            seen[key] = item.strip()
    return tuple(seen.values())


def _confidence(
    analyses: Sequence[Analysis], region_sets: Sequence[Sequence[TextRegion]]
) -> float | None:
    """The mean of each provider's best tag score and each set of regions' mean confidence
    (a provider's OCR, or a document's extraction)."""
    scores = [max(t.score for t in a.tags) for a in analyses if a.tags]
    scores += [sum(r.confidence for r in regions) / len(regions) for regions in region_sets]
    return round(sum(scores) / len(scores), 4) if scores else None
