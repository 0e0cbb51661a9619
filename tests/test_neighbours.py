"""Nearest neighbours over unit vectors: the blocked search and the index agree with plain brute force."""

from __future__ import annotations

import numpy as np
import pytest

from dataprep.embeddings import neighbours
from dataprep.embeddings.neighbours import faiss_available, nearest_neighbours, neighbours_between


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    v = rng.standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _clustered(rng: np.random.Generator, n: int, d: int, clusters: int = 20) -> np.ndarray:
    """Vectors around a few centres, like embeddings of a few classes (random ones have no structure)."""
    centres = _unit(rng, clusters, d)
    v = centres[rng.integers(0, clusters, n)] + 0.35 * _unit(rng, n, d)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _reference(queries: np.ndarray, base: np.ndarray, k: int, exclude_self: bool) -> tuple[np.ndarray, np.ndarray]:
    """The whole similarity matrix, sorted: what the blocked search must equal."""
    sims = queries.astype(np.float64) @ base.T.astype(np.float64)
    if exclude_self:
        np.fill_diagonal(sims, -np.inf)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(sims, order, axis=1)


@pytest.mark.parametrize("block", [1, 7, 64, None])
def test_blocked_search_equals_brute_force(block: int | None) -> None:
    rng = np.random.default_rng(0)
    v = _unit(rng, 300, 32)
    idx, sims = nearest_neighbours(v, 5, block=block)
    ref_idx, ref_sims = _reference(v, v, 5, exclude_self=True)
    assert idx.dtype == np.int64 and sims.dtype == np.float32 and idx.shape == (300, 5)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(sims, ref_sims, atol=1e-5)
    assert not np.any(idx == np.arange(300)[:, None])  # never its own neighbour


def test_include_self_makes_each_row_its_own_first_neighbour() -> None:
    v = _unit(np.random.default_rng(1), 50, 8)
    idx, sims = nearest_neighbours(v, 3, exclude_self=False)
    np.testing.assert_array_equal(idx[:, 0], np.arange(50))
    np.testing.assert_allclose(sims[:, 0], 1.0, atol=1e-5)


def test_identical_vectors_are_neighbours_and_ties_go_to_the_lower_index() -> None:
    rng = np.random.default_rng(2)
    v = _unit(rng, 20, 16)
    v[5] = v[3]
    v[9] = v[3]
    idx, sims = nearest_neighbours(v, 2, block=4)
    assert list(idx[3]) == [5, 9] and list(idx[5]) == [3, 9] and list(idx[9]) == [3, 5]
    np.testing.assert_allclose(sims[3], 1.0, atol=1e-5)


def test_neighbours_between_two_sets() -> None:
    rng = np.random.default_rng(3)
    train, test = _unit(rng, 200, 24), _unit(rng, 40, 24)
    test[7] = train[123]  # a leaked copy
    idx, sims = neighbours_between(test, train, 4, block=9)
    ref_idx, ref_sims = _reference(test, train, 4, exclude_self=False)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(sims, ref_sims, atol=1e-5)
    assert idx[7, 0] == 123 and sims[7, 0] == pytest.approx(1.0, abs=1e-5)


def test_k_is_cut_to_the_candidates() -> None:
    v = _unit(np.random.default_rng(4), 4, 8)
    idx, _ = nearest_neighbours(v, 10)
    assert idx.shape == (4, 3)
    assert sorted(idx[0]) == [1, 2, 3]
    idx, _ = neighbours_between(v[:2], v, 10)
    assert idx.shape == (2, 4)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="2-D"):
        nearest_neighbours(np.zeros(5, dtype=np.float32), 2)
    with pytest.raises(ValueError, match="k must be at least 1"):
        nearest_neighbours(np.zeros((5, 2), dtype=np.float32), 0)
    with pytest.raises(ValueError, match="dimensions"):
        neighbours_between(np.zeros((2, 3)), np.zeros((4, 5)), 1)


def test_the_block_bounds_the_similarity_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory is never n × n: each matrix product covers at most BLOCK_SIMILARITIES similarities."""
    monkeypatch.setattr(neighbours, "BLOCK_SIMILARITIES", 1000)
    widths: list[int] = []
    real_top_k = neighbours._top_k

    def spy(sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        widths.append(sims.size)
        return real_top_k(sims, k)

    monkeypatch.setattr(neighbours, "_top_k", spy)
    v = _unit(np.random.default_rng(5), 500, 8)
    idx, _ = nearest_neighbours(v, 3)
    assert max(widths) <= 1000 and len(widths) == 250  # 2 rows of 500 per block
    np.testing.assert_array_equal(idx, _reference(v, v, 3, exclude_self=True)[0])


@pytest.mark.skipif(not faiss_available(), reason="faiss-cpu is not installed")
def test_the_index_beyond_the_limit_finds_what_brute_force_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(neighbours, "BRUTE_FORCE_LIMIT", 500)
    rng = np.random.default_rng(6)
    v = _clustered(rng, 3000, 64)
    idx, sims = nearest_neighbours(v, 10)  # beyond the (lowered) limit: the HNSW index
    ref_idx, _ = _reference(v, v, 10, exclude_self=True)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx, ref_idx)])
    assert recall >= 0.95
    assert not np.any(idx == np.arange(3000)[:, None])
    assert np.all(np.diff(sims, axis=1) <= 1e-6)  # highest first
    q = _clustered(rng, 100, 64)
    idx_b, _ = neighbours_between(q, v, 5)
    ref_b, _ = _reference(q, v, 5, exclude_self=False)
    assert np.mean([len(set(a) & set(b)) / 5 for a, b in zip(idx_b, ref_b)]) >= 0.95


def test_parts_of_whole_blocks_stack_into_the_whole_search(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(neighbours, "BLOCK_SIMILARITIES", 500 * 40)  # blocks of 40 rows
    vectors = _clustered(np.random.default_rng(3), 500, 16)
    whole = nearest_neighbours(vectors, 5, method="brute")
    parts = [neighbours.nearest_neighbours_part(vectors, 5, (p, 4)) for p in range(4)]
    assert [len(p[0]) for p in parts] == [120, 120, 120, 140]  # 13 blocks: 3, 3, 3 and 4 of them
    for column in range(2):
        np.testing.assert_array_equal(np.concatenate([p[column] for p in parts]), whole[column])
