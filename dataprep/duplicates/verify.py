"""The verification step: which candidate pairs show one photo.

Each hash candidate is compared on its 32x32 gray thumbnails, aligned over crops, mirror images and
small rotations (`dataprep.duplicates.similarity`): the correlation of the fine detail must reach
`similarity` and the colours must agree; one verified below `GEOMETRIC_BELOW` must also match on
local features when OpenCV is installed (`geometric_match`). Each `semantic` candidate (embedding
neighbours) is judged by local features alone.

The thumbnails come from each image's signature, decoded when a pair first names the image and
kept prepared (~94 KB each) in a least-recently-used cache of `PREPARED_KEPT`: the memory is that
cache's, whatever the number of images or pairs. The pairs of one image come together in the
candidates' order, so a miss mostly costs a second preparation of a partner seen long before.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from dataprep.duplicates.groups import DuplicatePair, Edges, Kind
from dataprep.duplicates.hash_index import HASH_BITS
from dataprep.duplicates.pair_graph import UnionFind

if TYPE_CHECKING:
    import numpy as np

    from dataprep.duplicates.candidates import PairBlock
    from dataprep.duplicates.geometric_match import GeometricVerifier
    from dataprep.duplicates.hashed import HashedImages
    from dataprep.duplicates.semantic import Candidate
    from dataprep.duplicates.similarity import Prepared

GEOMETRIC_BELOW = 0.8  # hash candidates verified below this similarity must also match geometrically
# (when OpenCV is installed): different dandelions of flower_photos reach 0.50-0.56 on thumbnails.
CLOSE_UP_TO = 16  # units in a connected set whose missing pairs --semantic checks (at most 120 checks)
PREPARED_KEPT = 256  # prepared thumbnails kept (~24 MB); a miss costs about two comparisons' time


class PreparedThumbnails:
    """Each image's prepared gray thumbnail and its colour thumbnail, from its signature on first
    use, the last `capacity` used kept."""

    def __init__(self, images: HashedImages, capacity: int | None = None) -> None:
        self.images = images
        self.capacity = max(2, PREPARED_KEPT if capacity is None else capacity)  # a pair's two images are held at once
        self.kept: OrderedDict[int, tuple[Prepared, np.ndarray]] = OrderedDict()
        self.prepared = 0  # misses: thumbnails prepared

    def __getitem__(self, k: int) -> tuple[Prepared, np.ndarray]:
        from dataprep.duplicates.similarity import prepare

        found = self.kept.get(k)
        if found is not None:
            self.kept.move_to_end(k)
            return found
        signature = self.images.signature(k)
        found = self.kept[k] = (prepare(signature.thumbnail_array()), signature.colour_array())
        self.prepared += 1
        if len(self.kept) > self.capacity:
            self.kept.popitem(last=False)
        return found


def near_edges(
    images: HashedImages, blocks: Iterable[PairBlock], similarity: float, verifier: GeometricVerifier | None
) -> tuple[Edges, int]:
    """The verified near and mirrored pairs among the candidate `blocks` (in (a, b) order), and
    how many candidates were verified."""
    thumbnails = PreparedThumbnails(images)
    edges: Edges = {}
    candidates = 0
    for block in blocks:
        candidates += len(block.a)
        for a, b, bits in zip(block.a.tolist(), block.b.tolist(), block.bits.tolist(), strict=True):
            pair = _verified(images, thumbnails, (a, b, bits), similarity, verifier)
            if pair is not None:
                edges[(a, b)] = pair
    return dict(sorted(edges.items())), candidates


def _verified(
    images: HashedImages, thumbnails: PreparedThumbnails, candidate: tuple[int, int, int], similarity: float,
    verifier: GeometricVerifier | None,
) -> DuplicatePair | None:  # fmt: skip
    from dataprep.duplicates.similarity import colours_agree, compare

    a, b, bits = candidate
    (pa, colour_a), (pb, colour_b) = thumbnails[a], thumbnails[b]
    match = compare(pa, pb)
    if match.similarity < similarity or not colours_agree(colour_a, colour_b, match):
        return None
    inliers = None
    if verifier is not None and match.similarity < GEOMETRIC_BELOW:
        # A thumbnail cannot tell two dandelions apart at this similarity; their keypoints can.
        geometric = verifier.verify(images.paths[a], images.paths[b], mirrored=match.mirrored)
        if geometric.decided and not geometric.same_photo:
            return None
        inliers = geometric.inliers if geometric.decided else None
    kind: Kind = "mirrored" if match.mirrored else "near"
    return DuplicatePair(images.paths[a], images.paths[b], kind, bits, match.similarity, inliers)


def semantic_edges(
    images: HashedImages, unit_of: np.ndarray, searchable: np.ndarray, semantic: Sequence[Candidate],
    verifier: GeometricVerifier, edges: Edges,
) -> None:  # fmt: skip
    """Add a `semantic` pair for each embedding candidate between two units that the hashes did
    not already link and that the geometric verifier accepts. Then, inside each connected set
    that gained one (up to `CLOSE_UP_TO` units), every pair not yet verified is checked too: the
    neighbours propose a copy's original, not always its sibling copies, and a group needs all."""
    wanted = {path for c in semantic for path in (c.a, c.b)}
    index = {path: k for k, path in enumerate(images.paths) if path in wanted}
    checked: set[tuple[int, int]] = set()
    for c in semantic:
        if c.a not in index or c.b not in index:
            continue  # a file validate left out (empty, unreadable)
        a, b = sorted((int(unit_of[index[c.a]]), int(unit_of[index[c.b]])))
        if a != b and (a, b) not in edges and (a, b) not in checked:
            checked.add((a, b))
            _add_semantic(images, searchable, verifier, edges, (a, b), c.cosine)
    linked = UnionFind(len(images))
    for a, b in edges:
        linked.union(a, b)
    sets: dict[int, set[int]] = {}
    for (a, _), p in edges.items():
        if p.kind == "semantic":
            sets.setdefault(linked.find(a), set())
    for a, b in edges:
        if (root := linked.find(a)) in sets:
            sets[root] |= {a, b}
    for members in sets.values():
        if len(members) <= CLOSE_UP_TO:
            for a, b in itertools.combinations(sorted(members), 2):
                if (a, b) not in edges and (a, b) not in checked:
                    _add_semantic(images, searchable, verifier, edges, (a, b), None)


def _add_semantic(
    images: HashedImages, searchable: np.ndarray, verifier: GeometricVerifier, edges: Edges, pair: tuple[int, int],
    cosine: float | None,
) -> None:  # fmt: skip
    from dataprep.duplicates.similarity import compare_thumbnails

    a, b = pair
    geometric = verifier.verify(images.paths[a], images.paths[b])
    if not geometric.same_photo:
        return
    detail = 0.0
    if searchable[a] and searchable[b]:
        detail = compare_thumbnails(
            images.signature(a).thumbnail_array(), images.signature(b).thumbnail_array()
        ).similarity
    bits = HASH_BITS
    if images.has_phash[a] and images.has_phash[b]:
        bits = (int(images.hashes[a, 0]) ^ int(images.hashes[b, 0])).bit_count()
    edges[(a, b)] = DuplicatePair(images.paths[a], images.paths[b], "semantic", bits, detail, geometric.inliers, cosine)
