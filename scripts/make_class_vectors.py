"""Embed the 1000 ImageNet class texts for the tag bridge, and the relevance profile's reference
queries (domain.relevance.REFERENCE_QUERIES), and ship them next to the tagger's model, so no
server embeds them at startup (vision/tagbridge.py reads them back).

The file is named by the key of the embedder's fingerprint and the class texts
(`imagenet-classes-<key>.npy`): a server with another embedder or other class texts does not
find it and embeds its own; the query vectors are keyed alike (`queries-<key>.npy`). The
vectors stay float32 (1.5 MB), the very numbers a server would embed itself: float16 moved a
class weight by up to 0.001 and swapped two of the top 10 classes of "Katze". The files of
older keys are removed.

    .venv/bin/python scripts/make_class_vectors.py
"""

from __future__ import annotations

# isort: off
import scopix.server  # noqa: F401  # first: it caps numpy's threads as the server does

# isort: on
import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from scopix.server.domain.relevance import REFERENCE_QUERIES
from scopix.server.vision.ondevice import E5Embedder
from scopix.server.vision.ondevice.tagger import class_synonyms
from scopix.server.vision.tagbridge import (
    SHIPPED_DIR,
    TagBridge,
    class_vectors_key,
    query_vectors_name,
    shipped_path,
    shipped_query_vectors,
)


def main() -> None:
    embedder = E5Embedder()
    start = time.perf_counter()
    texts = class_synonyms()
    vectors = np.array([embedder.embed(t, query=False) for t in texts], np.float32)
    print(f"embedded {len(texts)} class texts in {time.perf_counter() - start:.1f} s")
    path = shipped_path(SHIPPED_DIR, class_vectors_key(embedder.fingerprint))
    write(path, vectors, "imagenet-classes-*.npy")
    assert np.array_equal(TagBridge(embedder, None).load(), vectors), "not read back"
    queries = np.array([embedder.embed(t, query=True) for t in REFERENCE_QUERIES], np.float32)
    write(
        SHIPPED_DIR / query_vectors_name(embedder.fingerprint, REFERENCE_QUERIES),
        queries,
        "queries-*.npy",
    )
    shipped = shipped_query_vectors(embedder.fingerprint, REFERENCE_QUERIES)
    assert shipped is not None and np.array_equal(shipped, queries), "not read back"


def write(path: Path, vectors: np.ndarray[Any, Any], pattern: str) -> None:
    """Save `vectors` at `path`, removing the files of older keys (`pattern`)."""
    for old in SHIPPED_DIR.glob(pattern):
        if old != path:
            old.unlink()
    np.save(path, vectors, allow_pickle=False)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    print(f"wrote {path.name}: {vectors.shape}, {path.stat().st_size} bytes, sha256 {digest}")


if __name__ == "__main__":
    main()
