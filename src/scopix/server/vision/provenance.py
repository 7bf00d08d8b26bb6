"""Where each part of a merged description came from (pure), as a JSON-ready record.

A part's source is `{"analyzer": name, "confidence": 0-1 or None}`: the analyzer that produced it
(`ondevice:caption`, `ondevice:tagger`, `ondevice:ocr/rapidocr`, `vlm:<model>`, `extraction` for
what a document or video says of itself) and how sure it was (None where it gives no score). A
record holds `description` (a source or None), `tags` (`[{"tag", "analyzer", "confidence"}]`,
the merged tags in order), `key_elements` (`[{"element", "analyzer"}]`) and `visible_text` (a
source or None); the pipeline adds `embedding` and `pipeline`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from scopix.server.domain.regions import TextRegion
from scopix.server.vision.base import Analysis, Face

#: What a document's extraction or a video's analysis says of the media itself (its type's
#: tags, a document's text): facts read from the file, not guessed from its pixels.
EXTRACTION: Final = "extraction"
#: A vision-language model gives no scores: its tags' 1.0 is `Tag`'s default, not a measure,
#: so nothing it says carries a confidence.
UNSCORED_PREFIX: Final = "vlm:"
#: Named last among a video's description's analyzers: the description is composed from its
#: scenes' captions.
SCENES: Final = "scenes"

Source = dict[str, Any]


@dataclass(frozen=True)
class Origin:
    """A tag or key element and the source it came from."""

    label: str
    analyzer: str
    confidence: float | None = None


def source(analyzer: str, confidence: float | None) -> Source:
    """A part's source, its confidence rounded (none from an analyzer that gives no scores)."""
    return _rounded(analyzer, _scored(analyzer, confidence))


def tag_origins(analysis: Analysis) -> list[Origin]:
    """The analysis's tags, each from its own analyzer (the provider when it names none)."""
    origins = []
    for tag in analysis.tags:
        analyzer = tag.source or analysis.provider
        origins.append(Origin(tag.label, analyzer, _scored(analyzer, tag.score)))
    return origins


def key_element_origins(analysis: Analysis) -> list[Origin]:
    """The analysis's key elements: they come with its description, from the same analyzer."""
    analyzer = analysis.description_source or analysis.provider
    return [Origin(element, analyzer) for element in analysis.key_elements]


def fact_origins(labels: Iterable[str]) -> list[Origin]:
    """Tags the media's kind gives (a document's "document" and "pdf", a video's "video")."""
    return [Origin(label, EXTRACTION, 1.0) for label in labels]


def united(origins: Iterable[Origin], limit: int) -> tuple[Origin, ...]:
    """The first `limit` origins of distinct non-blank labels (trimmed, compared ignoring
    case), each the first that named its label."""
    seen: dict[str, Origin] = {}
    for origin in origins:
        label = origin.label.strip()
        if label and label.casefold() not in seen:
            seen[label.casefold()] = Origin(label, origin.analyzer, origin.confidence)
    return tuple(seen.values())[:limit]


def description_source(analysis: Analysis) -> Source:
    """Where a description came from, and how sure: what the analysis says, else the best
    score of the tags it saw in the picture (the caption names them; tags read from text are
    certain by rule and say nothing of the caption), else its text's mean confidence (a caption
    that only quotes text), else none."""
    analyzer = analysis.description_source or analysis.provider
    confidence = analysis.description_confidence
    if confidence is None:
        readers = {analysis.text_source, EXTRACTION}
        seen = [t.score for t in analysis.tags if (t.source or analysis.provider) not in readers]
        confidence = max(seen) if seen else mean_confidence(analysis.text_regions)
    return source(analyzer, confidence)


def text_source(analyzer: str, regions: Sequence[TextRegion]) -> Source:
    """Where visible text came from: its reader, sure as its regions on average (no score for a
    reader that located nothing)."""
    return source(analyzer, mean_confidence(regions))


def mean_confidence(regions: Sequence[TextRegion]) -> float | None:
    return sum(r.confidence for r in regions) / len(regions) if regions else None


def record(
    description: Source | None,
    tags: Sequence[Origin],
    key_elements: Sequence[Origin],
    visible_text: Source | None,
) -> dict[str, Any]:
    """The JSON-ready provenance of one merged description."""
    return {
        "description": description,
        "tags": [{"tag": o.label, **_rounded(o.analyzer, o.confidence)} for o in tags],
        "key_elements": [{"element": o.label, "analyzer": o.analyzer} for o in key_elements],
        "visible_text": visible_text,
    }


def scenes_record(
    scenes: Sequence[Mapping[str, Any]], tags: Sequence[str], key_elements: Sequence[str]
) -> dict[str, Any]:
    """A video's provenance from its scenes' records, for its merged `tags` and
    `key_elements`: its description is composed from the scenes' captions (their analyzers,
    then "scenes"; their mean confidence); a tag comes from the analyzers of the scenes that
    name it, as sure as the surest (a video shows a cat if one scene does), or from the video
    itself; its text from the scenes that read any, their mean confidence."""
    described = _combined((s.get("description") for s in scenes), last=SCENES)
    tag_sources = [{_key(t["tag"]): t for t in s.get("tags", ())} for s in scenes]
    element_sources = [{_key(k["element"]): k for k in s.get("key_elements", ())} for s in scenes]
    return record(
        described,
        [_from_scenes(tag, tag_sources) for tag in tags],
        [_from_scenes(element, element_sources) for element in key_elements],
        _combined(s.get("visible_text") for s in scenes),
    )


def face_records(faces: Sequence[Face]) -> list[dict[str, float]]:
    """Face boxes as the catalog keeps them: where, and how sure; never who."""
    return [
        {
            "x": round(f.x, 4),
            "y": round(f.y, 4),
            "width": round(f.width, 4),
            "height": round(f.height, 4),
            "confidence": round(f.confidence, 4),
        }
        for f in faces
    ]


def _from_scenes(label: str, named_by_scene: Sequence[Mapping[str, Source]]) -> Origin:
    """Where a video's tag or key element came from: the scenes that name it (as sure as the
    surest), else the video itself."""
    found = [named[_key(label)] for named in named_by_scene if _key(label) in named]
    if not found:
        return Origin(label, EXTRACTION, 1.0)
    scores = [f["confidence"] for f in found if f.get("confidence") is not None]
    return Origin(label, _analyzers(found), max(scores) if scores else None)


def _scored(analyzer: str, confidence: float | None) -> float | None:
    return None if analyzer.startswith(UNSCORED_PREFIX) else confidence


def _rounded(analyzer: str, confidence: float | None) -> Source:
    return {
        "analyzer": analyzer,
        "confidence": None if confidence is None else round(confidence, 4),
    }


def _combined(sources: Iterable[Source | None], last: str | None = None) -> Source | None:
    """One source for a part made of several: their analyzers joined by "+" (then `last`),
    their mean confidence; None when there are none (and no `last`)."""
    found = [s for s in sources if s]
    if not found and last is None:
        return None
    name = "+".join(part for part in (_analyzers(found), last) if part)
    scores = [s["confidence"] for s in found if s["confidence"] is not None]
    return _rounded(name, sum(scores) / len(scores) if scores else None)


def _analyzers(sources: Iterable[Mapping[str, Any]]) -> str:
    """The distinct analyzers of `sources`, in order, joined by "+"."""
    return "+".join(dict.fromkeys(str(s["analyzer"]) for s in sources))


def _key(label: str) -> str:
    return label.strip().casefold()
