"""The tag bridge's scoring math and its class-vector cache, with a stand-in embedder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from scopix.server.vision import tagbridge
from scopix.server.vision.ondevice.tagger import class_synonyms
from scopix.server.vision.tagbridge import (
    BASELINE_QUANTILE,
    CLASS_SLOTS,
    TagBridge,
    class_weights,
    file_scores,
    pack_class_scores,
    packed_scores,
    shipped_path,
)


class HashEmbedder:
    """Deterministic unit vectors from a text's hash; counts what it was asked to embed."""

    def __init__(self, fingerprint: str = "hash-8") -> None:
        self.fingerprint = fingerprint
        self.calls = 0

    def embed(self, text: str, *, query: bool) -> list[float]:
        self.calls += 1
        seed = int.from_bytes(hashlib.sha256(f"{query}:{text}".encode()).digest()[:8], "little")
        vector = np.random.default_rng(seed).normal(size=8)
        return [float(v) for v in vector / np.linalg.norm(vector)]


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new process would: no class vectors remembered."""
    monkeypatch.setattr(tagbridge, "_class_vectors", {})


# --- the math -----------------------------------------------------------------------------------


def test_weights_count_only_what_beats_the_baseline_and_peak_at_one() -> None:
    similarities = np.linspace(0.70, 0.80, 1000, dtype=np.float32)
    similarities[281] = 0.90  # the query names this class clearly
    weights = class_weights(similarities)
    assert weights[281] == pytest.approx(1.0)
    baseline = np.quantile(similarities, BASELINE_QUANTILE)
    assert (weights[similarities <= baseline] == 0).all()
    assert (weights[similarities > baseline] > 0).all()
    assert weights.dtype == np.float32


def test_a_query_that_names_nothing_weighs_nothing() -> None:
    assert not class_weights(np.full(1000, 0.8, np.float32)).any()


@given(arrays(np.float32, 1000, elements=st.floats(0.5, 1.0, width=32)))
def test_weights_lie_between_zero_and_one(similarities: np.ndarray) -> None:
    weights = class_weights(similarities)
    assert weights.min() >= 0 and weights.max() <= 1 + 1e-6
    # A class more similar to the query never weighs less.
    order = np.argsort(similarities, kind="stable")
    assert (np.diff(weights[order]) >= -1e-6).all()


def test_file_scores_sum_probability_times_weight() -> None:
    weights = np.zeros(1000, np.float32)
    weights[[281, 282, 967]] = [1.0, 0.5, 0.25]
    rows = [
        [[282, 0.4], [281, 0.3], [999, 0.1]],  # a cat: 0.4 x 0.5 + 0.3 x 1
        None,  # never analysed on device
        [],
        [[967, 0.9]],  # an espresso
    ]
    np.testing.assert_allclose(file_scores(weights, rows), [0.5, 0, 0, 0.225], rtol=1e-6)


def test_file_scores_of_no_files() -> None:
    assert file_scores(np.ones(1000, np.float32), []).shape == (0,)
    assert not file_scores(np.ones(1000, np.float32), [None, None]).any()


rows_strategy = st.lists(
    st.one_of(
        st.none(),
        st.lists(st.tuples(st.integers(0, 999), st.floats(0, 1)), max_size=10),
    ),
    max_size=30,
)


@given(arrays(np.float32, 1000, elements=st.floats(0, 1, width=32)), rows_strategy)
def test_file_scores_equal_a_loop(
    weights: np.ndarray, rows: list[list[tuple[int, float]] | None]
) -> None:
    expected = [sum(p * float(weights[i]) for i, p in row or []) for row in rows]
    np.testing.assert_allclose(file_scores(weights, rows), expected, rtol=1e-5, atol=1e-6)


# --- the class vectors --------------------------------------------------------------------------


def test_class_names_are_embedded_once_per_process(tmp_path: Path) -> None:
    embedder = HashEmbedder()
    bridge = TagBridge(embedder, tmp_path)
    vectors = bridge.load()
    assert vectors.shape == (len(class_synonyms()), 8) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors[281], embedder.embed("tabby, tabby cat", query=False))
    TagBridge(embedder, None).load()
    assert embedder.calls == 1001  # the second bridge reused the first's vectors


def test_a_restart_reads_the_cached_vectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = TagBridge(HashEmbedder(), tmp_path).load()
    monkeypatch.setattr(tagbridge, "_class_vectors", {})  # a new process
    again = HashEmbedder()
    np.testing.assert_array_equal(TagBridge(again, tmp_path).load(), first)
    assert again.calls == 0
    assert [p.suffix for p in tmp_path.iterdir()] == [".npy"]  # no temporary file left over


def test_another_embedder_does_not_reuse_the_cache(tmp_path: Path) -> None:
    TagBridge(HashEmbedder("hash-8"), tmp_path).load()
    other = HashEmbedder("hash-8-v2")
    TagBridge(other, tmp_path).load()
    assert other.calls == 1000
    assert len(list(tmp_path.iterdir())) == 2


def test_a_corrupt_cache_file_is_embedded_afresh(tmp_path: Path) -> None:
    TagBridge(HashEmbedder(), tmp_path).load()
    (cached,) = tmp_path.iterdir()
    cached.write_bytes(b"not numpy")
    tagbridge._class_vectors.clear()
    embedder = HashEmbedder()
    assert TagBridge(embedder, tmp_path).load().shape == (1000, 8)
    assert embedder.calls == 1000
    assert np.load(cached).shape == (1000, 8)  # and the file is good again


def test_an_unwritable_cache_only_costs_the_next_start(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    assert TagBridge(HashEmbedder(), blocker / "cache").load().shape == (1000, 8)


def test_shipped_vectors_of_the_same_key_are_read_not_embedded(tmp_path: Path) -> None:
    embedder = HashEmbedder()
    exact = TagBridge(embedder, None, shipped_dir=None).load()
    tagbridge._class_vectors.clear()
    shipped = tmp_path / "models"
    shipped.mkdir()
    key = tagbridge.class_vectors_key(embedder.fingerprint)
    np.save(shipped_path(shipped, key), exact.astype(np.float16))
    again = HashEmbedder()
    vectors = TagBridge(again, tmp_path / "cache", shipped_dir=shipped).load()
    assert again.calls == 0 and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, exact, atol=1e-3)
    assert not (tmp_path / "cache").exists()  # nothing to cache


def test_shipped_vectors_of_another_embedder_are_ignored(tmp_path: Path) -> None:
    shipped = tmp_path / "models"
    shipped.mkdir()
    stale = np.ones((1000, 8), np.float16)
    np.save(shipped_path(shipped, tagbridge.class_vectors_key("hash-8-old")), stale)
    embedder = HashEmbedder("hash-8")
    vectors = TagBridge(embedder, None, shipped_dir=shipped).load()
    assert embedder.calls == 1000 and not np.array_equal(vectors, stale)


def test_the_repository_ships_the_vectors_of_the_on_device_embedder() -> None:
    from scopix.server.vision.ondevice.embedder import E5Embedder

    key = tagbridge.class_vectors_key(E5Embedder().fingerprint)
    vectors = np.load(shipped_path(tagbridge.SHIPPED_DIR, key))
    assert vectors.shape == (len(class_synonyms()), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors.astype(np.float32), axis=1), 1, atol=1e-2)


def test_the_repository_ships_the_reference_queries_of_the_on_device_embedder() -> None:
    from scopix.server.domain.relevance import REFERENCE_QUERIES
    from scopix.server.vision.ondevice.embedder import E5Embedder

    fingerprint = E5Embedder().fingerprint
    vectors = tagbridge.shipped_query_vectors(fingerprint, REFERENCE_QUERIES)
    assert vectors is not None and vectors.shape == (len(REFERENCE_QUERIES), 384)
    assert tagbridge.shipped_query_vectors(fingerprint, ("another query",)) is None
    assert tagbridge.shipped_query_vectors("another-embedder", REFERENCE_QUERIES) is None


def test_scores_rank_the_file_whose_class_the_query_names() -> None:
    embedder = HashEmbedder()
    bridge = TagBridge(embedder, None)
    query = bridge.load()[281]  # a query that is exactly the "tabby" passage
    rows = [[[967, 0.9], [504, 0.05]], [[281, 0.6], [282, 0.3]], None]
    scores = bridge.scores(query, rows)
    assert scores.argmax() == 1 and scores[1] >= 0.6 and scores[2] == 0


def test_packing_keeps_the_most_probable_classes() -> None:
    row = [[n, n / 100] for n in range(15)]  # more classes than there are slots
    packed = pack_class_scores([row, None])
    assert packed.shape == (2, 2 * CLASS_SLOTS)
    assert packed[0, :CLASS_SLOTS].tolist() == list(range(14, 4, -1))
    assert not packed[1].any()
    weights = np.ones(1000, np.float32)
    assert packed_scores(weights, packed)[0] == pytest.approx(sum(n / 100 for n in range(5, 15)))
