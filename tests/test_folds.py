"""dataprep.split.folds.plan_folds: stratified, seeded, duplicate groups never split, balanced."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataprep.base.errors import DataprepError
from dataprep.split.folds import plan_folds


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


def _split_with_folds(tmp_path: Path, extra: tuple[str, ...] = ()) -> tuple[Path, Path]:
    import numpy as np
    from PIL import Image
    from typer.testing import CliRunner

    from dataprep.cli import app

    rng = np.random.default_rng(5)
    raw = tmp_path / "raw"
    for name in ("cat", "dog"):
        (raw / name).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(raw / name / f"{i}.png")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["split", str(raw), str(out), "--val", "0", "--test", "2", "--folds", "3",
                                      "--jobs", "0", "--cache-dir", str(tmp_path / "cache"), *extra])  # fmt: skip
    assert result.exit_code == 0, result.output
    return raw, out


def test_read_folds_gives_each_fold_of_split_json_as_source_paths(tmp_path: Path) -> None:
    """Training fold i reads the manifest's fold i as validation, the other folds as training and
    the test split as test, at their source paths in RAW (no copies needed)."""
    import json

    from dataprep.split.folds import read_folds

    raw, out = _split_with_folds(tmp_path)
    doc = json.loads((out / "split.json").read_text())
    assignment = read_folds(out)
    assert assignment.k == 3 and assignment.class_names == ("cat", "dog") and assignment.root == raw
    for fold in range(3):
        roles = assignment.roles(fold)
        expect = {
            role: {(str(raw / f["source"]), f["class"]) for f in doc["files"] if pick(f)}
            for role, pick in (
                ("val", lambda f: f["fold"] == fold),  # noqa: B023 - used inside the loop
                ("train", lambda f: f["fold"] not in (None, fold)),  # noqa: B023
                ("test", lambda f: f["split"] == "test"),
            )
        }
        assert {role: set(files) for role, files in roles.items()} == expect
        assert expect["val"] and expect["train"] and len(expect["test"]) == 4


def test_read_folds_after_a_move_split_reads_the_moved_files(tmp_path: Path) -> None:
    from dataprep.split.folds import read_folds

    _, out = _split_with_folds(tmp_path, ("--mode", "move"))
    roles = read_folds(out / "split.json").roles(0)
    paths = [Path(p) for files in roles.values() for p, _ in files]
    assert len(paths) == 16 and all(p.is_file() and out in p.parents for p in paths)


def test_read_folds_errors_are_one_clear_line(tmp_path: Path) -> None:
    from dataprep.split.folds import read_folds

    with pytest.raises(DataprepError, match="has no split.json") as err:
        read_folds(tmp_path)
    assert "\n" not in str(err.value)
    raw, out = _split_with_folds(tmp_path)
    with pytest.raises(DataprepError, match=r"--fold 3 is out of range: .* has 3 folds \(expected 0 to 2\)"):
        read_folds(out).roles(3)
    (out / "x.json").write_text('{"a": 1}')
    with pytest.raises(DataprepError, match="holds no fold assignment"):
        read_folds(out / "x.json")
    raw.rename(tmp_path / "elsewhere")
    with pytest.raises(DataprepError, match="is missing"):
        read_folds(out)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_split_with_folds_and_no_mode_copies_only_the_test_split(tmp_path: Path) -> None:
    """`split RAW OUT --folds K` without --mode is --mode folds: split.json records every file and
    its fold, only the held-out test split is copied into OUT, RAW is untouched, and `fit` without
    --fold on such an OUT says to pass --fold."""
    import json

    from dataprep.split.folds import refuse_folds_only_split

    raw, out = _split_with_folds(tmp_path)
    doc = json.loads((out / "split.json").read_text())
    assert doc["mode"] == "folds" and doc["complete"] is True and doc["k"] == 3
    test = {f["path"]: f["source"] for f in doc["files"] if f["split"] == "test"}
    written = _files(out)
    written.pop("split.json")
    assert set(written) == set(test) and len(test) == 4  # no train/ or val/ copies
    assert all(written[dest] == (raw / source).read_bytes() for dest, source in test.items())
    assert len(_files(raw)) == 16  # RAW keeps every photo
    with pytest.raises(DataprepError, match=r"--mode folds: .* pass --fold I \(0\.\.2\)"):
        refuse_folds_only_split(out)


def test_split_mode_folds_needs_folds_and_force_replaces_only_its_test_copies(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dataprep.cli import app

    raw, out = _split_with_folds(tmp_path)
    result = CliRunner().invoke(app, ["split", str(raw), str(tmp_path / "o2"), "--mode", "folds", "--jobs", "0"])
    assert result.exit_code == 2 and "needs --folds K" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "o2").exists()
    again = CliRunner().invoke(app, ["split", str(raw), str(out), "--test", "3", "--folds", "2", "--seed", "9",
                                     "--force", "--jobs", "0", "--cache-dir", str(tmp_path / "cache")])  # fmt: skip
    assert again.exit_code == 0, again.output
    written = _files(out)
    written.pop("split.json")
    assert len(written) == 6 and len(_files(raw)) == 16


def test_split_mode_folds_killed_then_resumed_ends_like_an_uninterrupted_run(tmp_path: Path) -> None:
    """SIGKILL after each of the first durable steps (split.json, journal lines, copies), then
    --resume: OUT ends byte for byte like the uninterrupted run's."""
    import os
    import subprocess
    import sys

    from dataprep.base.journal import KILL_AFTER_ENV

    raw, ref = _split_with_folds(tmp_path)
    expected = _files(ref)
    args = ["--val", "0", "--test", "2", "--folds", "3", "--jobs", "0", "--cache-dir", str(tmp_path / "cache")]
    for kill_after in (1, 2, 4):
        out = tmp_path / f"killed{kill_after}"
        cmd = [sys.executable, "-m", "dataprep", "split", str(raw), str(out), *args]
        killed = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False,
                                env={**os.environ, KILL_AFTER_ENV: str(kill_after)})  # fmt: skip
        assert killed.returncode == -9, killed.stderr
        resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=120, check=False)
        assert resumed.returncode == 0, resumed.stderr
        got = _files(out)
        got_doc, ref_doc = (json_doc(got.pop("split.json")), json_doc(expected["split.json"]))
        assert got_doc["files"] == ref_doc["files"] and got_doc["complete"] is True
        assert got == {k: v for k, v in expected.items() if k != "split.json"}


def json_doc(raw: bytes) -> dict[str, object]:
    import json

    doc = json.loads(raw)
    assert isinstance(doc, dict)
    return doc
