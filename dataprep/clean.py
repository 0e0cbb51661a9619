"""`clean` moves what validate condemns out of the dataset; `restore` puts it back.

The quarantine folder (default: a sibling `DIR.quarantine/`) mirrors the dataset's relative
paths and holds `manifest.json` (what was moved, from where, its size, sha256 and findings)
and `journal.jsonl` (one intent line before and one done line after every file operation).

Crash safety: the manifest lists every planned file *before* the first move, and each move is
one rename (or an atomic copy then unlink across filesystems). Whatever instant a run is
killed at, each file is in the dataset, in the quarantine, or (cross-filesystem only) in both
with identical bytes; a re-run of `clean` or a `restore` looks at both places and finishes the
job. Nothing is deleted unless `--delete` says so.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from dataprep.damage import decode_damage
from dataprep.duplicates import DEFAULT_THRESHOLD, DuplicateGroup, search_folder
from dataprep.errors import DataprepError
from dataprep.findings import Finding, Severity
from dataprep.folder_lock import folder_locks
from dataprep.journal import (
    Journal,
    crash_point,
    fsync_dir,
    move_atomic,
    reconcile_move,
    remove_stale_temporaries,
    sha256_file,
    walk_tree,
    write_json_atomic,
)
from dataprep.report import FileResult, Report
from dataprep.scan import require_directory
from dataprep.validate import ValidateOptions, validate

MANIFEST = "manifest.json"
JOURNAL = "journal.jsonl"
MANIFEST_VERSION = 1
RESERVED = frozenset({MANIFEST, JOURNAL})

# Entry statuses in the manifest.
PLANNED, QUARANTINED, DELETED, RESTORED = "planned", "quarantined", "deleted", "restored"


@dataclass
class CleanOptions:
    """What `clean` removes and how. Junk files always go; images go when their worst finding
    is at or above `level`."""

    level: Severity = Severity.ERROR
    duplicates: bool = False  # also remove all but the largest file of each duplicate group
    threshold: int = DEFAULT_THRESHOLD  # pHash bits for near duplicates (dataprep.duplicates)
    quarantine: Path | None = None
    delete: bool = False
    dry_run: bool = False
    validate: ValidateOptions = field(default_factory=ValidateOptions)
    # Instead of `level` and `duplicates`: pick the files from validate's report (e.g. the
    # suspects of `trainer label-issues`, see dataprep.label_issues).
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


@dataclass
class RestoreResult:
    root: Path
    quarantine: Path
    restored: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    not_restorable: list[str] = field(default_factory=list)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": MANIFEST_VERSION,
            "root": str(self.root),
            "quarantine": str(self.quarantine),
            "dry_run": self.dry_run,
            "restored": self.restored,
            "refused": self.refused,
            "deleted_not_restorable": self.not_restorable,
        }


def default_quarantine(root: Path) -> Path:
    return root.parent / f"{root.name}.quarantine"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _safe_rel(rel: str, root: Path, where: str) -> Path:
    """The path `rel` names under `root`, refusing anything that would leave `root`."""
    pure = PurePosixPath(rel)
    if not rel or pure.is_absolute() or ".." in pure.parts or "\\" in rel:
        raise DataprepError(f"{where} names {rel!r}, which is outside the dataset folder; refusing (edit or remove it)")
    target = root.joinpath(*pure.parts)
    resolved_parent = target.parent.resolve()
    if resolved_parent != root.resolve() and root.resolve() not in resolved_parent.parents:
        raise DataprepError(f"{where} names {rel!r}, which resolves outside '{root}'; refusing")
    return target


class Manifest:
    """The quarantine's manifest: which files left which dataset, and where they are now."""

    def __init__(self, quarantine: Path, root: Path, entries: dict[str, dict[str, Any]] | None = None) -> None:
        self.quarantine = quarantine
        self.root = root
        self.entries: dict[str, dict[str, Any]] = entries or {}

    @classmethod
    def load(cls, quarantine: Path) -> Manifest | None:
        import json

        path = quarantine / MANIFEST
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            root = Path(data["root"])
            entries = {e["path"]: e for e in data["entries"]}
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise DataprepError(f"cannot read '{path}': {err}; it is not a dataprep quarantine manifest") from None
        return cls(quarantine, root, entries)

    def save(self) -> None:
        write_json_atomic(
            self.quarantine / MANIFEST,
            {
                "version": MANIFEST_VERSION,
                "tool": "dataprep",
                "root": str(self.root),
                "updated": _now(),
                "entries": [self.entries[k] for k in sorted(self.entries)],
            },
        )


def _sha256_or_none(path: Path) -> str | None:
    """The file's sha256; None when it cannot be read (a rename needs no read permission, so an
    unreadable file is still quarantined; without a hash a cross-filesystem copy is not trusted)."""
    try:
        return sha256_file(path)
    except OSError:
        return None


# Errors `dataprep convert` fixes (an image TensorFlow cannot read, or reads wrongly, while Pillow
# reads it): the file is a photo to train on, so clean leaves it for convert instead of removing it.
CONVERTIBLE = frozenset({"unsupported_format", "tf_decode", "wrong_pixels"})


