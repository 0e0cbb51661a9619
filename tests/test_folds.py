"""dataprep.folds.plan_folds: stratified, seeded, duplicate groups never split, balanced."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

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


def test_split_folds_cli_records_folds_keeps_copies_together_and_leaves_test_out(tmp_path: Path) -> None:
    """`dataprep split RAW OUT --folds K`: every non-test file gets a fold in split.json, an exact
    copy shares its original's fold, and the held-out test files get none."""
    import json
    import shutil

    import numpy as np
    from PIL import Image
    from typer.testing import CliRunner

    from dataprep.cli import app

    rng = np.random.default_rng(3)
    raw = tmp_path / "raw"
    for name in ("cat", "dog"):
        (raw / name).mkdir(parents=True)
        for i in range(9):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(raw / name / f"{i}.png")
    shutil.copy(raw / "cat" / "0.png", raw / "cat" / "0_copy.png")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["split", str(raw), str(out), "--val", "1", "--test", "2", "--folds", "3",
                                      "--jobs", "0", "--cache-dir", str(tmp_path / "cache")])  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "split.json").read_text())
    assert doc["k"] == 3
    files = {f["source"]: f for f in doc["files"]}
    assert all(f.get("fold") is None for f in files.values() if f["split"] == "test")
    in_folds = [f for f in files.values() if f["split"] != "test"]
    assert in_folds and all(f["fold"] in (0, 1, 2) for f in in_folds)
    assert files["cat/0.png"]["split"] == files["cat/0_copy.png"]["split"]
    if files["cat/0.png"]["split"] != "test":
        assert files["cat/0.png"]["fold"] == files["cat/0_copy.png"]["fold"]
    for label in ("cat", "dog"):  # stratified: each class spread over every fold
        assert {f["fold"] for f in in_folds if f["class"] == label} == {0, 1, 2}
