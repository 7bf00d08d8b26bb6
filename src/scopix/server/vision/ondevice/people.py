"""Faces and people: faces from CenterFace, a small ONNX network shipped in models/, and bodies
from OpenCV's HOG people detector (in the opencv wheel).

Where faces are, never whose. CenterFace marks each face's centre on a heat map at a quarter of
its input's resolution, with the face's size and the centre's offset beside it; a spot hot
enough is a face. Bodies come from the HOG detector and count only where no face is.

The thresholds were set on tests/assets/photos and tests/assets/people, each photo also mirrored,
cropped to its centre and to its left three quarters, and shrunk to 60 % (70 images; see the
numbers beside each constant).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from scopix.server.vision.base import DecodedImage, Face
from scopix.server.vision.ondevice.loading import PerProcess, Reusable, onnx_session

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = [
    "FACE_MODEL_PATH",
    "NO_PEOPLE",
    "Box",
    "People",
    "PeopleDetector",
    "bodies_without_face",
    "count_people",
    "faces_from_maps",
    "non_max_suppression",
    "overlap",
]

FACE_MODEL_PATH: Final = Path(__file__).resolve().parent / "models" / "centerface.onnx"

#: Images are searched scaled down to this side's square in area (a wide group photo keeps its
#: faces' pixels). CenterFace took 15-27 ms at this size on one core, where the Haar cascades it
#: replaced took 90-135 ms, and found every face of the labeled set down to about 20 px here.
WORK_SIDE: Final = 320
#: CenterFace's input sides must be multiples of this; the picture is stretched to the next one.
INPUT_MULTIPLE: Final = 32
#: The heat map's cells are this many input pixels apart.
STRIDE: Final = 4
#: The heat a face needs: true faces on the labeled set had 0.56 (the basketball player seen
#: from the side) to 0.94, the hottest spot that was no face 0.38 (a motorcycle's part).
FACE_MIN_SCORE: Final = 0.5
#: The default HOG people detector's window, width x height: no body fits a smaller image.
HOG_WINDOW: Final = (64, 128)
#: The HOG detector's SVM margin a body needs: no test photo gave a body at 320 px.
BODY_MIN_WEIGHT: Final = 0.5
#: Boxes overlapping more than this (intersection over the smaller box) are one thing.
SAME_THING_OVERLAP: Final = 0.5


@dataclass(frozen=True)
class Box:
    """A detection, in fractions of the searched image's width and height (0-1), and how sure
    the detector is (0-1)."""

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


def faces_from_maps(
    heatmap: npt.NDArray[np.float32],
    scale: npt.NDArray[np.float32],
    offset: npt.NDArray[np.float32],
    min_score: float = FACE_MIN_SCORE,
) -> list[Box]:
    """CenterFace's maps for one image (heatmap rows x columns; scale and offset 2 x rows x
    columns, height first) as face boxes normalized to the network's input (0-1), clipped to it.

    Each hot cell is a face centred at the cell plus its offset, its size e^scale cells; the
    cells around a face's centre are hot too, and make boxes that non_max_suppression merges.
    """
    rows, columns = heatmap.shape
    ys, xs = np.nonzero(heatmap >= min_score)
    heights = np.exp(scale[0, ys, xs]) / rows
    widths = np.exp(scale[1, ys, xs]) / columns
    centre_ys = (ys + offset[0, ys, xs] + 0.5) / rows
    centre_xs = (xs + offset[1, ys, xs] + 0.5) / columns
    lefts = np.clip(centre_xs - widths / 2, 0.0, 1.0)
    tops = np.clip(centre_ys - heights / 2, 0.0, 1.0)
    rights = np.clip(centre_xs + widths / 2, 0.0, 1.0)
    bottoms = np.clip(centre_ys + heights / 2, 0.0, 1.0)
    return [
        Box(float(left), float(top), float(right - left), float(bottom - top), float(score))
        for left, top, right, bottom, score in zip(
            lefts, tops, rights, bottoms, heatmap[ys, xs], strict=True
        )
        if right > left and bottom > top
    ]


def count_people(faces: Sequence[Box], bodies: Sequence[Box]) -> tuple[int, float]:
    """How many people (faces plus bodies without a face) and the surest one's confidence."""
    counted = [*faces, *bodies_without_face(bodies, faces)]
    return len(counted), max((b.confidence for b in counted), default=0.0)


