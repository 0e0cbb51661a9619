"""Walk a dataset folder: which files are images, which class and split each belongs to.

Two layouts are recognised: ``root/CLASS/file`` (raw) and ``root/SPLIT/CLASS/file`` (split),
where each split role has the names downloaded datasets use for it: train (``train``,
``training``), validation (``val``, ``valid``, ``validation``, ``dev``), test (``test``,
``testing``); the names are kept as they are on disk. A tree that reads both ways (a class
literally named ``test`` beside other classes) is an error that names both readings and the
``--layout raw|split`` choice. Files are listed in natural order (``img2`` before ``img10``) so
every command sees the same order on every machine.

Whether a file is an image is decided by its content, by whoever reads its bytes (validate's
single read, stats' header read), never by its extension: the scan reads no file. Only system
files (Thumbs.db, .DS_Store, desktop.ini, AppleDouble ``._*``) are junk by name; they are listed
separately: reported, never silently copied or dropped. Symbolic links to folders are not followed (no loops, no escaping ROOT), and
symbolic links to files are followed only when the file they point at is inside ROOT. What the
walk cannot or will not enter (such links, dangling links, link loops, unreadable folders) and
class folders without images are listed as `problems`: reported by validate, never touched by
clean, left out by split. The walk is iterative, so a very deep tree cannot exhaust the stack.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dataprep.base.errors import DataprepError
from dataprep.base.folder_lock import LOCK_NAME
from dataprep.base.naming import SPLIT_NAMES as SPLIT_NAMES  # re-exported: the names scan has always offered
from dataprep.base.naming import SPLIT_ROLES as SPLIT_ROLES
from dataprep.base.naming import natural_key as natural_key
from dataprep.base.naming import natural_sort_bytes as natural_sort_bytes
from dataprep.base.naming import split_role as split_role

JUNK_NAMES = frozenset({"thumbs.db", ".ds_store", "desktop.ini", "ehthumbs.db", ".directory"})
LAYOUT_CHOICES = ("raw", "split")
# dataprep's own files at the top of a folder it wrote (a split's manifest and journal, convert --out's record, the
# lock a killed run left): neither
# images nor junk, so validate does not flag them and clean never moves them.
OWN_FILES = frozenset({"split.json", ".dataprep-split.journal", "convert.json", LOCK_NAME})

Layout = Literal["raw", "split", "flat"]


def junk_reason(name: str) -> str | None:
    """Why a file is junk by its name alone (system files), or None: then its content decides."""
    lower = name.lower()
    if lower in JUNK_NAMES:
        return f"system file {name!r}"
    if lower.startswith("._"):
        return "macOS AppleDouble metadata file"
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
    # Split layout: the folder on disk for each role present ({'train': 'training', 'val': 'dev'}).
    split_folders: dict[str, str] = field(default_factory=dict)
    # Why each file found to be junk by its content is junk (rel -> reason).
    content_junk: dict[str, str] = field(default_factory=dict)
    # Folders outside root whose files a link may point at (the caller trusts them: see open_scan).
    trusted: list[Path] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        """Class names (folder names), natural-sorted."""
        return sorted({r.label for r in self.images if r.label is not None}, key=natural_key)

    @property
    def splits(self) -> list[str]:
        """The split folders holding images, as named on disk, in role order (train, val, test)."""
        present = {r.split for r in self.images if r.split is not None}
        return [name for name in self.split_folders.values() if name in present]

    def junk_reason(self, record: FileRecord) -> str:
        """Why a junk file is junk: its system name, or what its content is."""
        return junk_reason(record.name) or self.content_junk.get(record.rel) or "not an image"

    def mark_junk(self, reasons: dict[str, str]) -> None:
        """Move the images whose content turned out to be no image (rel -> why) to `junk`."""
        if not reasons:
            return
        self.content_junk.update(reasons)
        self.junk = sorted(self.junk + [r for r in self.images if r.rel in reasons], key=lambda r: natural_key(r.rel))
        self.images = [r for r in self.images if r.rel not in reasons]

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


def _has_subfolders(folder: Path) -> bool:
    try:
        return any(p.is_dir() and not p.is_symlink() and not p.name.startswith(".") for p in folder.iterdir())
    except OSError:
        return False


def split_folders(root: Path, layout: str | None = None) -> tuple[Layout, dict[str, str]]:
    """The layout of `root` and, for a split layout, the folder of each role present.

    'split' when every folder in root is a split folder (train|training, val|valid|validation|dev,
    test|testing) holding class folders; 'raw' when none is; 'flat' when root has no folders.
    `layout` ('raw' or 'split') settles a tree that reads both ways; without it such a tree is
    an error that names both readings.
    """
    if layout is not None and layout not in LAYOUT_CHOICES:
        raise DataprepError(f"--layout {layout!r} is not a layout (expected raw or split)")
    subdirs = sorted(
        (
            p.name
            for p in root.iterdir()
            if p.is_dir() and not p.is_symlink() and not p.name.startswith(".") and p.name.lower() != "__macosx"
        ),  # a zip's resource forks (`._*` files: junk), never a class or split
        key=natural_key,
    )
    named = [d for d in subdirs if split_role(d) is not None]
    if layout == "raw" or (layout is None and not named):
        return ("raw" if subdirs else "flat"), {}
    by_role: dict[str, list[str]] = {}
    for d in named:
        by_role.setdefault(split_role(d) or "", []).append(d)
    twice = {role: names for role, names in by_role.items() if len(names) > 1}
    if twice:
        role, names = next(iter(twice.items()))
        raise DataprepError(
            f"'{root}' has {len(names)} {role} folders ({', '.join(names)}); expected one folder per split; "
            "merge or rename one of them"
        )
    folders = {role: by_role[role][0] for role in SPLIT_ROLES if role in by_role}
    if layout == "split":
        if not named:
            raise DataprepError(
                f"--layout split, but '{root}' has no split folder (expected train|training, val|valid|validation|dev, "
                "test|testing); drop --layout split to read it as class folders"
            )
        return "split", folders
    others = [d for d in subdirs if split_role(d) is None]
    nested = [d for d in named if _has_subfolders(root / d)]
    if not others and len(nested) == len(named):
        return "split", folders
    if not others and not nested:
        return "raw", {}  # classes that happen to be called train/test: they hold images, not classes
    shown = ", ".join(subdirs[:6]) + (", ..." if len(subdirs) > 6 else "")
    raise DataprepError(
        f"'{root}' reads two ways: split folders ({', '.join(named)}) or classes ({shown}); "
        "pass --layout split to read the split folders (the others are ignored) or --layout raw to read every folder as a class"
    )


def detect_layout(root: Path, layout: str | None = None) -> Layout:
    """'split', 'raw' or 'flat' (images directly in root); see `split_folders`."""
    return split_folders(root, layout)[0]


def _inside(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


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
        return ScanProblem(
            rel, "not_followed", f"symbolic link to a folder ({target!r}): folder links are not followed"
        )
    if not any(_inside(resolved, folder) for folder in trusted):
        return ScanProblem(
            rel, "not_followed", f"symbolic link to '{resolved}', outside the dataset folder: not followed"
        )
    return None


def scan_dataset(root: str | os.PathLike[str], layout: str | None = None, trusted: Sequence[Path] = ()) -> Scan:
    """List every file under `root` (recursively) as image candidates, junk and problems.
    `layout` ('raw' or 'split') overrides the detection for a tree that reads both ways; links to
    files inside `trusted` folders are followed too (see `open_scan`)."""
    scan = open_scan(root, layout, trusted)
    for item in walk_scan(scan):
        if isinstance(item, ScanProblem):
            scan.problems.append(item)
        else:
            (scan.junk if junk_reason(item.name) else scan.images).append(item)
    scan.images.sort(key=lambda r: natural_key(r.rel))
    scan.junk.sort(key=lambda r: natural_key(r.rel))
    with_images = {class_folder(r.rel, scan.layout) for r in scan.images}
    scan.problems += empty_classes(scan, with_images, [p.rel for p in scan.problems])
    scan.problems.sort(key=lambda p: natural_key(p.rel))
    return scan


def open_scan(root: str | os.PathLike[str], layout: str | None = None, trusted: Sequence[Path] = ()) -> Scan:
    """An empty Scan of `root` with its layout detected (the top level only: no walk yet).

    A symbolic link to a file is followed when the file is inside `root` or inside one of the
    `trusted` folders the caller names (the RAW folder a `split --mode symlink` linked into: see
    `dataprep.split.manifest.link_targets`); any other link out of `root` is not followed."""
    base = require_directory(root)
    found, folders = split_folders(base, layout)
    return Scan(root=base, layout=found, split_folders=folders, trusted=[Path(t).resolve() for t in trusted])


def walk_scan(scan: Scan) -> Iterator[FileRecord | ScanProblem]:
    """Every file (image candidate or junk: `junk_reason(record.name)` tells) and problem under
    `scan.root`, one at a time in walk order, holding only the folders still to visit: what a
    scan of millions of files streams to disk (`dataprep.inspection.validate_stream`)."""
    base, found = scan.root, scan.layout
    role_folders = set(scan.split_folders.values())
    trusted = [base, *scan.trusted]
    # Paths as strings, relative paths by slicing off the root: a Path object per entry (and
    # relative_to) cost more than the stat itself; a FileRecord's Path is its folder's joined with
    # its name (parsing one part, not the whole path).
    prefix = len(os.path.join(str(base), ""))
    posix = os.sep == "/"
    stack = [str(base)]
    while stack:  # iterative: a tree thousands of folders deep is no problem
        folder = stack.pop()
        rel_folder = _rel(folder, prefix, posix) or "."
        try:
            listing = os.scandir(folder)
        except OSError as err:
            if rel_folder == ".":
                raise DataprepError(
                    f"cannot read '{base}': {err.strerror or err} (expected a readable dataset folder); check its permissions"
                ) from None
            yield ScanProblem(
                rel_folder + "/", "inspection_failed", f"cannot read the folder: {err.strerror or err}; its files were not checked"
            )  # fmt: skip
            continue
        at_root = rel_folder == "."
        folder_path = Path(folder)
        subdirs: list[tuple[str, str]] = []
        with listing:
            try:
                for entry in listing:  # one entry at a time: a folder of millions of files is never a list
                    full = entry.path
                    rel = _rel(full, prefix, posix)
                    try:
                        is_link = entry.is_symlink()
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        continue  # vanished while we looked
                    if is_link:
                        try:
                            problem = _link_problem(Path(full), trusted, rel, is_dir)
                        except OSError:
                            continue  # vanished while we looked
                        if problem is not None:
                            yield problem
                            continue
                    elif is_dir:
                        subdirs.append((entry.name, full))
                        continue
                    try:
                        st = entry.stat()  # follows a link (one that points inside the trusted folders)
                    except OSError:
                        continue  # vanished while we looked
                    if not stat.S_ISREG(st.st_mode):
                        continue  # sockets, fifos, devices: never images, never ours to move
                    if at_root and entry.name in OWN_FILES:
                        continue
                    parts = rel.split("/")
                    split: str | None = None
                    label: str | None = None
                    if found == "split" and len(parts) >= 3 and parts[0] in role_folders:
                        split, label = parts[0], parts[1]
                    elif found != "split" and len(parts) >= 2:
                        label = parts[0]
                    yield FileRecord(
                        path=folder_path / entry.name,
                        rel=rel,
                        label=label,
                        split=split,
                        size=st.st_size,
                        mtime_ns=st.st_mtime_ns,
                    )
            except OSError as err:  # the listing broke off part-way
                yield ScanProblem(
                    rel_folder + "/", "inspection_failed",
                    f"cannot read the whole folder: {err.strerror or err}; some of its files were not checked",
                )  # fmt: skip
        stack.extend(full for _, full in sorted(subdirs, key=lambda d: natural_key(d[0]), reverse=True))


def _rel(full: str, prefix: int, posix: bool) -> str:
    """The POSIX path of `full` relative to the root, whose path (with its trailing separator) is
    `prefix` characters long; "" for the root itself."""
    rel = full[prefix:]
    return rel if posix else rel.replace(os.sep, "/")


def class_folder(rel: str, layout: Layout) -> str:
    """The class folder (CLASS or SPLIT/CLASS) an image's `rel` is in."""
    return "/".join(rel.split("/")[: 2 if layout == "split" else 1])


