"""Exact and near-duplicate groups, and train/val/test leakage, from validate's results.

`find_duplicates` is pure: it reads what every FileResult carries from the one decode validate
makes (sha256, pixel hash, pHash and the `NearSignature`) and finds pairs in two steps:

1. Candidates. Files with the same bytes or the same decoded pixels are one unit. Between units,
   a multi-index hash table (`HashIndex`) finds every pHash within `threshold` bits of another
   file's pHash, of its mirrored pHash (flipped copies) or of one of its nine 90% crops' pHashes
   (cropped and straightened copies), never by comparing all pairs, so 100k images take seconds.
2. Verification. Each candidate pair is compared on its 32x32 gray thumbnails, aligned over
   crops, mirror images and small rotations (`dataprep.duplicates.similarity`): the correlation of the fine
   detail must reach `similarity`. A 64-bit pHash alone cannot tell a copy from a different photo
   of a similar scene; the detail can.

A group is a set of files that are all pairwise verified (a clique of the pair graph, centred
on the file with the most verified copies: `_clique_cover`): A~B and B~C with A and C distinct
give two groups of two, never a transitive group of three. `split` places each connected set of
pairs as one unit (so nothing leaks); `duplicates --json` lists every pair with its kind (exact,
pixels, near, mirrored) and both signals.

Defaults, measured on the pets-800 photos with 13 planted edits of 100 of them
(benchmarks/duplicates_bench.py, BENCHMARKS.md): planted copies (resized, re-compressed, cropped
5-10%, brightened/darkened, grayscale, hue-shifted, mirrored, rotated 5 degrees) score 0.50-1.0
similarity (5th percentile 0.80); the most similar two distinct photos among the 800 score 0.36.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dataprep.base.defaults import DEFAULT_SIMILARITY as _DEFAULT_SIMILARITY
from dataprep.base.defaults import DEFAULT_THRESHOLD_BITS, THRESHOLD_RANGE_BITS
from dataprep.base.errors import DataprepError
from dataprep.duplicates.hash_index import HASH_BITS, HashIndex
from dataprep.duplicates.pair_graph import UnionFind as _UnionFind
from dataprep.duplicates.pair_graph import clique_cover as _clique_cover
from dataprep.inspection.scan import SPLIT_ROLES, natural_key, split_role

if TYPE_CHECKING:
    from dataprep.duplicates.geometric_match import GeometricVerifier
    from dataprep.duplicates.semantic import Candidate
    from dataprep.inspection.checks.image_properties import NearSignature
    from dataprep.inspection.report import FileResult
    from dataprep.inspection.validate import ValidateOptions
    from dataprep.inspection.validate_stream import StreamedReport

DEFAULT_THRESHOLD = DEFAULT_THRESHOLD_BITS  # pHash bits for a candidate pair (direct, mirrored or cropped pHash)
MAX_THRESHOLD = THRESHOLD_RANGE_BITS[
    1
]  # beyond this, the candidates are mostly unrelated photos (distinct photos sit 12-40 bits apart)
DEFAULT_SIMILARITY = _DEFAULT_SIMILARITY  # detail correlation a candidate needs to be a near duplicate
REPORT_VERSION = 2

Kind = Literal["exact", "pixels", "near", "mirrored", "semantic"]
KIND_ORDER: tuple[Kind, ...] = ("exact", "pixels", "near", "mirrored", "semantic")  # a group's kind: its loosest pair's
CLOSE_UP_TO = 16  # units in a connected set whose missing pairs --semantic checks (at most 120 checks)
GEOMETRIC_BELOW = 0.8  # hash candidates verified below this similarity must also match geometrically
# (when OpenCV is installed): different dandelions of flower_photos reach 0.50-0.56 on thumbnails.


# --- pairs and groups --------------------------------------------------------------------------


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


def check_threshold(threshold: int) -> int:
    if not 0 <= threshold <= MAX_THRESHOLD:
        raise DataprepError(
            f"--threshold {threshold} is out of range; expected 0-{MAX_THRESHOLD} bits of the 64-bit pHash "
            f"(default {DEFAULT_THRESHOLD}; 0 finds only copies whose pHash, mirrored or cropped pHash is equal)"
        )
    return threshold


def check_similarity(similarity: float) -> float:
    if not 0.0 <= similarity <= 1.0:
        raise DataprepError(
            f"--similarity {similarity} is out of range; expected a number in [0, 1] "
            f"(default {DEFAULT_SIMILARITY}; higher finds only closer copies)"
        )
    return similarity


@dataclass
class DuplicateSearch:
    """All that `search_duplicates` found: the groups, and the units `split` places as one piece
    (every connected set of pairs, so that no pair is ever torn across splits)."""

    groups: list[DuplicateGroup]
    units: list[list[str]]
    candidates: int = 0  # candidate pairs verified


def search_duplicates(
    results: Sequence[FileResult],
    threshold: int = DEFAULT_THRESHOLD,
    similarity: float = DEFAULT_SIMILARITY,
    *,
    verifier: GeometricVerifier | None = None,
    semantic: Sequence[Candidate] = (),
) -> DuplicateSearch:
    """Exact and near duplicates among `results` (see the module docstring). Deterministic.

    With a `verifier` (`dataprep.duplicates.geometric_match.GeometricVerifier` over the results' folder),
    a hash candidate verified below `GEOMETRIC_BELOW` similarity must also match geometrically,
    and each `semantic` candidate (embedding neighbours: `dataprep.duplicates.semantic`) that it
    accepts becomes a `semantic` pair. Without one, the search is pure (no file is read)."""
    from dataprep.inspection.checks.image_properties import NearSignature

    check_threshold(threshold)
    check_similarity(similarity)
    if semantic and verifier is None:
        raise ValueError("semantic candidates are judged by a geometric verifier; pass one")
    items = sorted((r for r in results if r.sha256 is not None and r.size > 0), key=lambda r: natural_key(r.rel))
    # Units: same bytes or same decoded pixels.
    same = _UnionFind(len(items))
    for key in ("sha256", "pixel_hash"):
        first: dict[str, int] = {}
        for k, r in enumerate(items):
            value = getattr(r, key)
            if value is not None:
                same.union(first.setdefault(value, k), k)
    reps = [k for k in range(len(items)) if same.find(k) == k]
    signatures = {k: NearSignature.decode(text) for k in reps if items[k].phash and (text := items[k].signature)}
    edges, candidates = _hash_edges(items, signatures, threshold, similarity, verifier)
    if semantic and verifier is not None:
        _semantic_edges(items, same, signatures, semantic, verifier, edges)
    return _grouped(items, same, reps, edges, candidates)


def _hash_candidates(
    items: list[FileResult], signatures: dict[int, NearSignature], threshold: int
) -> dict[tuple[int, int], int]:
    """(unit, unit) -> pHash bits, for every pair whose direct, mirrored or cropped pHash is
    within `threshold` bits of the other's pHash (the multi-index `HashIndex`, never all pairs)."""
    searchable = list(signatures)
    best: dict[tuple[int, int], int] = {}
    if len(searchable) < 2:
        return best
    values = sorted({int(items[k].phash, 16) for k in searchable})  # type: ignore[arg-type]
    position = {v: i for i, v in enumerate(values)}
    holders: dict[int, list[int]] = {}
    for k in searchable:
        holders.setdefault(position[int(items[k].phash, 16)], []).append(k)  # type: ignore[arg-type]
    queries: list[int] = []
    asker: list[int] = []  # the unit of each query
    for k in searchable:
        sig = signatures[k]
        for h in [items[k].phash, sig.mirror_phash, *sig.crop_phashes]:
            queries.append(int(h, 16))  # type: ignore[arg-type]
            asker.append(k)
    qi, vj = HashIndex(values).query(queries, threshold)
    for q, v in zip(qi.tolist(), vj.tolist(), strict=True):
        k = asker[q]
        bits = (queries[q] ^ values[v]).bit_count()
        for j in holders[v]:
            if j != k:
                pair = (min(k, j), max(k, j))
                best[pair] = min(best.get(pair, HASH_BITS), bits)
    return best


def _hash_edges(
    items: list[FileResult], signatures: dict[int, NearSignature], threshold: int, similarity: float,
    verifier: GeometricVerifier | None,
) -> tuple[dict[tuple[int, int], DuplicatePair], int]:  # fmt: skip
    """The verified near and mirrored pairs between units, and how many candidates were verified."""
    from dataprep.duplicates.similarity import Prepared, colours_agree, compare, prepare

    best = _hash_candidates(items, signatures, threshold)
    edges: dict[tuple[int, int], DuplicatePair] = {}
    prepared: dict[int, Prepared] = {}
    for (a, b), bits in sorted(best.items()):
        pa = prepared.get(a) or prepared.setdefault(a, prepare(signatures[a].thumbnail_array()))
        pb = prepared.get(b) or prepared.setdefault(b, prepare(signatures[b].thumbnail_array()))
        match = compare(pa, pb)
        if match.similarity < similarity or not colours_agree(
            signatures[a].colour_array(), signatures[b].colour_array(), match
        ):
            continue
        inliers = None
        if verifier is not None and match.similarity < GEOMETRIC_BELOW:
            # A thumbnail cannot tell two dandelions apart at this similarity; their keypoints can.
            geometric = verifier.verify(items[a].rel, items[b].rel, mirrored=match.mirrored)
            if geometric.decided and not geometric.same_photo:
                continue
            inliers = geometric.inliers if geometric.decided else None
        kind: Kind = "mirrored" if match.mirrored else "near"
        edges[(a, b)] = DuplicatePair(items[a].rel, items[b].rel, kind, bits, match.similarity, inliers)
    return edges, len(best)


def _semantic_edges(
    items: list[FileResult], same: _UnionFind, signatures: dict[int, NearSignature], semantic: Sequence[Candidate],
    verifier: GeometricVerifier, edges: dict[tuple[int, int], DuplicatePair],
) -> None:  # fmt: skip
    """Add a `semantic` pair for each embedding candidate between two units that the hashes did
    not already link and that the geometric verifier accepts. Then, inside each connected set
    that gained one (up to `CLOSE_UP_TO` units), every pair not yet verified is checked too: the
    neighbours propose a copy's original, not always its sibling copies, and a group needs all."""
    from dataprep.duplicates.similarity import compare_thumbnails
    from dataprep.inspection.checks.image_properties import hamming

    def add(a: int, b: int, cosine: float | None) -> None:
        geometric = verifier.verify(items[a].rel, items[b].rel)
        if not geometric.same_photo:
            return
        sa, sb = signatures.get(a), signatures.get(b)
        detail = compare_thumbnails(sa.thumbnail_array(), sb.thumbnail_array()).similarity if sa and sb else 0.0
        pa, pb = items[a].phash, items[b].phash
        bits = hamming(pa, pb) if pa and pb else HASH_BITS
        edges[(a, b)] = DuplicatePair(items[a].rel, items[b].rel, "semantic", bits, detail, geometric.inliers, cosine)

    index = {r.rel: k for k, r in enumerate(items)}
    checked: set[tuple[int, int]] = set()
    for c in semantic:
        if c.a not in index or c.b not in index:
            continue  # a file validate left out (empty, unreadable)
        a, b = sorted((same.find(index[c.a]), same.find(index[c.b])))
        if a != b and (a, b) not in edges and (a, b) not in checked:
            checked.add((a, b))
            add(a, b, c.cosine)
    linked = _UnionFind(len(items))
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
                    add(a, b, None)


def _grouped(
    items: list[FileResult], same: _UnionFind, reps: list[int], edges: dict[tuple[int, int], DuplicatePair],
    candidates: int,
) -> DuplicateSearch:  # fmt: skip
    """Groups (cliques of verified pairs, with the copies of each unit) and units (connected sets)."""
    from dataprep.inspection.checks.image_properties import hamming

    members_of: dict[int, list[int]] = {}
    for k in range(len(items)):
        members_of.setdefault(same.find(k), []).append(k)
    adjacent: dict[int, set[int]] = {k: set() for k in reps}
    linked = _UnionFind(len(items))
    for a, b in edges:
        adjacent[a].add(b)
        adjacent[b].add(a)
        linked.union(a, b)
    components: dict[int, list[int]] = {}
    for k in reps:
        components.setdefault(linked.find(k), []).append(k)

    groups: list[DuplicateGroup] = []
    units: list[list[str]] = []
    for comp in components.values():
        files = sorted((m for k in comp for m in members_of[k]), key=lambda m: natural_key(items[m].rel))
        if len(files) < 2:
            continue
        unit = items[files[0]].rel
        units.append([items[m].rel for m in files])
        for clique in _clique_cover(comp, adjacent) if len(comp) > 1 else [comp]:
            groups.append(_group(items, clique, members_of, edges, unit, hamming))
    groups = [g for g in groups if len(g.members) > 1]
    groups.sort(key=lambda g: (natural_key(g.members[0].path), [natural_key(p) for p in g.paths]))
    units.sort(key=lambda u: natural_key(u[0]))
    return DuplicateSearch(groups, units, candidates)


def _group(items: list[FileResult], clique: list[int], members_of: dict[int, list[int]],
           edges: dict[tuple[int, int], DuplicatePair], unit: str, hamming: Any) -> DuplicateGroup:  # fmt: skip
    """One group: the files of the clique's units, with every pair's evidence."""
    files = sorted((m for k in clique for m in members_of[k]), key=lambda m: natural_key(items[m].rel))
    ref = items[files[0]]
    pairs: list[DuplicatePair] = []
    for k in clique:
        head = items[members_of[k][0]]
        for m in members_of[k][1:]:
            kind: Kind = "exact" if items[m].sha256 == head.sha256 else "pixels"
            pairs.append(DuplicatePair(head.rel, items[m].rel, kind, 0, 1.0))
    for i, a in enumerate(clique):
        for b in clique[i + 1 :]:
            pairs.append(edges[(min(a, b), max(a, b))])
    evidence = {frozenset((p.a, p.b)): p for p in pairs}
    out = []
    for m in files:
        r = items[m]
        if r is ref:
            out.append(DuplicateMember(r.rel, 0))
            continue
        pair = evidence.get(frozenset((ref.rel, r.rel)))
        if pair is not None:
            out.append(DuplicateMember(r.rel, pair.phash_distance))
        elif r.phash and ref.phash:
            out.append(DuplicateMember(r.rel, 0 if r.pixel_hash == ref.pixel_hash else hamming(r.phash, ref.phash)))
        else:
            out.append(DuplicateMember(r.rel, 0))
    kinds = {p.kind for p in pairs}
    kind = next(k for k in reversed(KIND_ORDER) if k in kinds) if kinds else "exact"
    pairs.sort(key=lambda p: (natural_key(p.a), natural_key(p.b)))
    return DuplicateGroup(kind, out, pairs, unit)


def find_duplicates(
    results: Sequence[FileResult], threshold: int = DEFAULT_THRESHOLD, similarity: float = DEFAULT_SIMILARITY
) -> list[DuplicateGroup]:
    """Groups of exact and near duplicates among `results`, each in natural path order, groups
    ordered by their first member. Pure and deterministic."""
    return search_duplicates(results, threshold, similarity).groups


def search_folder(
    root: Path, results: Sequence[FileResult], threshold: int = DEFAULT_THRESHOLD,
    similarity: float = DEFAULT_SIMILARITY, *, semantic: bool = False, options: ValidateOptions | None = None,
) -> DuplicateSearch:  # fmt: skip
    """`search_duplicates` over the validate `results` of the folder `root`: low-similarity near
    copies are checked geometrically when OpenCV is installed, and with `semantic` the embedding
    neighbours are candidates too (`dataprep.duplicates.semantic`: needs OpenCV, TensorFlow and
    the backbone's weights; each missing piece is a one-line error naming its install command)."""
    from dataprep.duplicates.geometric_match import GeometricVerifier, cv2_available, require_cv2

    if semantic:
        require_cv2("--semantic")
    verifier = GeometricVerifier(root) if cv2_available() else None
    candidates: list[Candidate] = []
    if semantic:
        from dataprep.duplicates.semantic import embedding_candidates

        candidates = embedding_candidates(root, options)
    return search_duplicates(results, threshold, similarity, verifier=verifier, semantic=candidates)


# --- leakage -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Leak:
    """A duplicate group whose members sit in more than one split."""

    kind: Kind
    paths: list[str]
    splits: list[str]
    distance: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "paths": self.paths, "splits": self.splits, "distance": self.distance}


