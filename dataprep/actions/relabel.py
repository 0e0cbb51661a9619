"""Acting on `trainer label-issues`: quarantine the suspects, or move each to its suggested class.

Both read the ranked list (`label_issues.json` or `.csv`), keep the top N or those with a score
of at least S, and check each file is still the one that was scored (same class folder, same
sha256) before touching it.

- `clean_label_issues` quarantines them through `dataprep.actions.clean` (same manifest, same journal,
  undone by `dataprep restore DIR.quarantine`).
- `relabel` moves DIR/.../GIVEN/name to DIR/.../SUGGESTED/name. The record folder (default
  `DIR.relabel` beside DIR) holds the same kind of manifest and journal as a quarantine: every
  planned move is on record before the first one, each move is one rename with an intent line
  before and a done line after, so a run killed at any instant is finished by re-running it, and
  `dataprep restore DIR.relabel` moves every file back to its given class.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from dataprep.actions.clean import CleanOptions, CleanResult, clean
from dataprep.actions.quarantine import (
    JOURNAL,
    PLANNED,
    RELABELED,
    Manifest,
    move_back,
    now,
    open_record_folder,
    safe_rel,
)
from dataprep.base.errors import DataprepError
from dataprep.base.findings import Finding, Severity
from dataprep.base.folder_lock import folder_locks
from dataprep.base.journal import Journal, move_atomic, reconcile_move, remove_stale_temporaries, sha256_file
from dataprep.inspection.report import FileResult, Report
from dataprep.inspection.scan import require_directory
from dataprep.inspection.validate import ValidateOptions

CHECK = "label_issue"
OUTLIER = "outlier"  # a suspect from `dataprep outliers` (quarantined the same way, see dataprep.embeddings.outliers)


@dataclass(frozen=True)
class Suspect:
    """One row of the ranked list."""

    rank: int
    path: str
    given_label: str
    suggested_label: str
    score: float
    sha256: str | None = None
    kind: str = CHECK  # the finding's check name: label_issue | outlier

    @property
    def detail(self) -> str:
        if self.kind == OUTLIER:
            return f"outlier #{self.rank} of class '{self.given_label}' (score {self.score:.2f})"
        return f"label issue #{self.rank}: given '{self.given_label}', looks like '{self.suggested_label}' (score {self.score:.3f})"


def read_label_issues(path: str | os.PathLike[str]) -> list[Suspect]:
    """The suspects of a `label_issues.json` or `.csv` written by `trainer label-issues`, by rank."""
    file = Path(path).expanduser()
    expected = "the label_issues.json or .csv that 'trainer label-issues' wrote"
    if not file.is_file():
        raise DataprepError(f"no such file: '{path}' (expected {expected}); check the path")
    try:
        text = file.read_text(encoding="utf-8")
        rows: list[dict[str, Any]]
        if file.suffix.lower() == ".csv":
            rows = list(csv.DictReader(text.splitlines()))
        else:
            rows = json.loads(text)["issues"]
        suspects = [
            Suspect(int(r["rank"]), str(r["path"]), str(r["given_label"]), str(r["suggested_label"]), float(r["score"]),
                    str(r["sha256"]) if r.get("sha256") else None)
            for r in rows
        ]  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataprepError(f"cannot read '{path}' ({type(err).__name__}: {err}); expected {expected}") from None
    return sorted(suspects, key=lambda s: s.rank)


def select_suspects(suspects: list[Suspect], top: int | None = None, min_score: float | None = None) -> list[Suspect]:
    """The first `top` by rank, or those scoring at least `min_score`; all of them with neither."""
    if top is not None and min_score is not None:
        raise DataprepError("--top and --min-score both given; pass one of them (or neither, for every suspect)")
    if top is not None:
        if top < 1:
            raise DataprepError(f"--top {top} must be at least 1")
        return suspects[:top]
    if min_score is not None:
        if not 0.0 <= min_score <= 1.0:
            raise DataprepError(
                f"--min-score {min_score} is out of range (expected 0 to 1; score = 1 - self-confidence)"
            )
        return [s for s in suspects if s.score >= min_score]
    return list(suspects)


def _check_still_there(base: Path, suspect: Suspect, sha256: str | None) -> Path:
    """The file a suspect names, refusing one that moved or changed since it was scored."""
    src = safe_rel(suspect.path, base, "the label-issues file")
    parts = PurePosixPath(suspect.path).parts
    if not src.is_file():
        raise DataprepError(
            f"'{suspect.path}' from the label-issues file is not in '{base}' (expected DIR to be the folder "
            "'trainer label-issues' scored); pass that folder, or run label-issues again"
        )
    if suspect.given_label and (len(parts) < 2 or parts[-2] != suspect.given_label):
        raise DataprepError(
            f"'{suspect.path}' is not in a class folder named '{suspect.given_label}'; run label-issues again"
        )
    if suspect.sha256 and (sha256 or sha256_file(src)) != suspect.sha256:
        raise DataprepError(
            f"'{suspect.path}' changed since label-issues scored it (sha256 differs); run label-issues again"
        )
    return src


# --- clean --label-issues ----------------------------------------------------------------------


def clean_label_issues(
    root: str | os.PathLike[str],
    suspects: list[Suspect],
    quarantine: Path | None = None,
    dry_run: bool = False,
    validate_options: ValidateOptions | None = None,
) -> CleanResult:
    """Quarantine `suspects` (label issues or outliers) with `dataprep clean`'s machinery (manifest,
    journal, restore)."""
    base = require_directory(root)
    by_path = {s.path: s for s in suspects}

    def select(report: Report) -> list[FileResult]:
        results = {r.rel: r for r in report.results}
        chosen = []
        for s in suspects:
            result = results.get(s.path)
            _check_still_there(base, s, result.sha256 if result is not None else None)
            if result is None:
                continue
            result.findings.append(Finding(s.path, s.kind, Severity.INFO, by_path[s.path].detail))
            chosen.append(result)
        return chosen

    options = CleanOptions(quarantine=quarantine, dry_run=dry_run, select=select,
                           validate=validate_options or ValidateOptions())  # fmt: skip
    return clean(base, options)


# --- relabel -----------------------------------------------------------------------------------


@dataclass
class RelabelResult:
    root: Path
    record: Path
    moves: list[tuple[str, str, Suspect]] = field(default_factory=list)  # (from, to, why)
    moved: int = 0
    already: int = 0
    recovered: int = 0
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1, "root": str(self.root), "record": str(self.record), "dry_run": self.dry_run,
            "moves": [{"from": a, "to": b, "rank": s.rank, "score": s.score} for a, b, s in self.moves],
            "moved": self.moved, "already_relabeled": self.already, "recovered_from_interrupted_run": self.recovered,
        }  # fmt: skip


def default_record(root: Path) -> Path:
    return root.parent / f"{root.name}.relabel"


def _recover(manifest: Manifest, journal: Journal) -> int:
    """Settle every move a killed run left as planned."""
    settled = 0
    for rel, entry in manifest.entries.items():
        if entry["status"] != PLANNED:
            continue
        state = reconcile_move(safe_rel(rel, manifest.root, "the manifest"),
                               safe_rel(entry["to"], manifest.root, "the manifest"), entry.get("sha256"))  # fmt: skip
        if state in ("done", "duplicate-resolved"):
            entry["status"] = RELABELED
            journal.append({"op": "relabel", "path": rel, "phase": "done", "recovered": True})
            settled += 1
    return settled


def relabel(
    root: str | os.PathLike[str], suspects: list[Suspect], record: Path | None = None, dry_run: bool = False
) -> RelabelResult:
    """Move each suspect to its suggested class folder (a sibling of its given one), journaled."""
    base = require_directory(root)
    rec, _ = open_record_folder(base, record or default_record(base), "relabel record", "--record")
    with folder_locks("relabel", rec, base, enabled=not dry_run):
        return _relabel(base, suspects, rec, dry_run)


def _relabel(base: Path, suspects: list[Suspect], rec: Path, dry_run: bool) -> RelabelResult:
    """`relabel` with its folders checked and locked (the record read again under the lock)."""
    rec, manifest = open_record_folder(base, rec, "relabel record", "--record")
    journal = Journal(rec / JOURNAL)
    result = RelabelResult(root=base, record=rec, dry_run=dry_run)
    if not dry_run and any(e["status"] == PLANNED for e in manifest.entries.values()):
        remove_stale_temporaries(base)
        result.recovered = _recover(manifest, journal)
        manifest.save()

    planned: list[tuple[str, str, Suspect, str | None]] = []
    targets: set[str] = set()
    for s in suspects:
        previous = manifest.entries.get(s.path)
        if (
            previous is not None
            and previous["status"] == RELABELED
            and previous.get("to")
            and (base / previous["to"]).exists()
        ):
            result.already += 1
            continue
        src = _check_still_there(base, s, None)
        parts = PurePosixPath(s.path).parts
        to = PurePosixPath(*parts[:-2], s.suggested_label, parts[-1]).as_posix()
        dst = safe_rel(to, base, "the label-issues file")
        if dst.exists() or to in targets:
            raise DataprepError(
                f"cannot move '{s.path}' to '{to}': a file of that name is already there; rename one and re-run"
            )
        targets.add(to)
        planned.append((s.path, to, s, s.sha256 or sha256_file(src)))
    result.moves = [(a, b, s) for a, b, s, _ in planned]
    if dry_run or not planned:
        return result

    for path, to, s, sha in planned:
        manifest.entries[path] = {
            "path": path, "to": to, "action": "relabel", "sha256": sha, "status": PLANNED, "time": now(),
            "findings": [{"check": CHECK, "severity": Severity.INFO.value, "detail": s.detail}],
        }  # fmt: skip
    manifest.save()  # every planned move is on record before the first file moves
    for path, to, _, _ in planned:
        journal.append({"op": "relabel", "path": path, "to": to, "phase": "intent"})
        move_atomic(safe_rel(path, base, "the label-issues file"), safe_rel(to, base, "the label-issues file"))
        manifest.entries[path]["status"] = RELABELED
        result.moved += 1
        journal.append({"op": "relabel", "path": path, "phase": "done"})
    manifest.save()
    return result


def undo_relabel(rel: str, entry: dict[str, Any], root: Path, record: Path, journal: Journal, dry_run: bool) -> str:
    """Move a relabeled file back to its given class folder (a row of `dataprep.actions.restore`'s table)."""
    stored = safe_rel(str(entry.get("to", "")), root, "the manifest")
    return move_back(rel, entry, stored, safe_rel(rel, root, "the manifest"), journal, dry_run)