def convertible(r: FileResult) -> bool:
    """True when every error of `r` is one `dataprep convert` fixes and its decode was not
    damaged (`dataprep.damage`: cut short, corrupt data, decoders disagreeing about the picture):
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
        src = _safe_rel(rel, manifest.root, "the manifest")
        if entry["action"] == "delete":
            if not src.exists():
                entry["status"] = DELETED
                settled += 1
            continue
        dst = _safe_rel(rel, manifest.quarantine, "the manifest")
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
    quarantine = (opts.quarantine or default_quarantine(base)).expanduser().resolve()
    if quarantine == base or base in quarantine.parents:
        raise DataprepError(
            f"quarantine '{quarantine}' is inside the dataset '{base}'; choose a folder outside it (--quarantine)"
        )
    if quarantine in base.parents:
        raise DataprepError(f"quarantine '{quarantine}' contains the dataset '{base}'; choose another --quarantine")
    with folder_locks("clean", quarantine, base, enabled=not opts.dry_run):
        return _clean(base, quarantine, opts)


def _clean(base: Path, quarantine: Path, opts: CleanOptions) -> CleanResult:
    """`clean` with its folders checked and locked."""
    manifest = Manifest.load(quarantine)
    if manifest is not None and manifest.root.resolve() != base:
        raise DataprepError(
            f"'{quarantine}' is the quarantine of '{manifest.root}', not of '{base}'; pass another --quarantine"
        )
    manifest = manifest or Manifest(quarantine, base)
    journal = Journal(quarantine / JOURNAL)

    recovered = 0
    if not opts.dry_run and any(e["status"] == PLANNED for e in manifest.entries.values()):
        remove_stale_temporaries(quarantine)
        recovered = _recover(manifest, journal)
        manifest.save()

    report = validate(base, opts.validate)
    # Only files the scan listed move: a link not followed, an unreadable folder or an empty
    # class folder is reported by validate, never touched here.
    files = {r.rel for r in report.scan.images} | {r.rel for r in report.scan.junk}
    to_convert: list[str] = []
    if opts.select is not None:
        selected = [r for r in opts.select(report) if r.rel in files]
    else:
        selected, to_convert = _selected([r for r in report.results if r.rel in files], opts.level)
    if opts.duplicates and opts.select is None:
        order = {r.rel: i for i, r in enumerate(report.results)}
        groups = search_folder(report.root, report.results, opts.threshold, options=opts.validate).groups
        extra = _duplicate_copies(report.results, groups, {r.rel for r in selected})
        selected = sorted(selected + extra, key=lambda r: order[r.rel])
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

    action = "delete" if opts.delete else "move"
    for r in selected:
        if r.rel in RESERVED:
            raise DataprepError(f"'{r.rel}' has the name of the quarantine's own {r.rel}; rename it and re-run")
        previous = manifest.entries.get(r.rel)
        earlier = previous is not None and previous["status"] == QUARANTINED and not opts.delete
        if earlier and _safe_rel(r.rel, quarantine, "the manifest").exists():
            raise DataprepError(
                f"'{r.rel}' is already in the quarantine '{quarantine}' from an earlier clean; "
                "restore or move that copy away first"
            )
        manifest.entries[r.rel] = {
            "path": r.rel,
            "size": r.size,
            "sha256": r.sha256 or _sha256_or_none(base / r.rel),
            "findings": [{"check": f.check, "severity": f.severity.value, "detail": f.detail} for f in r.findings],
            "action": action,
            "status": PLANNED,
            "time": _now(),
        }
    manifest.save()  # every planned file is on record before the first one moves

    for r in selected:
        entry = manifest.entries[r.rel]
        src = _safe_rel(r.rel, base, "the report")
        journal.append(
            {"op": "quarantine", "path": r.rel, "phase": "intent", "action": action, "sha256": entry["sha256"]}
        )
        if opts.delete:
            src.unlink(missing_ok=True)
            fsync_dir(src.parent)
            crash_point()  # the kill tests' hook: one file operation done
            entry["status"] = DELETED
            result.deleted += 1
        else:
            move_atomic(src, _safe_rel(r.rel, quarantine, "the report"))
            entry["status"] = QUARANTINED
            result.moved += 1
        journal.append({"op": "quarantine", "path": r.rel, "phase": "done"})
    manifest.save()
    return result


def open_record_folder(base: Path, folder: Path, what: str, flag: str) -> tuple[Path, Manifest]:
    """The folder (resolved) where a mutating command keeps its manifest and journal for dataset
    `base`, with the manifest found there or a new one. It must lie outside the dataset and belong
    to it: `what` names the folder in messages ("quarantine", "relabel record"), `flag` the option."""
    folder = folder.expanduser().resolve()
    if folder == base or base in folder.parents or folder in base.parents:
        raise DataprepError(f"{what} '{folder}' overlaps the dataset '{base}'; choose a folder outside it ({flag})")
    manifest = Manifest.load(folder)
    if manifest is not None and manifest.root.resolve() != base:
        raise DataprepError(f"'{folder}' is the {what} of '{manifest.root}', not of '{base}'; pass another {flag}")
    return folder, manifest or Manifest(folder, base)


def restore(quarantine: str | os.PathLike[str], dry_run: bool = False) -> RestoreResult:
    """Move every quarantined file back to where it came from, refusing to overwrite a file
    and refusing any manifest path outside the dataset folder."""
    qdir = Path(quarantine).expanduser()
    if not qdir.is_dir():
        raise DataprepError(
            f"no such quarantine folder: '{quarantine}' (expected the folder `dataprep clean` wrote); check the path"
        )
    qdir = qdir.resolve()
    manifest = Manifest.load(qdir)
    if manifest is None:
        raise DataprepError(f"'{qdir}' has no {MANIFEST}; pass the folder `dataprep clean` wrote (e.g. DIR.quarantine)")
    root = manifest.root
    if not root.is_absolute() or not root.is_dir():
        raise DataprepError(
            f"the dataset folder '{root}' named in '{qdir / MANIFEST}' does not exist (expected the folder `dataprep clean` "
            "cleaned); it was moved or the manifest was edited: put the folder back, or fix 'root'"
        )
    with folder_locks("restore", qdir, root, enabled=not dry_run):
        return _restore(Manifest.load(qdir) or manifest, dry_run)


def _restore(manifest: Manifest, dry_run: bool) -> RestoreResult:
    """`restore` with its folders checked and locked (the manifest read again under the lock)."""
    qdir, root = manifest.quarantine, manifest.root
    journal = Journal(qdir / JOURNAL)
    result = RestoreResult(root=root, quarantine=qdir, dry_run=dry_run)
    # Check every path before touching any file: an edited manifest must not move anything.
    targets = {
        rel: (_stored_at(entry, qdir, root), _safe_rel(rel, root, "the manifest"))
        for rel, entry in manifest.entries.items()
    }
    if not dry_run:
        remove_stale_temporaries(qdir)
    for rel, entry in sorted(manifest.entries.items()):
        stored, original = targets[rel]
        if entry["action"] == "convert" and entry["status"] != RESTORED:
            _restore_conversion(rel, entry, root, qdir, journal, result)
            continue
        if entry["status"] == DELETED or (entry["status"] == PLANNED and entry["action"] == "delete"):
            if not original.exists():
                result.not_restorable.append(rel)
            continue
        if entry["status"] == RESTORED:
            continue
        if not stored.exists():
            if original.exists():  # planned but never moved, or restored by a killed run
                if not dry_run:
                    entry["status"] = RESTORED
                    journal.append({"op": "restore", "path": rel, "phase": "done", "recovered": True})
                continue
            raise DataprepError(
                f"'{rel}' is in the manifest but neither in '{qdir}' nor in '{root}'; it was moved by hand"
            )
        if original.exists():
            if entry.get("sha256") and sha256_file(original) == entry["sha256"] == sha256_file(stored):
                # both copies identical: an interrupted cross-filesystem move; keep the original
                if not dry_run:
                    stored.unlink()
                    entry["status"] = RESTORED
                    journal.append({"op": "restore", "path": rel, "phase": "done", "recovered": True})
                result.restored.append(rel)
                continue
            result.refused.append(rel)
            continue
        result.restored.append(rel)
        if dry_run:
            continue
        journal.append({"op": "restore", "path": rel, "phase": "intent"})
        move_atomic(stored, original)
        entry["status"] = RESTORED
        journal.append({"op": "restore", "path": rel, "phase": "done"})
    if not dry_run:
        manifest.save()
        _remove_empty_dirs(qdir)
    return result


def _restore_conversion(
    rel: str, entry: dict[str, Any], root: Path, qdir: Path, journal: Journal, result: RestoreResult
) -> None:
    """An original `dataprep convert` replaced: remove the converted file, put the original back."""
    from dataprep.convert import restore_conversion

    outcome = restore_conversion(rel, entry, root, qdir, journal, result.dry_run)
    if outcome == "refused":
        result.refused.append(rel)
        return
    if outcome == "restored":
        result.restored.append(rel)
    if not result.dry_run:
        entry["status"] = RESTORED


def _stored_at(entry: dict[str, Any], qdir: Path, root: Path) -> Path:
    """Where a manifest entry's file is now: in the quarantine, or for `dataprep relabel`'s
    entries at its new class folder inside the dataset (`to`)."""
    if entry.get("action") == "relabel":
        return _safe_rel(str(entry.get("to", "")), root, "the manifest")
    return _safe_rel(entry["path"], qdir, "the manifest")


def _remove_empty_dirs(top: Path) -> None:
    """Remove folders under `top` that restoring emptied (never `top` itself)."""
    for dirpath, dirnames, filenames in walk_tree(top, topdown=False):
        path = Path(dirpath)
        if path != top and not filenames and not any((path / d).exists() for d in dirnames):
            try:
                path.rmdir()
            except OSError:
                pass
