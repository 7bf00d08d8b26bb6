"""ImageNet-1k tags from EfficientNet-Lite0 on onnxruntime (see models/PROVENANCE.md)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from scopix.server.vision.base import DecodedImage, Pixels, Tag
from scopix.server.vision.caption import Finding
from scopix.server.vision.ondevice.loading import PerProcess, onnx_session

__all__ = [
    "KINDS",
    "LABELS_PATH",
    "MAX_CLASSES",
    "MIN_SCORE",
    "MODEL_PATH",
    "TOP_CLASSES",
    "Observation",
    "Tagger",
    "class_labels",
    "class_synonyms",
    "model_sha256",
]

_MODELS = Path(__file__).resolve().parent / "models"
MODEL_PATH: Final = _MODELS / "efficientnet_lite0.onnx"
LABELS_PATH: Final = _MODELS / "imagenet_labels.txt"

#: The network's input side. The ONNX graph takes uint8 RGB pixels and normalizes them itself.
INPUT_SIDE: Final = 224
#: TensorFlow's EfficientNet evaluation crop, which the weights were validated with: the central
#: square of 224 / (224 + 32) of the short side, resized to 224.
CENTRAL_FRACTION: Final = INPUT_SIDE / (INPUT_SIDE + 32)
#: Classes less probable than this are not tags: on the test photos everything below was wrong
#: (the astronaut a "football helmet" at 0.19, the book page "brass" at 0.19), while the cat's
#: breeds (0.36-0.39) and the espresso (0.96) clear it.
MIN_SCORE: Final = 0.2
#: At most this many classes become tags (broader words come on top).
MAX_CLASSES: Final = 5
#: Classes kept per image for search (the tag bridge): on the test photos the top ten hold
#: 39-99 % of the probability, and what lies below is noise too faint to rank by.
TOP_CLASSES: Final = 10


def _indices(*spans: int | tuple[int, int]) -> tuple[int, ...]:
    """Class indices from single indices and inclusive (first, last) ranges."""
    out: list[int] = []
    for span in spans:
        out.extend(range(span[0], span[1] + 1) if isinstance(span, tuple) else [span])
    return tuple(out)


#: Broader everyday words for groups of ImageNet classes (indices into imagenet_labels.txt), so a
#: photo of a "tabby" is also found by "cat". Each class has at most one broader word, so a
#: word's score (the summed probability of its classes) is a true probability.
KINDS: Final[dict[str, tuple[int, ...]]] = {
    "fish": _indices((0, 6), (389, 397)),  # tench ... stingray; barracouta ... puffer
    "bird": _indices((7, 24), (80, 100), (127, 146)),  # cock ... owl; grouse ... swan; stork ...
    "dog": _indices((151, 268)),  # Chihuahua ... Mexican hairless: the domestic breeds
    "cat": _indices((281, 285)),  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    "car": (407, 436, 468, 511, 609, 627, 656, 661, 751, 817),  # ambulance, wagon, cab, ...
    "truck": (555, 569, 675, 717, 864, 867),  # fire engine, garbage truck, van, pickup, ...
    "bicycle": (444, 671),  # tandem, mountain bike
    "motorbike": (665, 670),  # moped, motor scooter
    "boat": (403, 472, 484, 510, 554, 576, 625, 628, 724, 780, 814, 833, 871, 914),
    "aircraft": (404, 405, 895, 908),  # airliner, airship, warplane, wing
    "train": (466, 547, 565, 705, 820, 829),  # bullet train, locomotives, cars, streetcar
    "coffee": (550, 967),  # espresso maker, espresso
    "cup": (504, 968),  # coffee mug, cup
    "fruit": _indices((948, 957)),  # Granny Smith ... pomegranate
}

_KIND_OF: Final = {index: kind for kind, indices in KINDS.items() for index in indices}


@cache
def class_labels() -> tuple[str, ...]:
    """The 1000 human-friendly class labels: the first name of each synset ("tabby")."""
    lines = LABELS_PATH.read_text(encoding="utf-8").splitlines()
    return tuple(line.split(",", 1)[0].strip() for line in lines)


@cache
def class_synonyms() -> tuple[str, ...]:
    """Each class's whole synset line ("tabby, tabby cat"): more words for text to match."""
    return tuple(line.strip() for line in LABELS_PATH.read_text(encoding="utf-8").splitlines())