class PeopleDetector:
    """Finds faces and people. The face network loads once per process and thread count (its
    sessions are safe to share); each body search borrows one of the process's HOG detectors
    (OpenCV's are not safe to share between threads running them at once). Nothing loads
    before `load` or the first image.

    `threads` caps onnxruntime's intra-op threads for the face network.
    """

    def __init__(self, *, threads: int = 1) -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self._threads = threads

    @property
    def fingerprint(self) -> str:
        """The detectors and every threshold that shapes the result."""
        return (
            f"centerface-{face_model_sha256()[:12]}>={FACE_MIN_SCORE}@{WORK_SIDE}px"
            f",hog>={BODY_MIN_WEIGHT}"
        )

    def load(self, sets: int = 1) -> None:
        """Load the face network and `sets` HOG detectors now (one per thread that will
        detect at once)."""
        _face_sessions.get(self._threads)
        _body_detectors.warm(sets)

    def detect(self, image: DecodedImage) -> People:
        import cv2

        pixels: npt.NDArray[Any] = image.pixels
        # Scaled by area, not long side: a wide group photo keeps its faces' pixels.
        scale = min(1.0, WORK_SIDE / (pixels.shape[0] * pixels.shape[1]) ** 0.5)
        if scale < 1.0:
            pixels = cv2.resize(pixels, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        faces = non_max_suppression(self._faces(pixels))
        bodies = non_max_suppression(_bodies(pixels))
        count, confidence = count_people(faces, bodies)
        normalized = tuple(Face(f.x, f.y, f.width, f.height, f.confidence) for f in faces)
        return People(normalized, count, confidence)

    def _faces(self, pixels: npt.NDArray[Any]) -> list[Box]:
        """Faces in RGB `pixels`, normalized (0-1)."""
        import cv2

        height, width = pixels.shape[:2]
        size = (_next_multiple(width), _next_multiple(height))
        stretched = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
        batch = np.ascontiguousarray(stretched.transpose(2, 0, 1)[np.newaxis], dtype=np.float32)
        heatmap, scale, offset = _face_sessions.get(self._threads).run(None, {"pixels": batch})
        return faces_from_maps(heatmap[0, 0], scale[0], offset[0])


@cache
def face_model_sha256() -> str:
    """The SHA-256 of the face network's ONNX file, for fingerprints."""
    return hashlib.sha256(FACE_MODEL_PATH.read_bytes()).hexdigest()


def _next_multiple(side: int) -> int:
    return max(INPUT_MULTIPLE, -(-side // INPUT_MULTIPLE) * INPUT_MULTIPLE)


def _body_detector() -> Any:
    """OpenCV's HOG people detector, for one thread at a time."""
    import cv2

    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), np.float32))
    return hog


def _bodies(pixels: npt.NDArray[Any]) -> list[Box]:
    """Standing people in RGB `pixels`, normalized (0-1)."""
    import cv2

    height, width = pixels.shape[:2]
    # HOG crashed the process (SIGSEGV) on a strip thinner than its 64 x 128 window.
    if height < HOG_WINDOW[1] or width < HOG_WINDOW[0]:
        return []
    grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    with _body_detectors.borrowed() as hog:
        rects, weights = hog.detectMultiScale(grey, winStride=(8, 8), padding=(8, 8), scale=1.1)
    return [
        Box(x / width, y / height, w / width, h / height, min(1.0, float(weight)))
        for (x, y, w, h), weight in zip(rects, _flat(weights), strict=True)
        if weight >= BODY_MIN_WEIGHT
    ]


def _flat(values: Any) -> list[float]:
    """HOG's weights as floats: an (n, 1) array, or an empty tuple when nothing was found."""
    return [float(v) for v in np.ravel(values)]


_face_sessions: PerProcess[int, Any] = PerProcess(partial(onnx_session, FACE_MODEL_PATH))
_body_detectors: Reusable[Any] = Reusable(_body_detector)
