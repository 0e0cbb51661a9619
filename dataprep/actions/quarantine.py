"""The record every mutating command writes: a folder beside the dataset with `manifest.json` and `journal.jsonl`.

`clean` (and `clean --label-issues`) and `convert` write to the quarantine (default: a sibling
`DIR.quarantine/`, mirroring the dataset's relative paths); `relabel` writes the same kind of record to
`DIR.relabel/`. The manifest lists each file a command acted on: its path in the dataset, the `action`
that moved it (`move`, `delete`, `convert`, `relabel`), its size, sha256, findings and `status`. The
journal holds one intent line before and one done line after every file operation.

This module owns the record and nothing above it: the actions (clean, convert, relabel) write entries
through it, and `dataprep.actions.restore` undoes each entry by its action. It imports no action.
"""

from __future__ import annotations

import json
import time
from pathlib import Path, PurePosixPath
from typing import Any

from dataprep.base.errors import DataprepError
from dataprep.base.journal import Journal, move_atomic, sha256_file, write_json_atomic

MANIFEST = "manifest.json"
JOURNAL = "journal.jsonl"
MANIFEST_VERSION = 1
RESERVED = frozenset({MANIFEST, JOURNAL})

# Entry statuses in the manifest. PLANNED: on record, not yet done (a killed run left it); the others
# say where the file is now.
PLANNED, QUARANTINED, DELETED, RESTORED = "planned", "quarantined", "deleted", "restored"
CONVERTED, RELABELED = "converted", "relabeled"


def default_quarantine(root: Path) -> Path:
    """Where `clean` and `convert` put what they take out of `root` unless told otherwise."""
    return root.parent / f"{root.name}.quarantine"


def now() -> str:
    """The timestamp written into manifest entries."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def safe_rel(rel: str, root: Path, where: str) -> Path:
    """The path `rel` names under `root`, refusing anything that would leave `root` (`where` names
    the record it came from, for the message)."""
    pure = PurePosixPath(rel)
    if not rel or pure.is_absolute() or ".." in pure.parts or "\\" in rel:
        raise DataprepError(f"{where} names {rel!r}, which is outside the dataset folder; refusing (edit or remove it)")
    target = root.joinpath(*pure.parts)
    resolved_parent = target.parent.resolve()
    if resolved_parent != root.resolve() and root.resolve() not in resolved_parent.parents:
        raise DataprepError(f"{where} names {rel!r}, which resolves outside '{root}'; refusing")
    return target


def sha256_or_none(path: Path) -> str | None:
    """The file's sha256; None when it cannot be read (a rename needs no read permission, so an
    unreadable file is still quarantined; without a hash a cross-filesystem copy is not trusted)."""
    try:
        return sha256_file(path)
    except OSError:
        return None


class Manifest:
    """The record's manifest: which files left (or moved within) which dataset, and where they are now."""

    def __init__(self, quarantine: Path, root: Path, entries: dict[str, dict[str, Any]] | None = None) -> None:
        self.quarantine = quarantine
        self.root = root
        self.entries: dict[str, dict[str, Any]] = entries or {}

    @classmethod
    def load(cls, quarantine: Path) -> Manifest | None:
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
                "updated": now(),
                "entries": [self.entries[k] for k in sorted(self.entries)],
            },
        )


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


def move_back(rel: str, entry: dict[str, Any], stored: Path, original: Path, journal: Journal, dry_run: bool) -> str:
    """Undo one recorded move: put the file at `stored` back at `original`, never overwriting a file.

    Returns 'restored', 'refused' (another file is where the original was), or 'settled' (the file is
    already back: planned but never moved, or restored by a killed run). Sets the entry's status unless
    `dry_run`."""
    if not stored.exists():
        if original.exists():
            if not dry_run:
                entry["status"] = RESTORED
                journal.append({"op": "restore", "path": rel, "phase": "done", "recovered": True})
            return "settled"
        raise DataprepError(
            f"'{rel}' is in the manifest but neither at '{stored}' nor at '{original}'; it was moved by hand"
        )
    if original.exists():
        if entry.get("sha256") and sha256_file(original) == entry["sha256"] == sha256_file(stored):
            # both copies identical: an interrupted cross-filesystem move; keep the original
            if not dry_run:
                stored.unlink()
                entry["status"] = RESTORED
                journal.append({"op": "restore", "path": rel, "phase": "done", "recovered": True})
            return "restored"
        return "refused"
    if not dry_run:
        journal.append({"op": "restore", "path": rel, "phase": "intent"})
        move_atomic(stored, original)
        entry["status"] = RESTORED
        journal.append({"op": "restore", "path": rel, "phase": "done"})
    return "restored"
