"""Duplicate pairs and groups: the evidence records, and the verified pairs turned into groups.

A group is a set of files that are all pairwise verified (a clique of the pair graph, centred on
the file with the most verified copies: `pair_graph.clique_cover`): A~B and B~C with A and C
distinct give two groups of two, never a transitive group of three. `units` are the connected sets
(`split` places each as one piece, so no pair is torn across splits). Only files with a copy are
visited: the work and the memory grow with the duplicates, not with the folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from dataprep.duplicates.pair_graph import UnionFind, clique_cover
from dataprep.inspection.scan import natural_key

if TYPE_CHECKING:
    import numpy as np

    from dataprep.duplicates.hashed import HashedImages

Kind = Literal["exact", "pixels", "near", "mirrored", "semantic"]
KIND_ORDER: tuple[Kind, ...] = ("exact", "pixels", "near", "mirrored", "semantic")  # a group's kind: its loosest pair's


@dataclass(frozen=True)
class DuplicatePair:
    """Why two files are duplicates. `phash_distance`: bits between the pHashes that made them
    a candidate (the mirrored or cropped pHash when that was closer; for a semantic pair, between
    the plain pHashes); `similarity`: the thumbnails' detail correlation (1.0 for exact and pixel
    copies); `inliers`: local features one similarity transform maps onto each other, when the
    pair was verified geometrically (`dataprep.duplicates.geometric_match`); `cosine`: the embeddings'
    similarity of a semantic pair."""

    a: str
    b: str
    kind: Kind
    phash_distance: int
    similarity: float
    inliers: int | None = None
    cosine: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"a": self.a, "b": self.b, "kind": self.kind, "phash_distance": self.phash_distance,
                               "similarity": round(self.similarity, 3)}  # fmt: skip
        if self.inliers is not None:
            out["inliers"] = self.inliers
        if self.cosine is not None:
            out["cosine"] = round(self.cosine, 3)
        return out

    def describe(self) -> str:
        """What kind of copy this is, in words, with its evidence."""
        if self.kind == "exact":
            return "exact copy (same bytes)"
        if self.kind == "pixels":
            return "same pixels (another encoding)"
        geometric = f", {self.inliers} matching local features" if self.inliers is not None else ""
        if self.kind == "semantic":
            return f"look-alike copy (cropped, rotated or recoloured{geometric}; embedding similarity {self.cosine or 0:.2f})"
        what = "mirrored copy" if self.kind == "mirrored" else "near copy"
        return f"{what} (similarity {self.similarity:.2f}, pHash distance {self.phash_distance}{geometric})"


@dataclass(frozen=True)
class DuplicateMember:
    path: str
    distance: int  # pHash bits from the group's first member (its evidence pair's); 0 for an exact copy


@dataclass
class DuplicateGroup:
    """Files that are all pairwise copies of one another. The first member (natural order) is
    the reference; `pairs` is the evidence; `unit` names the connected set it belongs to."""

    kind: Kind
    members: list[DuplicateMember]
    pairs: list[DuplicatePair] = field(default_factory=list)
    unit: str = ""

    @property
    def paths(self) -> list[str]:
        return [m.path for m in self.members]

    @property
    def distance(self) -> int:
        return max(m.distance for m in self.members)

    @property
    def similarity(self) -> float:
        return min((p.similarity for p in self.pairs), default=1.0)

    def between(self, a: str, b: str) -> DuplicatePair | None:
        """The evidence that members `a` and `b` are copies: their pair, or, for copies of one
        unit's files (same bytes or pixels), the pair between the units' first files."""
        pairs = {frozenset((p.a, p.b)): p for p in self.pairs}
        if (found := pairs.get(frozenset((a, b)))) is not None:
            return found
        head = {p.b: p.a for p in self.pairs if p.kind in ("exact", "pixels")}
        ha, hb = head.get(a, a), head.get(b, b)
        if ha != hb:
            return pairs.get(frozenset((ha, hb)))
        kinds = {pairs[frozenset((ha, m))].kind for m in (a, b) if m != ha}
        return DuplicatePair(a, b, "exact" if kinds == {"exact"} else "pixels", 0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "distance": self.distance,
            "similarity": round(self.similarity, 3),
            "members": [{"path": m.path, "distance": m.distance} for m in self.members],
            "pairs": [p.to_dict() for p in self.pairs],
        }


@dataclass
class DuplicateSearch:
    """All that `search_duplicates` found: the groups, and the units `split` places as one piece
    (every connected set of pairs, so that no pair is ever torn across splits)."""

    groups: list[DuplicateGroup]
    units: list[list[str]]
    candidates: int = 0  # candidate pairs verified


Edges = dict[tuple[int, int], DuplicatePair]  # (image, image) -> the verified pair between two units' first images


def unit_roots(images: HashedImages) -> np.ndarray:
    """Each image's unit, named by its first image: images with the same bytes or the same decoded
    pixels are one unit (and only the unit's first image is searched and verified)."""
    import numpy as np

    same = UnionFind(len(images))
    for firsts in (images.same_bytes, images.same_pixels):
        for k in np.flatnonzero((firsts >= 0) & (firsts != np.arange(len(images)))).tolist():
            same.union(int(firsts[k]), k)
    return same.roots()


def grouped(images: HashedImages, unit_of: np.ndarray, edges: Edges, candidates: int) -> DuplicateSearch:
    """Groups (cliques of verified pairs, with the copies of each unit) and units (connected sets)."""
    import numpy as np

    n = len(images)
    linked = UnionFind(n)
    for k in np.flatnonzero(unit_of != np.arange(n)).tolist():
        linked.union(int(unit_of[k]), k)
    adjacent: dict[int, set[int]] = {}
    for a, b in edges:
        adjacent.setdefault(a, set()).add(b)
        adjacent.setdefault(b, set()).add(a)
        linked.union(a, b)
    sets = linked.roots()
    in_sets = np.flatnonzero(np.bincount(sets, minlength=n)[sets] > 1)  # files with a copy, ascending
    in_sets = in_sets[np.argsort(sets[in_sets], kind="stable")]
    groups: list[DuplicateGroup] = []
    units: list[list[str]] = []
    for files in np.split(in_sets, np.flatnonzero(np.diff(sets[in_sets])) + 1) if len(in_sets) else []:
        found, unit = _connected_set(images, files.tolist(), unit_of, adjacent, edges)
        units.append(unit)
        groups += found
    groups = [g for g in groups if len(g.members) > 1]
    groups.sort(key=lambda g: (natural_key(g.members[0].path), [natural_key(p) for p in g.paths]))
    units.sort(key=lambda u: natural_key(u[0]))
    return DuplicateSearch(groups, units, candidates)


def _connected_set(
    images: HashedImages, files: list[int], unit_of: np.ndarray, adjacent: dict[int, set[int]], edges: Edges
) -> tuple[list[DuplicateGroup], list[str]]:
    """The groups of one connected set (`files`: ascending positions) and its paths in natural order."""
    members_of: dict[int, list[int]] = {}
    for m in files:
        members_of.setdefault(int(unit_of[m]), []).append(m)
    comp = sorted(members_of)  # the units' first images
    ordered = sorted((m for k in comp for m in members_of[k]), key=lambda m: natural_key(images.paths[m]))
    unit = [images.paths[m] for m in ordered]
    cliques = clique_cover(comp, {k: adjacent[k] for k in comp}) if len(comp) > 1 else [comp]
    return [_group(images, clique, members_of, edges, unit[0]) for clique in cliques], unit


def _group(
    images: HashedImages, clique: list[int], members_of: dict[int, list[int]], edges: Edges, unit: str
) -> DuplicateGroup:
    """One group: the files of the clique's units, with every pair's evidence."""
    paths = images.paths
    files = sorted((m for k in clique for m in members_of[k]), key=lambda m: natural_key(paths[m]))
    ref = files[0]
    pairs: list[DuplicatePair] = []
    for k in clique:
        head = members_of[k][0]
        for m in members_of[k][1:]:
            kind: Kind = "exact" if images.same_bytes[m] == images.same_bytes[head] else "pixels"
            pairs.append(DuplicatePair(paths[head], paths[m], kind, 0, 1.0))
    for i, a in enumerate(clique):
        for b in clique[i + 1 :]:
            pairs.append(edges[(min(a, b), max(a, b))])
    evidence = {frozenset((p.a, p.b)): p for p in pairs}
    out = [DuplicateMember(paths[ref], 0)]
    for m in files[1:]:
        pair = evidence.get(frozenset((paths[ref], paths[m])))
        out.append(DuplicateMember(paths[m], pair.phash_distance if pair is not None else _distance(images, m, ref)))
    kinds = {p.kind for p in pairs}
    kind = next(k for k in reversed(KIND_ORDER) if k in kinds) if kinds else "exact"
    pairs.sort(key=lambda p: (natural_key(p.a), natural_key(p.b)))
    return DuplicateGroup(kind, out, pairs, unit)


def _distance(images: HashedImages, m: int, ref: int) -> int:
    """pHash bits between a member and its group's reference, without a pair between them:
    0 for the same pixels (or when a pHash is unknown)."""
    if not (images.has_phash[m] and images.has_phash[ref]) or images.same_pixels[m] == images.same_pixels[ref]:
        return 0
    return (int(images.hashes[m, 0]) ^ int(images.hashes[ref, 0])).bit_count()