def split_of(rel: str) -> str | None:
    top = rel.split("/", 1)[0]
    return top if split_role(top) is not None else None  # train|training, val|valid|validation|dev, test|testing


def find_leaks(groups: Sequence[DuplicateGroup]) -> list[Leak]:
    """The groups that cross splits: the same photo (or a near copy) in train and in val/test."""
    leaks = []
    for g in groups:
        splits = {s for p in g.paths if (s := split_of(p)) is not None}
        if len(splits) > 1:
            leaks.append(
                Leak(
                    g.kind,
                    g.paths,
                    sorted(splits, key=lambda s: list(SPLIT_ROLES).index(split_role(s) or "")),
                    g.distance,
                )
            )
    return leaks


# --- reports (validate, then group) ------------------------------------------------------------


@dataclass
class DuplicatesReport:
    root: Path
    threshold: int
    files: int
    groups: list[DuplicateGroup] = field(default_factory=list)
    similarity: float = DEFAULT_SIMILARITY
    semantic: bool = False  # embedding neighbours were candidates too (--semantic)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "root": str(self.root),
            "threshold": self.threshold,
            "similarity": self.similarity,
            "semantic": self.semantic,
            "files": self.files,
            "groups": [g.to_dict() for g in self.groups],
        }


@dataclass
class LeakageReport:
    root: Path
    threshold: int
    files: int
    leaks: list[Leak] = field(default_factory=list)
    similarity: float = DEFAULT_SIMILARITY
    semantic: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "root": str(self.root),
            "threshold": self.threshold,
            "similarity": self.similarity,
            "semantic": self.semantic,
            "files": self.files,
            "leaks": [leak.to_dict() for leak in self.leaks],
        }


