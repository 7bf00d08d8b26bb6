"""OCR lines to API text regions: normalized, clockwise from top-left, in reading order (pure)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "DECIMALS",
    "SPURIOUS_MIN_CONFIDENCE",
    "BoundingBox",
    "Point",
    "RawLine",
    "TextRegion",
    "as_record",
    "clockwise_from_top_left",
    "from_record",
    "join_text",
    "reading_rows",
    "text_regions",
]

Point = tuple[float, float]

#: Coordinates are rounded to 4 decimals: 0.01 % of the image, finer than any OCR box is exact.
DECIMALS: Final = 4

#: A lone character, or text without a single letter or digit ("|", "--", "·"), is what the text
#: detector makes of texture, edges and noise; such a line is kept only when the recognizer is
#: nearly sure. Measured with the bundled PP-OCRv6 models: real single characters rendered in a
#: plain font read at 0.997-1.0, while coffee.png's whole-photo box read as "8" at 0.904 (a
#: threshold of 0.8 would let that through). The cost: a lone, ambiguous glyph such as a lowercase
#: "x" (read "X" at 0.82) is dropped, which loses nothing a search would need.
SPURIOUS_MIN_CONFIDENCE: Final = 0.95

#: Two lines share a row when their vertical extents overlap by at least this share of the
#: shorter one: neighbouring lines of a paragraph overlap by 25-35 % (the detector pads its boxes),
#: lines of one row by far more.
_ROW_OVERLAP: Final = 0.5


@dataclass(frozen=True)
class BoundingBox:
    """An axis-aligned box, normalized to 0-1 of the displayed image (or of its page)."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class TextRegion:
    """One line of text: normalized box and clockwise polygon from the text's top-left corner.
    `page` (1-based) names the page of a document the box is normalized to; None for an image."""

    text: str
    confidence: float
    bbox: BoundingBox
    polygon: tuple[Point, ...]
    page: int | None = None


def as_record(region: TextRegion) -> dict[str, object]:
    """The region as the catalog stores it (and the API shows it): `page` only when it has one."""
    record: dict[str, object] = {
        "text": region.text,
        "confidence": region.confidence,
        "bbox": {
            "x": region.bbox.x,
            "y": region.bbox.y,
            "width": region.bbox.width,
            "height": region.bbox.height,
        },
        "polygon": [[x, y] for x, y in region.polygon],
    }
    if region.page is not None:
        record["page"] = region.page
    return record


def from_record(record: Mapping[str, Any]) -> TextRegion:
    """A region the catalog stored with `as_record`."""
    box = record["bbox"]
    page = record.get("page")
    return TextRegion(
        text=str(record["text"]),
        confidence=float(record["confidence"]),
        bbox=BoundingBox(
            float(box["x"]), float(box["y"]), float(box["width"]), float(box["height"])
        ),
        polygon=tuple((float(x), float(y)) for x, y in record["polygon"]),
        page=None if page is None else int(page),
    )


@dataclass(frozen=True)
class RawLine:
    """One line as an OCR engine reports it: 4 pixel corners in any order, text and score."""

    points: Sequence[Point]
    text: str
    score: float


