"""dataprep.folds.plan_folds: stratified, seeded, duplicate groups never split, balanced."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataprep.errors import DataprepError
from dataprep.folds import plan_folds


def _items(counts: dict[str, int], groups: dict[str, int] | None = None) -> list[tuple[str, str, str]]:
    """Files per class; `groups[label]` of each class's files come in pairs of near copies."""
    items = []
    for label, n in counts.items():
        paired = (groups or {}).get(label, 0)
        for i in range(n):
            path = f"{label}/{i}.jpg"
            key = f"group:{label}/{i // 2 * 2}.jpg" if i < paired else path
            items.append((path, label, key))
    return items


def test_every_file_gets_one_fold_and_classes_are_stratified() -> None:
    items = _items({"cats": 50, "dogs": 30})
    folds = plan_folds(items, 5, seed=1)
    assert set(folds) == {p for p, _, _ in items}
    assert set(folds.values()) == set(range(5))
    for label, n in (("cats", 50), ("dogs", 30)):
        per_fold = Counter(f for p, f in folds.items() if p.startswith(label))
        assert sorted(per_fold.values()) == [n // 5] * 5


def test_duplicate_groups_stay_in_one_fold() -> None:
    items = _items({"cats": 40, "dogs": 40}, groups={"cats": 20, "dogs": 10})
    folds = plan_folds(items, 4, seed=7)
    by_group: dict[str, set[int]] = {}
    for path, _, key in items:
        by_group.setdefault(key, set()).add(folds[path])
    assert all(len(f) == 1 for f in by_group.values())
    sizes = Counter(folds.values())
    assert max(sizes.values()) - min(sizes.values()) <= 2


def test_same_seed_same_folds_regardless_of_input_order_and_other_seed_differs() -> None:
    items = _items({"a": 21, "b": 13, "c": 8})
    shuffled = list(items)
    random.Random(3).shuffle(shuffled)
    assert plan_folds(items, 3, seed=5) == plan_folds(shuffled, 3, seed=5)
    assert plan_folds(items, 3, seed=5) != plan_folds(items, 3, seed=6)


def test_planning_does_not_touch_the_global_rng() -> None:
    random.seed(11)
    expected = random.random()
    random.seed(11)
    plan_folds(_items({"a": 10, "b": 10}), 2, seed=0)
    assert random.random() == expected


@pytest.mark.parametrize("k", [1, 0, -3, 7])
def test_bad_k_is_one_clear_error(k: int) -> None:
    items = [(f"a/{i}.jpg", "a", "g1" if i < 3 else f"a/{i}.jpg") for i in range(8)]  # 6 groups
    with pytest.raises(DataprepError, match=r"--folds .* expected 2 to 6") as err:
        plan_folds(items, k, seed=0)
    assert "\n" not in str(err.value)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 4), min_size=4, max_size=40),
    labels=st.lists(st.sampled_from(["x", "y", "z"]), min_size=40, max_size=40),
    k=st.integers(2, 4),
    seed=st.integers(0, 10_000),
)
def test_property_groups_whole_and_folds_balanced(sizes: list[int], labels: list[str], k: int, seed: int) -> None:
    items = []
    for g, size in enumerate(sizes):
        for m in range(size):
            items.append((f"{labels[g]}/g{g}_{m}.jpg", labels[g], f"group{g}"))
    if k > len(sizes):
        with pytest.raises(DataprepError):
            plan_folds(items, k, seed)
        return
    folds = plan_folds(items, k, seed)
    for g in range(len(sizes)):
        assert len({folds[p] for p, _, key in items if key == f"group{g}"}) == 1
    sizes_per_fold = [sum(1 for f in folds.values() if f == i) for i in range(k)]
    # greedy placement, largest group first: no fold exceeds another by more than the largest group per class
    assert max(sizes_per_fold) - min(sizes_per_fold) <= 3 * max(sizes)
