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
from itertools import chain
from pathlib import Path
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

from scopix.server.vision.ondevice.tagger import class_synonyms

__all__ = ["BASELINE_QUANTILE", "PassageEmbedder", "TagBridge", "class_weights", "file_scores"]

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


def file_scores(weights: Vector, rows: Sequence[ClassScores | None]) -> Vector:
    """Per file, the sum over its classes of probability x weight; 0 without class scores."""
    lengths = [len(row) if row else 0 for row in rows]
    # One flat array for every file's pairs: a numpy call per file would cost more than the math
    # (fromiter over the flattened numbers takes half the time of asarray over the lists).
    flat = chain.from_iterable(chain.from_iterable(row for row in rows if row))
    pairs = np.fromiter(flat, dtype=np.float64).reshape(-1, 2)
    contributions = pairs[:, 1] * weights[pairs[:, 0].astype(np.intp)]
    owners = np.repeat(np.arange(len(rows)), lengths)
    return np.bincount(owners, weights=contributions, minlength=len(rows)).astype(np.float32)


class TagBridge:
    """Scores files for a text query through their ImageNet classes.

    The class names are embedded on first use, once per process and embedder, which takes some
    10 s on two cores; with `cache_dir` the vectors are kept there as a .npy file keyed by the
    embedder's fingerprint, so a restart reads them back in milliseconds. Call `load()` in a
    worker thread at startup, or the first search pays for it.
    """

    def __init__(self, embedder: PassageEmbedder, cache_dir: Path | None) -> None:
        self._embedder = embedder
        self._cache_dir = cache_dir

    def load(self) -> Vector:
        """The class vectors, 1000 x dimensions, unit rows: embedded, read back or remembered."""
        key = _cache_key(self._embedder.fingerprint)
        with _lock:
            if key not in _class_vectors:
                cached = self._read(key)
                _class_vectors[key] = self._embed_classes(key) if cached is None else cached
            return _class_vectors[key]

    def scores(self, query_vector: npt.ArrayLike, rows: Sequence[ClassScores | None]) -> Vector:
        """One relevance per file, 0 up to about 1, from its class scores (None: no classes)."""
        query = np.asarray(query_vector, dtype=np.float32)
        return file_scores(class_weights(self.load() @ query), rows)

    def _read(self, key: str) -> Vector | None:
        path = self._path(key)
        if path is None or not path.exists():
            return None
        try:
            vectors = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            log.warning("ignoring the unreadable class vectors in %s: %s", path, exc)
            return None
        if vectors.ndim != 2 or vectors.shape[0] != len(class_synonyms()):
            log.warning("ignoring class vectors of the wrong shape in %s", path)
            return None
        return np.asarray(vectors, dtype=np.float32)

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
        return self._cache_dir / f"imagenet-classes-{key}.npy" if self._cache_dir else None


def _cache_key(fingerprint: str) -> str:
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
