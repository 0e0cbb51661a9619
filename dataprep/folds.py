"""k-fold assignment that respects duplicate groups: a pure, seeded planner.

`plan_folds` puts every file in one of k folds so that each class is spread evenly over the
folds (stratified), every duplicate group (exact or near copies, `dataprep.duplicates`) sits
inside one fold, and the folds are as equal in size as the groups allow. Training fold i
against the rest then never scores an image the model has seen a copy of: the leak that
hides label errors behind confident out-of-fold predictions.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from dataprep.errors import DataprepError
from dataprep.scan import natural_key


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
