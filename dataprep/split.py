"""`split`: reproducible, leak-free train/val/test splits of a folder of class folders.

Two layers, as in the design:

- `plan_split(files, spec, seed) -> SplitPlan` is pure and deterministic: the same files, spec
  and seed give the same plan on any machine. Files are sorted (natural order) first, each class
  draws from its own `random.Random(f"{seed}:{class}")` (so adding a class never reshuffles the
  others), and files with the same content (same sha256) or near-identical content (same pixels or
  close perceptual hashes: `dataprep.duplicates`) form one group that is placed as a unit:
  no photo can sit in train and in test at once.
- `execute_split(...)` writes the plan into ``OUT/{train,val,test}/CLASS/`` (the layout
  `keras.utils.image_dataset_from_directory` and TFDS ImageFolder read) by copy, hardlink,
  symlink or move. Each file appears atomically (temporary name, then rename; links are created
  in one step), so a reader never sees a partial file.

Crash safety (`kill -9` at any instant, then `--resume`): ``OUT/split.json`` is written *first*,
with ``"complete": false`` and the whole plan (every file's source, destination, split, class,
size and sha256), so it is the intent record for every file at once; the journal
``OUT/.dataprep-split.journal`` (via `dataprep.journal`) logs which destinations are done in
batches. A resumed run reloads the plan from split.json (never re-plans: with ``--mode move`` the
moved sources are no longer in RAW), checks that the arguments match, and looks at both ends of
every file: a destination in the journal is trusted after a size check, one that exists but is
not journaled is checked by sha256, a move whose source is gone and destination present is done
(`dataprep.journal.reconcile_move`). When everything is in place split.json is rewritten with
``"complete": true`` and the journal is deleted: split.json is the record of the split, the
journal only exists while a split is unfinished.

Files are not fsynced one by one (that would make copying 2-3x slower than ``cp -r``): a kill
cannot leave a partial file thanks to the rename, and after a power loss `--resume` re-checks
sizes and hashes.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import random
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dataprep import __version__
from dataprep.errors import DataprepError
from dataprep.findings import Severity
from dataprep.journal import (
    TMP_PREFIX,
    Journal,
    crash_point,
    fsync_dir,
    json_text_bytes,
    make_dirs,
    reconcile_move,
    remove_stale_temporaries,
    sha256_file,
    walk_tree,
    write_atomic,
)
from dataprep.scan import SPLIT_NAMES, junk_reason, natural_key, require_directory

if TYPE_CHECKING:
    from dataprep.report import Report
    from dataprep.validate import ValidateOptions

SPLIT_JSON = "split.json"
JOURNAL_NAME = ".dataprep-split.journal"
SPLIT_JSON_VERSION = 1
DEFAULT_SEED = 1337
MODES = ("copy", "hardlink", "symlink", "move")
ON_CONFLICT = ("keep", "exclude")
_LINUX = sys.platform.startswith("linux")
JOURNAL_BATCH = 256  # destinations per journal line: one fsync per batch, not per file

Mode = Literal["copy", "hardlink", "symlink", "move"]
Amount = int | float  # a count (int >= 0) or a fraction (float in (0, 1))
FileHook = Callable[[int, int], None]  # (files placed so far, total)


# --- the spec --------------------------------------------------------------------------------


def parse_amount(option: str, text: str) -> Amount:
    """'6' -> 6 (a count per class), '0.1' -> 0.1 (a fraction per class); anything else is an error."""
    value = text.strip()
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(value)
    except ValueError:
        raise DataprepError(
            f"{option} {text!r} is not a number; expected a count per class (e.g. 6) or a fraction in (0, 1) (e.g. 0.1)"
        ) from None
    if number.is_integer() and number >= 1:
        return int(number)
    return number


def _format_amount(value: Amount) -> str:
    return str(value)


@dataclass(frozen=True)
class SplitSpec:
    """How many images of each class go to val and test (and at most to train).

    Each amount is a count per class (``6``) or a fraction of the class in (0, 1) (``0.1``);
    train gets the rest, capped by `train` when it is given.
    """

    val: Amount = 0.1
    test: Amount = 0.1
    train: Amount | None = None
    on_conflict: str = "keep"  # a duplicate group across classes: "keep" it (in one split) or "exclude" it
    folds: int | None = None  # k for duplicate-aware cross-validation folds (planned by dataprep.folds)

    def __post_init__(self) -> None:
        if self.on_conflict not in ON_CONFLICT:
            raise DataprepError(f"unknown --on-conflict {self.on_conflict!r}; expected one of {'|'.join(ON_CONFLICT)}")
        if self.folds is not None and (isinstance(self.folds, bool) or not isinstance(self.folds, int) or self.folds < 2):
            raise DataprepError(f"--folds {self.folds!r} is not a count >= 2; pass e.g. --folds 5, or leave it out")
        for option, value in (("--val", self.val), ("--test", self.test), ("--train", self.train)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise DataprepError(f"{option} {value!r} is not a number; expected a count or a fraction in (0, 1)")
            if value < 0:
                raise DataprepError(f"{option} {value} is negative; expected a count >= 0 or a fraction in (0, 1)")
            if isinstance(value, float) and not 0 < value < 1:
                raise DataprepError(
                    f"{option} {value} is not a fraction in (0, 1); pass a count (e.g. 6) or a fraction (e.g. 0.1)"
                )
        if self.train is not None and self.train == 0:
            raise DataprepError("--train 0 leaves nothing to train on; omit --train to keep every remaining image")
        fractions = [v for v in (self.val, self.test, self.train) if isinstance(v, float)]
        if len(fractions) > 1 and sum(fractions) >= 1:
            names = " ".join(
                f"{o} {v}" for o, v in (("--val", self.val), ("--test", self.test), ("--train", self.train)) if isinstance(v, float)
            )
            raise DataprepError(
                f"fractions {names} add up to {round(sum(fractions), 6)}; they must add up to less than 1 so train gets images"
            )

    @classmethod
    def parse(cls, val: str, test: str, train: str | None = None, on_conflict: str = "keep", folds: int | None = None) -> SplitSpec:
        """The spec from command-line text, e.g. ``SplitSpec.parse("6", "0.1")``."""
        return cls(
            val=parse_amount("--val", val),
            test=parse_amount("--test", test),
            train=None if train is None else parse_amount("--train", train),
            on_conflict=on_conflict,
            folds=folds,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"val": self.val, "test": self.test, "train": self.train, "on_conflict": self.on_conflict, "folds": self.folds}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SplitSpec:
        return cls(val=d["val"], test=d["test"], train=d.get("train"), on_conflict=d.get("on_conflict", "keep"),
                   folds=d.get("folds"))  # fmt: skip

    def describe(self) -> str:
        """The spec as the options that ask for it, e.g. ``--val 6 --test 6``."""
        text = f"--val {_format_amount(self.val)} --test {_format_amount(self.test)}"
        return text + (f" --train {_format_amount(self.train)}" if self.train is not None else "")

    def targets(self, label: str, n: int) -> tuple[int, int, int | None, list[str]]:
        """(val, test, train cap or None, warnings) for a class of `n` images; raises when impossible."""
        val, test = _resolve(self.val, n), _resolve(self.test, n)
        # A fraction that rounds to 0 still gives one image when the class can spare it
        # (train keeps at least one); val is served before test.
        warnings: list[str] = []
        if isinstance(self.val, float) and val == 0 and n - test >= 2:
            val = 1
        if isinstance(self.test, float) and test == 0 and n - val >= 2:
            test = 1
        empty = [name for name, a, k in (("val", self.val, val), ("test", self.test, test)) if isinstance(a, float) and k == 0]
        if empty:
            warnings.append(
                f"class {label!r} has {n} image{'s' if n != 1 else ''}: too few to spare one for {' and '.join(empty)}, "
                f"so its {' and '.join(empty)} folder{'s are' if len(empty) > 1 else ' is'} empty"
            )
        if val + test >= n:
            if isinstance(self.val, int) and isinstance(self.test, int):
                raise DataprepError(
                    f"class {label!r} has {n} images; {self.describe_val_test()} needs at least {val + test + 1}; "
                    "lower --val/--test or use fractions (e.g. --val 0.1)"
                )
            raise DataprepError(
                f"class {label!r} has {n} images; {self.describe_val_test()} asks for {val} + {test}, "
                "which leaves none for train; lower --val/--test"
            )
        cap = None if self.train is None else max(1, _resolve(self.train, n))
        return val, test, cap, warnings

    def describe_val_test(self) -> str:
        return f"--val {_format_amount(self.val)} --test {_format_amount(self.test)}"


def _resolve(amount: Amount | None, n: int) -> int:
    """A count as is; a fraction of `n` rounded half up (never Python's banker's rounding)."""
    if amount is None:
        return 0
    if isinstance(amount, int):
        return amount
    return math.floor(amount * n + 0.5)


# --- the plan (pure) -------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFile:
    """One image to split: its path relative to RAW, class, content hash and size. `group`
    names its duplicate group (exact or near copies, see `dataprep.duplicates`); None means
    its own content hash."""

    rel: str
    label: str
    sha256: str
    size: int
    group: str | None = None

    @property
    def group_key(self) -> str:
        return self.group if self.group is not None else self.sha256


@dataclass(frozen=True)
class Assignment:
    """Where one source file goes: `dest` is relative to OUT (``SPLIT/CLASS/name``)."""

    source: str
    dest: str
    split: str
    label: str
    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "path": self.dest, "split": self.split, "class": self.label,
            "sha256": self.sha256, "size": self.size,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Assignment:
        return cls(source=d["source"], dest=d["path"], split=d["split"], label=d["class"], sha256=d["sha256"], size=d["size"])


@dataclass(frozen=True)
class Excluded:
    """A file left out of the split, and why (junk, invalid, not in a class folder, over --train)."""

    path: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


@dataclass
class SplitPlan:
    """The pure result of planning: every assignment, in natural order of the source path."""

    seed: int
    spec: SplitSpec
    classes: list[str]
    assignments: list[Assignment]
    unused: list[Excluded] = field(default_factory=list)
    duplicate_groups: list[list[str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def class_index(self) -> dict[str, int]:
        """Class -> label index, in the order Keras and TFDS give class folders (plain `sorted`)."""
        return {name: i for i, name in enumerate(sorted(self.classes))}

    @property
    def splits(self) -> list[str]:
        """The splits that receive at least one file (test is absent with ``--test 0``)."""
        used = {a.split for a in self.assignments}
        return [s for s in SPLIT_NAMES if s in used]

    def counts(self) -> dict[str, dict[str, int]]:
        """split -> class -> number of files, with every class present in every used split."""
        table = {s: {c: 0 for c in self.classes} for s in self.splits}
        for a in self.assignments:
            table[a.split][a.label] += 1
        return table

    def digest(self) -> str:
        """A fingerprint of the plan, to tie journal lines to the split.json they belong to."""
        text = json.dumps([a.to_dict() for a in self.assignments], sort_keys=True)
        return hashlib.sha256(f"{self.seed}|{self.spec.to_dict()}|{text}".encode()).hexdigest()


def plan_split(files: Iterable[SourceFile], spec: SplitSpec, seed: int = DEFAULT_SEED) -> SplitPlan:
    """Assign every file to train, val or test. Pure and deterministic: no I/O, no global RNG.

    Per class, the duplicate groups (files with equal sha256 or the same `group`: exact and
    near duplicates; a lone file is a group of one) are shuffled with the class's own RNG; test,
    then val, get groups whose sizes add up to exactly the count asked (first fit, then a
    subset-sum when first fit misses); only when no set of groups can is the split short, with
    a warning that names the class and its largest group. Train takes all the rest, or up to
    the ``--train`` cap (groups over the cap are unused). A group whose files sit in several
    classes is a label conflict, reported once with both paths: with ``on_conflict="keep"`` it
    is planned with the class of its first file and lands in one split; with ``"exclude"`` it
    is left out.
    """
    ordered = sorted(files, key=lambda f: natural_key(f.rel))
    groups: dict[str, list[SourceFile]] = {}
    for f in ordered:
        groups.setdefault(f.group_key, []).append(f)
    classes = sorted({f.label for f in ordered}, key=natural_key)
    by_class: dict[str, list[list[SourceFile]]] = defaultdict(list)
    for members in groups.values():  # insertion order = natural order of each group's first file
        by_class[members[0].label].append(members)

    plan = SplitPlan(seed=seed, spec=spec, classes=classes, assignments=[])
    plan.duplicate_groups = [[m.rel for m in g] for g in groups.values() if len(g) > 1]
    conflicts = [g for g in groups.values() if len({m.label for m in g}) > 1]
    for g in conflicts:  # each reported once, with the paths of both labels
        first = g[0]
        other = next(m for m in g if m.label != first.label)
        fate = "left out of the split (--on-conflict exclude)" if spec.on_conflict == "exclude" else \
            f"kept together in one split under class {first.label!r} (--on-conflict exclude leaves such groups out)"  # fmt: skip
        plan.warnings.append(
            f"label conflict: '{first.rel}' ({first.label}) and '{other.rel}' ({other.label}) are copies of one photo "
            f"in different classes; their group of {len(g)} is {fate}"
        )
    if spec.on_conflict == "exclude" and conflicts:
        dropped = {id(g) for g in conflicts}
        for label in list(by_class):
            by_class[label] = [g for g in by_class[label] if id(g) not in dropped]
        for g in conflicts:
            others = sorted({m.label for m in g} - {g[0].label})
            for m in g:
                plan.unused.append(Excluded(m.rel, f"label conflict: a copy of it sits in class {others[0]!r} (--on-conflict exclude)"))

    placed: dict[str, str] = {}  # source rel -> split
    for label in classes:
        class_groups = by_class.get(label, [])
        n = sum(len(g) for g in class_groups)
        if n == 0:
            continue  # every file of this class is in a group planned with another class (or excluded)
        val, test, cap, warnings = spec.targets(label, n)
        plan.warnings.extend(warnings)
        # Bytes, not str: the same seed as the str for any UTF-8 name, and a class folder whose
        # name holds non-UTF-8 bytes (a str with lone surrogates) seeds from those bytes.
        rng = random.Random(f"{seed}:{label}".encode("utf-8", "surrogateescape"))
        left = list(class_groups)
        rng.shuffle(left)
        chosen: dict[str, list[list[SourceFile]]] = {}
        for split, target in (("test", test), ("val", val)):
            # Train keeps at least one image: the biggest total val/test may take.
            room = n - 1 - sum(len(g) for picked in chosen.values() for g in picked)
            picked = _exact_subset(left, min(target, room))
            chosen[split] = picked
            taken = {id(g) for g in picked}
            left = [g for g in left if id(g) not in taken]
            got = sum(len(g) for g in picked)
            if got != target:
                biggest = max((g for g in class_groups), key=len)
                plan.warnings.append(
                    f"class {label!r}: {split} has {got} of the {target} images asked: no set of its duplicate groups adds up "
                    f"to {target} (the largest, {len(biggest)} copies of '{biggest[0].rel}', must stay in one split)"
                )
        train: list[list[SourceFile]] = []
        unused: list[list[SourceFile]] = []
        room_train = cap if cap is not None else n
        for g in left:
            if len(g) <= room_train:
                train.append(g)
                room_train -= len(g)
            else:
                unused.append(g)
        chosen["train"] = train
        for split, split_groups in chosen.items():
            for g in split_groups:
                for m in g:
                    placed[m.rel] = split
        for g in unused:
            for m in g:
                plan.unused.append(Excluded(m.rel, f"over the --train cap ({cap} per class)"))

    for f in ordered:
        target = placed.get(f.rel)
        if target is not None:
            plan.assignments.append(
                Assignment(source=f.rel, dest=f"{target}/{f.rel}", split=target, label=f.label, sha256=f.sha256, size=f.size)
            )
    plan.unused.sort(key=lambda e: natural_key(e.path))
    return plan


def _exact_subset(groups: list[list[SourceFile]], target: int) -> list[list[SourceFile]]:
    """Groups (taken in the given, shuffled order) whose sizes add up to exactly `target`, or,
    when no subset can, to the largest total below it. First fit, which nearly always lands
    exactly (most groups are single files); otherwise a subset-sum over bitsets."""
    picked: list[list[SourceFile]] = []
    total = 0
    for g in groups:
        if total + len(g) <= target:
            picked.append(g)
            total += len(g)
    if total == target:
        return picked
    full = (1 << (target + 1)) - 1
    reach = [1]  # reach[i]: bit t set when some of groups[:i] add up to t
    for g in groups:
        reach.append((reach[-1] | (reach[-1] << len(g))) & full)
    best = reach[-1].bit_length() - 1
    out: list[list[SourceFile]] = []
    for i in range(len(groups), 0, -1):  # walk back: leave a group out whenever the rest can still add up
        if not reach[i - 1] >> best & 1:
            out.append(groups[i - 1])
            best -= len(groups[i - 1])
    out.reverse()
    return out


# --- inputs: what to split -------------------------------------------------------------------


def _validate(raw: Path, options: ValidateOptions | None) -> Report:
    """Validate RAW (cached results for unchanged files): hashes and which files are broken."""
    from dataprep.validate import validate

    return validate(raw, options)


def collect_sources(
    raw: Path, *, include_invalid: bool = False, validate_options: ValidateOptions | None = None
) -> tuple[list[SourceFile], list[Excluded]]:
    """The images of RAW that can be split, and every file left out with its reason.

    Junk (Thumbs.db, .DS_Store, non-image extensions) and files outside a class folder are
    always left out; files `validate` rates `error` are left out unless `include_invalid`.
    """
    report = _validate(raw, validate_options)
    scan = report.scan
    if scan.layout == "split":
        raise DataprepError(
            f"'{raw}' is already split (it holds {'/'.join(scan.splits) or 'train'} folders); "
            "pass the raw folder of class folders (RAW/CLASS/*.jpg)"
        )
    if not scan.classes:
        raise DataprepError(
            f"'{raw}' has no class folders (expected RAW/CLASS/*.jpg, e.g. RAW/cats/1.jpg); "
            "put each class's images in a folder named after the class"
        )
    sources: list[SourceFile] = []
    excluded: list[Excluded] = [Excluded(r.rel, junk_reason(r.name) or "junk") for r in scan.junk]
    excluded += [Excluded(p.rel, p.detail) for p in scan.problems]
    for rec in scan.images:
        if rec.label is None:
            excluded.append(Excluded(rec.rel, "not inside a class folder"))
            continue
        result = report.result(rec.rel)
        if result is not None and result.worst == Severity.ERROR and not include_invalid:
            errors = [f.detail for f in result.findings if f.severity == Severity.ERROR]
            excluded.append(Excluded(rec.rel, f"invalid: {errors[0] if errors else 'error'} (--include-invalid keeps it)"))
            continue
        sha = result.sha256 if result is not None and result.sha256 else _sha256_of_source(rec.path, rec.rel)
        sources.append(SourceFile(rel=rec.rel, label=rec.label, sha256=sha, size=rec.size))
    excluded.sort(key=lambda e: natural_key(e.path))
    return _with_duplicate_groups(sources, report), excluded


def _sha256_of_source(path: Path, rel: str) -> str:
    try:
        return sha256_file(path)
    except OSError as err:
        raise DataprepError(
            f"cannot read '{rel}' in RAW ({err.strerror or err}); fix its permissions, or leave it out (drop --include-invalid)"
        ) from None


def _with_duplicate_groups(sources: list[SourceFile], report: Report) -> list[SourceFile]:
    """Mark exact and near duplicates (same pixels, close pHashes) as one group each, so the
    planner places each group as a unit and the split has no leaks by construction."""
    from dataclasses import replace

    from dataprep.duplicates import search_duplicates

    wanted = {s.rel for s in sources}
    results = [r for r in report.results if r.rel in wanted]
    group_of: dict[str, str] = {}
    for unit in search_duplicates(results).units:  # every connected set of verified pairs: no pair is torn apart
        for path in unit:
            group_of[path] = f"group:{unit[0]}"
    return [replace(s, group=group_of[s.rel]) if s.rel in group_of else s for s in sources]


# --- the result ------------------------------------------------------------------------------


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


# --- the manifest ----------------------------------------------------------------------------


def _manifest(raw: Path, mode: str, include_invalid: bool, plan: SplitPlan, excluded: list[Excluded], *,
              complete: bool, replacing: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    doc: dict[str, Any] = {
        "version": SPLIT_JSON_VERSION,
        "complete": complete,
        "created_by": f"dataprep {__version__}",
        "raw": str(raw),
        "mode": mode,
        "seed": plan.seed,
        "spec": plan.spec.to_dict(),
        "include_invalid": include_invalid,
        "class_names": sorted(plan.classes),
        "class_index": plan.class_index,
        "counts": plan.counts(),
        "digest": plan.digest(),
        "files": [a.to_dict() for a in plan.assignments],
        "duplicate_groups": plan.duplicate_groups,
        "excluded": [e.to_dict() for e in excluded + plan.unused],
        "warnings": plan.warnings,
    }
    if replacing:
        doc["replacing"] = replacing  # files of a previous split still to remove (--force)
    return doc


def manifest_bytes(doc: dict[str, Any]) -> bytes:
    """split.json text: one key per line, and one line per file in the long lists.

    Readable and diff-friendly (a file's record is one line), and fast: each value goes through
    the C JSON encoder, which `json.dumps(indent=...)` would bypass (25k files: seconds).
    """
    lines = []
    keys = list(doc)
    for i, key in enumerate(keys):
        value = doc[key]
        comma = "," if i < len(keys) - 1 else ""
        if isinstance(value, list) and value:
            inner = ",\n".join("    " + json.dumps(item, ensure_ascii=False) for item in value)
            lines.append(f"  {json.dumps(key)}: [\n{inner}\n  ]{comma}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    return json_text_bytes("{\n" + "\n".join(lines) + "\n}\n")


def read_manifest(out: Path) -> dict[str, Any] | None:
    """OUT/split.json as a dict, None when absent; a clear error when it is not ours or damaged."""
    path = out / SPLIT_JSON
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataprepError(f"cannot read '{path}' ({err}); expected the split.json a dataprep split wrote") from None
    if not isinstance(doc, dict) or "files" not in doc or "digest" not in doc:
        raise DataprepError(f"'{path}' is not a dataprep split manifest; choose another OUT folder")
    return doc


def _plan_from_manifest(doc: dict[str, Any]) -> tuple[SplitPlan, list[Excluded]]:
    spec = SplitSpec.from_dict(doc["spec"])
    assignments = [Assignment.from_dict(d) for d in doc["files"]]
    classes = sorted({a.label for a in assignments} | set(doc.get("class_names", [])), key=natural_key)
    excluded = [Excluded(e["path"], e["reason"]) for e in doc.get("excluded", [])]
    plan = SplitPlan(
        seed=doc["seed"], spec=spec, classes=classes, assignments=assignments,
        duplicate_groups=doc.get("duplicate_groups", []), warnings=doc.get("warnings", []),
    )  # fmt: skip
    return plan, excluded


# --- the executor ----------------------------------------------------------------------------


def _place(mode: str, src: str, dst: str, tmp: str, st: os.stat_result) -> None:
    """Put one file at `dst` so that `dst` is either absent or complete (replaces what is there).
    `st` is the source's stat: a copy keeps its modification time."""
    if mode == "copy":
        _copy_bytes(src, tmp, st)
        os.replace(tmp, dst)
    elif mode == "hardlink":
        try:
            os.link(src, dst)
        except FileExistsError:
            os.link(src, tmp)
            os.replace(tmp, dst)
    elif mode == "symlink":
        try:
            os.symlink(src, dst)
        except FileExistsError:
            os.symlink(src, tmp)
            os.replace(tmp, dst)
    else:
        raise ValueError(f"_place does not handle mode {mode!r}")


def _copy_bytes(src: str, dst: str, st: os.stat_result) -> None:
    """Copy bytes and modification time. On Linux: raw descriptors and sendfile, in the kernel,
    without the extra stats `shutil.copyfile` makes (this loop runs once per image)."""
    if not _LINUX:
        shutil.copyfile(src, dst)
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
        return
    fin = os.open(src, os.O_RDONLY)
    try:
        fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, st.st_mode & 0o777 or 0o644)
        try:
            while os.sendfile(fout, fin, None, 1 << 30) > 0:
                pass
            os.utime(fout, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(fout)
    finally:
        os.close(fin)


def _is_in_place(mode: str, src: str, dst: str, a: Assignment, journaled: bool) -> bool:
    """Whether an existing `dst` already holds what the plan puts there (used when resuming)."""
    if mode == "symlink":
        return os.path.islink(dst) and os.readlink(dst) == src
    if os.path.islink(dst):
        return False
    if mode == "hardlink":
        try:
            return os.path.samefile(src, dst)
        except OSError:
            return False
    try:
        if os.path.getsize(dst) != a.size:
            return False
    except OSError:
        return False
    return journaled or sha256_file(Path(dst)) == a.sha256


def execute_split(
    plan: SplitPlan,
    raw: Path,
    out: Path,
    mode: str,
    *,
    journal: Journal,
    done: set[str] | None = None,
    after_file: FileHook | None = None,
) -> tuple[int, int]:
    """Place every planned file under OUT. Returns (written now, found already in place).

    `done` holds destinations a previous, interrupted run journaled as finished. `after_file`
    is called after each file with (files so far, total): the progress bar, and the tests'
    way to interrupt a run after N files.
    """
    done = done or set()
    out_s, raw_s = str(out), str(raw)
    made: set[str] = set()
    for split in plan.splits:  # every class in every used split: Keras keeps the class index
        for label in plan.classes:
            folder = os.path.join(out_s, split, label)
            make_dirs(folder)
            made.add(folder)
    written = already = 0
    batch: list[str] = []
    total = len(plan.assignments)
    for i, a in enumerate(plan.assignments, 1):
        src = os.path.join(raw_s, a.source)
        dst = os.path.join(out_s, a.dest)
        parent, name = os.path.split(dst)
        if mode == "move":
            state = reconcile_move(Path(src), Path(dst), a.sha256)
            if state == "missing":
                raise DataprepError(
                    f"'{a.source}' is neither in RAW nor at '{a.dest}' in OUT; it was moved or deleted "
                    "outside dataprep. Put it back and re-run with --resume"
                )
            if state == "pending":
                if parent not in made:
                    make_dirs(parent)
                    made.add(parent)
                _check_source(src, a)
                try:
                    _move(src, dst)
                except OSError as err:
                    raise _write_error(err, a, out, mode) from None
                written += 1
                crash_point()  # the kill tests' hook: one file operation done
            else:
                already += 1
        else:
            if os.path.lexists(dst) and _is_in_place(mode, src, dst, a, a.dest in done):
                already += 1
            else:
                if parent not in made:
                    make_dirs(parent)
                    made.add(parent)
                st = _check_source(src, a)
                tmp = os.path.join(parent, TMP_PREFIX + name)
                try:
                    _place(mode, src, dst, tmp, st)
                except OSError as err:
                    if os.path.lexists(tmp):
                        os.unlink(tmp)  # a partial copy never stays behind (resume would remove it too)
                    raise _write_error(err, a, out, mode) from None
                written += 1
                crash_point()  # the kill tests' hook: one file operation done
        batch.append(a.dest)
        if len(batch) >= JOURNAL_BATCH:
            journal.append({"op": "done", "dest": batch})
            batch = []
        if after_file is not None:
            after_file(i, total)
    if batch:
        journal.append({"op": "done", "dest": batch})
    return written, already


def _write_error(err: OSError, a: Assignment, out: Path, mode: str) -> DataprepError:
    """One line for a file that could not be placed. The split stays resumable: split.json and
    the journal say what is done, the file in flight is absent or complete, never partial."""
    resume = "re-run the same command with --resume to finish"
    if err.errno == errno.EXDEV:
        return DataprepError(
            f"cannot {mode} '{a.source}' across filesystems (RAW and '{out}' are on different disks); "
            "start over with --mode copy --force, or put OUT on RAW's disk and " + resume
        )
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return DataprepError(f"disk full while writing '{a.dest}' into '{out}' ({err.strerror}); free some space, then {resume}")
    return DataprepError(f"cannot write '{a.dest}' into '{out}': {err.strerror or err}; fix that, then {resume}")


def _move(src: str, dst: str) -> None:
    """Rename on one filesystem; across filesystems an atomic copy, then unlink the source."""
    try:
        os.rename(src, dst)
    except OSError as err:
        if err.errno != errno.EXDEV:
            raise
        # A kill between the copy and the unlink leaves two identical files: reconcile_move
        # removes the source on resume.
        _place("copy", src, dst, os.path.join(os.path.dirname(dst), TMP_PREFIX + os.path.basename(dst)), os.stat(src))
        os.unlink(src)


def _check_source(src: str, a: Assignment) -> os.stat_result:
    """A resumed copy must copy what was planned: the source must still exist with its size."""
    try:
        st = os.stat(src)
        size = st.st_size
    except OSError:
        raise DataprepError(
            f"source '{a.source}' is gone from RAW since the split started; restore it, or start over with --force"
        ) from None
    if size != a.size:
        raise DataprepError(
            f"source '{a.source}' changed since the split started ({a.size} -> {size} bytes); start over with --force"
        )
    return st


# --- OUT: empty, resume, force ---------------------------------------------------------------


def _check_folders(raw: Path, out: Path) -> None:
    if out == raw or out.is_relative_to(raw):
        raise DataprepError(f"OUT '{out}' is inside RAW '{raw}'; the split would be split again: choose a folder outside RAW")
    if raw.is_relative_to(out):
        raise DataprepError(f"RAW '{raw}' is inside OUT '{out}'; choose an OUT folder that does not contain RAW")
    if out.exists() and not out.is_dir():
        raise DataprepError(f"OUT '{out}' is a file; expected a new or empty folder")


def _entries(out: Path) -> list[str]:
    return sorted(os.listdir(out), key=natural_key) if out.is_dir() else []


def _files_under_splits(out: Path) -> list[str]:
    """Every file (or link) under OUT/{train,val,test}, relative to OUT, except our temporaries."""
    found: list[str] = []
    for split in SPLIT_NAMES:
        base = out / split
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in walk_tree(base):
            dirnames.sort()
            for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
                if not name.startswith(TMP_PREFIX):
                    found.append(Path(dirpath, name).relative_to(out).as_posix())
    return found


def _previous_split_files(out: Path, old: dict[str, Any] | None) -> list[str]:
    """What --force may remove: files under OUT's split folders that a previous copy, hardlink or
    symlink split wrote and whose source still exists. Anything else there is refused: it may be
    the only copy of someone's photo."""
    present = _files_under_splits(out)
    if not present:
        return []
    if old is None:
        raise DataprepError(
            f"OUT '{out}' holds {len(present)} file(s) under train/val/test (e.g. '{present[0]}') and no split.json: "
            "they were not written by dataprep split, so --force will not replace them; move them away or choose another OUT"
        )
    old_raw = Path(old.get("raw", ""))
    recorded = {d["path"]: d for d in old.get("files", [])}
    recorded.update({p: {"path": p, "source": None} for p in old.get("replacing", [])})
    old_mode = old.get("mode")
    for rel in present:
        entry = recorded.get(rel)
        if entry is None:
            raise DataprepError(
                f"'{out / rel}' was not written by the previous split (it is not in OUT/split.json); "
                "--force only replaces a previous split's files: move it away or choose another OUT"
            )
        if old_mode == "move":
            raise DataprepError(
                f"the previous split into '{out}' moved the photos there (--mode move): they are the only copies, "
                "so --force will not delete them; move them back to RAW or choose another OUT"
            )
        if old_mode in ("copy", "hardlink") and entry.get("source") is not None and not (old_raw / entry["source"]).exists():
            raise DataprepError(
                f"'{out / rel}' is the only copy left (its source '{old_raw / entry['source']}' is gone), "
                "so --force will not delete it; copy it back to RAW or choose another OUT"
            )
    return present


def _remove_previous(out: Path, paths: Iterable[str]) -> int:
    removed = 0
    for rel in paths:
        target = out / rel
        if target.is_symlink() or target.exists():
            target.unlink()
            removed += 1
    # Drop class folders the new split does not use (empty ones only).
    for split in SPLIT_NAMES:
        base = out / split
        if base.is_dir():
            for dirpath, _dirs, _files in walk_tree(base, topdown=False):
                if not os.listdir(dirpath):
                    os.rmdir(dirpath)
    return removed


def _journal_state(journal: Journal, digest: str) -> tuple[bool, set[str]]:
    """(previous files removed?, destinations done) for the run whose plan has `digest`."""
    removed, ours = False, False
    done: set[str] = set()
    for entry in journal.entries():
        op = entry.get("op")
        if op == "begin":
            ours = entry.get("digest") == digest
            removed, done = False, set()
        elif ours and op == "removed":
            removed = True
        elif ours and op == "done":
            done.update(entry.get("dest", []))
    return removed, done


def _resume_mismatch(doc: dict[str, Any], raw: Path, mode: str, seed: int, spec: SplitSpec, include_invalid: bool) -> str | None:
    asked = {"raw": str(raw), "mode": mode, "seed": seed, "spec": spec.to_dict(), "include_invalid": include_invalid}
    names = {"raw": "RAW", "mode": "--mode", "seed": "--seed", "spec": "--val/--test/--train", "include_invalid": "--include-invalid"}
    for key, value in asked.items():
        if doc.get(key) != value:
            return f"{names[key]} was {doc.get(key)!r} (now {value!r})"
    return None


# --- the API ---------------------------------------------------------------------------------


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
) -> SplitResult:
    """Split RAW (``RAW/CLASS/*``) into ``OUT/{train,val,test}/CLASS/`` plus ``OUT/split.json``.

    OUT must be new or empty, unless `resume` (finish an interrupted split started with the same
    arguments: the plan is read back from OUT/split.json) or `force` (replace a previous split:
    only files that the previous split wrote and that RAW can give again are removed; anything
    else under OUT's split folders, or the photos of a previous ``move`` split, makes it refuse
    before writing anything; other files in OUT are left alone). RAW is only changed by
    ``mode="move"``. With `dry_run` nothing is written and the result holds the plan.
    """
    spec = spec or SplitSpec()
    if mode not in MODES:
        raise DataprepError(f"unknown --mode {mode!r}; expected one of {'|'.join(MODES)}")
    if resume and force:
        raise DataprepError("--resume and --force contradict each other; pass one: --resume finishes, --force starts over")
    raw_path = require_directory(raw, "a folder of class folders (RAW/CLASS/*.jpg)")
    out_path = Path(out).expanduser().resolve()
    _check_folders(raw_path, out_path)

    entries = _entries(out_path)
    old = read_manifest(out_path) if entries else None
    if resume and old is not None:
        return _resume(raw_path, out_path, old, mode, seed, spec, include_invalid, dry_run, after_file)
    if entries and not force:
        if resume:
            raise DataprepError(
                f"nothing to resume in '{out_path}': it is not empty but has no split.json; choose an empty or new OUT"
            )
        raise DataprepError(
            f"OUT '{out_path}' is not empty ({len(entries)} entries, e.g. '{entries[0]}'); pass a new or empty folder, "
            "--resume to finish an interrupted split, or --force to replace a previous split"
        )

    started = time.perf_counter()
    sources, excluded = collect_sources(raw_path, include_invalid=include_invalid, validate_options=validate_options)
    plan = plan_split(sources, spec, seed)
    inspected = time.perf_counter()
    if not plan.assignments:
        raise DataprepError(f"'{raw_path}' has no images to split (all {len(excluded)} files were left out); check the folder")
    if mode == "hardlink":
        _require_same_filesystem(raw_path, out_path)
    replacing = _previous_split_files(out_path, old) if entries else []
    result = SplitResult(raw=raw_path, out=out_path, mode=mode, plan=plan, excluded=excluded, dry_run=dry_run)
    result.seconds["inspect"] = inspected - started
    if dry_run:
        result.removed = len(replacing)
        return result

    out_path.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_path)
    journal = Journal(out_path / JOURNAL_NAME)
    # Intent first: the plan (and what --force replaces) is on disk before any file is touched.
    write_atomic(out_path / SPLIT_JSON, manifest_bytes(
        _manifest(raw_path, mode, include_invalid, plan, excluded, complete=False, replacing=replacing)
    ))  # fmt: skip
    journal.append({"op": "begin", "digest": plan.digest(), "mode": mode})
    result.removed = _remove_previous(out_path, replacing)
    journal.append({"op": "removed"})
    result.written, result.already_done = execute_split(plan, raw_path, out_path, mode, journal=journal, after_file=after_file)
    _finish(raw_path, out_path, mode, include_invalid, plan, excluded, journal)
    result.seconds["write"] = time.perf_counter() - inspected
    return result


