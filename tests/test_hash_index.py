"""The hash index finds exactly the pairs that comparing every pair finds, with the layouts it
chooses for a few hundred hashes up to 10M (forced with `layout_for` on a few thousand)."""

from __future__ import annotations

import numpy as np
import pytest

from dataprep.duplicates.hash_index import HashIndex, plan


def random_hashes(n: int, seed: int, planted: int) -> np.ndarray:
    """Uniform 64-bit hashes, `planted` of them near copies (1-14 bits flipped) of another."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
    for k in range(planted):
        h = int(hashes[rng.integers(0, n)])
        for bit in rng.choice(64, size=int(rng.integers(1, 15)), replace=False):
            h ^= 1 << int(bit)
        hashes[k] = h
    hashes[planted] = hashes[planted + 1]  # one exact repeat
    return hashes


def brute_pairs(hashes: np.ndarray, threshold: int) -> set[tuple[int, int, int]]:
    d = np.bitwise_count(hashes[:, None] ^ hashes[None, :])
    i, j = np.nonzero(np.triu(d <= threshold, k=1))
    return set(zip(i.tolist(), j.tolist(), d[i, j].tolist(), strict=True))


@pytest.mark.parametrize("layout_for", [None, 100_000, 1_000_000, 10_000_000])
@pytest.mark.parametrize(("n", "threshold"), [(300, 0), (1500, 6), (2500, 10), (2500, 12), (1200, 16)])
def test_pairs_within_equals_brute_force(n: int, threshold: int, layout_for: int | None) -> None:
    hashes = random_hashes(n, seed=n + threshold, planted=n // 10)
    index = HashIndex(hashes, layout_for=layout_for)
    i, j, d = index.pairs_within(threshold, block=4099)  # small blocks exercise the blocking
    found = set(zip(i.tolist(), j.tolist(), d.tolist(), strict=True))
    assert found == brute_pairs(hashes, threshold)
    assert len(found) >= (1 if threshold == 0 else n // 40)  # planted copies are in reach: the test can fail


@pytest.mark.parametrize("layout_for", [None, 10_000_000])
def test_query_equals_brute_force(layout_for: int | None) -> None:
    hashes = random_hashes(2000, seed=1, planted=0)
    rng = np.random.default_rng(2)
    queries = hashes[rng.integers(0, len(hashes), size=600)].copy()
    for k in range(len(queries)):  # mirrored/cropped pHashes sit a few bits from the original's
        for bit in rng.choice(64, size=int(rng.integers(0, 14)), replace=False):
            queries[k] ^= np.uint64(1 << int(bit))
    index = HashIndex(hashes.tolist(), layout_for=layout_for)
    qi, vj = index.query(queries.tolist(), 12)
    d = np.bitwise_count(queries[:, None] ^ hashes[None, :])
    want = set(zip(*(x.tolist() for x in np.nonzero(d <= 12)), strict=True))
    assert set(zip(qi.tolist(), vj.tolist(), strict=True)) == want
    assert len(want) > 300


def test_layout_grows_with_the_number_of_hashes() -> None:
    """Pieces widen with n (buckets stay near one hash) and the radii always cover the threshold."""
    for threshold in (0, 10, 12, 24):
        widths = []
        for n in (1_000, 100_000, 10_000_000):
            pieces = plan(n, threshold)
            assert sum(p.bits for p in pieces) == 64
            assert sum(p.radius + 1 for p in pieces) == threshold + 1
            widths.append(min(p.bits for p in pieces))
        assert widths == sorted(widths)
    assert min(p.bits for p in plan(10_000_000, 10)) >= 21


def test_wide_pieces_compute_few_distances_per_hash() -> None:
    """At 100k uniform hashes the planned layout computes a few dozen distances per hash; the
    fixed 16-bit pieces it replaced (n / 65,536 hashes per bucket, quadratic) compute several times more."""
    hashes = random_hashes(100_000, seed=3, planted=1000)
    planned, narrow = HashIndex(hashes), HashIndex(hashes, layout_for=5000)
    assert min(p.bits for p in narrow.layout(10)) == 16
    assert planned.pairs_within(10)[0].tolist() == narrow.pairs_within(10)[0].tolist()
    assert planned.comparisons < 150 * len(hashes)
    assert narrow.comparisons > 3 * planned.comparisons


def test_parts_together_give_every_pair_once() -> None:
    hashes = np.random.default_rng(6).permutation(random_hashes(3000, seed=5, planted=400))
    whole = HashIndex(hashes).pairs_within(10)
    index = HashIndex(hashes)
    parts = [index.pairs_within(10, part=(k, 4)) for k in range(4)]
    for name, column in enumerate(whole):
        assert np.concatenate([p[name] for p in parts]).tolist() == column.tolist()
    assert sum(1 for p in parts if len(p[0])) >= 2  # the pairs really are spread over parts


def test_query_parts_together_give_the_whole_answer_in_order() -> None:
    hashes = random_hashes(3000, seed=7, planted=300)
    near, far = hashes[:500] ^ np.uint64(0b101), random_hashes(400, seed=8, planted=0)
    queries = np.random.default_rng(9).permutation(np.concatenate([near, far]))
    whole = HashIndex(hashes).query(queries, 8)
    index = HashIndex(hashes).prepare(8)
    parts = [index.query(queries, 8, part=(k, 3)) for k in range(3)]
    for name, column in enumerate(whole):
        assert np.concatenate([p[name] for p in parts]).tolist() == column.tolist()
    assert len(whole[0]) >= 500 and all(len(p[0]) for p in parts)  # every part answers some queries
