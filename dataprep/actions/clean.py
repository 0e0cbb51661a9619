"""`clean` moves what validate condemns out of the dataset into the quarantine (`dataprep.actions.quarantine`).

`dataprep.actions.restore` puts it back through this module's undo rows (`undo_move`, `undo_delete`).

Crash safety: the manifest lists every planned file *before* the first move, and each move is
one rename (or an atomic copy then unlink across filesystems). Whatever instant a run is
killed at, each file is in the dataset, in the quarantine, or (cross-filesystem only) in both
with identical bytes; a re-run of `clean` or a `restore` looks at both places and finishes the
job. Nothing is deleted unless `--delete` says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataprep.actions.quarantine import (
    DELETED,
    JOURNAL,
    MANIFEST,
    MANIFEST_VERSION,
    PLANNED,
    QUARANTINED,
    RESERVED,
    Manifest,
    default_quarantine,
    move_back,
    now,
    safe_rel,
    sha256_or_none,
)
from dataprep.base.errors import DataprepError
from dataprep.base.findings import Finding, Severity
from dataprep.base.folder_lock import folder_locks
from dataprep.base.journal import Journal, crash_point, fsync_dir, move_atomic, reconcile_move, remove_stale_temporaries
from dataprep.duplicates.search import DEFAULT_THRESHOLD, DuplicateGroup, search_folder
from dataprep.inspection.damage import decode_damage
from dataprep.inspection.report import FileResult, Report
from dataprep.inspection.scan import require_directory
from dataprep.inspection.validate import ValidateOptions, validate
from dataprep.inspection.validate_stream import validate_streamed


@dataclass
class CleanOptions:
    """What `clean` removes and how. Junk files always go; images go when their worst finding
    is at or above `level`."""

    level: Severity = Severity.ERROR
    duplicates: bool = False  # also remove all but the largest file of each duplicate group
    threshold: int = DEFAULT_THRESHOLD  # pHash bits for near duplicates (dataprep.duplicates.search)
    quarantine: Path | None = None
    delete: bool = False
    dry_run: bool = False
    validate: ValidateOptions = field(default_factory=ValidateOptions)
    # Instead of `level` and `duplicates`: pick the files from validate's report (e.g. the
    # suspects of `trainer label-issues`, see dataprep.actions.relabel).
    select: Callable[[Report], list[FileResult]] | None = None


@dataclass
class CleanResult:
    root: Path
    quarantine: Path
    selected: list[FileResult]
    moved: int = 0
    deleted: int = 0
    recovered: int = 0
    dry_run: bool = False
    to_convert: list[str] = field(default_factory=list)  # images left in place: `dataprep convert` fixes them

    @property
    def manifest(self) -> Path:
        return self.quarantine / MANIFEST

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": MANIFEST_VERSION,
            "root": str(self.root),
            "quarantine": str(self.quarantine),
            "dry_run": self.dry_run,
            "action": "delete" if self.deleted else "quarantine",
            "files": [
                {"path": r.rel, "size": r.size, "findings": [f.to_dict() for f in r.findings]} for r in self.selected
            ],
            "moved": self.moved,
            "deleted": self.deleted,
            "recovered_from_interrupted_run": self.recovered,
            "left_for_convert": self.to_convert,
        }


# Errors `dataprep convert` fixes (an image TensorFlow cannot read, or reads wrongly, while Pillow
# reads it): the file is a photo to train on, so clean leaves it for convert instead of removing it.
CONVERTIBLE = frozenset({"unsupported_format", "tf_decode", "wrong_pixels"})


def convertible(r: FileResult) -> bool:
    """True when every error of `r` is one `dataprep convert` fixes and its decode was not
    damaged (`dataprep.inspection.damage`: cut short, corrupt data, decoders disagreeing about the picture):
    a damaged file is an error to remove, not a photo stored in the wrong form."""
    errors = {f.check for f in r.findings if f.severity == Severity.ERROR}
    return bool(errors) and errors <= CONVERTIBLE and not decode_damage(r)


# Warnings `dataprep convert` fixes on a good photo (the EXIF orientation baked into the pixels):
# with --level warning, clean leaves such a photo for convert as it leaves convertible errors.
CONVERT_FIXES_WARNINGS = frozenset({"exif_orientation"})


def left_for_convert(r: FileResult, level: Severity) -> bool:
    """True when `dataprep convert`, not clean, should handle `r`: its errors are all ones convert
    fixes, or it has none and a warning convert fixes is at or above `level` (not cut short)."""
    if convertible(r):
        return True
    if any(f.severity == Severity.ERROR or f.check == "truncated" for f in r.findings):
        return False
    return any(f.check in CONVERT_FIXES_WARNINGS and f.severity >= level for f in r.findings)


def _selected(results: list[FileResult], level: Severity) -> tuple[list[FileResult], list[str]]:
    """(what to remove, the images left in place for `dataprep convert`)."""
    chosen = []
    left: list[str] = []
    for r in results:
        worst = r.worst
        is_junk = any(f.check == "junk_file" for f in r.findings)
        if not is_junk and left_for_convert(r, level):
            others = [
                f for f in r.findings
                if f.severity != Severity.ERROR and f.severity >= level and f.check not in CONVERT_FIXES_WARNINGS
            ]  # fmt: skip
            left.append(r.rel)
            if not others:
                continue
        if is_junk or (worst is not None and worst >= level):
            chosen.append(r)
    return chosen, left


def kept_copy(staying: Sequence[FileResult]) -> FileResult:
    """The file `clean --duplicates` keeps of a group: the largest (most pixels, then most bytes;
    ties: the first in natural order). `dataprep report` marks the same one."""
    return max(staying, key=lambda r: ((r.width or 0) * (r.height or 0), r.size))  # max keeps the first of ties


def _duplicate_copies(results: list[FileResult], groups: list[DuplicateGroup], leaving: set[str]) -> list[FileResult]:
    """All but one file of each duplicate group: the one kept is the largest (most pixels,
    then most bytes; ties: first in natural order) of those not already leaving."""
    severity = Severity.INFO
    by_rel = {r.rel: r for r in results}
    extra: list[FileResult] = []
    leaving = set(leaving)  # grows: a file removed as one group's copy is not kept for an overlapping group
    for g in groups:
        staying = [by_rel[p] for p in g.paths if p not in leaving]
        if len(staying) < 2:
            continue
        keep = kept_copy(staying)
        for r in staying:
            if r is keep:
                continue
            pair = g.between(r.rel, keep.rel)
            what = pair.describe() if pair is not None else f"{g.kind} copy"
            detail = f"{what} of {keep.rel}, which is kept as the largest of its group of {len(g.members)}"
            r.findings.append(Finding(r.rel, "near_duplicate", severity, detail))
            extra.append(r)
            leaving.add(r.rel)
    return extra


def _recover(manifest: Manifest, journal: Journal) -> int:
    """Settle every entry a killed run left as 'planned'. Returns how many were settled."""
    settled = 0
    for rel, entry in manifest.entries.items():
        if entry["status"] != PLANNED or entry["action"] == "convert":  # convert finishes its own
            continue
        src = safe_rel(rel, manifest.root, "the manifest")
        if entry["action"] == "delete":
            if not src.exists():
                entry["status"] = DELETED
                settled += 1
            continue
        dst = safe_rel(rel, manifest.quarantine, "the manifest")
        state = reconcile_move(src, dst, entry.get("sha256"))
        if state in ("done", "duplicate-resolved"):
            entry["status"] = QUARANTINED
            journal.append({"op": "quarantine", "path": rel, "phase": "done", "recovered": True})
            settled += 1
    return settled


def clean(root: str | os.PathLike[str], options: CleanOptions | None = None) -> CleanResult:
    """Move (or with `delete`, delete) every junk file and every image whose worst finding is
    at or above `options.level` out of `root`, recording each in the quarantine manifest."""
    opts = options or CleanOptions()
    base = require_directory(root)
    quarantine = _quarantine_folder(base, opts.quarantine)
    with folder_locks("clean", quarantine, base, enabled=not opts.dry_run):
        return _clean(base, quarantine, opts)


def _clean(base: Path, quarantine: Path, opts: CleanOptions) -> CleanResult:
    """`clean` with its folders checked and locked."""
    manifest = _open_manifest(base, quarantine)
    journal = Journal(quarantine / JOURNAL)
    recovered = 0
    if not opts.dry_run and any(e["status"] == PLANNED for e in manifest.entries.values()):
        remove_stale_temporaries(quarantine)
        recovered = _recover(manifest, journal)
        manifest.save()
    selected, to_convert = _choose(base, opts)
    result = CleanResult(
        root=base,
        quarantine=quarantine,
        selected=selected,
        recovered=recovered,
        dry_run=opts.dry_run,
        to_convert=to_convert,
    )
    if opts.dry_run or not selected:
        return result
    _plan(manifest, selected, "delete" if opts.delete else "move")
    manifest.save()  # every planned file is on record before the first one moves
    for r in selected:
        _remove_one(r, manifest, journal, opts.delete)
        if opts.delete:
            result.deleted += 1
        else:
            result.moved += 1
    manifest.save()
    return result


def _quarantine_folder(base: Path, requested: Path | None) -> Path:
    """The quarantine folder (resolved): outside the dataset."""
    quarantine = (requested or default_quarantine(base)).expanduser().resolve()
    if quarantine == base or base in quarantine.parents:
        raise DataprepError(
            f"quarantine '{quarantine}' is inside the dataset '{base}'; choose a folder outside it (--quarantine)"
        )
    if quarantine in base.parents:
        raise DataprepError(f"quarantine '{quarantine}' contains the dataset '{base}'; choose another --quarantine")
    return quarantine


def _open_manifest(base: Path, quarantine: Path) -> Manifest:
    """The quarantine's manifest (a new one when it has none), refusing another dataset's."""
    manifest = Manifest.load(quarantine)
    if manifest is not None and manifest.root.resolve() != base:
        raise DataprepError(
            f"'{quarantine}' is the quarantine of '{manifest.root}', not of '{base}'; pass another --quarantine"
        )
    return manifest or Manifest(quarantine, base)


def _choose(base: Path, opts: CleanOptions) -> tuple[list[FileResult], list[str]]:
    """(what leaves the dataset, in report order; the images left in place for `dataprep convert`).

    By severity alone, only the files with a finding are read back from validate's run file, so
    memory grows with what leaves, not with the dataset; duplicates and a `select` need the whole
    report. Only files the scan listed move: a link not followed, an unreadable folder or an empty
    class folder is reported by validate, never touched here."""
    if opts.select is None and not opts.duplicates:
        streamed = validate_streamed(base, opts.validate)
        try:
            return _selected(list(streamed.flagged_files()), opts.level)
        finally:
            streamed.store.close()
    report = validate(base, opts.validate)
    files = {r.rel for r in report.scan.images} | {r.rel for r in report.scan.junk}
    if opts.select is not None:
        return [r for r in opts.select(report) if r.rel in files], []
    selected, to_convert = _selected([r for r in report.results if r.rel in files], opts.level)
    if opts.duplicates:
        order = {r.rel: i for i, r in enumerate(report.results)}
        groups = search_folder(report.root, report.results, opts.threshold, options=opts.validate).groups
        extra = _duplicate_copies(report.results, groups, {r.rel for r in selected})
        selected = sorted(selected + extra, key=lambda r: order[r.rel])
    return selected, to_convert


def _plan(manifest: Manifest, selected: list[FileResult], action: str) -> None:
    """Put every file about to leave on record as planned, refusing names and copies in the way."""
    quarantine, base = manifest.quarantine, manifest.root
    for r in selected:
        if r.rel in RESERVED:
            raise DataprepError(f"'{r.rel}' has the name of the quarantine's own {r.rel}; rename it and re-run")
        previous = manifest.entries.get(r.rel)
        earlier = previous is not None and previous["status"] == QUARANTINED and action == "move"
        if earlier and safe_rel(r.rel, quarantine, "the manifest").exists():
            raise DataprepError(
                f"'{r.rel}' is already in the quarantine '{quarantine}' from an earlier clean; "
                "restore or move that copy away first"
            )
        manifest.entries[r.rel] = {
            "path": r.rel,
            "size": r.size,
            "sha256": r.sha256 or sha256_or_none(base / r.rel),
            "findings": [{"check": f.check, "severity": f.severity.value, "detail": f.detail} for f in r.findings],
            "action": action,
            "status": PLANNED,
            "time": now(),
        }


def _remove_one(r: FileResult, manifest: Manifest, journal: Journal, delete: bool) -> None:
    """Move one planned file into the quarantine (or delete it), journaled before and after."""
    entry = manifest.entries[r.rel]
    src = safe_rel(r.rel, manifest.root, "the report")
    journal.append({"op": "quarantine", "path": r.rel, "phase": "intent", "action": entry["action"],
                    "sha256": entry["sha256"]})  # fmt: skip
    if delete:
        src.unlink(missing_ok=True)
        fsync_dir(src.parent)
        crash_point()  # the kill tests' hook: one file operation done
        entry["status"] = DELETED
    else:
        move_atomic(src, safe_rel(r.rel, manifest.quarantine, "the report"))
        entry["status"] = QUARANTINED
    journal.append({"op": "quarantine", "path": r.rel, "phase": "done"})


# --- undo (rows of dataprep.actions.restore's table) ---------------------------------------------------


def undo_move(rel: str, entry: dict[str, Any], root: Path, folder: Path, journal: Journal, dry_run: bool) -> str:
    """Put a quarantined file back where `clean` took it from."""
    return move_back(
        rel, entry, safe_rel(rel, folder, "the manifest"), safe_rel(rel, root, "the manifest"), journal, dry_run
    )


def undo_delete(rel: str, entry: dict[str, Any], root: Path, folder: Path, journal: Journal, dry_run: bool) -> str:
    """A deleted file cannot come back; one `clean --delete` planned but never removed is still there."""
    return "kept" if safe_rel(rel, root, "the manifest").exists() else "not_restorable"
