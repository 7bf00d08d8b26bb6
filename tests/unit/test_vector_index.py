"""The in-memory vector index: exact nearest neighbours per tenant, against a brute-force sort."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from scopix.server.services.vector_index import VectorIndex

DIMENSIONS = 4

vectors = arrays(
    np.float32, DIMENSIONS, elements=st.floats(-1, 1, width=32).filter(lambda v: abs(v) > 1e-3)
)


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, np.float32)
    return vector / np.linalg.norm(vector)


def brute_force(rows: dict[str, np.ndarray], query: np.ndarray, exclude: set[str]) -> list[float]:
    """Every kept row's cosine, best first: what nearest must agree with."""
    q = query / np.linalg.norm(query)
    return sorted(
        (float(v @ q / np.linalg.norm(v)) for k, v in rows.items() if k not in exclude),
        reverse=True,
    )


@given(
    rows=st.dictionaries(st.text("abcdefgh", min_size=1, max_size=3), vectors, max_size=40),
    query=vectors,
    k=st.integers(0, 45),
    excluded=st.sets(st.text("abcdefgh", min_size=1, max_size=3), max_size=5),
)
def test_nearest_equals_a_brute_force_sort(
    rows: dict[str, np.ndarray], query: np.ndarray, k: int, excluded: set[str]
) -> None:
    index = VectorIndex(DIMENSIONS)
    ids = list(rows)
    index.put("t", ids, np.array([rows[i] for i in ids]).reshape(-1, DIMENSIONS))
    found = index.nearest("t", query, k, exclude=excluded)
    expected = brute_force(rows, query, excluded)[:k]
    assert [score for _, score in found] == pytest.approx(expected, abs=1e-5)
    assert len({row_id for row_id, _ in found}) == len(found)
    for row_id, score in found:
        assert row_id not in excluded
        assert score == pytest.approx(
            brute_force({row_id: rows[row_id]}, query, set())[0], abs=1e-5
        )


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 30), vectors), max_size=120))
def test_puts_and_removes_keep_every_row_findable(
    operations: list[tuple[bool, int, np.ndarray]],
) -> None:
    """A model dict replays the same puts and removes; the index must hold exactly its rows,
    each with its own payload (here: the row's number and the put's turn) beside its score."""
    index = VectorIndex(DIMENSIONS, payload_width=2)
    model: dict[str, tuple[np.ndarray, list[float]]] = {}
    for turn, (is_put, number, vector) in enumerate(operations):
        row_id = f"f{number}"
        if is_put:
            index.put("t", [row_id], vector[np.newaxis], [[number, turn]])
            model[row_id] = (vector / np.linalg.norm(vector), [number, turn])
        else:
            index.remove("t", [row_id])
            model.pop(row_id, None)
    assert index.count("t") == len(index) == len(model)
    query = np.ones(DIMENSIONS, np.float32)
    # The bonus makes each score tell which payload sat beside which vector.
    found = index.nearest("t", query, 100, bonus=lambda p: 10 * p[:, 0] + 1000 * p[:, 1])
    assert sorted(row_id for row_id, _ in found) == sorted(model)
    for row_id, score in found:
        vector, (number, turn) = model[row_id]
        cosine = float(vector @ query) / 2
        assert score == pytest.approx(cosine + 10 * number + 1000 * turn, abs=1e-2)
    for row_id, (vector, _) in model.items():
        stored = index.get("t", row_id)
        assert stored is not None
        np.testing.assert_allclose(stored, vector, atol=1e-6)


def test_a_batch_grows_the_matrix_only_for_new_rows() -> None:
    index = VectorIndex(2)
    ids = [f"f{n}" for n in range(100)]
    index.put("t", ids, np.ones((100, 2), np.float32))
    capacity = index._tenants["t"].matrix.shape[0]
    index.put("t", ids, np.ones((100, 2), np.float32))  # the same rows again: replaced in place
    assert index._tenants["t"].matrix.shape[0] == capacity
    assert index.count("t") == 100


