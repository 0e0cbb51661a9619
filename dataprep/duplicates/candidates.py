"""Candidate pairs of near-duplicate search: images whose pHash, mirrored pHash or one of whose
nine cropped pHashes lies within `threshold` bits of another image's pHash.

One multi-index hash table holds every distinct pHash (`HashIndex`: never all pairs compared), and
the search runs in parts of `PART_IMAGES` images' queries. Each part yields its pairs as arrays
(`PairBlock`), each pair exactly once over all the parts, with the smallest distance either way
round: a pair belongs to the part of its earlier image, unless only the later image's queries
reach the other one. So memory holds the table, the hashes (88 bytes an image) and one part's
pairs, never every pair at once (on 100k generated images whose pHashes crowd together, 16
million candidate pairs: 2 GB as one dict).

`candidate_pairs` is the one call duplicate search makes. The parts are independent (a part reads
only the `PairSearch`, whose arrays pickle), so with `--engine ray` they run as Ray tasks
(`dataprep.duplicates.ray_pairs.parts_on_engine`) and come back in the order they finish: the
search sorts the verified pairs it keeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from dataprep.duplicates.hash_index import HashIndex

if TYPE_CHECKING:
    import numpy as np

PART_IMAGES = 4096  # images whose queries one part of the search runs (each asks 11 pHashes)


class PairBlock(NamedTuple):
    """Candidate pairs (a < b, image positions; sorted by a, then b) and their pHash distance:
    the fewest bits between one image's pHash and the other's pHash, mirrored or cropped pHash."""

    a: np.ndarray
    b: np.ndarray
    bits: np.ndarray


@dataclass
class PairSearch:
    """The pair search over the images `units` (positions, ascending) of the `hashes` rows
    (`HashedImages.hashes`: each image's pHash, then its mirrored and cropped pHashes)."""

    hashes: np.ndarray
    units: np.ndarray
    threshold: int
    values: np.ndarray = field(init=False)  # the distinct pHashes, ascending
    holders: np.ndarray = field(init=False)  # positions in `units`, grouped by their pHash's value
    starts: np.ndarray = field(init=False)  # holders[starts[v]:starts[v + 1]] hold values[v]
    index: HashIndex = field(init=False)

    def __post_init__(self) -> None:
        import numpy as np

        self.values, which = np.unique(self.hashes[self.units, 0], return_inverse=True)
        self.holders = np.argsort(which, kind="stable")
        self.starts = np.concatenate([[0], np.cumsum(np.bincount(which, minlength=len(self.values)))])
        self.index = HashIndex(self.values)

    @property
    def parts(self) -> int:
        return 0 if len(self.units) < 2 else -(-len(self.units) // PART_IMAGES)

    def part(self, k: int) -> PairBlock:
        """The pairs that belong to part `k` of `parts` (see the module docstring)."""
        import numpy as np

        m = len(self.units)
        lo, hi = k * PART_IMAGES, min(m, (k + 1) * PART_IMAGES)
        queries = self.hashes[self.units[lo:hi]].ravel()
        qi, vj = self.index.query(queries, self.threshold)
        bits = np.bitwise_count(queries[qi] ^ self.values[vj]).astype(np.int64)
        asker, other, bits = self._holders(lo + qi // self.hashes.shape[1], vj, bits)
        # The closest of each asker's queries to each other image.
        key = asker * m + other
        order = np.lexsort((bits, key))
        key, bits = key[order], bits[order]
        first = np.ones(len(key), dtype=bool)
        first[1:] = key[1:] != key[:-1]
        asker, other, forward = key[first] // m, key[first] % m, bits[first]
        # The other way round: the other image's pHashes against the asker's pHash.
        ask_phash = self.hashes[self.units[asker], 0]
        backward = np.bitwise_count(self.hashes[self.units[other]] ^ ask_phash[:, None]).min(axis=1).astype(np.int64)
        mine = (asker < other) | (backward > self.threshold)  # else the other image's part has it
        asker, other = asker[mine], other[mine]
        a, b, distance = np.minimum(asker, other), np.maximum(asker, other), np.minimum(forward, backward)[mine]
        order = np.lexsort((b, a))
        return PairBlock(self.units[a[order]], self.units[b[order]], distance[order])

    def _holders(self, asker: np.ndarray, value: np.ndarray, bits: np.ndarray) -> tuple[np.ndarray, ...]:
        """(asker, other image, bits) for every image holding each found value, but the asker."""
        import numpy as np

        first = self.starts[value]
        count = self.starts[value + 1] - first
        offsets = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
        other = self.holders[np.repeat(first, count) + offsets]
        asker, bits = np.repeat(asker, count), np.repeat(bits, count)
        keep = other != asker
        return asker[keep].astype(np.int64), other[keep].astype(np.int64), bits[keep]


def candidate_pairs(hashes: np.ndarray, units: np.ndarray, threshold: int) -> Iterator[PairBlock]:
    """Every candidate pair among the images `units` (positions of `hashes`' rows), part by part:
    here, or as Ray tasks for an `--engine ray` command (`ray_pairs.parts_on_engine`)."""
    from dataprep.duplicates.ray_pairs import parts_on_engine

    search = PairSearch(hashes, units, threshold)
    if search.parts:
        search.index.prepare(threshold)  # the tables built once, before the search is shipped anywhere
    yield from parts_on_engine(search, search.parts, len(units) * hashes.shape[1])
