"""Nearest neighbours over L2-normalised vectors by cosine similarity, never quadratic in memory.

Every judgment made from embeddings (label agreement, outliers, look-alike duplicates, leakage
between splits) starts from each image's nearest neighbours. On unit vectors cosine similarity is
the dot product, so up to ``BRUTE_FORCE_LIMIT`` base vectors the answer is exact brute force: one
matrix product per block of queries, the block sized so it holds at most ``BLOCK_SIMILARITIES``
similarities (64 MB of float32) whatever the dataset's size, and only the top k of each row kept.

Beyond that, brute force is still linear in memory but quadratic in time (200k × 200k × 1280
multiply-adds), so the search goes to an approximate index: faiss' HNSW graph on inner product
(`faiss-cpu`, Meta's library: maintained, one wheel, no dependency but numpy); the measured
choice against faiss' exact flat index and scikit-learn's NearestNeighbors is in BENCHMARKS.md
"Neighbour search". When faiss is not installed the blocked brute
force still answers (exactly, just slower): nothing here needs faiss to be correct.

Results are deterministic: rows are ordered by similarity, highest first, ties broken by the lower
index. ``k`` larger than the number of candidates is cut to it.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Literal

import numpy as np

BRUTE_FORCE_LIMIT = 100_000  # base vectors up to which the exact blocked search is used
BLOCK_SIMILARITIES = 1 << 24  # similarities held at once: 16M float32 = 64 MB per block
HNSW_LINKS = 32  # faiss HNSW graph degree (M): recall ≥ 0.99 at k=10 on embeddings, see BENCHMARKS.md
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128

Method = Literal["auto", "brute", "hnsw"]


def faiss_available() -> bool:
    """Whether the faiss index can be used for searches beyond ``BRUTE_FORCE_LIMIT``."""
    return importlib.util.find_spec("faiss") is not None


def nearest_neighbours(
    vectors: np.ndarray,
    k: int,
    *,
    exclude_self: bool = True,
    block: int | None = None,
    method: Method = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """The k most similar other vectors of each row: ``(indices (n,k) int64, similarities (n,k) float32)``.

    With ``exclude_self`` a row is never its own neighbour (an identical vector elsewhere still is).
    ``block`` is the number of query rows per matrix product (default: as many as fit in
    ``BLOCK_SIMILARITIES``).
    """
    base = _as_matrix(vectors, "vectors")
    k = _clamp_k(k, base.shape[0] - (1 if exclude_self else 0))
    if _use_index(method, base.shape[0]):
        return _hnsw_search(base, base, k, exclude_self=exclude_self)
    return _blocked_search(base, base, k, exclude_self=exclude_self, block=block)


def neighbours_between(
    queries: np.ndarray,
    base: np.ndarray,
    k: int,
    *,
    block: int | None = None,
    method: Method = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """The k most similar rows of ``base`` for each row of ``queries`` (e.g. test images against train).

    Indices point into ``base``; the two sets are taken as disjoint (no row is excluded).
    """
    q = _as_matrix(queries, "queries")
    b = _as_matrix(base, "base")
    if q.shape[1] != b.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} dimensions and base {b.shape[1]}; embed both with one model")
    k = _clamp_k(k, b.shape[0])
    if _use_index(method, b.shape[0]):
        return _hnsw_search(q, b, k, exclude_self=False)
    return _blocked_search(q, b, k, exclude_self=False, block=block)


def _as_matrix(vectors: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(vectors)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n × d), got shape {array.shape}")
    return np.ascontiguousarray(array, dtype=np.float32)


def _clamp_k(k: int, candidates: int) -> int:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return max(0, min(k, candidates))


def _use_index(method: Method, n_base: int) -> bool:
    if method == "brute":
        return False
    if method == "hnsw":
        if not faiss_available():
            raise ValueError("method='hnsw' needs faiss: pip install faiss-cpu")
        return True
    return n_base > BRUTE_FORCE_LIMIT and faiss_available()


def nearest_neighbours_part(vectors: np.ndarray, k: int, part: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The exact (blocked) `nearest_neighbours(vectors, k, method="brute")` rows of part (p, P):
    the p-th of P runs of whole blocks, so each row comes from the same matrix product as in the
    whole search. The P parts are independent (a cluster's unit) and, stacked, are the whole answer."""
    base = _as_matrix(vectors, "vectors")
    k = _clamp_k(k, base.shape[0] - 1)
    rows = max(1, BLOCK_SIMILARITIES // max(1, base.shape[0]))
    blocks = -(-base.shape[0] // rows)
    p, parts = part
    lo, hi = blocks * p // parts * rows, min(base.shape[0], blocks * (p + 1) // parts * rows)
    return _blocked_search(base[lo:hi], base, k, exclude_self=True, block=None, first=lo)


def _blocked_search(
    queries: np.ndarray, base: np.ndarray, k: int, *, exclude_self: bool, block: int | None, first: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by one matrix product per block of query rows, only the top k of a block kept.
    `first`: the row of `base` that `queries[0]` is (for `exclude_self` on a part of the rows)."""
    n = queries.shape[0]
    indices = np.empty((n, k), dtype=np.int64)
    similarities = np.empty((n, k), dtype=np.float32)
    if k == 0 or n == 0:
        return indices, similarities
    rows = block if block is not None else max(1, BLOCK_SIMILARITIES // max(1, base.shape[0]))
    if rows < 1:
        raise ValueError(f"block must be at least 1, got {block}")
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        sims = queries[start:stop] @ base.T
        if exclude_self:
            local = np.arange(stop - start)
            sims[local, first + start + local] = -np.inf
        indices[start:stop], similarities[start:stop] = _top_k(sims, k)
    return indices, similarities


def _top_k(sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest of each row, highest first, ties by the lower column (a stable sort on -sim)."""
    if k < sims.shape[1]:
        # argpartition keeps an arbitrary member of a tie at the cut (identical images give identical
        # vectors): a block with such a tie is sorted whole, stably, so the lower index wins.
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        kth = np.take_along_axis(sims, part, axis=1).min(axis=1, keepdims=True)
        if np.any((sims == kth).sum(axis=1) > 1):
            return _top_k_stable(sims, k)
        cand = part
    else:
        cand = np.broadcast_to(np.arange(sims.shape[1]), sims.shape)
    cand_sims = np.take_along_axis(sims, cand, axis=1)
    order = np.lexsort((cand, -cand_sims), axis=1)[:, :k]
    return np.take_along_axis(cand, order, axis=1).astype(np.int64), np.take_along_axis(cand_sims, order, axis=1)


def _top_k_stable(sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top k with ties broken by the lower column, for blocks where ties reach the cut (rare: copies)."""
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return order.astype(np.int64), np.take_along_axis(sims, order, axis=1)


def _hnsw_search(queries: np.ndarray, base: np.ndarray, k: int, *, exclude_self: bool) -> tuple[np.ndarray, np.ndarray]:
    """Approximate top-k from faiss' HNSW graph on inner product (cosine on unit vectors)."""
    import faiss  # optional dependency: only beyond BRUTE_FORCE_LIMIT or when asked for

    index: Any = faiss.IndexHNSWFlat(base.shape[1], HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.hnsw.efSearch = max(HNSW_EF_SEARCH, 2 * (k + 1))
    index.add(base)
    extra = 1 if exclude_self else 0
    sims, found = index.search(queries, k + extra)
    if exclude_self:
        found, sims = _drop_self(found, sims, k)
    return found.astype(np.int64), sims.astype(np.float32)


def _drop_self(found: np.ndarray, sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove each row's own index from k+1 hits (or the last hit where the graph missed itself)."""
    rows = np.arange(found.shape[0])[:, None]
    is_self = found == rows
    missing = ~is_self.any(axis=1)
    is_self[missing, -1] = True
    keep = ~is_self
    return found[keep].reshape(-1, k), sims[keep].reshape(-1, k)