def empty_classes(scan: Scan, with_images: set[str], problem_rels: Iterable[str]) -> list[ScanProblem]:
    """A class folder (ROOT/CLASS or ROOT/SPLIT/CLASS) that holds no image: a class with no
    examples, or images that went missing. `with_images`: the class folders of the images found
    (`class_folder`); `problem_rels`: the scan's problems (an unreadable folder is not empty)."""
    depth = 2 if scan.layout == "split" else 1
    if scan.layout == "flat":
        return []
    try:
        tops = (
            [scan.root]
            if depth == 1
            else [scan.root / s for s in scan.split_folders.values() if (scan.root / s).is_dir()]
        )
        folders = [p for top in tops for p in top.iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return []  # an unreadable folder is already a problem
    unreadable = {rel.rstrip("/") for rel in problem_rels}
    found = []
    for folder in folders:
        rel = folder.relative_to(scan.root).as_posix()
        if rel not in with_images and not any(u == rel or u.startswith(rel + "/") for u in unreadable):
            found.append(ScanProblem(rel + "/", "empty_class", "class folder with no images"))
    return found


def no_images_message(scan: Scan, root: str | os.PathLike[str]) -> str:
    """The one line for a dataset folder with no images: why, and what to do about it.

    Class folders that are symbolic links are the usual surprise (they are not followed: they
    could loop or leave the folder), so they are named, with how to follow them.
    """
    linked = [
        p.rel.rstrip("/") for p in scan.problems
        if p.check == "not_followed" and "link to a folder" in p.detail and p.rel.rstrip("/").count("/") <= 1
    ]  # fmt: skip
    if linked:
        names = ", ".join(f"'{n}'" for n in linked[:3]) + (f" and {len(linked) - 3} more" if len(linked) > 3 else "")
        return (
            f"no images found under '{root}': its class folders {names} are symbolic links, which are not followed; "
            f"to follow them, copy the dataset with the links resolved (cp -rL '{root}' COPY) and use COPY"
        )
    junk = f" ({len(scan.junk)} non-image files only)" if scan.junk else ""
    return (
        f"no images found under '{root}'{junk} (expected image files in class folders: DIR/CLASS/*.jpg); check the path"
    )
