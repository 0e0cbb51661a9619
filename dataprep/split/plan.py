"""The pure planner: every file's split, from the files, the spec and the seed. No I/O.

The same files, spec and seed give the same plan on any machine. Files are sorted (natural
order) first, each class draws from its own `random.Random(f"{seed}:{class}")` (so adding a class
never reshuffles the others), and files of one duplicate unit (same bytes, or linked by verified
near-duplicate pairs: `dataprep.duplicates.search`) are placed as one piece: no photo can sit in train
and in test at once.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dataprep.base.naming import SPLIT_NAMES, natural_key
from dataprep.split.spec import DEFAULT_SEED, SplitSpec


@dataclass(frozen=True)
class SourceFile:
    """One image to split: its path relative to RAW, class, content hash and size. `group`
    names its duplicate group (exact or near copies, see `dataprep.duplicates.search`); None means
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
        return cls(
            source=d["source"], dest=d["path"], split=d["split"], label=d["class"], sha256=d["sha256"], size=d["size"]
        )


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
        table = {s: dict.fromkeys(self.classes, 0) for s in self.splits}
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
    is planned with the first of its classes and lands in one split, each file counted toward
    its own class (the later class's counts start from the copies already placed); with
    ``"exclude"`` it is left out.
    """
    ordered = sorted(files, key=lambda f: natural_key(f.rel))
    groups: dict[str, list[SourceFile]] = {}
    for f in ordered:
        groups.setdefault(f.group_key, []).append(f)
    classes = sorted({f.label for f in ordered}, key=natural_key)
    by_class: dict[str, list[list[SourceFile]]] = defaultdict(list)
    for members in groups.values():  # insertion order = natural order of each group's first file
        by_class[_home_class(members)].append(members)

    plan = SplitPlan(seed=seed, spec=spec, classes=classes, assignments=[])
    plan.duplicate_groups = [[m.rel for m in g] for g in groups.values() if len(g) > 1]
    _label_conflicts(list(groups.values()), by_class, spec, plan)
    class_sizes: Counter[str] = Counter(m.label for gs in by_class.values() for g in gs for m in g)
    placed: dict[str, str] = {}  # source rel -> split
    # Copies of a photo filed under a later class, already placed with the group's first class.
    placed_early: dict[str, Counter[str]] = defaultdict(Counter)
    for label in classes:
        n = class_sizes[label]
        if n == 0:
            continue  # every file of this class was excluded
        chosen, unused, cap = _plan_class(label, n, by_class.get(label, []), placed_early[label], spec, seed, plan)
        for split, split_groups in chosen.items():
            for g in split_groups:
                for m in g:
                    placed[m.rel] = split
                    if m.label != label:
                        placed_early[m.label][split] += 1
        for g in unused:
            for m in g:
                plan.unused.append(Excluded(m.rel, f"over the --train cap ({cap} per class)"))

    for f in ordered:
        where = placed.get(f.rel)
        if where is not None:
            plan.assignments.append(
                Assignment(
                    source=f.rel, dest=f"{where}/{f.rel}", split=where, label=f.label, sha256=f.sha256, size=f.size
                )
            )
    plan.unused.sort(key=lambda e: natural_key(e.path))
    return plan


def _label_conflicts(
    groups: list[list[SourceFile]], by_class: dict[str, list[list[SourceFile]]], spec: SplitSpec, plan: SplitPlan
) -> None:
    """Report each group whose files sit in several classes once, with the paths of both labels;
    with ``on_conflict="exclude"``, take those groups out of `by_class` into `plan.unused`."""
    conflicts = [g for g in groups if len({m.label for m in g}) > 1]
    for g in conflicts:
        first = g[0]
        other = next(m for m in g if m.label != first.label)
        fate = "left out of the split (--on-conflict exclude)" if spec.on_conflict == "exclude" else \
            "kept together in one split, each copy counted in its own class (--on-conflict exclude leaves such groups out)"  # fmt: skip
        plan.warnings.append(
            f"label conflict: '{first.rel}' ({first.label}) and '{other.rel}' ({other.label}) are copies of one photo "
            f"in different classes; their group of {len(g)} is {fate}"
        )
    if spec.on_conflict == "exclude" and conflicts:
        dropped = {id(g) for g in conflicts}
        for label in list(by_class):
            by_class[label] = [g for g in by_class[label] if id(g) not in dropped]
        for g in conflicts:
            for m in g:
                others = sorted({o.label for o in g} - {m.label}, key=natural_key)
                plan.unused.append(
                    Excluded(m.rel, f"label conflict: a copy of it sits in class {others[0]!r} (--on-conflict exclude)")
                )


def _home_class(group: list[SourceFile]) -> str:
    """The class a group is planned with: the first, in class order, of its files' classes."""
    return min((m.label for m in group), key=natural_key)


def _plan_class(
    label: str,
    n: int,
    class_groups: list[list[SourceFile]],
    already: Counter[str],
    spec: SplitSpec,
    seed: int,
    plan: SplitPlan,
) -> tuple[dict[str, list[list[SourceFile]]], list[list[SourceFile]], int | None]:
    """One class's groups into test, val and train (and those over the train cap), counting only
    the files of `label` in each group, on top of `already` (its copies placed with an earlier
    class). Warnings go to `plan`."""

    def own(g: list[SourceFile]) -> int:
        return sum(m.label == label for m in g)

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
        held = already["test"] + already["val"] + sum(own(g) for picked in chosen.values() for g in picked)
        picked = _exact_subset(left, max(0, min(target - already[split], n - 1 - held)), own)
        chosen[split] = picked
        taken = {id(g) for g in picked}
        left = [g for g in left if id(g) not in taken]
        got = already[split] + sum(own(g) for g in picked)
        if got < target:
            biggest = max(class_groups, key=own, default=None)
            why = (
                f"(the largest, {own(biggest)} copies of '{biggest[0].rel}', must stay in one split)"
                if biggest is not None and own(biggest) > 1
                else "(its copies of photos filed under another class sit in other splits)"
            )
            plan.warnings.append(
                f"class {label!r}: {split} has {got} of the {target} images asked: no set of its duplicate groups adds up "
                f"to {target} {why}"
            )
        elif got > target:
            plan.warnings.append(
                f"class {label!r}: {split} has {got} of the {target} images asked: {got - target} are copies of photos "
                "filed under another class, kept in that photo's split"
            )
    train: list[list[SourceFile]] = []
    unused: list[list[SourceFile]] = []
    room_train = cap - already["train"] if cap is not None else n
    for g in left:
        if own(g) <= room_train:
            train.append(g)
            room_train -= own(g)
        else:
            unused.append(g)
    chosen["train"] = train
    return chosen, unused, cap


def _exact_subset(
    groups: list[list[SourceFile]], target: int, size: Callable[[list[SourceFile]], int] = len
) -> list[list[SourceFile]]:
    """Groups (taken in the given, shuffled order) whose sizes add up to exactly `target`, or,
    when no subset can, to the largest total below it. First fit, which nearly always lands
    exactly (most groups are single files); otherwise a subset-sum over bitsets."""
    picked: list[list[SourceFile]] = []
    total = 0
    for g in groups:
        if total + size(g) <= target:
            picked.append(g)
            total += size(g)
    if total == target:
        return picked
    full = (1 << (target + 1)) - 1
    reach = [1]  # reach[i]: bit t set when some of groups[:i] add up to t
    for g in groups:
        reach.append((reach[-1] | (reach[-1] << size(g))) & full)
    best = reach[-1].bit_length() - 1
    out: list[list[SourceFile]] = []
    for i in range(len(groups), 0, -1):  # walk back: leave a group out whenever the rest can still add up
        if not reach[i - 1] >> best & 1:
            out.append(groups[i - 1])
            best -= size(groups[i - 1])
    out.reverse()
    return out
