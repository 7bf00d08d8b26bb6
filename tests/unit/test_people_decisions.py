"""People detection's decisions: one box per face, bodies counted only where no face is."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from scopix.server.vision.ondevice.people import (
    SURE_NEIGHBOURS,
    Box,
    bodies_without_face,
    count_people,
    face_confidence,
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


def test_confidence_grows_with_hits_up_to_sure() -> None:
    assert face_confidence(0) == 0.0
    assert face_confidence(SURE_NEIGHBOURS // 2) == 0.5
    assert face_confidence(SURE_NEIGHBOURS * 3) == 1.0


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
