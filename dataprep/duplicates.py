"""Exact and near-duplicate groups, and train/val/test leakage, from validate's results.

`find_duplicates` is pure: it reads the sha256, pixel hash and pHash every FileResult carries
(computed from the one decode validate makes) and joins files into groups with union-find:

- exact: same bytes (sha256) or same decoded pixels (pixel hash);
- near: pHashes within `threshold` bits (Hamming distance), found through a multi-index hash
  table (`HashIndex`), never by comparing all pairs, so 100k images take seconds.

The default threshold (10 bits of 64) was measured on planted copies of the pets-800 photos
(benchmarks/duplicates_bench.py): resized, re-compressed, brightened and darkened copies are
within 8 bits, the closest two distinct photos 14 bits apart.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dataprep.defaults import DEFAULT_THRESHOLD_BITS, THRESHOLD_RANGE_BITS
from dataprep.errors import DataprepError
from dataprep.scan import SPLIT_ROLES, natural_key, split_role

if TYPE_CHECKING:
    import numpy as np

    from dataprep.report import FileResult
    from dataprep.validate import ValidateOptions

DEFAULT_THRESHOLD = DEFAULT_THRESHOLD_BITS
MAX_THRESHOLD = THRESHOLD_RANGE_BITS[1]  # beyond this, two unrelated photos match (distinct photos sit 25-40 bits apart)
HASH_BITS = 64
REPORT_VERSION = 1

Kind = Literal["exact", "near"]


# --- the index ---------------------------------------------------------------------------------


class HashIndex:
    """Multi-index hashing (Norouzi, Punjani & Fleet, 2012) over 64-bit hashes.

    Each hash is cut into `chunks` 16-bit pieces, and each piece indexes a table. Two hashes at
    most T bits apart agree within floor(T / chunks) bits on at least one piece (pigeonhole), so
    probing every table at that small radius finds every pair, while only hashes that share a
    nearby piece are compared. `comparisons` counts the distances computed.
    """

    def __init__(self, hashes: Sequence[int], chunks: int = 4) -> None:
        import numpy as np

        self.hashes = np.asarray([int(h) for h in hashes], dtype=np.uint64)
        self.chunks = chunks
        self.bits = HASH_BITS // chunks
        self.comparisons = 0
        mask = np.uint64((1 << self.bits) - 1)
        self._pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for c in range(chunks):
            piece = ((self.hashes >> np.uint64(c * self.bits)) & mask).astype(np.int64)
            order = np.argsort(piece, kind="stable")
            starts = np.searchsorted(piece[order], np.arange((1 << self.bits) + 1))
            self._pieces.append((piece, order, starts))

    def _masks(self, radius: int) -> list[int]:
        from itertools import combinations

        out = []
        for k in range(radius + 1):
            for bits in combinations(range(self.bits), k):
                out.append(sum(1 << b for b in bits))
        return out

    def pairs_within(self, threshold: int, block: int = 1 << 22) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every pair (i < j) of indexed hashes at most `threshold` bits apart, with the distance."""
        import numpy as np

        n = len(self.hashes)
        found_i: list[np.ndarray] = []
        found_j: list[np.ndarray] = []
        if n < 2:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        radius = threshold // self.chunks
        for piece, order, starts in self._pieces:
            counts = np.diff(starts)
            for mask in self._masks(radius):
                keys = piece ^ mask
                per_query = counts[keys]
                ends = np.cumsum(per_query)
                lo = 0
                while lo < n:  # blocks of queries, so a crowded bucket never needs a huge array
                    hi = int(np.searchsorted(ends, (ends[lo - 1] if lo else 0) + block, side="right"))
                    hi = max(hi, lo + 1)
                    qi, pos = _expand(np.arange(lo, hi), starts[keys[lo:hi]], per_query[lo:hi])
                    qj = order[pos]
                    keep = qi < qj
                    qi, qj = qi[keep], qj[keep]
                    self.comparisons += len(qi)
                    dist = np.bitwise_count(self.hashes[qi] ^ self.hashes[qj])
                    close = dist <= threshold
                    found_i.append(qi[close])
                    found_j.append(qj[close])
                    lo = hi
        i = np.concatenate(found_i)
        j = np.concatenate(found_j)
        pair = np.unique(i * n + j)
        i, j = pair // n, pair % n
        return i, j, np.bitwise_count(self.hashes[i] ^ self.hashes[j]).astype(np.int64)