def test_payloads_default_to_zeros_and_are_replaced() -> None:
    index = VectorIndex(2, payload_width=3)
    index.put("t", ["x"], unit(1, 0)[np.newaxis], [[1, 2, 3]])
    index.put("t", ["x", "y"], np.array([unit(1, 0), unit(0, 1)]))
    seen: list[list[list[float]]] = []
    index.nearest("t", unit(1, 0), 2, bonus=lambda p: seen.append(p.tolist()) or np.zeros(len(p)))
    assert seen == [[[0, 0, 0], [0, 0, 0]]]


def test_tenants_are_apart() -> None:
    index = VectorIndex(2)
    index.put("a", ["x"], unit(1, 0)[np.newaxis])
    index.put("b", ["y", "z"], np.array([unit(0, 1), unit(1, 1)]))
    assert (index.count("a"), index.count("b"), index.count("c"), len(index)) == (1, 2, 0, 3)
    assert [row_id for row_id, _ in index.nearest("a", unit(0, 1), 5)] == ["x"]
    assert index.nearest("c", unit(0, 1), 5) == []
    assert index.get("a", "y") is None


def test_scores_are_cosines_and_put_replaces() -> None:
    index = VectorIndex(2)
    index.put("t", ["x", "y"], np.array([[3, 0], [0, 2]], np.float32))  # scaled to unit length
    found = index.nearest("t", np.array([1, 1], np.float32), 2)
    assert found == [("x", pytest.approx(0.7071068)), ("y", pytest.approx(0.7071068))]
    index.put("t", ["x"], np.array([[0, -1]], np.float32))
    assert index.count("t") == 2
    (first, high), (second, low) = index.nearest("t", unit(0, 1), 2)
    assert (first, second) == ("y", "x")
    assert (high, low) == pytest.approx((1, -1))


def test_a_bonus_reorders_the_nearest() -> None:
    index = VectorIndex(2, payload_width=1)
    index.put("t", ["near", "far"], np.array([unit(1, 0), unit(0, 1)]), [[0], [5]])
    found = index.nearest("t", unit(1, 0), 1, bonus=lambda p: p[:, 0])
    assert found == [("far", pytest.approx(5))]


def test_exclude_and_a_zero_vector() -> None:
    index = VectorIndex(2)
    index.put("t", ["self", "other", "blank"], np.array([unit(1, 0), unit(1, 1), [0, 0]]))
    nearest = index.nearest("t", unit(1, 0), 3, exclude={"self", "gone"})
    assert nearest == [("other", pytest.approx(0.7071068)), ("blank", 0.0)]


def test_growth_keeps_rows_across_many_batches() -> None:
    index = VectorIndex(8)
    rng = np.random.default_rng(7)
    batches = [rng.normal(size=(n, 8)).astype(np.float32) for n in (1, 63, 1, 200, 500)]
    for number, batch in enumerate(batches):
        index.put("t", [f"{number}-{i}" for i in range(len(batch))], batch)
    last = batches[-1][-1]
    assert index.count("t") == sum(len(b) for b in batches)
    ((found, score),) = index.nearest("t", last, 1)
    assert found == f"4-{len(batches[-1]) - 1}" and score == pytest.approx(1)


@pytest.mark.parametrize(
    ("ids", "vectors"),
    [(["x"], np.zeros((1, 3), np.float32)), (["x", "y"], np.zeros((1, 2), np.float32))],
)
def test_mismatched_input_is_refused(ids: list[str], vectors: np.ndarray) -> None:
    with pytest.raises(ValueError):
        VectorIndex(2).put("t", ids, vectors)


def test_removing_the_last_row_forgets_the_tenant() -> None:
    index = VectorIndex(2)
    index.put("t", ["x"], unit(1, 0)[np.newaxis])
    index.remove("t", ["x", "never"])
    index.remove("nobody", ["x"])
    assert len(index) == 0 and index.nearest("t", unit(1, 0), 1) == []


# --- quantized ----------------------------------------------------------------------------------


def test_an_id_twice_in_one_batch_keeps_its_last_vector() -> None:
    index = VectorIndex(2, payload_width=1)
    index.put("t", ["x", "y", "x"], np.array([unit(1, 0), unit(0, 1), unit(1, 1)]), [[1], [2], [3]])
    assert index.count("t") == 2
    row = index.get_with_payload("t", "x")
    assert row is not None
    np.testing.assert_allclose(row[0], unit(1, 1))
    assert row[1].tolist() == [3]
    assert index.get_with_payload("t", "z") is None