def _resume(raw: Path, out: Path, doc: dict[str, Any], mode: str, seed: int, spec: SplitSpec,
            include_invalid: bool, dry_run: bool, after_file: FileHook | None) -> SplitResult:  # fmt: skip
    """Finish the split recorded in OUT/split.json (see the module docstring)."""
    mismatch = _resume_mismatch(doc, raw, mode, seed, spec, include_invalid)
    if mismatch:
        raise DataprepError(
            f"cannot --resume '{out}' with different arguments: {mismatch}; re-run with the same arguments, or --force to start over"
        )
    plan, excluded = _plan_from_manifest(doc)
    result = SplitResult(raw=raw, out=out, mode=mode, plan=plan, excluded=excluded, dry_run=dry_run, resumed=True)
    if dry_run:
        return result
    started = time.perf_counter()
    remove_stale_temporaries(out)
    journal = Journal(out / JOURNAL_NAME)
    removed, done = _journal_state(journal, plan.digest())
    if not removed:  # killed before the previous split's files were all removed: no file placed yet
        journal.append({"op": "begin", "digest": plan.digest(), "mode": mode})
        result.removed = _remove_previous(out, doc.get("replacing", []))
        journal.append({"op": "removed"})
    result.written, result.already_done = execute_split(plan, raw, out, mode, journal=journal, done=done, after_file=after_file)
    _finish(raw, out, mode, include_invalid, plan, excluded, journal)
    result.seconds["write"] = time.perf_counter() - started
    return result


