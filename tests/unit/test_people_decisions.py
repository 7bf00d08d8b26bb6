"""People detection's decisions: faces read off CenterFace's maps, one box per face, bodies
counted only where no face is."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from scopix.server.vision.ondevice.people import (
    FACE_MIN_SCORE,
    Box,
    bodies_without_face,
    count_people,
    faces_from_maps,
    non_max_suppression,
    overlap,
)

side = st.floats(min_value=1, max_value=200)
box = st.builds(
    Box,
    x=st.floats(min_value=0, max_value=500),
    y=st.floats(min_value=0, max_value=500),
    width=side,
    height=side,
    confidence=st.floats(min_value=0, max_value=1),
)


def test_a_face_boxed_twice_is_one_face() -> None:
    outer = Box(100, 100, 80, 80, 0.6)
    inner = Box(110, 110, 60, 60, 0.9)
    beside = Box(300, 100, 80, 80, 0.7)
    assert non_max_suppression([outer, inner, beside]) == [inner, beside]


def test_a_body_around_a_face_is_the_same_person() -> None:
    face = Box(100, 50, 40, 40, 1.0)
    own_body = Box(60, 30, 120, 300, 0.8)
    other_body = Box(300, 30, 120, 300, 0.7)
    assert bodies_without_face([own_body, other_body], [face]) == [other_body]
    assert count_people([face], [own_body, other_body]) == (2, 1.0)


def test_nobody_seen() -> None:
    assert count_people([], []) == (0, 0.0)


def maps(rows: int, columns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cold CenterFace maps: no face anywhere."""
    heatmap = np.zeros((rows, columns), np.float32)
    return (
        heatmap,
        np.zeros((2, rows, columns), np.float32),
        np.zeros_like(heatmap, shape=(2, rows, columns)),
    )


def test_a_hot_cell_is_a_face_centred_on_it_and_sized_by_its_scale() -> None:
    heatmap, scale, offset = maps(10, 20)
    heatmap[4, 6] = 0.9
    scale[:, 4, 6] = (math.log(2.0), math.log(4.0))  # 2 cells high, 4 wide
    offset[:, 4, 6] = (0.5, -0.5)
    (face,) = faces_from_maps(heatmap, scale, offset)
    # Centre: row 4 + 0.5 + 0.5 = 5.0 of 10, column 6 - 0.5 + 0.5 = 6.0 of 20.
    near = {"abs_tol": 1e-6}  # the maps are float32
    assert math.isclose(face.y + face.height / 2, 0.5, **near)
    assert math.isclose(face.x + face.width / 2, 0.3, **near)
    assert math.isclose(face.height, 0.2, **near) and math.isclose(face.width, 0.2, **near)
    assert math.isclose(face.confidence, 0.9, **near)


def test_cells_below_the_threshold_are_no_face() -> None:
    heatmap, scale, offset = maps(8, 8)
    heatmap[2, 2] = FACE_MIN_SCORE - 0.01
    assert faces_from_maps(heatmap, scale, offset) == []


def test_a_face_at_the_edge_is_clipped_to_the_image() -> None:
    heatmap, scale, offset = maps(8, 8)
    heatmap[0, 7] = 0.8
    scale[:, 0, 7] = math.log(4.0)
    (face,) = faces_from_maps(heatmap, scale, offset)
    assert face.x >= 0 and face.y == 0
    assert math.isclose(face.x + face.width, 1.0, abs_tol=1e-6) and face.height < 4 / 8


finite = {"allow_nan": False, "allow_infinity": False, "width": 32}


@given(
    hnp.arrays(np.float32, (6, 9), elements=st.floats(0, 1, **finite)),
    hnp.arrays(np.float32, (2, 6, 9), elements=st.floats(-8, 4, **finite)),
    hnp.arrays(np.float32, (2, 6, 9), elements=st.floats(-2, 2, **finite)),
)
def test_every_face_lies_inside_the_image(
    heatmap: np.ndarray, scale: np.ndarray, offset: np.ndarray
) -> None:
    faces = faces_from_maps(heatmap, scale, offset)
    assert len(faces) <= int((heatmap >= FACE_MIN_SCORE).sum())
    for face in faces:
        assert face.x >= 0 and face.x + face.width <= 1 + 1e-6
        assert face.y >= 0 and face.y + face.height <= 1 + 1e-6
        assert face.width > 0 and face.height > 0
        assert FACE_MIN_SCORE <= face.confidence <= 1


@given(st.lists(box, max_size=12))
def test_suppression_keeps_the_surest_and_no_overlapping_pair(boxes: list[Box]) -> None:
    kept = non_max_suppression(boxes)
    assert all(k in boxes for k in kept)
    assert all(overlap(a, b) <= 0.5 for i, a in enumerate(kept) for b in kept[i + 1 :])
    if boxes:
        assert max(b.confidence for b in kept) == max(b.confidence for b in boxes)


@given(st.lists(box, max_size=8), st.lists(box, max_size=8))
def test_count_is_faces_plus_faceless_bodies(faces: list[Box], bodies: list[Box]) -> None:
    count, confidence = count_people(faces, bodies)
    assert len(faces) <= count <= len(faces) + len(bodies)
    assert 0.0 <= confidence <= 1.0


@given(box, box)
def test_overlap_is_symmetric_and_bounded(a: Box, b: Box) -> None:
    assert overlap(a, b) == overlap(b, a)
    assert 0.0 <= overlap(a, b) <= 1.0 + 1e-9
