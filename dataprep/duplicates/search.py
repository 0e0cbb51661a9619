"""Exact and near-duplicate groups, and train/val/test leakage, from validate's results.

`search_duplicates` reads what validate's one decode gives every image (sha256, pixel hash, pHash and
the `NearSignature`), as columns (`dataprep.duplicates.hashed`), and finds pairs in two steps:

1. Candidates. Files with the same bytes or the same decoded pixels are one unit. Between units,
   a multi-index hash table finds every pHash within `threshold` bits of another file's pHash, of
   its mirrored pHash (flipped copies) or of one of its nine 90% crops' pHashes (cropped and
   straightened copies), never by comparing all pairs, part by part
   (`dataprep.duplicates.candidates`).
2. Verification. Each candidate pair is compared on its 32x32 gray thumbnails, aligned over
   crops, mirror images and small rotations (`dataprep.duplicates.verify`): the correlation of the
   fine detail must reach `similarity`. A 64-bit pHash alone cannot tell a copy from a different
   photo of a similar scene; the detail can. Thumbnails are decoded only for the images a
   candidate names, and few are kept at once.

Verified pairs become groups (cliques) and units (connected sets: `dataprep.duplicates.groups`);
`split` places each unit as one piece (so nothing leaks); `duplicates --json` lists every pair with
its kind (exact, pixels, near, mirrored) and both signals. `duplicates_report` and
`leakage_report` read a streamed validate run, so their memory does not grow with every image's
signature.

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
from typing import TYPE_CHECKING, Any

from dataprep.base.defaults import DEFAULT_SIMILARITY as _DEFAULT_SIMILARITY
from dataprep.base.defaults import DEFAULT_THRESHOLD_BITS, THRESHOLD_RANGE_BITS
from dataprep.base.errors import DataprepError
from dataprep.duplicates.candidates import candidate_pairs
from dataprep.duplicates.groups import KIND_ORDER as KIND_ORDER
from dataprep.duplicates.groups import DuplicateGroup as DuplicateGroup
from dataprep.duplicates.groups import DuplicateMember as DuplicateMember
from dataprep.duplicates.groups import DuplicatePair as DuplicatePair
from dataprep.duplicates.groups import DuplicateSearch as DuplicateSearch
from dataprep.duplicates.groups import Kind as Kind
from dataprep.duplicates.groups import grouped, unit_roots
from dataprep.duplicates.hash_index import HashIndex as HashIndex
from dataprep.duplicates.hashed import HashedImages
from dataprep.duplicates.ray_pairs import pair_search_engine
from dataprep.duplicates.verify import CLOSE_UP_TO as CLOSE_UP_TO
from dataprep.duplicates.verify import GEOMETRIC_BELOW as GEOMETRIC_BELOW
from dataprep.duplicates.verify import near_edges, semantic_edges
from dataprep.inspection.scan import SPLIT_ROLES, split_role

if TYPE_CHECKING:
    from dataprep.duplicates.geometric_match import GeometricVerifier
    from dataprep.duplicates.semantic import Candidate
    from dataprep.inspection.report import FileResult
    from dataprep.inspection.validate import ValidateOptions
    from dataprep.inspection.validate_stream import StreamedReport

DEFAULT_THRESHOLD = DEFAULT_THRESHOLD_BITS  # pHash bits for a candidate pair (direct, mirrored or cropped pHash)
MAX_THRESHOLD = THRESHOLD_RANGE_BITS[
    1
]  # beyond this, the candidates are mostly unrelated photos (distinct photos sit 12-40 bits apart)
DEFAULT_SIMILARITY = _DEFAULT_SIMILARITY  # detail correlation a candidate needs to be a near duplicate
REPORT_VERSION = 2

# --- search ------------------------------------------------------------------------------------


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


def search_duplicates(
    results: Sequence[FileResult] | HashedImages,
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
    import numpy as np

    check_threshold(threshold)
    check_similarity(similarity)
    if semantic and verifier is None:
        raise ValueError("semantic candidates are judged by a geometric verifier; pass one")
    images = results if isinstance(results, HashedImages) else HashedImages.from_results(results)
    unit_of = unit_roots(images)
    searchable = (unit_of == np.arange(len(images))) & images.has_phash & images.has_signature
    pairs = candidate_pairs(images.hashes, np.flatnonzero(searchable), threshold)
    edges, candidates = near_edges(images, pairs, similarity, verifier)
    if semantic and verifier is not None:
        semantic_edges(images, unit_of, searchable, semantic, verifier, edges)
    return grouped(images, unit_of, edges, candidates)


def find_duplicates(
    results: Sequence[FileResult], threshold: int = DEFAULT_THRESHOLD, similarity: float = DEFAULT_SIMILARITY
) -> list[DuplicateGroup]:
    """Groups of exact and near duplicates among `results`, each in natural path order, groups
    ordered by their first member. Pure and deterministic."""
    return search_duplicates(results, threshold, similarity).groups


def search_folder(
    root: Path, results: Sequence[FileResult] | HashedImages, threshold: int = DEFAULT_THRESHOLD,
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
    with pair_search_engine(options):  # --engine ray: the pair search's parts on Ray (dataprep.duplicates.ray_pairs)
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
        return {**_search_header(self), "groups": [g.to_dict() for g in self.groups]}


@dataclass
class LeakageReport:
    root: Path
    threshold: int
    files: int
    leaks: list[Leak] = field(default_factory=list)
    similarity: float = DEFAULT_SIMILARITY
    semantic: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {**_search_header(self), "leaks": [leak.to_dict() for leak in self.leaks]}


def _search_header(report: DuplicatesReport | LeakageReport) -> dict[str, Any]:
    """What both reports' JSON opens with: the version and the search's settings."""
    return {
        "version": REPORT_VERSION,
        "root": str(report.root),
        "threshold": report.threshold,
        "similarity": report.similarity,
        "semantic": report.semantic,
        "files": report.files,
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
    with hashed_run(root, validate_options) as (run, images):
        found = search_folder(run.root, images, threshold, similarity, semantic=semantic, options=validate_options)
        return DuplicatesReport(run.root, threshold, run.images, found.groups, similarity, semantic)


@contextmanager
def hashed_run(
    root: str | os.PathLike[str], validate_options: ValidateOptions | None
) -> Iterator[tuple[StreamedReport, HashedImages]]:
    """Validate `root` into a run file and hand over its images' hash columns (the signatures stay
    in the run file until a candidate pair asks for one), closing the run file after."""
    from dataprep.inspection.validate import ValidateOptions
    from dataprep.inspection.validate_stream import validate_streamed

    run = validate_streamed(root, validate_options or ValidateOptions(), near_columns=True)
    try:
        yield run, HashedImages.from_run(run)
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
    from dataprep.inspection.scan import open_scan

    check_threshold(threshold)
    check_similarity(similarity)
    check_semantic_ready(semantic)
    scan = open_scan(out)  # the layout is the top level's: no walk
    if scan.layout != "split":
        raise DataprepError(
            f"'{scan.root}' is not a split folder (expected OUT/{{train,val,test}}/CLASS/*, as `dataprep split` writes); "
            "pass the split's OUT folder, or use `dataprep duplicates` for a raw folder"
        )
    with hashed_run(out, validate_options) as (run, images):
        found = search_folder(run.root, images, threshold, similarity, semantic=semantic, options=validate_options)
        return LeakageReport(run.root, threshold, run.images, find_leaks(found.groups), similarity, semantic)
