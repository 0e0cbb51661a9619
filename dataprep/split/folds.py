"""k-fold assignment that respects duplicate groups: a pure, seeded planner.

`plan_folds` puts every file in one of k folds so that each class is spread evenly over the
folds (stratified), every duplicate group (exact or near copies, `dataprep.duplicates.search`) sits
inside one fold, and the folds are as equal in size as the groups allow. Training fold i
against the rest then never scores an image the model has seen a copy of: the leak that
hides label errors behind confident out-of-fold predictions.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dataprep.base.errors import DataprepError
from dataprep.inspection.scan import natural_key


def plan_folds(items: Sequence[tuple[str, str, str]], k: int, seed: int) -> dict[str, int]:
    """Map each path to a fold in [0, k).

    `items` are (relative path, class name, duplicate-group key); a file alone is its own
    group (any key no other file shares). A group is placed with the class of its first file
    (natural order). Per class, groups are shuffled with a local `random.Random` seeded from
    `seed` and the class name, then placed largest first into the fold holding the fewest
    files of that class (ties: the smallest fold overall, then the lowest index), so classes
    and fold sizes stay balanced. Pure and deterministic: the input order does not matter.
    """
    ordered = sorted(items, key=lambda item: natural_key(item[0]))
    paths = [path for path, _, _ in ordered]
    if len(set(paths)) != len(paths):
        repeated = next(p for p in paths if paths.count(p) > 1)
        raise DataprepError(f"'{repeated}' is listed twice for fold planning (expected each file once); list it once")
    groups: dict[str, list[tuple[str, str]]] = {}
    for path, label, key in ordered:
        groups.setdefault(key, []).append((path, label))
    by_class: dict[str, list[list[str]]] = {}
    if isinstance(k, bool) or not isinstance(k, int) or k < 2 or k > len(groups):
        raise DataprepError(
            f"--folds {k} does not fit {len(ordered)} file(s) in {len(groups)} duplicate group(s): expected 2 to "
            f"{len(groups)} folds (each fold needs a group of its own); pass --folds in that range or add images"
        )
    for group in groups.values():  # insertion order: natural order of each group's first file
        by_class.setdefault(group[0][1], []).append([path for path, _ in group])

    total = [0] * k
    fold_of: dict[str, int] = {}
    for label in sorted(by_class, key=natural_key):
        class_groups = list(by_class[label])
        rng = random.Random(f"{seed}:{label}".encode("utf-8", "surrogateescape"))
        rng.shuffle(class_groups)
        class_groups.sort(key=len, reverse=True)  # stable: equal sizes keep the shuffled order
        in_class = [0] * k
        for members in class_groups:
            fold = min(range(k), key=lambda f: (in_class[f], total[f], f))
            in_class[fold] += len(members)
            total[fold] += len(members)
            for path in members:
                fold_of[path] = fold
    return fold_of


# --- reading fold assignments back ------------------------------------------------------------

FOLDS_FILE_VERSION = 1


@dataclass(frozen=True)
class FoldAssignment:
    """Fold numbers read back from `OUT/split.json` (`dataprep split --folds K`) or from a
    label-issues run's `folds.json`: every file as (path under `root`, class, fold), fold None
    for the held-out test split. Training fold i reads these paths where they are: no copies."""

    source: Path  # the file the folds were read from
    root: Path
    class_names: tuple[str, ...]
    k: int
    files: tuple[tuple[str, str, int | None], ...]

    def check_fold(self, fold: int) -> None:
        if not 0 <= fold < self.k:
            raise DataprepError(
                f"--fold {fold} is out of range: '{self.source}' has {self.k} folds (expected 0 to {self.k - 1}); "
                f"pass --fold 0..{self.k - 1}"
            )

    def roles(self, fold: int) -> dict[str, list[tuple[str, str]]]:
        """(absolute path, class) per role for training fold `fold` against the rest: train = the
        other folds, val = fold `fold`, test = the held-out test split (files with no fold)."""
        self.check_fold(fold)
        out: dict[str, list[tuple[str, str]]] = {"train": [], "val": [], "test": []}
        for path, label, f in self.files:
            role = "test" if f is None else ("val" if f == fold else "train")
            out[role].append((str(self.root / path), label))
        return out


def fold_file_doc(
    root: Path, class_names: Sequence[str], labels: dict[str, str], fold_of: dict[str, int], k: int, **extra: object
) -> dict[str, object]:
    """The JSON of a fold file `read_folds` reads back (label-issues writes one per run)."""
    return {
        "version": FOLDS_FILE_VERSION, "root": str(root), "class_names": list(class_names), "k": k, **extra,
        "classes": labels, "folds": fold_of,
    }  # fmt: skip


def refuse_folds_only_split(data_dir: str | Path) -> None:
    """One clear line when `data_dir` is a ``split --mode folds`` folder used without ``--fold``:
    it holds only the test split; its training images are the folds, left in RAW."""
    from dataprep.split.manifest import SplitManifest

    try:
        manifest = SplitManifest.read(Path(data_dir))
    except DataprepError:  # not a manifest of ours, or damaged: the caller's own checks say so
        return
    if manifest is not None and manifest.mode == "folds":
        k = manifest.k or 0
        raise DataprepError(
            f"'{data_dir}' was split with --mode folds: it holds only the test split, and its training images are "
            f"the {k} folds recorded in split.json; pass --fold I (0..{k - 1}) to train one"
        )


def read_folds(where: str | Path) -> FoldAssignment:
    """Fold assignment from a split folder holding split.json, a split.json, or a fold file of
    a label-issues run; one clear error for anything else."""
    import json

    path = Path(where)
    if path.is_dir():
        path = path / "split.json"
        if not path.is_file():
            raise DataprepError(
                f"'{where}' has no split.json (expected a folder written by 'dataprep split --folds K'); "
                "split it with --folds, or pass --folds-from FILE"
            )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataprepError(
            f"cannot read folds from '{path}' ({err}); expected the split.json of 'dataprep split --folds K'"
        ) from None
    if isinstance(doc, dict) and "files" in doc and "digest" in doc:
        return _from_split_manifest(path, doc)
    if isinstance(doc, dict) and {"root", "classes", "folds", "k"} <= set(doc):
        names = tuple(doc.get("class_names") or sorted(set(doc["classes"].values())))
        files = tuple(
            (p, doc["classes"][p], int(f)) for p, f in sorted(doc["folds"].items(), key=lambda i: natural_key(i[0]))
        )
        return _checked(FoldAssignment(path, Path(doc["root"]), names, int(doc["k"]), files))
    raise DataprepError(
        f"'{path}' holds no fold assignment (expected the split.json of 'dataprep split --folds K' or a "
        "label-issues folds.json); pass one of those"
    )


def _from_split_manifest(path: Path, doc: dict[str, object]) -> FoldAssignment:
    from dataprep.split.manifest import SplitManifest

    try:
        manifest = SplitManifest.from_dict(doc)
    except (KeyError, TypeError, ValueError, DataprepError) as err:
        raise DataprepError(f"'{path}' is damaged ({type(err).__name__}: {err}); re-run 'dataprep split'") from None
    if manifest.folds is None or manifest.k is None:
        raise DataprepError(
            f"'{path}' records no folds (expected a split made with 'dataprep split RAW OUT --folds K'); "
            "split again with --folds K"
        )
    if not manifest.complete:
        raise DataprepError(f"'{path}' belongs to an unfinished split; finish it with 'dataprep split --resume' first")
    # Training reads the source files in RAW; after a 'move' split they live under OUT instead.
    moved = manifest.mode == "move"
    root = path.parent if moved else Path(manifest.raw)
    files = tuple(
        (a.dest if moved else a.source, a.label, None if a.split == "test" else manifest.folds.get(a.source))
        for a in manifest.plan.assignments
        if a.split == "test" or a.source in manifest.folds
    )
    names = tuple(sorted(manifest.plan.class_index, key=lambda c: manifest.plan.class_index[c]))
    return _checked(FoldAssignment(path, root, names, manifest.k, files))


def _checked(assignment: FoldAssignment) -> FoldAssignment:
    if not assignment.root.is_dir():
        raise DataprepError(
            f"the image folder '{assignment.root}' that '{assignment.source}' records is missing (training a fold "
            "reads the images there); put it back, or split again"
        )
    unknown = sorted({label for _, label, _ in assignment.files} - set(assignment.class_names))
    if unknown:
        raise DataprepError(f"'{assignment.source}' has files of class {unknown[0]!r} outside its class list; re-split")
    return assignment