#: int8 with a scale per row: each component of a unit row less the centre (at most 2 long) is
#: off by at most half a step, 2/254, so a cosine with a unit query by sqrt(d) * 2/254. Refined
#: rows round that error again, to half of its own step: the int8 bound over 127, plus float32's
#: own rounding.
COMPONENT_ERROR = {"int8": 2 / 254, "refined": 2 / 254 / 127 + 1e-5}


@given(
    rows=st.dictionaries(st.text("abcdefgh", min_size=1, max_size=3), vectors, max_size=40),
    query=vectors,
    kind=st.sampled_from(sorted(COMPONENT_ERROR)),
)
def test_quantized_scores_stay_within_a_bound_of_the_exact_ones(
    rows: dict[str, np.ndarray], query: np.ndarray, kind: str
) -> None:
    index = VectorIndex(DIMENSIONS, quantized=True, refined=kind == "refined")
    ids = list(rows)
    index.put("t", ids, np.array([rows[i] for i in ids]).reshape(-1, DIMENSIONS))
    error = COMPONENT_ERROR[kind]
    for row_id, score in index.nearest("t", query, len(rows)):
        exact = brute_force({row_id: rows[row_id]}, query, set())[0]
        assert score == pytest.approx(exact, abs=np.sqrt(DIMENSIONS) * error)
        stored = index.get("t", row_id)
        assert stored is not None
        expected = rows[row_id] / np.linalg.norm(rows[row_id])
        np.testing.assert_allclose(stored, expected, atol=error + 1e-6)


def test_quantized_rows_take_a_quarter_of_the_memory_and_find_the_same_neighbours() -> None:
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(5000, 384)).astype(np.float32)
    exact, quantized = VectorIndex(384), VectorIndex(384, quantized=True)
    ids = [str(n) for n in range(len(matrix))]
    exact.put("t", ids, matrix)
    quantized.put("t", ids, matrix)
    assert quantized.nbytes() < exact.nbytes() * 0.3
    # Queries near a row, as a search for something described is: the top 10 barely move.
    queries = matrix[:50] + rng.normal(size=(50, 384)).astype(np.float32)
    found = [
        len(
            {i for i, _ in exact.nearest("t", q, 10)}
            & {i for i, _ in quantized.nearest("t", q, 10)}
        )
        for q in queries
    ]
    assert sum(found) / (10 * len(queries)) >= 0.98


def test_refined_rows_tell_near_duplicates_apart() -> None:
    """Clusters of rows a little noise apart (a library of near-identical descriptions): int8
    alone reorders them, the refined rows find what float32 finds."""
    rng = np.random.default_rng(11)
    centres = rng.normal(size=(40, 384)).astype(np.float32)
    noise = rng.normal(size=(4000, 384)).astype(np.float32) * 0.3 / np.sqrt(384)
    matrix = centres[np.arange(4000) % 40] / np.sqrt(384) + noise
    ids = [str(n) for n in range(len(matrix))]
    found = {}
    for kind, index in {
        "int8": VectorIndex(384, quantized=True),
        "refined": VectorIndex(384, quantized=True, refined=True),
    }.items():
        exact = VectorIndex(384)
        for target in (exact, index):
            target.put("t", ids, matrix)
        queries = centres[:30] / np.sqrt(384) + noise[:30] / 3
        found[kind] = np.mean(
            [
                len(
                    {i for i, _ in exact.nearest("t", q, 10)}
                    & {i for i, _ in index.nearest("t", q, 10)}
                )
                / 10
                for q in queries
            ]
        )
    assert found["int8"] < 0.99
    assert found["refined"] >= 0.995


def test_refined_rows_take_half_the_memory_of_float32() -> None:
    matrix = np.random.default_rng(2).normal(size=(1000, 384)).astype(np.float32)
    ids = [str(n) for n in range(len(matrix))]
    exact, refined = VectorIndex(384), VectorIndex(384, quantized=True, refined=True)
    exact.put("t", ids, matrix)
    refined.put("t", ids, matrix)
    assert refined.nbytes() < exact.nbytes() * 0.55