def duplicates_report(
    root: str | os.PathLike[str], threshold: int = DEFAULT_THRESHOLD, validate_options: ValidateOptions | None = None,
    similarity: float = DEFAULT_SIMILARITY, semantic: bool = False,
) -> DuplicatesReport:  # fmt: skip
    """Validate `root` (cached results are reused: no second decode) and group its duplicates
    (with `semantic`, also the look-alike copies that embedding neighbours propose)."""
    check_threshold(threshold)
    check_similarity(similarity)
    check_semantic_ready(semantic)
    with _hashed_run(root, validate_options) as (run, images):
        found = search_folder(run.root, images, threshold, similarity, semantic=semantic, options=validate_options)
        return DuplicatesReport(run.root, threshold, run.images, found.groups, similarity, semantic)


@contextmanager
def _hashed_run(
    root: str | os.PathLike[str], validate_options: ValidateOptions | None
) -> Iterator[tuple[StreamedReport, list[FileResult]]]:
    """Validate `root` into a run file and hand over its images' hashes (no findings, no image
    properties: most of a result's memory), closing the run file after."""
    from dataprep.inspection.validate import ValidateOptions
    from dataprep.inspection.validate_stream import validate_streamed

    run = validate_streamed(root, validate_options or ValidateOptions(), keep_hashes=True)
    try:
        yield run, list(run.hashed_images())
    finally:
        run.store.close()


