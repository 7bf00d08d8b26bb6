"""Faces and people from OpenCV's Haar cascades and HOG people detector (in the opencv wheel).

Where faces are, never whose. A cascade alone is not precise (frontalface_default finds six
"faces" on the coins photo), so a frontal face needs many overlapping hits from one cascade and
a second cascade agreeing on the same spot; a face in profile, which has no second cascade,
needs more hits. Bodies come from the HOG detector and count only where no face is.

Thresholds were tuned on tests/assets/photos, each photo also mirrored, cropped to its centre and
to its left three quarters, and shrunk to 60 % (55 images; see the numbers beside each constant).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from scopix.server.vision.base import DecodedImage, Face
from scopix.server.vision.ondevice.loading import Reusable

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = [
    "NO_PEOPLE",
    "Box",
    "People",
    "PeopleDetector",
    "bodies_without_face",
    "count_people",
    "face_confidence",
    "non_max_suppression",
    "overlap",
]

#: Images are searched scaled down to this side's square in area (a wide group photo keeps its
#: faces' pixels): the cascades' cost grows with the pixels (the 3 passes took 120-220 ms at
#: 320x320 on one busy core, 230-760 ms at 512x512), and faces smaller than FACE_MIN_PX there are
#: too small to matter in a description.
WORK_SIDE: Final = 320
SCALE_STEP: Final = 1.1
FACE_MIN_PX: Final = 20
#: Profile faces are searched from this size up: the profile cascade is the slowest pass.
PROFILE_MIN_PX: Final = 32
#: Overlapping hits a frontal face needs from frontalface_alt2: true faces had 6-50 (the
#: group photo's 6, 10 and 17), false ones (coins, page, a box on the astronaut's neck) 2-4.
FRONTAL_MIN_NEIGHBOURS: Final = 5
#: Hits frontalface_default must give on the same spot (a finer scan of the face's box): true
#: faces had 16-80, the false frontal candidates 0-11.
CONFIRM_MIN_NEIGHBOURS: Final = 14
#: Overlapping hits a profile face needs: the cameraman had 9, false ones (the rocket's smoke,
#: a motorcycle part) 2-4.
PROFILE_MIN_NEIGHBOURS: Final = 6
#: A face with this many hits is a sure one (confidence 1); fewer scale down linearly.
SURE_NEIGHBOURS: Final = 12
#: The default HOG people detector's window, width x height: no body fits a smaller image.
HOG_WINDOW: Final = (64, 128)
#: The HOG detector's SVM margin a body needs: no test photo gave a body at 320 px.
BODY_MIN_WEIGHT: Final = 0.5
#: Boxes overlapping more than this (intersection over the smaller box) are one thing.
SAME_THING_OVERLAP: Final = 0.5

_CASCADES: Final = ("frontalface_alt2", "frontalface_default", "profileface")


@dataclass(frozen=True)
class Box:
    """A detection in pixels of the searched image, and how sure the detector is (0-1)."""

    x: float
    y: float
    width: float
    height: float
    confidence: float

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)


@dataclass(frozen=True)
class People:
    """Faces found (normalized) and how many people are seen in all; `confidence` is the
    surest counted detection's (0 when none)."""

    faces: tuple[Face, ...]
    count: int
    confidence: float


#: What is said of an image not searched for people (a document's page).
NO_PEOPLE: Final = People((), 0, 0.0)


def overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area (0 when either is empty): a face box inside a
    bigger box of the same face counts as the same thing."""
    width = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    height = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    smaller = min(a.area, b.area)
    if width <= 0 or height <= 0 or smaller <= 0:
        return 0.0
    return width * height / smaller


def non_max_suppression(boxes: Sequence[Box], max_overlap: float = SAME_THING_OVERLAP) -> list[Box]:
    """The surest box of each group of overlapping boxes, surest first."""
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: -b.confidence):
        if all(overlap(box, other) <= max_overlap for other in kept):
            kept.append(box)
    return kept


def bodies_without_face(bodies: Sequence[Box], faces: Sequence[Box]) -> list[Box]:
    """The bodies that hold no face's centre: a body around a found face is the same person."""
    return [
        body
        for body in bodies
        if not any(
            body.x <= face.x + face.width / 2 <= body.x + body.width
            and body.y <= face.y + face.height / 2 <= body.y + body.height
            for face in faces
        )
    ]


def face_confidence(neighbours: int) -> float:
    """How sure a face is from its cascade's overlapping hits: SURE_NEIGHBOURS or more is 1."""
    return min(1.0, max(neighbours, 0) / SURE_NEIGHBOURS)


def count_people(faces: Sequence[Box], bodies: Sequence[Box]) -> tuple[int, float]:
    """How many people (faces plus bodies without a face) and the surest one's confidence."""
    counted = [*faces, *bodies_without_face(bodies, faces)]
    return len(counted), max((b.confidence for b in counted), default=0.0)