def text_regions(lines: Iterable[RawLine], width: int, height: int) -> tuple[TextRegion, ...]:
    """Normalize OCR lines of a width x height image, drop empty and spurious ones, order them."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    regions = (_region(line, width, height) for line in lines)
    return tuple(r for row in reading_rows(r for r in regions if r is not None) for r in row)


def join_text(regions: Iterable[TextRegion]) -> str:
    """The regions' text in reading order: one row's lines joined by a space, rows by newlines."""
    return "\n".join(" ".join(r.text for r in row) for row in reading_rows(regions))


def reading_rows(regions: Iterable[TextRegion]) -> list[list[TextRegion]]:
    """Group regions into rows by vertical overlap; rows top to bottom, each left to right.

    Each row keeps the vertical extent of the line that started it, so a row cannot grow down a
    page and swallow the next line. The result does not depend on the order of the input.
    """
    rows: list[tuple[BoundingBox, list[TextRegion]]] = []
    for region in sorted(regions, key=_sort_key):
        row = next((members for band, members in rows if _same_row(band, region.bbox)), None)
        if row is None:
            rows.append((region.bbox, [region]))
        else:
            row.append(region)
    return [sorted(members, key=lambda r: (r.bbox.x, _sort_key(r))) for _, members in rows]


def clockwise_from_top_left(points: Sequence[Point]) -> tuple[Point, ...]:
    """Order a convex quadrilateral's corners clockwise on screen (y down), top-left first.

    The top-left corner is the one nearest the image's top-left (smallest x + y), which is the
    text's own top-left corner for any line tilted by less than 45 degrees either way.
    """
    cx = sum(x for x, _ in points) / len(points)
    cy = sum(y for _, y in points) / len(points)
    # With y pointing down, a growing atan2 angle turns clockwise on screen; the distance breaks
    # ties between coincident or collinear points so the order never depends on the input order.
    ring = sorted(points, key=lambda p: (math.atan2(p[1] - cy, p[0] - cx), _dist(p, cx, cy), p))
    start = min(range(len(ring)), key=lambda i: (ring[i][0] + ring[i][1], ring[i][1], ring[i][0]))
    return tuple(ring[start:] + ring[:start])


def _region(line: RawLine, width: int, height: int) -> TextRegion | None:
    """One normalized region, or None for a line to drop (empty, spurious, malformed)."""
    text = line.text.strip()
    confidence = _unit(line.score) if math.isfinite(line.score) else 0.0
    if not text or _is_spurious(text, confidence) or not _well_formed(line.points):
        return None
    ordered = clockwise_from_top_left(line.points)
    polygon = tuple((_unit(x / width), _unit(y / height)) for x, y in ordered)
    return TextRegion(
        text=text,
        confidence=confidence,
        bbox=_bbox(polygon),
        polygon=polygon,
    )


def _is_spurious(text: str, confidence: float) -> bool:
    """A lone glyph or a line with no letter or digit, read without near-certainty."""
    lone = len(text) == 1 or not any(c.isalnum() for c in text)
    return lone and confidence < SPURIOUS_MIN_CONFIDENCE


def _well_formed(points: Sequence[Point]) -> bool:
    """Four corners with finite coordinates (an engine bug must not crash the whole analysis)."""
    return len(points) == 4 and all(math.isfinite(v) for p in points for v in p)


def _bbox(polygon: Sequence[Point]) -> BoundingBox:
    """The axis-aligned box around a normalized polygon."""
    xs = [x for x, _ in polygon]
    ys = [y for _, y in polygon]
    left, top = min(xs), min(ys)
    return BoundingBox(
        x=left,
        y=top,
        width=round(max(xs) - left, DECIMALS),
        height=round(max(ys) - top, DECIMALS),
    )


def _unit(value: float) -> float:
    """Clamp to [0, 1] and round to DECIMALS places."""
    return round(min(max(value, 0.0), 1.0), DECIMALS)


def _dist(point: Point, cx: float, cy: float) -> float:
    return math.hypot(point[0] - cx, point[1] - cy)


def _same_row(band: BoundingBox, box: BoundingBox) -> bool:
    """Whether `box` overlaps the row's band by at least _ROW_OVERLAP of the shorter height."""
    overlap = min(band.y + band.height, box.y + box.height) - max(band.y, box.y)
    return overlap >= 0 and overlap >= _ROW_OVERLAP * min(band.height, box.height)


_SortKey = tuple[float, float, float, float, str, float, tuple[Point, ...]]


def _sort_key(region: TextRegion) -> _SortKey:
    """A total order (top, left, size, text, confidence, corners): equal inputs sort the same."""
    box = region.bbox
    return (box.y, box.x, box.height, box.width, region.text, region.confidence, region.polygon)