@cache
def model_sha256() -> str:
    """The SHA-256 of the ONNX file, for fingerprints."""
    return hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Observation:
    """What one pass of the network saw: class probabilities and pooled image features."""

    probabilities: npt.NDArray[np.float32]  # the softmax over the 1000 classes
    features: npt.NDArray[np.float32]  # 1280-d, scaled to unit length

    def top_classes(self, count: int = TOP_CLASSES) -> tuple[tuple[int, float], ...]:
        """The `count` most probable classes as (index, probability), most probable first."""
        top = np.argsort(-self.probabilities, kind="stable")[:count]
        return tuple((int(i), _rounded(float(self.probabilities[i]))) for i in top)

    def feature_bytes(self) -> bytes:
        """The features as float32 little-endian bytes, as the catalog stores them."""
        return np.asarray(self.features, dtype="<f4").tobytes()


class Tagger:
    """Tags an image with ImageNet classes and their broader words. The model loads once.

    `threads` caps onnxruntime's intra-op threads; taggers with the same count share one
    session per process.
    """

    def __init__(
        self, *, threads: int = 1, min_score: float = MIN_SCORE, max_classes: int = MAX_CLASSES
    ) -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self._threads = threads
        self.min_score = min_score
        self.max_classes = max_classes

    def load(self) -> None:
        """Load the model now rather than on the first image."""
        _sessions.get(self._threads)

    def tags(self, image: DecodedImage) -> tuple[Tag, ...]:
        """The findings as tags, most probable first."""
        return tuple(Tag(f.label, f.score) for f in self.findings(image))

    def findings(self, image: DecodedImage) -> tuple[Finding, ...]:
        """Classes at least `min_score` probable (at most `max_classes`) and broader words."""
        return self.findings_from(self.observe(image).probabilities)

    def observe(self, image: DecodedImage) -> Observation:
        """Run the network once: probabilities for tags, features for similarity."""
        session = _sessions.get(self._threads)
        batch = _network_input(image.pixels)[np.newaxis]
        probabilities, features = session.run(None, {"pixels": batch})
        return Observation(np.asarray(probabilities[0], dtype=np.float32), _unit(features[0]))

    def findings_from(self, probabilities: npt.NDArray[np.float32]) -> tuple[Finding, ...]:
        """Turn class probabilities into findings, most probable first."""
        labels = class_labels()
        top = np.argsort(-probabilities, kind="stable")[: self.max_classes]
        by_label: dict[str, Finding] = {}
        for index in top:
            score = float(probabilities[index])
            if score >= self.min_score:
                label = labels[index]
                by_label[label] = Finding(label, _rounded(score), _KIND_OF.get(int(index)))
        for kind, indices in KINDS.items():
            score = min(float(probabilities[list(indices)].sum()), 1.0)
            # A word that is also one of its classes' labels ("cup") replaces that class: the
            # word's summed score is the better one.
            if score >= self.min_score:
                by_label[kind] = Finding(kind, _rounded(score))
        return tuple(sorted(by_label.values(), key=lambda f: (-f.score, f.label)))


def _rounded(score: float) -> float:
    return round(score, 4)


def _unit(vector: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """`vector` scaled to length 1, so that cosine similarity is a dot product."""
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0 else array


def _network_input(pixels: Pixels) -> Pixels:
    """The evaluation crop: the central square, resized to INPUT_SIDE, uint8 RGB HWC."""
    height, width = pixels.shape[:2]
    side = max(1, round(min(height, width) * CENTRAL_FRACTION))
    top, left = (height - side) // 2, (width - side) // 2
    square = pixels[top : top + side, left : left + side]
    import cv2  # deferred: OpenCV maps some 35 MiB of libraries that only analyses need

    # Area averaging when shrinking avoids aliasing; cubic when a tiny image must grow.
    interpolation = cv2.INTER_AREA if side >= INPUT_SIDE else cv2.INTER_CUBIC
    resized = cv2.resize(square, (INPUT_SIDE, INPUT_SIDE), interpolation=interpolation)
    return np.ascontiguousarray(resized, dtype=np.uint8)


_sessions: PerProcess[int, Any] = PerProcess(partial(onnx_session, MODEL_PATH))
