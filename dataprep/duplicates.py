"""Exact and near-duplicate groups, and train/val/test leakage, from validate's results.

`find_duplicates` is pure: it reads what every FileResult carries from the one decode validate
makes (sha256, pixel hash, pHash and the `NearSignature`) and finds pairs in two steps:

1. Candidates. Files with the same bytes or the same decoded pixels are one unit. Between units,
   a multi-index hash table (`HashIndex`) finds every pHash within `threshold` bits of another
   file's pHash, of its mirrored pHash (flipped copies) or of one of its nine 90% crops' pHashes
   (cropped and straightened copies), never by comparing all pairs, so 100k images take seconds.
2. Verification. Each candidate pair is compared on its 32x32 gray thumbnails, aligned over
   crops, mirror images and small rotations (`dataprep.similarity`): the correlation of the fine
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

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dataprep.defaults import DEFAULT_SIMILARITY as _DEFAULT_SIMILARITY
from dataprep.defaults import DEFAULT_THRESHOLD_BITS, THRESHOLD_RANGE_BITS
from dataprep.errors import DataprepError
from dataprep.hash_index import HASH_BITS, HashIndex
from dataprep.scan import SPLIT_ROLES, natural_key, split_role

if TYPE_CHECKING:
    from dataprep.report import FileResult
    from dataprep.validate import ValidateOptions
    from dataprep.validate_stream import StreamedReport

DEFAULT_THRESHOLD = DEFAULT_THRESHOLD_BITS  # pHash bits for a candidate pair (direct, mirrored or cropped pHash)
MAX_THRESHOLD = THRESHOLD_RANGE_BITS[
    1
]  # beyond this, the candidates are mostly unrelated photos (distinct photos sit 12-40 bits apart)
DEFAULT_SIMILARITY = _DEFAULT_SIMILARITY  # detail correlation a candidate needs to be a near duplicate
REPORT_VERSION = 2

Kind = Literal["exact", "pixels", "near", "mirrored"]
KIND_ORDER: tuple[Kind, ...] = ("exact", "pixels", "near", "mirrored")


# --- pairs and groups --------------------------------------------------------------------------


@dataclass(frozen=True)
class DuplicatePair:
    """Why two files are duplicates. `phash_distance`: bits between the pHashes that made them
    a candidate (the mirrored or cropped pHash when that was closer); `similarity`: the detail
    correlation of the verification (1.0 for exact and pixel copies)."""

    a: str
    b: str
    kind: Kind
    phash_distance: int
    similarity: float

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "kind": self.kind, "phash_distance": self.phash_distance,
                "similarity": round(self.similarity, 3)}  # fmt: skip


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "distance": self.distance,
            "similarity": round(self.similarity, 3),
            "members": [{"path": m.path, "distance": m.distance} for m in self.members],
            "pairs": [p.to_dict() for p in self.pairs],
        }


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)  # the root is the earliest file: deterministic


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


def _maximal_cliques(nodes: list[int], adjacent: dict[int, set[int]]) -> list[list[int]]:
    """Every maximal clique of the graph on `nodes` (Bron-Kerbosch with a pivot), each sorted."""
    out: list[list[int]] = []

    def expand(r: list[int], p: set[int], x: set[int]) -> None:
        if not p and not x:
            out.append(sorted(r))
            return
        pivot = max(p | x, key=lambda u: len(adjacent[u] & p))
        for v in sorted(p - adjacent[pivot]):
            expand([*r, v], p & adjacent[v], x & adjacent[v])
            p = p - {v}
            x = x | {v}

    expand([], set(nodes), set())
    return out


def _clique_cover(nodes: list[int], adjacent: dict[int, set[int]]) -> list[list[int]]:
    """Groups for one connected set of pairs, each a set of files that are all pairwise verified.

    The file with the most verified copies (usually the original the others were made from) is
    the centre: its largest clique first, then the largest clique of it and its copies not yet
    shown, until every copy of it is in a group with it. Files not verified with the centre are
    grouped the same way among themselves. A chain A~B~C gives {A, B} and {B, C}; fourteen edits
    of one photo give one big group with the photo, plus small ones with the photo for the edits
    that are not verified against every other edit."""
    out: list[list[int]] = []
    full = adjacent
    uncovered = set(nodes)
    while uncovered:
        centre = max(sorted(uncovered), key=lambda u: len(adjacent[u]))
        if not adjacent[centre]:
            uncovered.discard(centre)
            continue
        waiting = set(adjacent[centre])  # copies of the centre not yet in a group with it
        while waiting:
            sub = {u: adjacent[u] & waiting for u in waiting}
            clique = max(_maximal_cliques(sorted(waiting), sub), key=lambda c: (len(c), [-k for k in c]))
            group = [centre, *clique]
            for v in sorted(nodes):  # grown to a maximal clique: files already shown join if verified with all
                if v not in group and all(v in full[m] for m in group):
                    group.append(v)
            out.append(sorted(group))
            waiting -= set(clique)
            uncovered -= set(clique)
        uncovered.discard(centre)
        for u in list(uncovered):  # what is left keeps only its links among the uncovered files
            adjacent = {**adjacent, u: adjacent[u] - {centre}}
    return out


@dataclass
class DuplicateSearch:
    """All that `search_duplicates` found: the groups, and the units `split` places as one piece
    (every connected set of pairs, so that no pair is ever torn across splits)."""

    groups: list[DuplicateGroup]
    units: list[list[str]]
    candidates: int = 0  # candidate pairs verified


def search_duplicates(
    results: Sequence[FileResult], threshold: int = DEFAULT_THRESHOLD, similarity: float = DEFAULT_SIMILARITY
) -> DuplicateSearch:
    """Exact and near duplicates among `results` (see the module docstring). Pure and deterministic."""
    from dataprep.checks.image_properties import NearSignature, hamming
    from dataprep.similarity import Prepared, colours_agree, compare, prepare

    check_threshold(threshold)
    check_similarity(similarity)
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
    searchable = [k for k in reps if k in signatures]
    edges: dict[tuple[int, int], DuplicatePair] = {}
    candidates = 0
    if len(searchable) > 1:
        values = sorted({int(items[k].phash, 16) for k in searchable})  # type: ignore[arg-type]
        position = {v: i for i, v in enumerate(values)}
        holders: dict[int, list[int]] = {}
        for k in searchable:
            holders.setdefault(position[int(items[k].phash, 16)], []).append(k)  # type: ignore[arg-type]
        queries: list[int] = []
        asker: list[tuple[int, bool]] = []  # (unit, mirrored probe) per query
        for k in searchable:
            sig = signatures[k]
            for h, mirrored in [(items[k].phash, False), (sig.mirror_phash, True)] + [
                (c, False) for c in sig.crop_phashes
            ]:
                queries.append(int(h, 16))  # type: ignore[arg-type]
                asker.append((k, mirrored))
        index = HashIndex(values)
        qi, vj = index.query(queries, threshold)
        best: dict[tuple[int, int], int] = {}
        for q, v in zip(qi.tolist(), vj.tolist(), strict=True):
            k, _ = asker[q]
            bits = (queries[q] ^ values[v]).bit_count()
            for j in holders[v]:
                if j != k:
                    pair = (min(k, j), max(k, j))
                    best[pair] = min(best.get(pair, HASH_BITS), bits)
        candidates = len(best)
        prepared: dict[int, Prepared] = {}
        for (a, b), bits in sorted(best.items()):
            pa = prepared.get(a) or prepared.setdefault(a, prepare(signatures[a].thumbnail_array()))
            pb = prepared.get(b) or prepared.setdefault(b, prepare(signatures[b].thumbnail_array()))
            match = compare(pa, pb)
            sa, sb = signatures[a], signatures[b]
            colour = colours_agree(sa.colour_array(), sb.colour_array(), match)
            if match.similarity >= similarity and colour:
                kind: Kind = "mirrored" if match.mirrored else "near"
                edges[(a, b)] = DuplicatePair(items[a].rel, items[b].rel, kind, bits, match.similarity)

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "root": str(self.root),
            "threshold": self.threshold,
            "similarity": self.similarity,
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "root": str(self.root),
            "threshold": self.threshold,
            "similarity": self.similarity,
            "files": self.files,
            "leaks": [leak.to_dict() for leak in self.leaks],
        }


def duplicates_report(
    root: str | os.PathLike[str], threshold: int = DEFAULT_THRESHOLD, validate_options: ValidateOptions | None = None,
    similarity: float = DEFAULT_SIMILARITY,
) -> DuplicatesReport:  # fmt: skip
    """Validate `root` (cached results are reused: no second decode) and group its duplicates."""
    check_threshold(threshold)
    check_similarity(similarity)
    with _hashed_run(root, validate_options) as (run, images):
        groups = find_duplicates(images, threshold, similarity)
        return DuplicatesReport(run.root, threshold, run.images, groups, similarity)


@contextmanager
def _hashed_run(
    root: str | os.PathLike[str], validate_options: ValidateOptions | None
) -> Iterator[tuple[StreamedReport, list[FileResult]]]:
    """Validate `root` into a run file and hand over its images' hashes (no findings, no image
    properties: most of a result's memory), closing the run file after."""
    from dataprep.validate import ValidateOptions
    from dataprep.validate_stream import validate_streamed

    run = validate_streamed(root, validate_options or ValidateOptions(), keep_hashes=True)
    try:
        yield run, list(run.hashed_images())
    finally:
        run.store.close()


def leakage_report(
    out: str | os.PathLike[str], threshold: int = DEFAULT_THRESHOLD, validate_options: ValidateOptions | None = None,
    similarity: float = DEFAULT_SIMILARITY,
) -> LeakageReport:  # fmt: skip
    """Every duplicate group of the split folder `out` whose members sit in more than one split."""
    from dataprep.scan import scan_dataset

    check_threshold(threshold)
    check_similarity(similarity)
    scan = scan_dataset(out)
    if scan.layout != "split":
        raise DataprepError(
            f"'{scan.root}' is not a split folder (expected OUT/{{train,val,test}}/CLASS/*, as `dataprep split` writes); "
            "pass the split's OUT folder, or use `dataprep duplicates` for a raw folder"
        )
    with _hashed_run(out, validate_options) as (run, images):
        leaks = find_leaks(find_duplicates(images, threshold, similarity))
        return LeakageReport(run.root, threshold, run.images, leaks, similarity)
