"""A video summed up from its scenes (pure rules): the description tells the scenes in order with
their times, tags and text unite the scenes', and nothing grows without bound."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scopix.server.domain.regions import BoundingBox, TextRegion
from scopix.server.vision.caption import (
    NOTHING_FOUND,
    VIDEO_MAX_CHARS,
    SceneCaption,
    clock,
    compose_video,
)
from scopix.server.vision.merge import (
    MAX_DOCUMENT_TEXT_CHARS,
    MAX_KEY_ELEMENTS,
    MAX_TAGS,
    MergedAnalysis,
    SceneAnalysis,
    merge_scenes,
)

REGION = TextRegion("HARBOUR", 0.9, BoundingBox(0.1, 0.1, 0.3, 0.05), ())


def analysis(
    description: str = "A cat.",
    tags: tuple[str, ...] = (),
    visible_text: str | None = None,
    **fields: object,
) -> MergedAnalysis:
    values: dict[str, object] = {
        "key_elements": (),
        "text_regions": (),
        "confidence_score": None,
        "providers": ("ondevice",),
    }
    values.update(fields)
    return MergedAnalysis(description, tags, visible_text=visible_text, **values)  # type: ignore[arg-type]


def scenes(*merged: MergedAnalysis, length: float = 4.0) -> list[SceneAnalysis]:
    return [SceneAnalysis(i, i * length, (i + 1) * length, m) for i, m in enumerate(merged)]


def test_the_description_tells_each_scene_in_order_with_its_times() -> None:
    summary = merge_scenes(
        scenes(
            analysis("A cat."),
            analysis('An image with the text "HARBOUR".'),
            analysis(NOTHING_FOUND),
        ),
        scene_count=3,
        duration_seconds=12.2,
    )
    assert summary.description == (
        "A video of 3 scenes, 0:12 long. Scene 1 (0:00–0:04): A cat. "
        'Scene 2 (0:04–0:08): An image with the text "HARBOUR". '
        "Scene 3 (0:08–0:12): nothing recognised."
    )


def test_a_long_scene_description_is_told_by_its_first_sentence() -> None:
    vlm = (
        "A harbour at dusk with fishing boats moored along a stone quay. Gulls circle above "
        "the masts while a man coils rope on the nearest deck and lights come on in the town."
    )
    [scene] = scenes(analysis(vlm))
    text = compose_video(
        [SceneCaption(0, 0.0, 5.0, scene.merged.description)], scene_count=1, duration_seconds=5
    )
    assert text == (
        "A video of 1 scene, 0:05 long. Scene 1 (0:00–0:05): "
        "A harbour at dusk with fishing boats moored along a stone quay."
    )


def test_a_video_with_more_scenes_than_described_says_so() -> None:
    text = compose_video(
        [SceneCaption(i, i, i + 1, "A cat.") for i in range(2)],
        scene_count=45,
        duration_seconds=None,
    )
    assert text.startswith("A video of 45 scenes; 2 are described. Scene 1 (0:00–0:01): A cat.")


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0:00"), (4.4, "0:04"), (4.6, "0:05"), (59.6, "1:00"), (754, "12:34"), (3723, "1:02:03")],
)
def test_times_are_shown_as_a_player_shows_them(seconds: float, shown: str) -> None:
    assert clock(seconds) == shown


def test_tags_put_video_first_then_those_found_in_most_scenes() -> None:
    summary = merge_scenes(
        scenes(
            analysis(tags=("cat", "sofa")),
            analysis(tags=("boat", "Sofa")),
            analysis(tags=("boat", "harbour", "sofa")),
        ),
        scene_count=3,
        duration_seconds=12,
    )
    assert summary.tags == ("video", "sofa", "boat", "cat", "harbour")


def test_visible_text_is_the_scenes_lines_in_order_each_once() -> None:
    summary = merge_scenes(
        scenes(
            analysis(visible_text="HARBOUR\nNext ferry 9:00"),
            analysis(visible_text=None),
            analysis(visible_text="harbour\nMind  the gap", text_regions=(REGION,)),
        ),
        scene_count=3,
        duration_seconds=12,
    )
    assert summary.visible_text == "HARBOUR\nNext ferry 9:00\nMind the gap"
    assert summary.text_regions == ()  # each scene keeps its own, normalized to its keyframe


def test_the_rest_comes_from_the_scenes() -> None:
    summary = merge_scenes(
        scenes(
            analysis(confidence_score=0.5, timings_ms={"ocr": 10.0, "tags": 1.0}),
            analysis(
                confidence_score=0.9,
                providers=("vlm:x", "ondevice"),
                image_features=b"\1" * 8,
                class_scores=((281, 0.9),),
                timings_ms={"ocr": 20.0},
            ),
            analysis(image_features=b"\2" * 8),
        ),
        scene_count=3,
        duration_seconds=12,
    )
    assert summary.confidence_score == 0.7
    assert summary.providers == ("ondevice", "vlm:x")
    assert (summary.image_features, summary.class_scores) == (b"\1" * 8, ((281, 0.9),))
    assert summary.timings_ms == {"ocr": 30.0, "tags": 1.0}
    assert summary.visible_text is None


def test_a_video_needs_a_scene() -> None:
    with pytest.raises(ValueError, match="at least one scene"):
        merge_scenes([], scene_count=0, duration_seconds=None)


words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
descriptions = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=2000)


@given(st.lists(descriptions, min_size=1, max_size=200), st.integers(0, 400))
def test_the_description_is_bounded_and_names_scenes_in_order(
    told: list[str], extra_scenes: int
) -> None:
    captions = [SceneCaption(i, i * 2.0, i * 2.0 + 2, d) for i, d in enumerate(told)]
    text = compose_video(captions, len(told) + extra_scenes, duration_seconds=len(told) * 2.0)
    assert len(text) <= VIDEO_MAX_CHARS
    named = [int(n) for n in re.findall(r"(?:^|[.…\"')!?] )Scene (\d+) \(", text)]
    assert named == list(range(1, len(named) + 1))
    left_out = re.search(r"([\d,]+) more scenes? (?:is|are) not told here\.$", text)
    counted = int(left_out.group(1).replace(",", "")) if left_out else 0
    assert len(named) + counted == len(told)


@given(
    st.lists(
        st.tuples(st.lists(words, max_size=25), st.lists(words, max_size=12), st.none() | words),
        min_size=1,
        max_size=30,
    )
)
def test_tags_key_elements_and_text_are_united_and_bounded(
    found: list[tuple[list[str], list[str], str | None]],
) -> None:
    summary = merge_scenes(
        scenes(
            *(analysis(tags=tuple(t), key_elements=tuple(k), visible_text=v) for t, k, v in found)
        ),
        scene_count=len(found),
        duration_seconds=None,
    )
    for united, limit in ((summary.tags, MAX_TAGS), (summary.key_elements, MAX_KEY_ELEMENTS)):
        folded = [label.casefold() for label in united]
        assert len(folded) == len(set(folded)) <= limit
        assert all(label and label == label.strip() for label in united)
    assert summary.tags[0] == "video"
    given_tags = {t.strip().casefold() for tags, _, _ in found for t in tags} | {"video"}
    assert {t.casefold() for t in summary.tags} <= given_tags

    lines = (summary.visible_text or "").splitlines()
    assert len(summary.visible_text or "") <= MAX_DOCUMENT_TEXT_CHARS
    assert len({line.casefold() for line in lines}) == len(lines)
    read = [" ".join(line.split()) for _, _, text in found for line in (text or "").splitlines()]
    firsts = list(dict.fromkeys(line.casefold() for line in read if line))
    assert [line.casefold() for line in lines] == firsts[: len(lines)]
