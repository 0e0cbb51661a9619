"""Every pair of 64-bit hashes within a few bits of each other, without comparing all pairs.

Multi-index hashing (Norouzi, Punjani & Fleet, 2012): each hash is cut into `m` pieces and each
piece indexes a table. If two hashes are at most T bits apart and piece k is probed at radius r_k
with sum(r_k + 1) > T, some piece differs by at most its r_k bits (generalised pigeonhole), so
probing every table at its radius finds every pair, and only hashes that share a nearby piece are
compared.

The layout is sized to the number of hashes n (`plan`): pieces of about log2(n) bits keep each
bucket near one hash, so the distances computed grow about linearly with n instead of with n^2
(fixed 16-bit pieces hold n / 65,536 hashes per bucket: quadratic past ~65k hashes). A cost
model (probes and distances per query) picks the number of pieces and each piece's radius;
`HashIndex(..., layout_for=N)` forces the layout chosen for N hashes (tests check a 10M-hash
layout against brute force on a few thousand).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations
from math import comb
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

HASH_BITS = 64
DENSE_BITS = 24  # pieces up to this wide get a direct-address bucket table; wider ones a sorted one
MAX_PIECES = 8
PROBE_COST = 1.0  # relative cost of one bucket look-up per query (direct table)
SORTED_PROBE_COST = 12.0  # ... through a binary search (pieces wider than DENSE_BITS)
DISTANCE_COST = 10.0  # ... of one candidate (gathers, xor, popcount; measured ~10-20x a missed look-up)
QUERY_BLOCK = 1 << 16  # queries probed together: small arrays that stay in cache
PAIR_BLOCK = 1 << 22  # candidates expanded together


@dataclass(frozen=True)
class Piece:
    """Bits [shift, shift + bits) of the hash, probed at `radius` bits."""

    shift: int
    bits: int
    radius: int


def plan(n: int, threshold: int) -> list[Piece]:
    """The cheapest layout for n indexed hashes and pairs up to `threshold` bits apart."""
    best: tuple[float, list[Piece]] | None = None
    for m in range(1, min(threshold + 1, MAX_PIECES) + 1):
        widths = [HASH_BITS // m + (1 if k < HASH_BITS % m else 0) for k in range(m)]
        radii = [0] * m
        for _ in range(threshold + 1 - m):  # greedy is optimal: each piece's cost is convex in its radius
            k = min(
                range(m), key=lambda k: _piece_cost(n, widths[k], radii[k] + 1) - _piece_cost(n, widths[k], radii[k])
            )
            radii[k] += 1
        cost = sum(_piece_cost(n, b, r) for b, r in zip(widths, radii, strict=True))
        if best is None or cost < best[0]:
            shifts = [sum(widths[:k]) for k in range(m)]
            best = (cost, [Piece(s, b, r) for s, b, r in zip(shifts, widths, radii, strict=True)])
    assert best is not None
    return best[1]


def _piece_cost(n: int, bits: int, radius: int) -> float:
    """Expected work per query for one piece: probes times (look-up + expected bucket size)."""
    probes = sum(comb(bits, k) for k in range(radius + 1))
    probe = PROBE_COST if bits <= DENSE_BITS else SORTED_PROBE_COST
    return probes * (probe + DISTANCE_COST * n / 2.0**bits)


def flip_masks(bits: int, radius: int) -> Iterator[int]:
    """Every value of `bits` bits with at most `radius` bits set (the probes around a piece)."""
    for k in range(radius + 1):
        for chosen in combinations(range(bits), k):
            yield sum(1 << b for b in chosen)


class _Table:
    """The indexed hashes ordered by one piece, with each piece value's bucket. A narrow piece
    gets a direct-address table: a one-byte occupancy map (the look-up that nearly always misses
    stays in cache) and 32-bit bucket starts (5 bytes per value of the piece: 21 MB for a 22-bit
    piece, which 100k hashes choose; int64 starts and a table of lone entries took 13)."""

    def __init__(self, hashes: np.ndarray, shift: int, bits: int) -> None:
        import numpy as np

        self.shift, self.bits = shift, bits
        values = self.piece(hashes)
        self.order = np.argsort(values, kind="stable")
        self.starts: np.ndarray | None = None
        self.sorted: np.ndarray | None = None
        if bits <= DENSE_BITS:
            self.occupied = np.zeros(1 << bits, dtype=bool)  # one byte per bucket
            self.occupied[values] = True
            ordered = values[self.order]
            self.starts = np.empty((1 << bits) + 1, dtype=np.int32 if len(values) < 2**31 else np.int64)
            for lo in range(0, 1 << bits, QUERY_BLOCK):  # in blocks: no 8-byte-per-bucket array, even for a moment
                buckets = np.arange(lo, min(lo + QUERY_BLOCK, 1 << bits), dtype=np.int64)
                self.starts[lo : lo + len(buckets)] = np.searchsorted(ordered, buckets, side="left")
            self.starts[-1] = len(values)
        else:
            self.sorted = values[self.order]

    def piece(self, hashes: np.ndarray) -> np.ndarray:
        """Each hash's piece (int64 for a direct-address table, else uint64)."""
        import numpy as np

        if self.bits >= HASH_BITS:
            return hashes
        out = (hashes >> np.uint64(self.shift)) & np.uint64((1 << self.bits) - 1)
        return out.astype(np.int64) if self.bits <= DENSE_BITS else out

    def probe(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For the keys whose bucket holds one hash: (key number, hash number); for those whose
        bucket holds more: (key number, first table position, entry count)."""
        import numpy as np

        if self.starts is not None:
            hit = np.flatnonzero(np.take(self.occupied, keys))
            k = keys[hit]
            first = self.starts[k].astype(np.int64)
            count = self.starts[k + 1] - first
            one = count == 1
            many = np.flatnonzero(~one)
            return hit[one], self.order[first[one]], hit[many], first[many], count[many]
        assert self.sorted is not None
        lo = np.searchsorted(self.sorted, keys, side="left")
        count = np.searchsorted(self.sorted, keys, side="right") - lo
        hit = np.flatnonzero(count)
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, hit, lo[hit], count[hit]


class HashIndex:
    """Multi-index hashing over 64-bit hashes (see the module docstring). `comparisons` counts
    the distances computed; `layout_for` plans the pieces as if there were that many hashes."""

    def __init__(self, hashes: Sequence[int] | np.ndarray, layout_for: int | None = None) -> None:
        import numpy as np

        self.hashes = hashes.astype(np.uint64, copy=False) if isinstance(hashes, np.ndarray) else _uint64(hashes)
        self.layout_for = layout_for
        self.comparisons = 0
        self._tables: dict[tuple[int, int], _Table] = {}

    def layout(self, threshold: int) -> list[Piece]:
        return plan(self.layout_for or len(self.hashes), threshold)

    def prepare(self, threshold: int) -> HashIndex:
        """Build every table a search at `threshold` probes (before the index is shipped whole to
        the workers of a cluster, so that none of them builds it again)."""
        for piece in self.layout(threshold):
            self._table(piece)
        return self

    def _table(self, piece: Piece) -> _Table:
        key = (piece.shift, piece.bits)
        if key not in self._tables:
            self._tables[key] = _Table(self.hashes, piece.shift, piece.bits)
        return self._tables[key]

    def _candidates(
        self, queries: np.ndarray, threshold: int, block: int, rows: range | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(query number, indexed number) blocks of every candidate sharing a probed bucket, for
        the queries numbered in `rows` (default: all)."""
        import numpy as np

        rows = range(len(queries)) if rows is None else rows
        for piece in self.layout(threshold):
            table = self._table(piece)
            for lo in range(rows.start, rows.stop, QUERY_BLOCK):
                pieces = table.piece(queries[lo : min(lo + QUERY_BLOCK, rows.stop)])
                keys = np.empty_like(pieces)
                for mask in flip_masks(piece.bits, piece.radius):
                    np.bitwise_xor(pieces, pieces.dtype.type(mask), out=keys)
                    one, alone, hit, first, count = table.probe(keys)
                    if len(one):  # buckets hold about one hash when the pieces fit n
                        yield one + lo, alone
                    if not len(hit):
                        continue
                    ends = np.cumsum(count)
                    a = 0
                    while a < len(hit):  # a crowded bucket never needs one huge array
                        b = max(int(np.searchsorted(ends, (ends[a - 1] if a else 0) + block, side="right")), a + 1)
                        qi, pos = _expand(hit[a:b], first[a:b], count[a:b])
                        yield qi + lo, table.order[pos]
                        a = b

    def query(
        self, queries: Sequence[int] | np.ndarray, threshold: int, block: int = PAIR_BLOCK,
        part: tuple[int, int] = (0, 1),
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """(query number, indexed number) for every indexed hash at most `threshold` bits from
        each of `queries` (hashes that are not in the index: mirrored and cropped pHashes), in
        order. `part` (k, K): only the queries in the k-th of K equal ranges (as `pairs_within`)."""
        import numpy as np

        q = queries.astype(np.uint64, copy=False) if isinstance(queries, np.ndarray) else _uint64(queries)
        n = len(self.hashes)
        if len(q) == 0 or n == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        found: list[np.ndarray] = []
        k, parts = part
        for qi, qj in self._candidates(q, threshold, block, range(len(q) * k // parts, len(q) * (k + 1) // parts)):
            self.comparisons += len(qi)
            close = np.bitwise_count(q[qi] ^ self.hashes[qj]) <= threshold
            found.append(qi[close].astype(np.int64) * n + qj[close])
        pair = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
        return pair // n, pair % n

    def pairs_within(
        self, threshold: int, block: int = PAIR_BLOCK, part: tuple[int, int] = (0, 1)
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every pair (i < j) of indexed hashes at most `threshold` bits apart, with the distance.
        `part` (k, K): only the pairs whose i is in the k-th of K equal ranges; the K parts are
        independent (the unit a cluster would spread) and together give every pair once."""
        import numpy as np

        n = len(self.hashes)
        if n < 2:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        found: list[np.ndarray] = []
        k, parts = part
        rows = range(n * k // parts, n * (k + 1) // parts)
        for qi, qj in self._candidates(self.hashes, threshold, block, rows):
            keep = qi < qj
            qi, qj = qi[keep], qj[keep]
            self.comparisons += len(qi)
            close = np.bitwise_count(self.hashes[qi] ^ self.hashes[qj]) <= threshold
            found.append(qi[close].astype(np.int64) * n + qj[close])
        pair = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
        i, j = pair // n, pair % n
        return i, j, np.bitwise_count(self.hashes[i] ^ self.hashes[j]).astype(np.int64)


def _uint64(values: Sequence[int]) -> np.ndarray:
    import numpy as np

    return np.fromiter((int(v) for v in values), dtype=np.uint64, count=len(values))


def _expand(queries: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(query, table position) for every entry of every query's bucket, vectorised."""
    import numpy as np

    total = int(counts.sum())
    qi = np.repeat(queries, counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return qi, np.repeat(starts, counts) + offsets
