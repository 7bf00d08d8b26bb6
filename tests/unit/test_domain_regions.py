"""OCR lines to text regions: normalization, corner order, reading order, spurious boxes."""

from __future__ import annotations

import math
from itertools import permutations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.regions import (
    SPURIOUS_MIN_CONFIDENCE,
    BoundingBox,
    Point,
    RawLine,
    TextRegion,
    as_record,
    clockwise_from_top_left,
    from_record,
    join_text,
    text_regions,
)

TOLERANCE = 1e-9
ROUNDING = 0.5e-4 + 1e-12  # half the last kept decimal


def rect(x: float, y: float, w: float, h: float) -> list[Point]:
    """An upright box's corners, clockwise from top-left."""
    return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]


def rotated(cx: float, cy: float, w: float, h: float, degrees: float) -> list[Point]:
    """A w x h box centred on (cx, cy), tilted clockwise on screen (y down); text corners tl, tr,
    br, bl."""
    a = math.radians(degrees)
    ux, uy = math.cos(a), math.sin(a)  # along the text
    vx, vy = -math.sin(a), math.cos(a)  # down the text
    corners = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    return [(cx + u * ux + v * vx, cy + u * uy + v * vy) for u, v in corners]


def signed_area(polygon: tuple[Point, ...]) -> float:
    """Shoelace sum: positive when the corners run clockwise on screen (y down)."""
    pairs = zip(polygon, polygon[1:] + polygon[:1], strict=True)
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in pairs) / 2


def line(points: list[Point], text: str = "word", score: float = 0.99) -> RawLine:
    return RawLine(points=points, text=text, score=score)


coordinate = st.floats(min_value=-5000, max_value=5000, allow_nan=False)
any_point = st.tuples(coordinate, coordinate)
any_line = st.builds(
    RawLine,
    points=st.lists(any_point, min_size=4, max_size=4),
    text=st.text(min_size=0, max_size=12),
    score=st.floats(min_value=-1, max_value=2, allow_nan=False),
)
image_side = st.integers(min_value=1, max_value=5000)


@given(lines=st.lists(any_line, max_size=12), width=image_side, height=image_side)
def test_every_coordinate_is_normalized_and_clamped(
    lines: list[RawLine], width: int, height: int
) -> None:
    for region in text_regions(lines, width, height):
        values = [v for point in region.polygon for v in point]
        values += [region.bbox.x, region.bbox.y, region.bbox.width, region.bbox.height]
        assert all(0.0 <= v <= 1.0 for v in values)
        assert region.bbox.x + region.bbox.width <= 1.0 + TOLERANCE
        assert region.bbox.y + region.bbox.height <= 1.0 + TOLERANCE
        assert 0.0 <= region.confidence <= 1.0
        assert all(round(v, 4) == v for v in values)


@given(lines=st.lists(any_line, max_size=12), width=image_side, height=image_side)
def test_bbox_is_the_box_around_the_polygon(lines: list[RawLine], width: int, height: int) -> None:
    for region in text_regions(lines, width, height):
        xs = [x for x, _ in region.polygon]
        ys = [y for _, y in region.polygon]
        assert len(region.polygon) == 4
        assert region.bbox.x == min(xs)
        assert region.bbox.y == min(ys)
        assert abs(region.bbox.x + region.bbox.width - max(xs)) <= ROUNDING
        assert abs(region.bbox.y + region.bbox.height - max(ys)) <= ROUNDING


@given(lines=st.lists(any_line, max_size=12), data=st.data())
def test_output_does_not_depend_on_the_input_order(
    lines: list[RawLine], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(lines))
    assert text_regions(shuffled, 640, 480) == text_regions(lines, 640, 480)


@given(
    cx=st.floats(min_value=300, max_value=700),
    cy=st.floats(min_value=300, max_value=700),
    w=st.floats(min_value=2, max_value=400),
    h=st.floats(min_value=2, max_value=200),
    degrees=st.floats(min_value=-40, max_value=40),
    order=st.permutations(range(4)),
)
def test_polygon_runs_clockwise_from_the_texts_top_left_for_any_input_order(
    cx: float, cy: float, w: float, h: float, degrees: float, order: list[int]
) -> None:
    corners = rotated(cx, cy, w, h, degrees)  # tl, tr, br, bl of the text, inside 1000 x 1000
    (region,) = text_regions([line([corners[i] for i in order])], 1000, 1000)
    expected = [(round(x / 1000, 4), round(y / 1000, 4)) for x, y in corners]
    for (x, y), (ex, ey) in zip(region.polygon, expected, strict=True):
        assert abs(x - ex) <= 1e-12 and abs(y - ey) <= 1e-12
    assert signed_area(clockwise_from_top_left([corners[i] for i in order])) > 0


def test_clockwise_order_of_an_upright_box() -> None:
    box = rect(10, 20, 100, 30)
    for order in permutations(box):
        assert clockwise_from_top_left(list(order)) == tuple(box)


def test_pixel_coordinates_are_divided_by_the_image_size_and_clamped() -> None:
    (region,) = text_regions([line([(-20, 50), (600, 50), (600, 150), (-20, 150)])], 400, 200)
    assert region.polygon == ((0.0, 0.25), (1.0, 0.25), (1.0, 0.75), (0.0, 0.75))
    assert (region.bbox.x, region.bbox.y, region.bbox.width, region.bbox.height) == (
        0.0,
        0.25,
        1.0,
        0.5,
    )