def check_semantic_ready(semantic: bool) -> None:
    """Before any work: --semantic without OpenCV or the backbone's weights is one line naming
    the install command."""
    if semantic:
        from dataprep.duplicates.geometric_match import require_cv2
        from dataprep.embeddings.backbone import BACKBONE, resolve_weights

        require_cv2("--semantic")
        resolve_weights(BACKBONE, "imagenet")


def leakage_report(
    out: str | os.PathLike[str], threshold: int = DEFAULT_THRESHOLD, validate_options: ValidateOptions | None = None,
    similarity: float = DEFAULT_SIMILARITY, semantic: bool = False,
) -> LeakageReport:  # fmt: skip
    """Every duplicate group of the split folder `out` whose members sit in more than one split."""
    from dataprep.inspection.scan import scan_dataset

    check_threshold(threshold)
    check_similarity(similarity)
    check_semantic_ready(semantic)
    scan = scan_dataset(out)
    if scan.layout != "split":
        raise DataprepError(
            f"'{scan.root}' is not a split folder (expected OUT/{{train,val,test}}/CLASS/*, as `dataprep split` writes); "
            "pass the split's OUT folder, or use `dataprep duplicates` for a raw folder"
        )
    with _hashed_run(out, validate_options) as (run, images):
        found = search_folder(run.root, images, threshold, similarity, semantic=semantic, options=validate_options)
        return LeakageReport(run.root, threshold, run.images, find_leaks(found.groups), similarity, semantic)
