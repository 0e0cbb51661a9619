"""Walk a dataset folder: which files are images, which class and split each belongs to.

Two layouts are recognised: ``root/CLASS/file`` (raw) and ``root/{train,val,test}/CLASS/file``
(split). Files are listed in natural order (``img2`` before ``img10``) so every command sees
the same order on every machine. Junk (Thumbs.db, .DS_Store, desktop.ini, AppleDouble ``._*``
files, anything without an image extension) is listed separately: reported, never silently
copied or dropped. Symbolic links to folders are not followed (no loops, no escaping ROOT).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dataprep.errors import DataprepError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".heic", ".heif", ".avif"}
)
JUNK_NAMES = frozenset({"thumbs.db", ".ds_store", "desktop.ini", "ehthumbs.db", ".directory"})
SPLIT_NAMES = ("train", "val", "test")

Layout = Literal["raw", "split", "flat"]


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders embedded numbers numerically: cat2.jpg < cat10.jpg."""
    return tuple((0, int(part)) if part.isdigit() else (1, part.lower()) for part in re.split(r"(\d+)", text) if part)


def junk_reason(name: str) -> str | None:
    """Why a file name is junk, or None when it looks like an image."""
    lower = name.lower()
    if lower in JUNK_NAMES:
        return f"system file {name!r}"
    if lower.startswith("._"):
        return "macOS AppleDouble metadata file"
    ext = os.path.splitext(lower)[1]
    if ext not in IMAGE_EXTENSIONS:
        return f"not an image extension ({ext or 'none'})"
    return None


@dataclass(frozen=True)
class FileRecord:
    """One file found under the root. `rel` is the POSIX path relative to the root."""

    path: Path
    rel: str
    label: str | None
    split: str | None
    size: int
    mtime_ns: int

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class Scan:
    """What is under a dataset root: image candidates and junk, in natural order."""

    root: Path
    layout: Layout
    images: list[FileRecord] = field(default_factory=list)
    junk: list[FileRecord] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        """Class names (folder names), natural-sorted."""
        return sorted({r.label for r in self.images if r.label is not None}, key=natural_key)

    @property
    def splits(self) -> list[str]:
        present = {r.split for r in self.images if r.split is not None}
        return [s for s in SPLIT_NAMES if s in present]

    @property
    def files(self) -> list[FileRecord]:
        """Every file, images and junk, in natural order."""
        return sorted(self.images + self.junk, key=lambda r: natural_key(r.rel))


def require_directory(root: str | os.PathLike[str], what: str = "a dataset folder") -> Path:
    """Return `root` as an absolute Path, or raise one clear DataprepError."""
    path = Path(root).expanduser()
    if not path.exists():
        raise DataprepError(f"no such directory: '{root}' (expected {what}); check the path")
    if not path.is_dir():
        raise DataprepError(f"not a directory: '{root}' (expected {what}); pass the folder, not a file")
    return path.resolve()


def detect_layout(root: Path) -> Layout:
    """'split' when root holds train/ (and maybe val/, test/) folders, 'raw' when it holds
    class folders, 'flat' when images sit directly in root."""
    subdirs = {p.name for p in root.iterdir() if p.is_dir() and not p.is_symlink()}
    if "train" in subdirs and subdirs <= set(SPLIT_NAMES):
        return "split"
    if subdirs:
        return "raw"
    return "flat"


def scan_dataset(root: str | os.PathLike[str]) -> Scan:
    """List every file under `root` (recursively) as image candidates and junk."""
    base = require_directory(root)
    layout = detect_layout(base)
    scan = Scan(root=base, layout=layout)
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames.sort(key=natural_key)
        for name in filenames:
            full = Path(dirpath) / name
            try:
                st = full.stat()
            except OSError:
                continue  # dangling symlink or vanished file: nothing to check
            if not full.is_file():
                continue
            rel = full.relative_to(base).as_posix()
            parts = rel.split("/")
            split: str | None = None
            label: str | None = None
            if layout == "split" and len(parts) >= 3 and parts[0] in SPLIT_NAMES:
                split, label = parts[0], parts[1]
            elif layout != "split" and len(parts) >= 2:
                label = parts[0]
            record = FileRecord(path=full, rel=rel, label=label, split=split, size=st.st_size, mtime_ns=st.st_mtime_ns)
            (scan.junk if junk_reason(name) else scan.images).append(record)
    scan.images.sort(key=lambda r: natural_key(r.rel))
    scan.junk.sort(key=lambda r: natural_key(r.rel))
    return scan