def test_quantized_removal_moves_the_scale_with_the_row() -> None:
    index = VectorIndex(2, quantized=True)
    index.put("t", ["small", "big"], np.array([[0.001, 0], [0, 1000]], np.float32))
    index.remove("t", ["small"])
    stored = index.get("t", "big")
    assert stored is not None
    np.testing.assert_allclose(stored, unit(0, 1), atol=1e-6)


# --- rows kept outside the index ----------------------------------------------------------------


@given(
    kept=st.lists(st.tuples(st.integers(0, 30), vectors), min_size=1, max_size=40),
    later=st.lists(st.tuples(st.booleans(), st.integers(0, 40), vectors), max_size=40),
    kind=st.sampled_from(["float32", "int8", "refined"]),
)
def test_adopted_rows_answer_and_change_as_the_index_they_came_from(
    kept: list[tuple[int, np.ndarray]],
    later: list[tuple[bool, int, np.ndarray]],
    kind: str,
) -> None:
    """An index that adopted another's rows (a snapshot read back) then replays the same puts
    and removes: both must answer every query alike, payloads included."""
    quantized, refined = kind != "float32", kind == "refined"
    original = VectorIndex(DIMENSIONS, payload_width=1, quantized=quantized, refined=refined)
    for number, vector in kept:
        original.put("t", [f"f{number}"], vector[np.newaxis], [[number]])
    rows = original.rows("t")
    assert rows is not None
    adopted = VectorIndex(DIMENSIONS, payload_width=1, quantized=quantized, refined=refined)
    adopted.adopt("t", rows)
    for index in (original, adopted):
        for is_put, number, vector in later:
            if is_put:
                index.put("t", [f"f{number}"], vector[np.newaxis], [[number]])
            else:
                index.remove("t", [f"f{number}"])
    query = np.ones(DIMENSIONS, np.float32)
    assert adopted.count("t") == original.count("t")
    assert adopted.nearest("t", query, 50, bonus=lambda p: p[:, 0]) == original.nearest(
        "t", query, 50, bonus=lambda p: p[:, 0]
    )


def test_rows_are_a_copy_and_adopt_refuses_rows_of_another_shape() -> None:
    index = VectorIndex(2, payload_width=1, quantized=True)
    index.put("t", ["x", "y"], np.array([unit(1, 0), unit(0, 1)]), [[1], [2]])
    rows = index.rows("t")
    assert rows is not None and rows.ids == ["x", "y"] and index.rows("nobody") is None
    rows.matrix[:] = 0
    assert index.get("t", "x") == pytest.approx(unit(1, 0), abs=0.01)
    with pytest.raises(ValueError):
        VectorIndex(3, payload_width=1, quantized=True).adopt("t", rows)
    with pytest.raises(ValueError):
        VectorIndex(2, payload_width=1).adopt("t", rows)  # int8 rows into a float32 index
    with pytest.raises(ValueError):
        VectorIndex(2, payload_width=1, quantized=True).adopt("t", replace(rows, ids=["x", "x"]))
    with pytest.raises(ValueError):  # int8 rows without their rounding errors
        VectorIndex(2, payload_width=1, quantized=True, refined=True).adopt("t", rows)
    with pytest.raises(ValueError):
        VectorIndex(2, refined=True)  # float32 rows have no rounding to refine


@pytest.mark.parametrize("kind", ["float32", "int8", "refined"])
def test_rows_past_the_first_capacity_read_back(kind: str) -> None:
    """Rows that grew the arrays (past the first 64) read back as put, exact or quantized."""
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(200, 8)).astype(np.float32)
    index = VectorIndex(8, quantized=kind != "float32", refined=kind == "refined")
    index.put("t", [f"f{n}" for n in range(200)], vectors)
    for n in (0, 63, 64, 199):
        stored = index.get("t", f"f{n}")
        assert stored is not None
        np.testing.assert_allclose(stored, vectors[n] / np.linalg.norm(vectors[n]), atol=0.02)
