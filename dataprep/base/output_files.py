"""The one rule for every file a user names with an output option (`--csv`, `--plot`,
`--confusion`, `--grid`, `--out`): an existing file is never replaced unless `--force`.

Checked at the edge, before any work, so a refused command has written nothing; commands that
write for a long time check again just before writing (another process may have made the file
meanwhile). Files a command writes into its own folders (a run folder, the quarantine) are not
covered: those folders have their own rules (`--resume`, `--force` of split).
"""

from __future__ import annotations

from pathlib import Path

from dataprep.base.errors import DataprepError

FORCE_HELP = "Overwrite the output file(s) named by --csv/--plot/--confusion/--grid/--out if they exist."


def require_new_file(path: Path | None, option: str, force: bool, suffix: str | None = None) -> Path | None:
    """`path` when it may be written: not a folder, of type `suffix` when given, and new unless `force`."""
    if path is None:
        return None
    if path.is_dir():
        example = path / f"NAME{suffix or ''}"
        raise DataprepError(f"{option} '{path}' is a directory (expected a file name); e.g. {option} {example}")
    if suffix is not None and path.suffix.lower() != suffix:
        raise DataprepError(
            f"{option} '{path}' does not end in {suffix} (expected a {suffix} file); e.g. {option} {path.with_suffix(suffix)}"
        )
    if path.exists() and not force:
        raise DataprepError(
            f"{option} '{path}' already exists (expected a new file); pass --force to overwrite it or choose another {option}"
        )
    return path
