"""Walk a dataset folder: which files are images, which class and split each belongs to.

Two layouts are recognised: ``root/CLASS/file`` (raw) and ``root/{train,val,test}/CLASS/file``
(split). Files are listed in natural order (``img2`` before ``img10``) so every command sees
the same order on every machine. Junk (Thumbs.db, .DS_Store, desktop.ini, AppleDouble ``._*``
files, anything without an image extension) is listed separately: reported, never silently
copied or dropped. Symbolic links to folders are not followed (no loops, no escaping ROOT), and
symbolic links to files are followed only when the file they point at is inside ROOT. What the
walk cannot or will not enter (such links, dangling links, link loops, unreadable folders) and
class folders without images are listed as `problems`: reported by validate, never touched by
clean, left out by split. The walk is iterative, so a very deep tree cannot exhaust the stack.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dataprep.errors import DataprepError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".heic", ".heif", ".avif"}
)
JUNK_NAMES = frozenset({"thumbs.db", ".ds_store", "desktop.ini", "ehthumbs.db", ".directory"})
SPLIT_NAMES = ("train", "val", "test")
# dataprep's own files at the top of a folder it wrote (a split's manifest and journal): neither
# images nor junk, so validate does not flag them and clean never moves them.
OWN_FILES = frozenset({"split.json", ".dataprep-split.journal"})

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


@dataclass(frozen=True)
class ScanProblem:
    """Something under the root that is not a file to inspect: `check` names the finding
    (`not_followed`, `inspection_failed`, `empty_class`), `detail` says what and why."""

    rel: str
    check: str
    detail: str


@dataclass
class Scan:
    """What is under a dataset root: image candidates, junk and problems, in natural order."""

    root: Path
    layout: Layout
    images: list[FileRecord] = field(default_factory=list)
    junk: list[FileRecord] = field(default_factory=list)
    problems: list[ScanProblem] = field(default_factory=list)

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


def _inside(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def _linked_sources(base: Path) -> list[Path]:
    """Folders a split made with `--mode symlink` links into: its split.json names RAW.

    Such links were written by dataprep itself, so following them out of OUT is expected;
    any other link out of the dataset folder is not followed.
    """
    from dataprep.split.manifest import SplitManifest  # here: the split package imports scan

    raw = SplitManifest.linked_raw(base)
    return [] if raw is None else [raw]


def _link_problem(full: Path, trusted: list[Path], rel: str, is_dir: bool) -> ScanProblem | None:
    """Why a symbolic link is not followed, or None when it points at a file inside one of the
    `trusted` folders (the dataset folder, and RAW for a symlink split)."""
    target = os.readlink(full)
    try:
        resolved = full.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 reports a loop this way
        return ScanProblem(rel, "not_followed", f"symbolic link loop ({target!r}): not followed")
    except OSError as err:
        if err.errno == errno.ELOOP:
            return ScanProblem(rel, "not_followed", f"symbolic link loop ({target!r}): not followed")
        return ScanProblem(rel, "not_followed", f"broken symbolic link to {target!r} ({err.strerror}): not followed")
    if is_dir or resolved.is_dir():
        return ScanProblem(rel, "not_followed", f"symbolic link to a folder ({target!r}): folder links are not followed")
    if not any(_inside(resolved, folder) for folder in trusted):
        return ScanProblem(
            rel, "not_followed", f"symbolic link to '{resolved}', outside the dataset folder: not followed"
        )
    return None


def scan_dataset(root: str | os.PathLike[str]) -> Scan:
    """List every file under `root` (recursively) as image candidates, junk and problems."""
    base = require_directory(root)
    layout = detect_layout(base)
    scan = Scan(root=base, layout=layout)
    trusted = [base, *_linked_sources(base)]
    stack = [base]
    while stack:  # iterative: a tree thousands of folders deep is no problem
        folder = stack.pop()
        rel_folder = folder.relative_to(base).as_posix()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as err:
            if folder == base:
                raise DataprepError(
                    f"cannot read '{root}': {err.strerror or err} (expected a readable dataset folder); check its permissions"
                ) from None
            scan.problems.append(ScanProblem(
                rel_folder + "/", "inspection_failed", f"cannot read the folder: {err.strerror or err}; its files were not checked"
            ))  # fmt: skip
            continue
        subdirs: list[Path] = []
        files_here = 0
        for entry in entries:
            full = Path(entry.path)
            rel = full.relative_to(base).as_posix()
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue  # vanished while we looked
            if is_link:
                problem = _link_problem(full, trusted, rel, is_dir)
                if problem is not None:
                    scan.problems.append(problem)
                    continue
            elif is_dir:
                subdirs.append(full)
                continue
            try:
                st = full.stat()
            except OSError:
                continue  # vanished while we looked
            if not stat.S_ISREG(st.st_mode):
                continue  # sockets, fifos, devices: never images, never ours to move
            if folder == base and full.name in OWN_FILES:
                continue
            files_here += 1
            parts = rel.split("/")
            split: str | None = None
            label: str | None = None
            if layout == "split" and len(parts) >= 3 and parts[0] in SPLIT_NAMES:
                split, label = parts[0], parts[1]
            elif layout != "split" and len(parts) >= 2:
                label = parts[0]
            record = FileRecord(path=full, rel=rel, label=label, split=split, size=st.st_size, mtime_ns=st.st_mtime_ns)
            (scan.junk if junk_reason(full.name) else scan.images).append(record)
        stack.extend(sorted(subdirs, key=lambda p: natural_key(p.name), reverse=True))
    scan.images.sort(key=lambda r: natural_key(r.rel))
    scan.junk.sort(key=lambda r: natural_key(r.rel))
    _add_empty_classes(scan)
    scan.problems.sort(key=lambda p: natural_key(p.rel))
    return scan


def _add_empty_classes(scan: Scan) -> None:
    """A class folder (ROOT/CLASS or ROOT/SPLIT/CLASS) that holds no image: a class with no
    examples, or images that went missing."""
    depth = 2 if scan.layout == "split" else 1
    if scan.layout == "flat":
        return
    try:
        tops = [scan.root] if depth == 1 else [scan.root / s for s in SPLIT_NAMES if (scan.root / s).is_dir()]
        folders = [p for top in tops for p in top.iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return  # an unreadable folder is already a problem
    with_images = {"/".join(r.rel.split("/")[:depth]) for r in scan.images}
    unreadable = {p.rel.rstrip("/") for p in scan.problems}
    for folder in folders:
        rel = folder.relative_to(scan.root).as_posix()
        if rel not in with_images and not any(u == rel or u.startswith(rel + "/") for u in unreadable):
            scan.problems.append(ScanProblem(rel + "/", "empty_class", "class folder with no images"))
