"""`restore`: undo every action a record folder (quarantine or relabel record) holds.

Each manifest entry names the `action` that wrote it; the table below maps each action to the
function of the command that undoes it. A new mutating command is one row here (and one undo
function beside the command). Every path in the manifest is checked before any file moves, so an
edited manifest moves nothing; no file is overwritten.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataprep.actions.clean import undo_delete, undo_move
from dataprep.actions.convert import undo_conversion
from dataprep.actions.quarantine import JOURNAL, MANIFEST, MANIFEST_VERSION, RESTORED, Manifest, safe_rel
from dataprep.actions.relabel import undo_relabel
from dataprep.base.errors import DataprepError
from dataprep.base.folder_lock import folder_locks
from dataprep.base.journal import Journal, remove_stale_temporaries, walk_tree

# (rel, entry, dataset root, record folder, journal, dry_run) -> 'restored' | 'refused' |
# 'not_restorable' | 'settled' (already back) | 'kept' (nothing to undo)
Undo = Callable[[str, dict[str, Any], Path, Path, Journal, bool], str]

UNDO: dict[str, Undo] = {
    "move": undo_move,  # clean (and clean --label-issues)
    "delete": undo_delete,  # clean --delete
    "convert": undo_conversion,  # convert
    "relabel": undo_relabel,  # relabel
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


def _open(quarantine: str | os.PathLike[str]) -> Manifest:
    """The record folder's manifest, refusing a folder that is none or whose dataset is gone."""
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
    return manifest


def _check_entries(manifest: Manifest) -> None:
    """Refuse, before anything moves, an entry with an unknown action or a path outside its folder."""
    for rel, entry in manifest.entries.items():
        if entry.get("action") not in UNDO:
            raise DataprepError(
                f"'{manifest.quarantine / MANIFEST}' records {rel!r} with action {entry.get('action')!r} "
                f"(expected one of {', '.join(UNDO)}); the manifest was edited or is from a newer dataprep"
            )
        safe_rel(rel, manifest.root, "the manifest")
        safe_rel(rel, manifest.quarantine, "the manifest")
        for key in ("to", "converted_to"):
            if key in entry:
                safe_rel(str(entry[key]), manifest.root, "the manifest")


def restore(quarantine: str | os.PathLike[str], dry_run: bool = False) -> RestoreResult:
    """Undo every recorded action of a quarantine (or relabel record), refusing to overwrite a file
    and refusing any manifest path outside the dataset folder."""
    manifest = _open(quarantine)
    with folder_locks("restore", manifest.quarantine, manifest.root, enabled=not dry_run):
        return _restore(Manifest.load(manifest.quarantine) or manifest, dry_run)


def _restore(manifest: Manifest, dry_run: bool) -> RestoreResult:
    """`restore` with its folders checked and locked (the manifest read again under the lock)."""
    qdir, root = manifest.quarantine, manifest.root
    _check_entries(manifest)
    journal = Journal(qdir / JOURNAL)
    result = RestoreResult(root=root, quarantine=qdir, dry_run=dry_run)
    if not dry_run:
        remove_stale_temporaries(qdir)
    lists = {"restored": result.restored, "refused": result.refused, "not_restorable": result.not_restorable}
    for rel, entry in sorted(manifest.entries.items()):
        if entry["status"] == RESTORED:
            continue
        outcome = UNDO[entry["action"]](rel, entry, root, qdir, journal, dry_run)
        if outcome in lists:
            lists[outcome].append(rel)
    if not dry_run:
        manifest.save()
        _remove_empty_dirs(qdir)
    return result


def _remove_empty_dirs(top: Path) -> None:
    """Remove folders under `top` that restoring emptied (never `top` itself)."""
    for dirpath, dirnames, filenames in walk_tree(top, topdown=False):
        path = Path(dirpath)
        if path != top and not filenames and not any((path / d).exists() for d in dirnames):
            try:
                path.rmdir()
            except OSError:
                pass
