"""`split`: reproducible, leak-free train/val/test splits of a folder of class folders.

The package's layers, as in the design:

- `spec` — `SplitSpec`: what is asked (counts or fractions per class, label conflicts, folds).
- `plan` — `plan_split(files, spec, seed) -> SplitPlan`, pure and deterministic: exact counts
  per class wherever the duplicate groups allow, each group placed as one unit.
- `sources` — RAW's images with their duplicate units, from validate's cached results.
- `manifest` — `SplitManifest`, the only reader and writer of ``OUT/split.json``.
- `place` — one placer per mode (copy, hardlink, symlink, move), each crash-safe.
- `execute` — the journal and the executor (copies on a few threads), --resume and --force.
- `folds` — `plan_folds`: k folds that keep duplicate groups together, pure and seeded.

`split_dataset` turns its arguments into one frozen `SplitRequest`; a fresh split and a resumed
one then go through the same `_run`: write split.json (intent), remove what --force replaces,
place every file, mark split.json complete. Rendering lives in `dataprep.render`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataprep.base.errors import DataprepError
from dataprep.base.folder_lock import folder_locks
from dataprep.base.journal import TMP_PREFIX, Journal, fsync_dir, remove_stale_temporaries
from dataprep.duplicates.search import check_semantic_ready
from dataprep.inspection.scan import require_directory
from dataprep.split import sources as _sources
from dataprep.split.execute import (
    JOURNAL_NAME,
    FileHook,
    _check_folders,
    _entries,
    _journal_state,
    _previous_split_files,
    _remove_previous,
    _require_same_filesystem,
    _resume_mismatch,
    execute_split,
)
from dataprep.split.manifest import SPLIT_JSON, SPLIT_JSON_VERSION, SplitManifest
from dataprep.split.plan import Assignment, Excluded, SourceFile, SplitPlan, plan_split
from dataprep.split.sources import collect_sources
from dataprep.split.spec import DEFAULT_SEED, MODES, ON_CONFLICT, Amount, Mode, SplitSpec, parse_amount

if TYPE_CHECKING:
    from dataprep.inspection.validate import ValidateOptions

__all__ = [
    "DEFAULT_SEED", "JOURNAL_NAME", "MODES", "ON_CONFLICT", "SPLIT_JSON", "SPLIT_JSON_VERSION", "Amount", "Assignment",
    "Excluded", "Mode", "SourceFile", "SplitManifest", "SplitPlan", "SplitRequest", "SplitResult", "SplitSpec",
    "collect_sources", "execute_split", "parse_amount", "plan_split", "split_dataset",
]  # fmt: skip


@dataclass(frozen=True)
class SplitRequest:
    """Everything one `split` run is asked: where from, where to, what and how."""

    raw: Path
    out: Path
    spec: SplitSpec = field(default_factory=SplitSpec)
    seed: int = DEFAULT_SEED
    mode: str = "copy"
    include_invalid: bool = False
    resume: bool = False
    force: bool = False
    dry_run: bool = False
    semantic: bool = False  # look-alike copies kept together too

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise DataprepError(f"unknown --mode {self.mode!r}; expected one of {'|'.join(MODES)}")
        if self.mode == "folds" and not self.spec.folds:
            raise DataprepError(
                "--mode folds records cross-validation folds and copies only the test split, so it needs --folds K; "
                "pass e.g. --folds 5, or --mode copy|hardlink|symlink|move"
            )
        if self.resume and self.force:
            raise DataprepError(
                "--resume and --force contradict each other; pass one: --resume finishes, --force starts over"
            )


@dataclass
class SplitResult:
    """What `split_dataset` did (or, with `dry_run`, would do)."""

    raw: Path
    out: Path
    mode: str
    plan: SplitPlan
    excluded: list[Excluded]
    dry_run: bool = False
    written: int = 0
    already_done: int = 0
    removed: int = 0
    resumed: bool = False
    seconds: dict[str, float] = field(default_factory=dict)  # "inspect" (validate + plan), "write"

    @property
    def manifest(self) -> Path:
        return self.out / SPLIT_JSON

    def to_dict(self) -> dict[str, Any]:
        """The summary the CLI prints with --json (the per-file list lives in split.json)."""
        return {
            "version": SPLIT_JSON_VERSION,
            "raw": str(self.raw),
            "out": str(self.out),
            "mode": self.mode,
            "seed": self.plan.seed,
            "spec": self.plan.spec.to_dict(),
            "dry_run": self.dry_run,
            "resumed": self.resumed,
            "counts": self.plan.counts(),
            "files": len(self.plan.assignments),
            "written": self.written,
            "already_done": self.already_done,
            "removed_from_previous_split": self.removed,
            "duplicate_groups": len(self.plan.duplicate_groups),
            "excluded": [e.to_dict() for e in self.excluded + self.plan.unused],
            "warnings": self.plan.warnings,
            "manifest": None if self.dry_run else str(self.manifest),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def split_dataset(
    raw: str | os.PathLike[str],
    out: str | os.PathLike[str],
    spec: SplitSpec | None = None,
    *,
    seed: int = DEFAULT_SEED,
    mode: str = "copy",
    include_invalid: bool = False,
    resume: bool = False,
    force: bool = False,
    dry_run: bool = False,
    validate_options: ValidateOptions | None = None,
    after_file: FileHook | None = None,
    semantic: bool = False,
) -> SplitResult:
    """Split RAW (``RAW/CLASS/*``) into ``OUT/{train,val,test}/CLASS/`` plus ``OUT/split.json``.

    OUT must be new or empty, unless `resume` (finish an interrupted split started with the same
    arguments: the plan is read back from OUT/split.json) or `force` (replace a previous split:
    only files that the previous split wrote and that RAW can give again are removed; anything
    else under OUT's split folders, or the photos of a previous ``move`` split, makes it refuse
    before writing anything; other files in OUT are left alone). RAW is only changed by
    ``mode="move"``. With `dry_run` nothing is written and the result holds the plan. With
    `semantic`, look-alike copies (`dataprep.duplicates.semantic`) are kept together too.
    """
    request = SplitRequest(
        raw=Path(raw), out=Path(out), spec=spec or SplitSpec(), seed=seed, mode=mode, include_invalid=include_invalid,
        resume=resume, force=force, dry_run=dry_run, semantic=semantic,
    )  # fmt: skip
    raw_path = require_directory(request.raw, "a folder of class folders (RAW/CLASS/*.jpg)")
    check_semantic_ready(semantic)
    out_path = request.out.expanduser().resolve()
    _check_folders(raw_path, out_path)
    moves_raw = raw_path if request.mode == "move" else None
    with folder_locks("split", out_path, moves_raw, enabled=not request.dry_run):
        return _split_locked(request, raw_path, out_path, validate_options, after_file)


def _split_locked(
    request: SplitRequest,
    raw_path: Path,
    out_path: Path,
    validate_options: ValidateOptions | None,
    after_file: FileHook | None,
) -> SplitResult:
    """`split_dataset` with its folders checked and locked."""
    # A run killed before its split.json was in place leaves at most our temporaries and journal:
    # no file was placed yet, so such an OUT counts as empty.
    entries = [e for e in _entries(out_path) if not e.startswith(TMP_PREFIX) and e != JOURNAL_NAME]
    old = SplitManifest.read(out_path) if entries else None
    if request.resume and old is not None:
        mismatch = _resume_mismatch(old, raw_path, request.mode, request.seed, request.spec, request.include_invalid)
        if mismatch:
            raise DataprepError(
                f"cannot --resume '{out_path}' with different arguments: {mismatch}; "
                "re-run with the same arguments, or --force to start over"
            )
        result = SplitResult(raw=raw_path, out=out_path, mode=request.mode, plan=old.plan, excluded=old.excluded,
                             dry_run=request.dry_run, resumed=True)  # fmt: skip
        if not request.dry_run:
            _run(old, result, after_file, fresh=False)
        return result
    if entries and not request.force:
        if request.resume:
            raise DataprepError(
                f"nothing to resume in '{out_path}': it is not empty but has no split.json; choose an empty or new OUT"
            )
        raise DataprepError(
            f"OUT '{out_path}' is not empty ({len(entries)} entries, e.g. '{entries[0]}'); pass a new or empty folder, "
            "--resume to finish an interrupted split, or --force to replace a previous split"
        )

    started = time.perf_counter()
    found, excluded = _sources.collect_sources(
        raw_path, include_invalid=request.include_invalid, validate_options=validate_options, semantic=request.semantic
    )
    plan = plan_split(found, request.spec, request.seed)
    if not plan.assignments:
        raise DataprepError(
            f"'{raw_path}' has no images to split (all {len(excluded)} files were left out); check the folder"
        )
    if request.mode == "hardlink":
        _require_same_filesystem(raw_path, out_path)
    replacing = _previous_split_files(out_path, old) if entries else []
    result = SplitResult(
        raw=raw_path, out=out_path, mode=request.mode, plan=plan, excluded=excluded, dry_run=request.dry_run
    )
    result.seconds["inspect"] = time.perf_counter() - started
    if request.dry_run:
        result.removed = len(replacing)
        return result
    manifest = SplitManifest(raw=str(raw_path), mode=request.mode, plan=plan, include_invalid=request.include_invalid,
                             excluded=excluded + plan.unused, replacing=replacing)  # fmt: skip
    if request.spec.folds:
        manifest.folds, manifest.k = (
            plan_fold_numbers(found, plan, request.spec.folds, request.seed),
            request.spec.folds,
        )
    _run(manifest, result, after_file, fresh=True)
    return result


def plan_fold_numbers(found: list[SourceFile], plan: SplitPlan, k: int, seed: int) -> dict[str, int]:
    """Cross-validation folds over every planned file outside the held-out test split: stratified
    per class, seeded, each duplicate group inside one fold (`dataprep.split.folds.plan_folds`). The
    planner already keeps a group inside one split, so no group straddles test and the folds."""
    from dataprep.split.folds import plan_folds

    in_folds = {a.source for a in plan.assignments if a.split != "test"}
    return plan_folds([(f.rel, f.label, f.group_key) for f in found if f.rel in in_folds], k, seed)


def _run(manifest: SplitManifest, result: SplitResult, after_file: FileHook | None, *, fresh: bool) -> None:
    """The one execution path of a fresh and a resumed split: intent on disk first (split.json,
    then the journal's 'begin'), the previous split's files removed (--force), every file placed,
    then split.json marked complete and the journal dropped."""
    started = time.perf_counter()
    out, raw, plan = result.out, result.raw, manifest.plan
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)
    journal = Journal(out / JOURNAL_NAME)
    if fresh:
        manifest.complete = False
        manifest.write(out)  # intent first: the plan (and what --force replaces) is on disk before any file is touched
        removed, done = False, set[str]()
    else:
        removed, done = _journal_state(journal, plan.digest())
    if not removed:  # a fresh run, or killed before the previous split's files were all removed: no file placed yet
        journal.append({"op": "begin", "digest": plan.digest(), "mode": manifest.mode})
        result.removed = _remove_previous(out, manifest.replacing)
        journal.append({"op": "removed"})
    result.written, result.already_done = execute_split(plan, raw, out, manifest.mode, journal=journal, done=done,
                                                        after_file=after_file, fresh=fresh)  # fmt: skip
    fsync_dir(out)
    manifest.complete = True
    manifest.replacing = []
    manifest.write(out)
    journal.path.unlink(missing_ok=True)
    fsync_dir(out)
    result.seconds["write"] = time.perf_counter() - started