class PeopleDetector:
    """Finds faces and people. Each detection borrows one of the process's sets of detectors
    (OpenCV's cascades are not safe to share between threads running them at once); none loads
    before `load` or the first image."""

    @property
    def fingerprint(self) -> str:
        """The detectors and every threshold that shapes the result."""
        return (
            f"haar-{'+'.join(_CASCADES)}@{WORK_SIDE}px/{SCALE_STEP}"
            f">={FACE_MIN_PX}px,n{FRONTAL_MIN_NEIGHBOURS}/{CONFIRM_MIN_NEIGHBOURS}"
            f",profile>={PROFILE_MIN_PX}px,n{PROFILE_MIN_NEIGHBOURS}"
            f",hog>={BODY_MIN_WEIGHT}"
        )

    def load(self, sets: int = 1) -> None:
        """Load `sets` sets of detectors now (one per thread that will detect at once)."""
        _detector_sets.warm(sets)

    def detect(self, image: DecodedImage) -> People:
        import cv2

        grey = cv2.cvtColor(image.pixels, cv2.COLOR_RGB2GRAY)
        # Scaled by area, not long side: a wide group photo keeps its faces' pixels.
        scale = min(1.0, WORK_SIDE / (grey.shape[0] * grey.shape[1]) ** 0.5)
        if scale < 1.0:
            grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        with _detector_sets.borrowed() as detectors:
            bodies = _bodies(detectors, grey)
            grey = cv2.equalizeHist(grey)
            faces = non_max_suppression(
                [*_frontal_faces(detectors, grey), *_profile_faces(detectors, grey)]
            )
        count, confidence = count_people(faces, non_max_suppression(bodies))
        height, width = grey.shape
        normalized = tuple(
            Face(f.x / width, f.y / height, f.width / width, f.height / height, f.confidence)
            for f in faces
        )
        return People(normalized, count, confidence)


def _detectors() -> dict[str, Any]:
    """A set of the cascades and the HOG people detector, for one thread at a time."""
    import cv2

    detectors: dict[str, Any] = {
        name: cv2.CascadeClassifier(f"{_cascade_folder()}haarcascade_{name}.xml")
        for name in _CASCADES
    }
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), np.float32))
    detectors["hog"] = hog
    return detectors


def _frontal_faces(detectors: dict[str, Any], grey: npt.NDArray[Any]) -> list[Box]:
    """alt2's well-supported faces that frontalface_default confirms on the same spot."""
    found = _cascade(detectors["frontalface_alt2"], grey, FACE_MIN_PX, 2)
    return [
        face
        for face, neighbours in found
        if neighbours >= FRONTAL_MIN_NEIGHBOURS
        and _confirmed(detectors, grey, face) >= CONFIRM_MIN_NEIGHBOURS
    ]


def _confirmed(detectors: dict[str, Any], grey: npt.NDArray[Any], face: Box) -> int:
    """frontalface_default's hits on a face's box, padded a quarter, at sizes near it."""
    pad = face.width / 4
    top, left = max(0, int(face.y - pad)), max(0, int(face.x - pad))
    roi = grey[top : int(face.y + face.height + pad), left : int(face.x + face.width + pad)]
    _, neighbours = detectors["frontalface_default"].detectMultiScale2(
        roi,
        scaleFactor=1.05,
        minNeighbors=1,
        minSize=(int(face.width * 0.6),) * 2,
        maxSize=(int(face.width * 1.5),) * 2,
    )
    return max((int(n) for n in neighbours), default=0)


def _profile_faces(detectors: dict[str, Any], grey: npt.NDArray[Any]) -> list[Box]:
    """Faces turned either way: the cascade knows one side, so the mirror gives the other."""
    import cv2

    profile = detectors["profileface"]
    width = grey.shape[1]
    faces = [
        f for f, n in _cascade(profile, grey, PROFILE_MIN_PX, 2) if n >= PROFILE_MIN_NEIGHBOURS
    ]
    for face, n in _cascade(profile, cv2.flip(grey, 1), PROFILE_MIN_PX, 2):
        if n >= PROFILE_MIN_NEIGHBOURS:
            faces.append(
                Box(width - face.x - face.width, face.y, face.width, face.height, face.confidence)
            )
    return faces


def _bodies(detectors: dict[str, Any], grey: npt.NDArray[Any]) -> list[Box]:
    # HOG crashed the process (SIGSEGV) on a strip thinner than its 64 x 128 window.
    if grey.shape[0] < HOG_WINDOW[1] or grey.shape[1] < HOG_WINDOW[0]:
        return []
    rects, weights = detectors["hog"].detectMultiScale(
        grey, winStride=(8, 8), padding=(8, 8), scale=1.1
    )
    return [
        Box(float(x), float(y), float(w), float(h), min(1.0, float(weight)))
        for (x, y, w, h), weight in zip(rects, _flat(weights), strict=True)
        if weight >= BODY_MIN_WEIGHT
    ]


def _cascade_folder() -> str:
    """Where the opencv wheel keeps its cascades (`cv2.data` has no type stubs)."""
    import cv2.data

    return str(cv2.data.haarcascades)


def _flat(values: Any) -> list[float]:
    """HOG's weights as floats: an (n, 1) array, or an empty tuple when nothing was found."""
    return [float(v) for v in np.ravel(values)]


def _cascade(
    cascade: Any, grey: npt.NDArray[Any], min_px: int, min_neighbours: int
) -> list[tuple[Box, int]]:
    """A cascade's boxes with their overlapping-hit counts."""
    rects, neighbours = cascade.detectMultiScale2(
        grey, scaleFactor=SCALE_STEP, minNeighbors=min_neighbours, minSize=(min_px, min_px)
    )
    return [
        (Box(float(x), float(y), float(w), float(h), face_confidence(int(n))), int(n))
        for (x, y, w, h), n in zip(rects, neighbours, strict=True)
    ]


_detector_sets: Reusable[dict[str, Any]] = Reusable(_detectors)
