"""The ImageNet tag bridge: a text query reaches photos through the classes the tagger saw.

Each analysed image keeps its most probable ImageNet classes. The 1000 class names are embedded
once with the text embedder, so a query ("kitty", "Katze", "hot drink") is compared with every
class and a file scores the sum, over its classes, of probability x how strongly the query names
that class. It finds a cat photo whose text never says "cat", as far as the ImageNet vocabulary
reaches (spec/MODELS.md).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

from scopix.server.vision.ondevice.tagger import LABELS_PATH, TOP_CLASSES, class_synonyms

__all__ = [
    "BASELINE_QUANTILE",
    "CLASS_SLOTS",
    "SHIPPED_DIR",
    "PassageEmbedder",
    "TagBridge",
    "class_vectors_key",
    "class_weights",
    "file_scores",
    "pack_class_scores",
    "packed_scores",
    "query_vectors_name",
    "shipped_path",
    "shipped_query_vectors",
]

log = logging.getLogger("scopix.tagbridge")

Vector = npt.NDArray[np.float32]
#: One file's class scores as the catalog stores them: [[class index, probability], ...].
ClassScores = Sequence[Sequence[float]]

#: e5 similarities all sit around 0.7-0.9, so a raw similarity barely separates classes. A class
#: counts only by how far it beats this quantile of the query's similarities to all 1000, scaled
#: so the best class counts 1. All of the median, the mean and the 0.9 quantile put the right
#: test photo first for every test query; the right photo's lead over the best wrong one was at
#: worst 1.8x with the median ("spaceship") and 2.4x with the 0.9 quantile ("Katze"). Higher
#: quantiles leave too few classes: at 0.98 "hot drink" keeps a tenth of its score.
BASELINE_QUANTILE: Final = 0.9
#: Classes kept per file: the tagger's top 10 (tagger.TOP_CLASSES).
CLASS_SLOTS: Final = TOP_CLASSES
#: Where the class vectors ship: next to the tagger's model and labels.
SHIPPED_DIR: Final = LABELS_PATH.parent


class PassageEmbedder(Protocol):
    """A text embedder that can run synchronously (E5Embedder)."""

    @property
    def fingerprint(self) -> str: ...

    def embed(self, text: str, *, query: bool) -> list[float]: ...


def class_weights(similarities: npt.ArrayLike) -> Vector:
    """How strongly a query names each class, 0-1, from its similarity to each class."""
    values = np.asarray(similarities, dtype=np.float32)
    baseline = np.float32(np.quantile(values, BASELINE_QUANTILE))
    span = values.max() - baseline
    if span <= 0:  # the query is equally close to every class: it names none of them
        return np.zeros_like(values)
    weights: Vector = np.maximum((values - baseline) / span, np.float32(0))
    return weights


def pack_class_scores(rows: Sequence[ClassScores | None]) -> Vector:
    """Files' class scores as one array, a row each: `CLASS_SLOTS` class indices, then their
    probabilities (the most probable classes; empty slots are class 0 with probability 0).

    Packed once when files are indexed, so a query scores every file with three numpy calls."""
    packed = np.zeros((len(rows), 2 * CLASS_SLOTS), np.float32)
    for n, row in enumerate(rows):
        kept = sorted(row or (), key=lambda pair: -pair[1])[:CLASS_SLOTS]
        for slot, (index, probability) in enumerate(kept):
            packed[n, slot] = index  # exact: float32 holds every integer below 2**24
            packed[n, CLASS_SLOTS + slot] = probability
    return packed


def packed_scores(weights: Vector, packed: Vector) -> Vector:
    """Per packed row, the sum over its classes of probability x weight."""
    classes = packed[:, :CLASS_SLOTS].astype(np.intp)
    scores: Vector = (packed[:, CLASS_SLOTS:] * weights[classes]).sum(axis=1, dtype=np.float32)
    return scores


def file_scores(weights: Vector, rows: Sequence[ClassScores | None]) -> Vector:
    """Per file, the sum over its classes of probability x weight; 0 without class scores."""
    return packed_scores(weights, pack_class_scores(rows))


class TagBridge:
    """Scores files for a text query through their ImageNet classes.

    The class vectors ship with the models (`shipped_dir`, made by
    scripts/make_class_vectors.py), named by the key of the embedder's fingerprint and the
    class texts, so a matching embedder reads them in milliseconds. Any other embedder embeds
    the class names on first use, once per process, which takes some 10 s on two cores; with
    `cache_dir` those vectors are kept there under the same kind of name, so a restart reads
    them back. Call `load()` in a worker thread at startup, or the first search pays for it.
    """

    def __init__(
        self,
        embedder: PassageEmbedder,
        cache_dir: Path | None,
        shipped_dir: Path | None = SHIPPED_DIR,
    ) -> None:
        self._embedder = embedder
        self._cache_dir = cache_dir
        self._shipped_dir = shipped_dir

    def load(self) -> Vector:
        """The class vectors, 1000 x dimensions, unit rows: shipped, read back, embedded or
        remembered."""
        key = class_vectors_key(self._embedder.fingerprint)
        with _lock:
            if key not in _class_vectors:
                rows = len(class_synonyms())
                found = None
                if self._shipped_dir is not None:
                    found = _read(shipped_path(self._shipped_dir, key), rows)
                if found is None:
                    found = _read(self._path(key), rows)
                _class_vectors[key] = self._embed_classes(key) if found is None else found
            return _class_vectors[key]

    def weights(self, query_vector: npt.ArrayLike) -> Vector:
        """How strongly the query names each class, 0-1 (see `class_weights`)."""
        return class_weights(self.load() @ np.asarray(query_vector, dtype=np.float32))

    def scores(self, query_vector: npt.ArrayLike, rows: Sequence[ClassScores | None]) -> Vector:
        """One relevance per file, 0 up to about 1, from its class scores (None: no classes)."""
        return file_scores(self.weights(query_vector), rows)

    def _embed_classes(self, key: str) -> Vector:
        # The whole synset line ("tabby, tabby cat") beat the first name alone and "a photo of
        # a {name}" on the test photos: more words for a query to meet.
        texts = class_synonyms()
        log.info("embedding %d ImageNet class names for the tag bridge", len(texts))
        vectors = np.array([self._embedder.embed(t, query=False) for t in texts], np.float32)
        path = self._path(key)
        if path is not None:
            try:
                _write_atomically(path, vectors)
            except OSError as exc:  # a cache that cannot be written only costs the next start
                log.warning("could not keep the class vectors in %s: %s", path, exc)
        return vectors

    def _path(self, key: str) -> Path | None:
        return self._cache_dir / _file_name(key) if self._cache_dir else None


def shipped_path(models_dir: Path, key: str) -> Path:
    """Where the shipped class vectors for this key lie (scripts/make_class_vectors.py)."""
    return models_dir / _file_name(key)


def _file_name(key: str) -> str:
    return f"imagenet-classes-{key}.npy"


def shipped_query_vectors(
    fingerprint: str, texts: Sequence[str], models_dir: Path = SHIPPED_DIR
) -> Vector | None:
    """The query vectors of `texts` shipped for this embedder (scripts/make_class_vectors.py
    ships those of domain.relevance.REFERENCE_QUERIES), or None."""
    return _read(models_dir / query_vectors_name(fingerprint, texts), len(texts))


def query_vectors_name(fingerprint: str, texts: Sequence[str]) -> str:
    """The file name of `texts` embedded as queries, keyed like the class vectors."""
    digest = hashlib.sha256(fingerprint.encode())
    digest.update("\n".join(texts).encode())
    return f"queries-{digest.hexdigest()[:16]}.npy"


def _read(path: Path | None, rows: int) -> Vector | None:
    """Vectors from a .npy file as float32; None when there is none or it is unreadable or
    does not hold `rows` rows."""
    if path is None or not path.exists():
        return None
    try:
        vectors = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        log.warning("ignoring the unreadable vectors in %s: %s", path, exc)
        return None
    if vectors.ndim != 2 or vectors.shape[0] != rows:
        log.warning("ignoring vectors of the wrong shape in %s", path)
        return None
    return np.asarray(vectors, dtype=np.float32)


def class_vectors_key(fingerprint: str) -> str:
    """Names the embedder and the class texts: vectors from either changed are not reused."""
    digest = hashlib.sha256(fingerprint.encode())
    digest.update("\n".join(class_synonyms()).encode())
    return digest.hexdigest()[:16]


def _write_atomically(path: Path, vectors: Vector) -> None:
    """Write to a temporary name, then rename: a crash never leaves half a file to read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as out:
        np.save(out, vectors, allow_pickle=False)
    os.replace(temporary, path)


# Embedding takes seconds: one thread embeds while the others wait for its result.
_lock = threading.Lock()
_class_vectors: dict[str, Vector] = {}