def test_text_is_stripped_and_empty_lines_dropped() -> None:
    lines = [
        line(rect(0, 0, 50, 10), "  Hello  "),
        line(rect(0, 20, 50, 10), "   "),
        line(rect(0, 40, 50, 10), ""),
    ]
    assert [r.text for r in text_regions(lines, 100, 100)] == ["Hello"]


def test_confidence_is_clamped() -> None:
    lines = [line(rect(0, 0, 50, 10), "high", 1.7), line(rect(0, 40, 50, 10), "low", -0.2)]
    assert [r.confidence for r in text_regions(lines, 100, 100)] == [1.0, 0.0]


@pytest.mark.parametrize(
    ("text", "score", "kept"),
    [
        ("8", 0.904, False),  # coffee.png: the whole photo read as one digit
        ("8", SPURIOUS_MIN_CONFIDENCE, True),
        ("7", 0.999, True),  # a real page number
        ("|", 0.5, False),
        ("--", 0.9, False),
        ("...", 0.99, True),
        ("ok", 0.51, True),  # short real words keep the engine's own threshold
        ("€5", 0.6, True),
    ],
)
def test_spurious_boxes(text: str, score: float, kept: bool) -> None:
    regions = text_regions([line(rect(0, 0, 50, 10), text, score)], 100, 100)
    assert bool(regions) is kept


@given(
    text=st.text(min_size=1, max_size=6).filter(str.strip),
    score=st.floats(min_value=0, max_value=1),
)
def test_spurious_filter_only_drops_lone_or_letterless_unsure_text(text: str, score: float) -> None:
    regions = text_regions([line(rect(0, 0, 50, 10), text, score)], 100, 100)
    stripped = text.strip()
    lone = len(stripped) == 1 or not any(c.isalnum() for c in stripped)
    assert bool(regions) is (not lone or score >= SPURIOUS_MIN_CONFIDENCE)


@given(
    row_count=st.integers(min_value=1, max_value=6),
    column_count=st.integers(min_value=1, max_value=5),
    jitter=st.lists(st.floats(min_value=-4, max_value=4), min_size=30, max_size=30),
    data=st.data(),
)
def test_reading_order_is_rows_top_to_bottom_then_left_to_right(
    row_count: int, column_count: int, jitter: list[float], data: st.DataObject
) -> None:
    # Lines 20 px tall on a 30 px pitch, as a paragraph's padded boxes overlap; within a row each
    # line may sit up to 4 px higher or lower, as words on a slightly tilted scan do.
    lines = [
        line(
            rect(20 + c * 150, 20 + r * 30 + jitter[r * 5 + c], 120, 20),
            f"r{r}c{c}",
        )
        for r in range(row_count)
        for c in range(column_count)
    ]
    regions = text_regions(data.draw(st.permutations(lines)), 1000, 1000)
    assert [r.text for r in regions] == [line.text for line in lines]
    expected = "\n".join(
        " ".join(f"r{r}c{c}" for c in range(column_count)) for r in range(row_count)
    )
    assert join_text(regions) == expected


def test_paragraph_lines_whose_padded_boxes_overlap_stay_separate_rows() -> None:
    # Pixel boxes of page.png's first paragraph, as the detector returned them.
    lines = [
        line([(2, 45), (379, 47), (379, 68), (2, 66)], "Let us first determine markers"),
        line([(1, 62), (380, 63), (380, 87), (1, 86)], "background. These markers"),
        line([(1, 79), (380, 81), (380, 105), (1, 104)], "unambiguously as either"),
    ]
    assert join_text(text_regions(lines[::-1], 384, 191)).splitlines() == [
        "Let us first determine markers",
        "background. These markers",
        "unambiguously as either",
    ]


def test_join_text_of_nothing_is_empty() -> None:
    assert join_text(()) == ""


def test_join_text_accepts_regions_in_any_order() -> None:
    regions = text_regions(
        [line(rect(200, 0, 90, 20), "world"), line(rect(0, 2, 90, 20), "Hello")], 300, 100
    )
    assert join_text(reversed(regions)) == "Hello world"
    assert isinstance(regions[0], TextRegion)


@pytest.mark.parametrize(("width", "height"), [(0, 10), (10, 0), (-1, 5)])
def test_image_size_must_be_positive(width: int, height: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        text_regions([], width, height)


def test_malformed_lines_are_dropped() -> None:
    lines = [
        line([(0, 0), (10, 0), (10, 10)]),
        line([(0, 0), (math.nan, 0), (10, 10), (0, 10)]),
        line([(0, 0), (math.inf, 0), (10, 10), (0, 10)]),
        line(rect(0, 0, 10, 10), "fine", math.nan),
    ]
    regions = text_regions(lines, 100, 100)
    assert [(r.text, r.confidence) for r in regions] == [("fine", 0.0)]


def test_a_region_round_trips_through_its_record_and_keeps_its_page() -> None:
    on_page = TextRegion("Invoice", 0.98, BoundingBox(0.1, 0.2, 0.3, 0.04), ((0.1, 0.2),) * 4, 3)
    record = as_record(on_page)
    assert record["page"] == 3
    assert from_record(record) == on_page


def test_an_image_region_has_no_page_in_its_record() -> None:
    region = TextRegion("Exit", 0.9, BoundingBox(0.5, 0.5, 0.1, 0.1), ((0.5, 0.5),) * 4)
    assert "page" not in as_record(region)
    assert from_record(as_record(region)).page is None
