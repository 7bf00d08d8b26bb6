"""One interface for both field extractors, and what they share: the request they get, the
values they find with their sources, and the confidence of the whole."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from scopix.server.domain.regions import TextRegion
from scopix.server.vision.base import DecodedImage


@dataclass(frozen=True)
class FieldRequest:
    """What an extractor reads: the schema, the tenant's hints, the text OCR found (regions
    normalized to the image or to their page) and, for extractors that look, the image."""

    schema: Mapping[str, Any]
    prompt: str | None
    regions: tuple[TextRegion, ...]
    text: str | None
    image: DecodedImage | None = None


@dataclass(frozen=True)
class FieldValue:
    """One leaf field's value, how sure the extractor is (0-1) and the text region it was
    read from, when there is one."""

    path: str
    value: object
    confidence: float
    source: TextRegion | None


@dataclass(frozen=True)
class FieldsFound:
    """An extraction's result: `data` in the schema's shape (null where nothing supports a
    field) and the leaf values found, each with its source."""

    extractor: str
    data: dict[str, Any]
    fields: tuple[FieldValue, ...]

    @property
    def confidence_score(self) -> float | None:
        """The mean confidence of the fields found; None when none was."""
        if not self.fields:
            return None
        return round(sum(f.confidence for f in self.fields) / len(self.fields), 4)


class FieldExtractor(Protocol):
    """Fills a schema's fields from a file; raises AnalyzerError on a classified failure."""

    @property
    def name(self) -> str: ...

    @property
    def needs_image(self) -> bool:
        """Whether `extract` looks at the image (else the request carries none)."""
        ...

    async def extract(self, request: FieldRequest) -> FieldsFound: ...


def region_with(value: object, regions: Sequence[TextRegion]) -> TextRegion | None:
    """The region whose text holds `value` as written (case-insensitive), the most confident
    first: where a model's answer can be seen on the page. None for values no region shows."""
    needle = _as_text(value)
    if not needle:
        return None
    seen = _digits if isinstance(value, int | float) else _words
    holding = [r for r in regions if needle in seen(r.text)]
    return max(holding, key=lambda r: r.confidence, default=None)


def _as_text(value: object) -> str:
    """`value` as it would read on the page: numbers by their digits alone (pages group and
    pad them: 1,234.50 for 1234.5), strings by their words."""
    if value is None or isinstance(value, bool | dict | list):
        return ""
    if isinstance(value, int | float):
        return _digits(f"{value:f}".rstrip("0").rstrip("."))
    return _words(str(value))


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _words(text: str) -> str:
    return " ".join(text.split()).casefold()