def _expand(queries: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(query, table position) for every entry of every query's bucket, vectorised."""
    import numpy as np

    total = int(counts.sum())
    qi = np.repeat(queries, counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return qi, np.repeat(starts, counts) + offsets


# --- groups ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateMember:
    path: str
    distance: int  # pHash bits from the group's first member; 0 for an exact copy


@dataclass
class DuplicateGroup:
    """Files that are copies of one another. The first member (natural order) is the reference."""

    kind: Kind
    members: list[DuplicateMember]

    @property
    def paths(self) -> list[str]:
        return [m.path for m in self.members]

    @property
    def distance(self) -> int:
        return max(m.distance for m in self.members)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "distance": self.distance,
            "members": [{"path": m.path, "distance": m.distance} for m in self.members],
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
            f"(default {DEFAULT_THRESHOLD}; 0 finds only copies that look identical)"
        )
    return threshold


def find_duplicates(results: Sequence[FileResult], threshold: int = DEFAULT_THRESHOLD) -> list[DuplicateGroup]:
    """Groups of exact and near duplicates among `results`, each in natural path order, groups
    ordered by their first member. Pure and deterministic."""
    from dataprep.checks.image_properties import hamming

    check_threshold(threshold)
    items = sorted((r for r in results if r.sha256 is not None and r.size > 0), key=lambda r: natural_key(r.rel))
    uf = _UnionFind(len(items))
    for key in ("sha256", "pixel_hash"):
        first: dict[str, int] = {}
        for k, r in enumerate(items):
            value = getattr(r, key)
            if value is not None:
                uf.union(first.setdefault(value, k), k)
    # Equal pHashes are joined directly and indexed once: a thousand copies of one picture
    # must not become a million candidate pairs.
    first_with: dict[str, int] = {}
    for k, r in enumerate(items):
        if r.phash is not None:
            uf.union(first_with.setdefault(r.phash, k), k)
    distinct = list(first_with.values())
    if len(distinct) > 1:
        index = HashIndex([int(items[k].phash, 16) for k in distinct])  # type: ignore[arg-type]
        ii, jj, _ = index.pairs_within(threshold)
        for a, b in zip(ii.tolist(), jj.tolist(), strict=True):
            uf.union(distinct[a], distinct[b])

    components: dict[int, list[int]] = {}
    for k in range(len(items)):
        components.setdefault(uf.find(k), []).append(k)
    groups: list[DuplicateGroup] = []
    for members in components.values():
        if len(members) < 2:
            continue
        ref = items[members[0]]
        out = []
        for k in members:
            r = items[k]
            same = r.sha256 == ref.sha256 or (r.pixel_hash is not None and r.pixel_hash == ref.pixel_hash)
            distance = 0 if same or r.phash is None or ref.phash is None else hamming(r.phash, ref.phash)
            out.append((same, DuplicateMember(r.rel, distance)))
        kind: Kind = "exact" if all(same for same, _ in out) else "near"
        groups.append(DuplicateGroup(kind, [m for _, m in out]))
    groups.sort(key=lambda g: natural_key(g.members[0].path))
    return groups


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
            leaks.append(Leak(g.kind, g.paths, sorted(splits, key=lambda s: list(SPLIT_ROLES).index(split_role(s) or "")), g.distance))
    return leaks


# --- reports (validate, then group) ------------------------------------------------------------


@dataclass
class DuplicatesReport:
    root: Path
    threshold: int
    files: int
    groups: list[DuplicateGroup] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "root": str(self.root),
            "threshold": self.threshold,
            "files": self.files,
            "groups": [g.to_dict() for g in self.groups],
        }


@dataclass
class LeakageReport:
    root: Path
    threshold: int
    files: int
    leaks: list[Leak] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "root": str(self.root),
            "threshold": self.threshold,
            "files": self.files,
            "leaks": [leak.to_dict() for leak in self.leaks],
        }


def duplicates_report(
    root: str | os.PathLike[str], threshold: int = DEFAULT_THRESHOLD, validate_options: ValidateOptions | None = None
) -> DuplicatesReport:
    """Validate `root` (cached results are reused: no second decode) and group its duplicates."""
    from dataprep.validate import validate

    check_threshold(threshold)
    report = validate(root, validate_options)
    groups = find_duplicates(report.results, threshold)
    return DuplicatesReport(report.root, threshold, len(report.scan.images), groups)


def leakage_report(
    out: str | os.PathLike[str], threshold: int = DEFAULT_THRESHOLD, validate_options: ValidateOptions | None = None
) -> LeakageReport:
    """Every duplicate group of the split folder `out` whose members sit in more than one split."""
    from dataprep.scan import scan_dataset
    from dataprep.validate import validate

    check_threshold(threshold)
    scan = scan_dataset(out)
    if scan.layout != "split":
        raise DataprepError(
            f"'{scan.root}' is not a split folder (expected OUT/{{train,val,test}}/CLASS/*, as `dataprep split` writes); "
            "pass the split's OUT folder, or use `dataprep duplicates` for a raw folder"
        )
    report = validate(out, validate_options)
    leaks = find_leaks(find_duplicates(report.results, threshold))
    return LeakageReport(report.root, threshold, len(report.scan.images), leaks)