def _finish(raw: Path, out: Path, mode: str, include_invalid: bool, plan: SplitPlan, excluded: list[Excluded], journal: Journal) -> None:
    """Mark the split complete (split.json, atomically), then drop the journal."""
    fsync_dir(out)
    write_atomic(out / SPLIT_JSON, manifest_bytes(_manifest(raw, mode, include_invalid, plan, excluded, complete=True)))
    journal.path.unlink(missing_ok=True)
    fsync_dir(out)


def _require_same_filesystem(raw: Path, out: Path) -> None:
    probe = out
    while not probe.exists():
        probe = probe.parent
    if os.stat(raw).st_dev != os.stat(probe).st_dev:
        raise DataprepError(
            f"--mode hardlink needs RAW and OUT on one filesystem ('{raw}' and '{out}' are not); use --mode copy or symlink"
        )


# --- rendering (the CLI prints these) --------------------------------------------------------


def split_renderables(result: SplitResult, max_excluded: int = 20) -> list[Any]:
    """The plan as a Rich table (class x split counts) plus what was left out and what was done."""
    from rich.table import Table
    from rich.text import Text

    counts = result.plan.counts()
    title = f"{'plan (dry run, nothing written)' if result.dry_run else 'split'}: {result.raw} -> {result.out} " \
            f"(--mode {result.mode}, --seed {result.plan.seed}, {result.plan.spec.describe()})"  # fmt: skip
    table = Table(title=title)
    table.add_column("class")
    for split in counts:
        table.add_column(split, justify="right")
    table.add_column("total", justify="right")
    for label in result.plan.classes:
        row = [counts[s][label] for s in counts]
        table.add_row(label, *map(str, row), str(sum(row)))
    totals = [sum(counts[s].values()) for s in counts]
    table.add_section()
    table.add_row("all", *map(str, totals), str(sum(totals)))
    out: list[Any] = [table]
    if result.plan.duplicate_groups:
        extra = sum(len(g) for g in result.plan.duplicate_groups)
        out.append(Text(
            f"{len(result.plan.duplicate_groups)} group(s) of identical or near-identical files ({extra} files), each kept in one split"
        ))
    left_out = result.excluded + result.plan.unused
    if left_out:
        out.append(Text(f"{len(left_out)} file(s) left out:", style="yellow"))
        for e in left_out[:max_excluded]:
            out.append(Text(f"  {e.path}: {e.reason}"))
        if len(left_out) > max_excluded:
            out.append(Text(f"  ... and {len(left_out) - max_excluded} more (see OUT/split.json or --json)"))
    if result.dry_run:
        if result.removed:
            out.append(Text(f"--force would remove {result.removed} file(s) of the previous split"))
    else:
        done = f"{result.written} file(s) written ({result.mode})"
        if result.already_done:
            done += f", {result.already_done} already in place"
        if result.removed:
            done += f", {result.removed} file(s) of the previous split removed"
        out.append(Text(f"{done}; manifest: {result.manifest}"))
    return out
