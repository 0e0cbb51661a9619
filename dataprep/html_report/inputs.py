"""Everything the report shows, gathered: computed where cheap, read where another command wrote it.

- validate's results: `dataprep.inspection.validate.validate`, which reuses the result cache, so a folder
  validated before is not decoded again (only changed files are);
- duplicate groups (exact, same pixels, near, mirrored) and the leaks across splits: from the
  hashes and signatures those results already carry (`dataprep.duplicates.search`), as `dataprep
  duplicates` finds them; with `semantic`, look-alike copies from the (cached) embeddings too;
- label issues: the ranked list `trainer label-issues` wrote (`--label-issues FILE`, or its run folder);
- outliers: the ranked list `dataprep outliers` wrote (`--outliers FILE`).
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataprep.actions.relabel import Suspect, read_label_issues
from dataprep.base.defaults import DEFAULT_SIMILARITY, DEFAULT_THRESHOLD_BITS
from dataprep.base.errors import DataprepError
from dataprep.duplicates.search import DuplicateGroup, check_semantic_ready, search_folder
from dataprep.inspection.report import Report
from dataprep.inspection.validate import ValidateOptions, validate

LABEL_ISSUES_FILE = "label_issues.json"  # what `trainer label-issues` writes in its run folder
OUTLIERS_FILE = "outliers.json"


@dataclass(frozen=True)
class Outlier:
    """One row of an outliers list: a file unlike the rest of its class and of the dataset."""

    rank: int
    path: str
    score: float
    label: str | None = None
    nearest: str | None = None  # the most similar other image, and how similar
    nearest_similarity: float | None = None
    flagged: bool = False  # scores at least the list's `flag_score` (dataprep.embeddings.outliers.FLAG_SCORE)

    @property
    def detail(self) -> str:
        near = (
            f"; nearest: {self.nearest} ({self.nearest_similarity:.2f})"
            if self.nearest and self.nearest_similarity is not None
            else ""
        )
        return f"#{self.rank}: outlier score {self.score:.2f}{near}"


@dataclass
class ReportInputs:
    """The judgments one report shows, all about the files under `root`."""

    root: Path
    report: Report
    groups: list[DuplicateGroup]
    threshold: int = DEFAULT_THRESHOLD_BITS
    similarity: float = DEFAULT_SIMILARITY
    semantic: bool = False
    label_issues: list[Suspect] | None = None
    label_issues_file: Path | None = None
    label_issues_root: str | None = None  # the folder the list was computed on (its `data_dir`)
    outliers: list[Outlier] | None = None
    outliers_file: Path | None = None
    label_of: dict[str, str | None] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict)  # what several sections derive once (the convert plan)

    def label(self, rel: str) -> str | None:
        """The class folder of a file (split/class in a split layout), also for files not scanned."""
        if rel in self.label_of:
            return self.label_of[rel]
        parts = rel.split("/")
        depth = 2 if self.report.scan.layout == "split" else 1
        return "/".join(parts[:depth]) if len(parts) > depth else None


def gather_inputs(
    root: str | os.PathLike[str],
    validate_options: ValidateOptions | None = None,
    *,
    threshold: int = DEFAULT_THRESHOLD_BITS,
    similarity: float = DEFAULT_SIMILARITY,
    label_issues: Path | None = None,
    outliers: Path | None = None,
    semantic: bool = False,
) -> ReportInputs:
    """Validate `root` (from the cache where it can), group its duplicates as `dataprep duplicates`
    does (with `semantic`, also the look-alike copies its embeddings propose: `duplicates --semantic`),
    and read the ranked lists given. A list that was asked for but cannot be read is an error, not
    a silent gap."""
    check_semantic_ready(semantic)
    issues_file = _resolve(label_issues, LABEL_ISSUES_FILE, "trainer label-issues") if label_issues else None
    outliers_file = _resolve(outliers, OUTLIERS_FILE, "dataprep outliers") if outliers else None
    suspects = read_label_issues(issues_file) if issues_file else None
    ranked = read_outliers(outliers_file) if outliers_file else None
    report = validate(root, validate_options)
    groups = search_folder(
        report.root, report.results, threshold, similarity, semantic=semantic, options=validate_options
    ).groups
    label_of: dict[str, str | None] = {}
    for rec in report.scan.files:
        label_of[rec.rel] = rec.label if rec.split is None or rec.label is None else f"{rec.split}/{rec.label}"
    return ReportInputs(
        root=report.root, report=report, groups=groups, threshold=threshold, similarity=similarity, semantic=semantic,
        label_issues=suspects, label_issues_file=issues_file, label_issues_root=_scored_folder(issues_file),
        outliers=ranked, outliers_file=outliers_file,
        label_of=label_of,
    )  # fmt: skip


def _resolve(given: Path, default_name: str, writer: str) -> Path:
    """A list file, or the run folder `writer` wrote it into."""
    path = Path(given).expanduser()
    if path.is_dir():
        path = path / default_name
    if not path.is_file():
        raise DataprepError(
            f"no such file: '{given}' (expected the {default_name} that '{writer}' wrote, or its folder); check the path"
        )
    return path


def _scored_folder(file: Path | None) -> str | None:
    """The `data_dir` a label_issues.json names (None for a CSV or an older file)."""
    if file is None or file.suffix.lower() != ".json":
        return None
    try:
        value = json.loads(file.read_text(encoding="utf-8")).get("data_dir")
    except (OSError, ValueError, AttributeError):
        return None
    return str(value) if value else None


def read_outliers(path: str | os.PathLike[str]) -> list[Outlier]:
    """The ranked rows of an outliers list: JSON (`{"outliers": [...]}` or a list of rows) or CSV,
    each row with `path` and `score` (and `rank`, `label` when present), best first."""
    file = Path(path)
    expected = "the outliers .json or .csv that 'dataprep outliers' wrote (rows with path and score)"
    try:
        text = file.read_text(encoding="utf-8")
        rows: list[dict[str, Any]]
        flag = float("inf")
        if file.suffix.lower() == ".csv":
            rows = list(csv.DictReader(text.splitlines()))
        else:
            doc = json.loads(text)
            rows = doc if isinstance(doc, list) else doc.get("outliers", doc.get("issues"))
            flag = float(doc.get("flag_score", flag)) if isinstance(doc, dict) else flag
        found = [
            Outlier(int(r.get("rank") or i + 1), str(r["path"]), float(r["score"]),
                    str(lab) if (lab := r.get("label") or r.get("given_label") or r.get("class")) else None,
                    str(r["nearest"]) if r.get("nearest") else None,
                    float(r["nearest_similarity"]) if r.get("nearest_similarity") not in (None, "") else None,
                    float(r["score"]) >= flag)
            for i, r in enumerate(rows)
        ]  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise DataprepError(f"cannot read '{path}' ({type(err).__name__}: {err}); expected {expected}") from None
    return sorted(found, key=lambda o: o.rank)
