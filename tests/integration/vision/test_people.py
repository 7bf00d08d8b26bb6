"""People on the labeled photos: who is seen, how many, and what the description says."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scopix.server.vision.base import DecodedImage
from scopix.server.vision.ondevice import OnDeviceAnalyzer
from scopix.server.vision.ondevice.people import People, PeopleDetector

ASSETS = Path(__file__).resolve().parents[2] / "assets"
#: Each labeled photo and the people in it (tests/assets/people/PROVENANCE.md says why).
LABELS: dict[str, int] = json.loads((ASSETS / "people" / "labels.json").read_text())
PEOPLE = {name: count for name, count in LABELS.items() if count}
NOBODY = [name for name, count in LABELS.items() if not count]
HOW = ("as it is", "mirrored", "shrunk")


def photo(name: str) -> DecodedImage:
    pixels = np.asarray(Image.open(ASSETS / name).convert("RGB"))
    return DecodedImage(pixels=pixels, jpeg=b"")


def shifted(image: DecodedImage, how: str) -> DecodedImage:
    """The photo as it is, mirrored, or shrunk to 60 %: the same people, seen otherwise."""
    if how == "as it is":
        return image
    pixels = image.pixels[:, ::-1]
    if how == "shrunk":
        height, width = image.pixels.shape[:2]
        small = Image.fromarray(image.pixels).resize((width * 3 // 5, height * 3 // 5))
        pixels = np.asarray(small)
    return DecodedImage(pixels=np.ascontiguousarray(pixels), jpeg=b"")


@pytest.fixture(scope="module")
def detector() -> PeopleDetector:
    detector = PeopleDetector()
    detector.load()
    return detector


@pytest.mark.parametrize(("name", "count"), PEOPLE.items())
@pytest.mark.parametrize("how", HOW)
def test_people_are_counted(detector: PeopleDetector, name: str, count: int, how: str) -> None:
    people = detector.detect(shifted(photo(name), how))
    assert people.count == count
    assert len(people.faces) == count
    for face in people.faces:
        assert face.x >= 0 and face.x + face.width <= 1
        assert face.y >= 0 and face.y + face.height <= 1
        assert 0 < face.confidence <= 1


def test_the_astronauts_face_is_where_it_is(detector: PeopleDetector) -> None:
    (face,) = detector.detect(photo("photos/astronaut.png")).faces
    # Her face spans about x 180-270, y 70-160 of the 512 px portrait.
    assert 0.3 < face.x + face.width / 2 < 0.45
    assert 0.15 < face.y + face.height / 2 < 0.35


@pytest.mark.parametrize("name", NOBODY)
@pytest.mark.parametrize("how", HOW)
def test_nobody_in_photos_without_people(detector: PeopleDetector, name: str, how: str) -> None:
    people = detector.detect(shifted(photo(name), how))
    assert people == People((), 0, 0.0)


def test_the_analyzer_says_a_person_and_tags_it() -> None:
    analyzer = OnDeviceAnalyzer(threads=2)
    analysis = analyzer.analyze_sync(photo("photos/astronaut.png"))
    assert analysis.description is not None
    assert analysis.description.startswith("A person")
    assert analysis.people_count == 1
    assert len(analysis.faces) == 1
    (tag,) = [t for t in analysis.tags if t.label in ("person", "people")]
    assert (tag.label, tag.source) == ("person", "ondevice:people")
    assert "people" in analysis.timings_ms
    assert "people-centerface" in analyzer.fingerprint
