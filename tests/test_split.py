"""`dataprep split`: the pure planner, the journaled executor, resume after a crash, and the CLI.

Datasets are generated here with Pillow under `tmp_path` (tiny PNGs with distinct bytes).
Validation runs for real, in-process and without TensorFlow (`jobs=0, use_tf=False`), with its
cache under `tmp_path`; CLI and subprocess runs get the same options through `_validate`.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

import dataprep.split as split_mod
import dataprep.split.execute as split_execute
import dataprep.split.sources as split_sources
from dataprep.base.errors import DataprepError
from dataprep.cli import app
from dataprep.inspection.scan import natural_key
from dataprep.inspection.validate import ValidateOptions
from dataprep.split import (
    DEFAULT_SEED,
    JOURNAL_NAME,
    SPLIT_JSON,
    SourceFile,
    SplitSpec,
    plan_split,
    split_dataset,
)

REPO = Path(__file__).resolve().parents[1]


# --- helpers --------------------------------------------------------------------------------


def _png(path: Path, index: int, size: int = 12) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), (index % 251, (index // 251) % 251, 7)).save(path)


def make_raw(root: Path, classes: dict[str, int], *, junk: bool = True, start: int = 0) -> Path:
    """RAW/CLASS/imgN.png with distinct content, plus Thumbs.db and .DS_Store junk."""
    index = start
    for label, count in classes.items():
        for i in range(count):
            _png(root / label / f"img{i}.png", index)
            index += 1
    if junk:
        (root / next(iter(classes)) / "Thumbs.db").write_bytes(b"junk")
        (root / ".DS_Store").write_bytes(b"junk")
    return root


def tree(root: Path) -> dict[str, str]:
    """rel path -> sha256 of every file under `root` (links followed), split.json excluded."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != SPLIT_JSON:
            out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def vopts(tmp_path: Path) -> ValidateOptions:
    return ValidateOptions(jobs=0, use_tf=False, cache_dir=tmp_path / "cache")


@pytest.fixture()
def fast_validate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Make every split (CLI included) validate in-process without TensorFlow, cache under tmp_path."""
    real = split_sources._validate

    def _validate(raw: Path, options: Any) -> Any:
        return real(raw, ValidateOptions(jobs=0, use_tf=False, cache_dir=tmp_path / "cache"))

    monkeypatch.setattr(split_sources, "_validate", _validate)


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def files(n_per_class: dict[str, int]) -> list[SourceFile]:
    out = []
    for label, n in n_per_class.items():
        for i in range(n):
            out.append(SourceFile(rel=f"{label}/{i}.jpg", label=label, sha256=f"{label}-{i}", size=10))
    return out


def counts(plan: split_mod.SplitPlan) -> dict[str, dict[str, int]]:
    return plan.counts()


# --- the spec -------------------------------------------------------------------------------


def test_spec_parses_counts_and_fractions() -> None:
    spec = SplitSpec.parse("6", "0.1", "100")
    assert (spec.val, spec.test, spec.train) == (6, 0.1, 100)
    assert isinstance(spec.val, int) and isinstance(spec.test, float)
    assert SplitSpec.parse("0", "0").test == 0
    assert SplitSpec.parse("2.0", "0").val == 2  # an integral float is a count


@pytest.mark.parametrize(
    ("val", "test", "train", "message"),
    [
        ("-1", "0", None, "--val -1 is negative"),
        ("0", "-3", None, "--test -3 is negative"),
        ("0.6", "0.4", None, "add up to 1.0"),
        ("0.7", "0.5", None, "add up to 1.2"),
        ("1.5", "0", None, "not a fraction in (0, 1)"),
        ("abc", "0", None, "--val 'abc' is not a number"),
        ("0.1", "0.1", "0", "--train 0 leaves nothing"),
    ],
)
def test_spec_rejects_bad_amounts(val: str, test: str, train: str | None, message: str) -> None:
    with pytest.raises(DataprepError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SplitSpec.parse(val, test, train)


# --- the planner (pure) ---------------------------------------------------------------------


def test_count_spec_gives_exact_counts_per_class() -> None:
    plan = plan_split(files({"cats": 20, "dogs": 13}), SplitSpec(6, 6), seed=1)
    assert counts(plan) == {
        "train": {"cats": 8, "dogs": 1},
        "val": {"cats": 6, "dogs": 6},
        "test": {"cats": 6, "dogs": 6},
    }


def test_fraction_spec_rounds_per_class_and_gives_at_least_one() -> None:
    plan = plan_split(files({"big": 100, "mid": 15, "small": 4}), SplitSpec(0.1, 0.1), seed=1)
    c = counts(plan)
    assert (c["val"]["big"], c["test"]["big"], c["train"]["big"]) == (10, 10, 80)
    assert (c["val"]["mid"], c["test"]["mid"]) == (2, 2)  # 1.5 rounds half up, not to even
    assert (c["val"]["small"], c["test"]["small"], c["train"]["small"]) == (1, 1, 2)  # 0.4 -> at least one
    assert not plan.warnings


def test_fraction_spec_warns_when_a_class_is_too_small() -> None:
    plan = plan_split(files({"tiny": 2, "big": 50}), SplitSpec(0.1, 0.1), seed=1)
    c = counts(plan)
    assert (c["val"]["tiny"], c["test"]["tiny"], c["train"]["tiny"]) == (1, 0, 1)
    assert any("class 'tiny' has 2 images" in w for w in plan.warnings)


def test_test_zero_means_no_test_split_and_train_cap() -> None:
    plan = plan_split(files({"cats": 30}), SplitSpec(5, 0, train=10), seed=3)
    assert plan.splits == ["train", "val"]
    assert counts(plan) == {"train": {"cats": 10}, "val": {"cats": 5}}
    assert len(plan.unused) == 15 and all("--train cap" in e.reason for e in plan.unused)


def test_impossible_count_names_class_size_and_request() -> None:
    with pytest.raises(DataprepError) as err:
        plan_split(files({"cats": 10, "dogs": 40}), SplitSpec(6, 6), seed=1)
    assert str(err.value).startswith("class 'cats' has 10 images; --val 6 --test 6 needs at least 13")


def test_plan_is_deterministic_and_independent_of_input_order() -> None:
    source = files({"cats": 40, "dogs": 37})
    first = plan_split(source, SplitSpec(0.2, 0.1), seed=7)
    shuffled = list(source)
    random.Random(99).shuffle(shuffled)
    again = plan_split(shuffled, SplitSpec(0.2, 0.1), seed=7)
    assert first.assignments == again.assignments
    other_seed = plan_split(source, SplitSpec(0.2, 0.1), seed=8)
    assert other_seed.assignments != first.assignments
    assert counts(other_seed) == counts(first)


def test_plan_does_not_use_the_global_rng() -> None:
    random.seed(1)
    a = plan_split(files({"x": 30}), SplitSpec(5, 5), seed=2)
    random.seed(2)
    b = plan_split(files({"x": 30}), SplitSpec(5, 5), seed=2)
    assert a.assignments == b.assignments


def test_adding_a_class_does_not_reshuffle_the_others() -> None:
    a = plan_split(files({"cats": 30, "dogs": 30}), SplitSpec(5, 5), seed=2)
    b = plan_split(files({"cats": 30, "dogs": 30, "birds": 20}), SplitSpec(5, 5), seed=2)
    assert list(a.assignments) == [x for x in b.assignments if x.label != "birds"]


def test_pinned_assignment_for_the_default_seed() -> None:
    """Same inputs + same seed = same split on any machine: pin one result so a change is visible."""
    plan = plan_split(files({"cats": 10}), SplitSpec(2, 2), seed=DEFAULT_SEED)
    got = {s: sorted((a.source for a in plan.assignments if a.split == s), key=natural_key) for s in plan.splits}
    rng = random.Random(f"{DEFAULT_SEED}:cats")
    order = [f"cats/{i}.jpg" for i in range(10)]
    rng.shuffle(order)  # the documented algorithm: shuffle, first-fit test, then val, then train
    assert set(got["test"]) == set(order[:2]) and set(got["val"]) == set(order[2:4])


@pytest.mark.parametrize("seed", range(25))
def test_duplicate_groups_stay_in_one_split(seed: int) -> None:
    source = files({"cats": 30, "dogs": 30})
    # 3 groups of identical content inside cats, one group across classes (label conflict)
    dup = {0: "g1", 1: "g1", 2: "g1", 5: "g2", 6: "g2", 9: "g3", 10: "g3", 11: "g3", 12: "g3"}
    source = [
        SourceFile(
            f.rel, f.label, dup.get(int(f.rel.split("/")[1][:-4]), f.sha256) if f.label == "cats" else f.sha256, f.size
        )
        for f in source
    ]
    source.append(SourceFile("dogs/extra.jpg", "dogs", "g2", 10))
    plan = plan_split(source, SplitSpec(0.2, 0.2), seed=seed)
    where: dict[str, set[str]] = {}
    for a in plan.assignments:
        where.setdefault(a.sha256, set()).add(a.split)
    assert all(len(s) == 1 for s in where.values())
    assert len(plan.assignments) == len(source)
    assert any("different classes" in w for w in plan.warnings)


def test_duplicate_group_too_big_for_val_goes_to_train_and_val_is_still_filled() -> None:
    source = [SourceFile(f"c/{i}.jpg", "c", "same" if i < 5 else f"u{i}", 1) for i in range(20)]
    plan = plan_split(source, SplitSpec(3, 3), seed=0)
    c = counts(plan)
    assert (c["val"]["c"], c["test"]["c"]) == (3, 3)
    assert {a.split for a in plan.assignments if a.sha256 == "same"} == {"train"}


# --- the executor, end to end ---------------------------------------------------------------


def test_copy_split_conserves_every_image_and_writes_manifest(tmp_path: Path, vopts: ValidateOptions) -> None:
    raw = make_raw(tmp_path / "raw", {"cats": 10, "dogs": 14})
    _png(raw / "dogs" / "copy_of_dog0.png", 10)  # same bytes as dogs/img0.png
    (raw / "cats" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    before = tree(raw)
    result = split_dataset(raw, tmp_path / "out", SplitSpec(2, 2), seed=5, validate_options=vopts)
    out = tmp_path / "out"
    assert tree(raw) == before  # RAW untouched
    doc = json.loads((out / SPLIT_JSON).read_text())
    assert doc["version"] == 1 and doc["complete"] is True and doc["seed"] == 5
    assert doc["spec"] == {"val": 2, "test": 2, "train": None, "on_conflict": "keep", "folds": None}
    assert doc["class_index"] == {"cats": 0, "dogs": 1}
    images = {rel: h for rel, h in before.items() if rel.endswith(".png")}
    written = tree(out)
    # conservation: each source image exactly once in OUT, byte-identical, under SPLIT/<its rel>
    assert sorted(f["source"] for f in doc["files"]) == sorted(images)
    assert len(written) == len(images)
    for f in doc["files"]:
        assert f["path"] == f"{f['split']}/{f['source']}"
        assert written[f["path"]] == images[f["source"]] == f["sha256"]
    # the duplicate pair landed together
    pair = [f["split"] for f in doc["files"] if f["source"] in ("dogs/img0.png", "dogs/copy_of_dog0.png")]
    assert len(set(pair)) == 1
    reasons = {e["path"]: e["reason"] for e in doc["excluded"]}
    assert "invalid" in reasons["cats/broken.jpg"]
    assert "Thumbs.db" in reasons["cats/Thumbs.db"] and ".DS_Store" in reasons[".DS_Store"]
    assert not (out / JOURNAL_NAME).exists()
    assert result.written == len(images)
    # Keras reads OUT/<split>: every class folder exists in every split
    for s in ("train", "val", "test"):
        assert sorted(p.name for p in (out / s).iterdir()) == ["cats", "dogs"]


def test_include_invalid_keeps_broken_files(tmp_path: Path, vopts: ValidateOptions) -> None:
    raw = make_raw(tmp_path / "raw", {"cats": 6}, junk=False)
    (raw / "cats" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    result = split_dataset(raw, tmp_path / "out", SplitSpec(1, 1), include_invalid=True, validate_options=vopts)
    assert "cats/broken.jpg" in {a.source for a in result.plan.assignments}
    assert not result.excluded


def test_same_seed_same_split_across_runs(tmp_path: Path, vopts: ValidateOptions) -> None:
    raw = make_raw(tmp_path / "raw", {"a": 9, "b": 11})
    one = split_dataset(raw, tmp_path / "o1", SplitSpec(0.2, 0.2), seed=3, validate_options=vopts)
    two = split_dataset(raw, tmp_path / "o2", SplitSpec(0.2, 0.2), seed=3, validate_options=vopts)
    assert tree(tmp_path / "o1") == tree(tmp_path / "o2")
    d1, d2 = (json.loads((tmp_path / o / SPLIT_JSON).read_text()) for o in ("o1", "o2"))
    assert d1["files"] == d2["files"] and d1["digest"] == d2["digest"]
    assert one.plan.assignments == two.plan.assignments


@pytest.mark.parametrize("mode", ["copy", "hardlink", "symlink", "move"])
def test_each_mode(tmp_path: Path, vopts: ValidateOptions, mode: str) -> None:
    raw = make_raw(tmp_path / "raw", {"cats": 5, "dogs": 6})
    before = tree(raw)
    out = tmp_path / "out"
    result = split_dataset(raw, out, SplitSpec(1, 1), mode=mode, validate_options=vopts)
    placed = [(out / a.dest, raw / a.source, a.sha256) for a in result.plan.assignments]
    assert len(placed) == 11
    for dst, src, digest in placed:
        assert sha(dst) == digest
        if mode == "copy":
            assert not dst.is_symlink() and dst.stat().st_ino != src.stat().st_ino
            assert dst.stat().st_mtime_ns == src.stat().st_mtime_ns
        elif mode == "hardlink":
            assert dst.stat().st_ino == src.stat().st_ino
        elif mode == "symlink":
            assert dst.is_symlink() and Path(os.readlink(dst)) == src
        else:
            assert not src.exists()
    if mode == "move":
        assert sorted(tree(raw)) == [".DS_Store", "cats/Thumbs.db"]  # junk stays in RAW
    else:
        assert tree(raw) == before


def test_a_symlink_split_is_read_through_its_links_because_the_caller_trusts_raw(
    tmp_path: Path, vopts: ValidateOptions
) -> None:
    """The walker follows links out of OUT only into folders its caller names: validate, stats and
    trainer name RAW of a symlink split (from split.json); a bare scan names none."""
    from dataprep.insight.stats import dataset_stats
    from dataprep.inspection.scan import scan_dataset
    from dataprep.inspection.validate import validate
    from dataprep.split.manifest import link_targets

    raw = make_raw(tmp_path / "raw", {"cats": 5, "dogs": 6})
    out = tmp_path / "out"
    split_dataset(raw, out, SplitSpec(1, 1), mode="symlink", validate_options=vopts)
    assert link_targets(out) == [raw.resolve()] and link_targets(raw) == []
    bare = scan_dataset(out)
    assert not bare.images and {p.check for p in bare.problems} == {"not_followed"}
    assert len(scan_dataset(out, trusted=link_targets(out)).images) == 11
    report = validate(out, vopts)
    assert len(report.scan.images) == 11 and not report.scan.problems
    assert dataset_stats(out, jobs=0)["count"] == 11


# --- refusals -------------------------------------------------------------------------------


def test_non_empty_out_is_refused_and_nothing_written(tmp_path: Path, fast_validate: None) -> None:
    raw = make_raw(tmp_path / "raw", {"cats": 5})
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    res = run_cli("split", str(raw), str(out), "--val", "1", "--test", "1")
    assert res.exit_code == 2
    assert "is not empty" in res.stderr and "--resume" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("out_inside_raw", "is inside RAW"),
        ("raw_inside_out", "is inside OUT"),
        ("missing_raw", "no such directory"),
        ("no_class_folders", "has no class folders"),
        ("negative", "is negative"),
        ("fraction_sum", "add up to"),
        ("too_few", "class 'cats' has 5 images; --val 3 --test 3 needs at least 7"),
        ("bad_mode", "unknown --mode 'teleport'"),
        ("resume_and_force", "contradict"),
    ],
)
def test_refusals_exit_2_with_one_line(tmp_path: Path, fast_validate: None, case: str, message: str) -> None:
    raw = make_raw(tmp_path / "raw", {"cats": 5, "dogs": 8})
    out = tmp_path / "out"
    args = {
        "out_inside_raw": [str(raw), str(raw / "cats" / "out")],
        "raw_inside_out": [str(raw), str(tmp_path)],
        "missing_raw": [str(tmp_path / "nope"), str(out)],
        "no_class_folders": [str(tmp_path / "flat"), str(out)],
        "negative": [str(raw), str(out), "--val", "-2"],
        "fraction_sum": [str(raw), str(out), "--val", "0.5", "--test", "0.5"],
        "too_few": [str(raw), str(out), "--val", "3", "--test", "3"],
        "bad_mode": [str(raw), str(out), "--mode", "teleport"],
        "resume_and_force": [str(raw), str(out), "--resume", "--force"],
    }[case]
    if case == "no_class_folders":
        _png(tmp_path / "flat" / "a.png", 1)
    before = tree(tmp_path)
    res = run_cli("split", *args)
    assert res.exit_code == 2, res.output
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output
    assert _without_cache(tree(tmp_path)) == _without_cache(before)  # nothing written (but the validation cache)


def _without_cache(files: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in files.items() if not k.startswith("cache/")}


def test_dry_run_prints_plan_and_writes_nothing(tmp_path: Path, fast_validate: None) -> None:
    raw = make_raw(tmp_path / "raw", {"cats": 10, "dogs": 12})
    res = run_cli("split", str(raw), str(tmp_path / "out"), "--val", "2", "--test", "3", "--dry-run")
    assert res.exit_code == 0, res.output
    assert "dry run" in res.stdout and "cats" in res.stdout and "left out" in res.stdout
    assert not (tmp_path / "out").exists()
    res = run_cli("split", str(raw), str(tmp_path / "out"), "--val", "2", "--test", "3", "--dry-run", "--json")
    doc = json.loads(res.stdout)
    assert doc["dry_run"] is True
    assert doc["counts"] == {
        "train": {"cats": 5, "dogs": 7},
        "val": {"cats": 2, "dogs": 2},
        "test": {"cats": 3, "dogs": 3},
    }
    assert not (tmp_path / "out").exists()


def test_cli_split_json(tmp_path: Path, fast_validate: None) -> None:
    raw = make_raw(tmp_path / "raw", {"cats": 10, "dogs": 12})
    res = run_cli("split", str(raw), str(tmp_path / "out"), "--val", "0.2", "--test", "0", "--seed", "9", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["version"] == 1 and doc["seed"] == 9 and doc["written"] == 22
    assert set(doc["counts"]) == {"train", "val"}
    assert {e["path"] for e in doc["excluded"]} == {".DS_Store", "cats/Thumbs.db"}


def test_cli_default_seed_matches_library() -> None:
    import inspect

    from dataprep.cli import split as split_command

    assert inspect.signature(split_command).parameters["seed"].default == DEFAULT_SEED


# --- interruption and --resume --------------------------------------------------------------


class Interrupt(Exception):
    pass


def _fail_after(n: int) -> Any:
    def hook(done: int, total: int) -> None:
        if done >= n:
            raise Interrupt(f"killed after {done} of {total}")

    return hook


@pytest.mark.parametrize("mode", ["copy", "hardlink", "symlink", "move"])
@pytest.mark.parametrize("after", [1, 7, 20])
def test_interrupted_split_resumes_to_the_uninterrupted_result(
    tmp_path: Path, vopts: ValidateOptions, mode: str, after: int
) -> None:
    spec = SplitSpec(0.2, 0.2)
    reference_raw = make_raw(tmp_path / "ref_raw", {"cats": 9, "dogs": 12})
    reference = split_dataset(reference_raw, tmp_path / "ref", spec, seed=4, mode="copy", validate_options=vopts)
    raw = make_raw(tmp_path / "raw", {"cats": 9, "dogs": 12})
    out = tmp_path / "out"
    with pytest.raises(Interrupt):
        split_dataset(raw, out, spec, seed=4, mode=mode, validate_options=vopts, after_file=_fail_after(after))
    assert json.loads((out / SPLIT_JSON).read_text())["complete"] is False
    with pytest.raises(DataprepError, match="is not empty"):
        split_dataset(raw, out, spec, seed=4, mode=mode, validate_options=vopts)
    result = split_dataset(raw, out, spec, seed=4, mode=mode, resume=True, validate_options=vopts)
    assert result.resumed and result.already_done >= after and result.written + result.already_done == 21
    assert tree(out) == tree(tmp_path / "ref")
    done = json.loads((out / SPLIT_JSON).read_text())
    assert (
        done["complete"] is True and done["files"] == json.loads((tmp_path / "ref" / SPLIT_JSON).read_text())["files"]
    )
    assert [a.dest for a in reference.plan.assignments] == [a.dest for a in result.plan.assignments]
    assert not (out / JOURNAL_NAME).exists()
    assert not any(p.name.startswith(".dataprep-tmp-") for p in out.rglob("*"))


def test_resume_with_different_arguments_is_refused(tmp_path: Path, vopts: ValidateOptions) -> None:
    raw = make_raw(tmp_path / "raw", {"cats": 9})
    out = tmp_path / "out"
    with pytest.raises(Interrupt):
        split_dataset(raw, out, SplitSpec(2, 2), seed=4, validate_options=vopts, after_file=_fail_after(3))
    with pytest.raises(DataprepError, match=r"cannot --resume .* --seed was 4 \(now 5\)"):
        split_dataset(raw, out, SplitSpec(2, 2), seed=5, resume=True, validate_options=vopts)
    with pytest.raises(DataprepError, match="--val/--test/--train/--on-conflict was"):
        split_dataset(raw, out, SplitSpec(1, 2), seed=4, resume=True, validate_options=vopts)


def test_resume_repairs_a_damaged_unjournaled_file(tmp_path: Path, vopts: ValidateOptions) -> None:
    raw = make_raw(tmp_path / "raw", {"cats": 9})
    out = tmp_path / "out"
    with pytest.raises(Interrupt):
        split_dataset(raw, out, SplitSpec(2, 2), validate_options=vopts, after_file=_fail_after(3))
    (out / JOURNAL_NAME).unlink()  # as if the kill came before the journal batch was written
    victim = next(out.rglob("*.png"))
    victim.write_bytes(victim.read_bytes()[:10])  # e.g. cut short by a power loss
    result = split_dataset(raw, out, SplitSpec(2, 2), resume=True, validate_options=vopts)
    rel = victim.relative_to(out)
    assert sha(victim) == sha(raw / Path(*rel.parts[1:]))
    # Copies run on threads: a few past the interruption may have finished; the damaged one is rewritten.
    assert result.already_done + result.written == 9 and result.written >= 1 and result.already_done >= 2


def test_resume_of_a_complete_split_is_a_no_op(tmp_path: Path, vopts: ValidateOptions) -> None:
    raw = make_raw(tmp_path / "raw", {"cats": 9})
    split_dataset(raw, tmp_path / "out", SplitSpec(2, 2), validate_options=vopts)
    again = split_dataset(raw, tmp_path / "out", SplitSpec(2, 2), resume=True, validate_options=vopts)
    assert again.written == 0 and again.already_done == 9


_SLOW_CLI = """
import sys, time
from pathlib import Path
import dataprep.split.place as p
import dataprep.split.sources as s
from dataprep.inspection.validate import ValidateOptions
real_validate, real_place = s._validate, p.Placer.place
cache = Path(sys.argv[1])  # read before sys.argv is replaced below
s._validate = lambda raw, options: real_validate(raw, ValidateOptions(jobs=0, use_tf=False, cache_dir=cache))
def slow_place(*args):
    time.sleep(0.01)
    return real_place(*args)
p.Placer.place = slow_place
sys.argv = ["dataprep"] + sys.argv[2:]
from dataprep.cli import main
main()
"""


def _cli_process(cache: Path, *args: str, slow: bool) -> list[str]:
    if slow:
        return [sys.executable, "-c", _SLOW_CLI, str(cache), *args]
    return [sys.executable, "-c", _SLOW_CLI.replace("time.sleep(0.01)", "pass"), str(cache), *args]


@pytest.mark.slow  # timed (polls a slowed CLI); the default tier kills at deterministic steps instead
@pytest.mark.parametrize("kill_at", [3, 25, 60])
def test_kill_9_mid_run_then_resume(tmp_path: Path, kill_at: int) -> None:
    """A real `kill -9` of `python -m dataprep split` (slowed down to 10 ms per file), then --resume."""
    raw = make_raw(tmp_path / "raw", {"cats": 40, "dogs": 40})
    cache = tmp_path / "cache"
    args = ["split", str(raw), str(tmp_path / "out"), "--val", "0.1", "--test", "0.1", "--seed", "11"]
    ref = subprocess.run(_cli_process(cache, *args[:2], str(tmp_path / "ref"), *args[3:], slow=False), cwd=REPO,
                         capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert ref.returncode == 0, ref.stderr
    proc = subprocess.Popen(
        _cli_process(cache, *args, slow=True), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out = tmp_path / "out"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        placed = sum(1 for p in out.rglob("*.png")) if out.exists() else 0
        if placed >= kill_at or proc.poll() is not None:
            break
        time.sleep(0.002)
    assert proc.poll() is None, "the split finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert json.loads((out / SPLIT_JSON).read_text())["complete"] is False
    resumed = subprocess.run(_cli_process(cache, *args, "--resume", slow=False), cwd=REPO, capture_output=True,
                             text=True, timeout=120, check=False)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert tree(out) == tree(tmp_path / "ref")
    assert json.loads((out / SPLIT_JSON).read_text())["complete"] is True
    assert not any(p.name.startswith(".dataprep-tmp-") or p.name == JOURNAL_NAME for p in out.rglob("*"))


# --- --force --------------------------------------------------------------------------------


def test_force_replaces_a_previous_copy_split_and_keeps_other_files(tmp_path: Path, vopts: ValidateOptions) -> None:
    raw = make_raw(tmp_path / "raw", {"cats": 10, "dogs": 10})
    out = tmp_path / "out"
    split_dataset(raw, out, SplitSpec(2, 2), seed=1, validate_options=vopts)
    (out / "README.txt").write_text("my notes")
    result = split_dataset(raw, out, SplitSpec(3, 0), seed=2, force=True, validate_options=vopts)
    assert result.removed == 20
    fresh = split_dataset(raw, tmp_path / "fresh", SplitSpec(3, 0), seed=2, validate_options=vopts)
    assert tree(out) == tree(tmp_path / "fresh") | {"README.txt": sha(out / "README.txt")}
    assert not (out / "test").exists()
    assert fresh.plan.assignments == result.plan.assignments


def test_force_refuses_foreign_files_in_split_folders(tmp_path: Path, vopts: ValidateOptions) -> None:
    raw = make_raw(tmp_path / "raw", {"cats": 10})
    out = tmp_path / "out"
    split_dataset(raw, out, SplitSpec(2, 2), seed=1, validate_options=vopts)
    _png(out / "train" / "cats" / "my_own_photo.png", 200)
    before = tree(out)
    with pytest.raises(DataprepError, match="was not written by the previous split"):
        split_dataset(raw, out, SplitSpec(3, 3), seed=2, force=True, validate_options=vopts)
    assert tree(out) == before


def test_force_refuses_to_delete_photos_a_move_split_put_there(tmp_path: Path, vopts: ValidateOptions) -> None:
    raw = make_raw(tmp_path / "raw", {"cats": 10})
    other = make_raw(tmp_path / "other", {"cats": 10}, start=50)
    out = tmp_path / "out"
    split_dataset(raw, out, SplitSpec(2, 2), mode="move", validate_options=vopts)
    before = tree(out)
    with pytest.raises(DataprepError, match="only copies"):
        split_dataset(other, out, SplitSpec(2, 2), force=True, validate_options=vopts)
    assert tree(out) == before


def test_force_refuses_when_the_copy_is_the_last_one(tmp_path: Path, vopts: ValidateOptions) -> None:
    raw = make_raw(tmp_path / "raw", {"cats": 10})
    out = tmp_path / "out"
    split_dataset(raw, out, SplitSpec(2, 2), validate_options=vopts)
    (raw / "cats" / "img3.png").unlink()
    with pytest.raises(DataprepError, match="only copy left"):
        split_dataset(raw, out, SplitSpec(2, 2), force=True, validate_options=vopts)


def test_force_on_non_split_folder_is_refused(tmp_path: Path, vopts: ValidateOptions) -> None:
    raw = make_raw(tmp_path / "raw", {"cats": 10})
    out = tmp_path / "out"
    _png(out / "train" / "dogs" / "a.png", 3)
    with pytest.raises(DataprepError, match="no split.json"):
        split_dataset(raw, out, SplitSpec(2, 2), force=True, validate_options=vopts)


# --- kill -9 after every kind of step, in every mode ----------------------------------------

KILL_N = 12  # images in the kill tests' RAW (3 classes of 4)
# Durable steps of a split of KILL_N files (dataprep.base.journal.crash_point counts them): split.json
# written, journal 'begin', 'removed', one per placed file, one 'done' batch, split.json complete.
KILL_STEPS = KILL_N + 5


def _split_args(raw: Path, out: Path, mode: str) -> list[str]:
    return ["split", str(raw), str(out), "--val", "1", "--test", "1", "--seed", "3", "--mode", mode]


def _run_split(cache: Path, args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_cli_process(cache, *args, slow=False), cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, **(env or {})})  # fmt: skip


def _kill_fixture(tmp_path: Path, vopts: ValidateOptions) -> tuple[Path, dict[str, str], Path]:
    """(RAW, its tree, the uninterrupted copy split of an identical RAW) for the kill tests."""
    classes = {"cats": 4, "dogs": 4, "emus": 4}
    raw = make_raw(tmp_path / "raw", classes)
    split_dataset(
        make_raw(tmp_path / "ref_raw", classes), tmp_path / "ref", SplitSpec(1, 1), seed=3, validate_options=vopts
    )
    return raw, tree(raw), tmp_path / "ref"


def _journal_done(out: Path) -> set[str]:
    done: set[str] = set()
    path = out / JOURNAL_NAME
    if path.exists():
        for line in path.read_text().splitlines(keepends=True):
            if line.endswith("\n") and '"done"' in line:
                done.update(json.loads(line)["dest"])
    return done


def assert_consistent_after_kill(raw: Path, raw_before: dict[str, str], out: Path, mode: str) -> None:
    """What must hold at any instant a split is killed: no partial file at a final name, the
    journal claims nothing that is not in place, and every photo is somewhere, whole."""
    doc = json.loads((out / SPLIT_JSON).read_text())
    planned = {f["path"]: f for f in doc["files"]}
    present = set(split_execute._files_under_splits(out))
    assert present <= set(planned), present - set(planned)
    for rel in present:
        f, dst, src = planned[rel], out / rel, raw / planned[rel]["source"]
        if mode == "symlink":
            assert dst.is_symlink() and Path(os.readlink(dst)) == src, rel
        elif mode == "hardlink":
            assert os.path.samefile(dst, src), rel
        else:
            assert sha(dst) == f["sha256"], rel  # never partial
    assert _journal_done(out) <= present  # the journal never claims a file that is not there
    if mode == "move":
        for f in planned.values():
            at_raw, at_out = (raw / f["source"]).exists(), f["path"] in present
            assert at_raw or at_out, f["source"]  # never lost
            assert raw_before[f["source"]] == (sha(raw / f["source"]) if at_raw else sha(out / f["path"]))
    else:
        assert tree(raw) == raw_before


def assert_finished_like(out: Path, ref: Path) -> None:
    assert tree(out) == tree(ref)  # no file lost, duplicated or partial; same bytes in the same places
    doc = json.loads((out / SPLIT_JSON).read_text())
    assert doc["complete"] is True and doc["files"] == json.loads((ref / SPLIT_JSON).read_text())["files"]
    assert set(split_execute._files_under_splits(out)) == {f["path"] for f in doc["files"]}
    assert not any(p.name.startswith(".dataprep-tmp-") or p.name == JOURNAL_NAME for p in out.rglob("*"))


@pytest.mark.parametrize("mode", ["copy", "hardlink", "symlink", "move"])
def test_kill_after_any_step_then_resume(tmp_path: Path, vopts: ValidateOptions, mode: str) -> None:
    """`DATAPREP_KILL_AFTER_OPS=N` SIGKILLs the real CLI right after its N-th durable step:
    split.json, journal lines, each placed file, the completion. Then --resume finishes."""
    from dataprep.base.journal import KILL_AFTER_ENV

    raw, before, ref = _kill_fixture(tmp_path, vopts)
    for kill_after in (1, 3, 9, KILL_STEPS - 1, KILL_STEPS):
        out = tmp_path / f"out{kill_after}"
        killed = _run_split(tmp_path / "cache", _split_args(raw, out, mode), {KILL_AFTER_ENV: str(kill_after)})
        assert killed.returncode == -9, (kill_after, killed.stderr)
        assert_consistent_after_kill(raw, before, out, mode)
        if kill_after == 3:
            again = _run_split(tmp_path / "cache", _split_args(raw, out, mode))
            assert again.returncode == 2 and "--resume" in again.stderr  # a plain re-run says what to do
        resumed = _run_split(tmp_path / "cache", [*_split_args(raw, out, mode), "--resume"])
        assert resumed.returncode == 0, (kill_after, resumed.stderr)
        assert_finished_like(out, ref)
        if mode == "move":  # put the photos back for the next kill point
            for f in json.loads((out / SPLIT_JSON).read_text())["files"]:
                os.rename(out / f["path"], raw / f["source"])
            assert tree(raw) == before


@pytest.mark.parametrize("mode", ["copy", "move"])
def test_kill_twice_then_resume(tmp_path: Path, vopts: ValidateOptions, mode: str) -> None:
    """A resumed run killed again (after the first files it places) still resumes to the same split."""
    from dataprep.base.journal import KILL_AFTER_ENV

    raw, before, ref = _kill_fixture(tmp_path, vopts)
    out = tmp_path / "out"
    assert _run_split(tmp_path / "cache", _split_args(raw, out, mode), {KILL_AFTER_ENV: "6"}).returncode == -9
    second = _run_split(tmp_path / "cache", [*_split_args(raw, out, mode), "--resume"], {KILL_AFTER_ENV: "3"})
    assert second.returncode == -9
    assert_consistent_after_kill(raw, before, out, mode)
    assert _run_split(tmp_path / "cache", [*_split_args(raw, out, mode), "--resume"]).returncode == 0
    assert_finished_like(out, ref)


def _kill_at_random_instants(tmp_path: Path, vopts: ValidateOptions, mode: str, delays: list[float]) -> None:
    raw, before, ref = _kill_fixture(tmp_path, vopts)
    cache = tmp_path / "cache"
    for n, delay in enumerate(delays):
        out = tmp_path / f"out{n}"
        proc = subprocess.Popen(_cli_process(cache, *_split_args(raw, out, mode), slow=True), cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        if (out / SPLIT_JSON).exists():
            assert_consistent_after_kill(raw, before, out, mode)
        resume = ["--resume"] if (out / SPLIT_JSON).exists() else []
        finished = _run_split(cache, [*_split_args(raw, out, mode), *resume])
        assert finished.returncode == 0, (delay, finished.stderr)
        assert_finished_like(out, ref)
        if mode == "move":
            for f in json.loads((out / SPLIT_JSON).read_text())["files"]:
                os.rename(out / f["path"], raw / f["source"])


@pytest.mark.slow  # a wall-clock delay; test_kill_after_any_step_then_resume is the deterministic default
@pytest.mark.parametrize("mode", ["copy", "move"])
def test_kill_at_a_random_instant_then_resume(tmp_path: Path, vopts: ValidateOptions, mode: str) -> None:
    """kill -9 after a random delay (seeded: the same instants on every run) of the slowed CLI."""
    rng = random.Random(f"kill-{mode}")
    _kill_at_random_instants(tmp_path, vopts, mode, [rng.uniform(0.3, 1.2) for _ in range(2)])


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["copy", "hardlink", "symlink", "move"])
def test_kill_at_many_random_instants_then_resume(tmp_path: Path, vopts: ValidateOptions, mode: str) -> None:
    rng = random.Random(f"kill-many-{mode}")
    _kill_at_random_instants(tmp_path, vopts, mode, [rng.uniform(0.1, 1.5) for _ in range(25)])


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["copy", "hardlink", "symlink", "move"])
def test_kill_after_every_step_then_resume(tmp_path: Path, vopts: ValidateOptions, mode: str) -> None:
    from dataprep.base.journal import KILL_AFTER_ENV

    raw, before, ref = _kill_fixture(tmp_path, vopts)
    for kill_after in range(1, KILL_STEPS + 1):
        out = tmp_path / f"out{kill_after}"
        assert (
            _run_split(tmp_path / "cache", _split_args(raw, out, mode), {KILL_AFTER_ENV: str(kill_after)}).returncode
            == -9
        )
        assert_consistent_after_kill(raw, before, out, mode)
        assert _run_split(tmp_path / "cache", [*_split_args(raw, out, mode), "--resume"]).returncode == 0
        assert_finished_like(out, ref)
        if mode == "move":
            for f in json.loads((out / SPLIT_JSON).read_text())["files"]:
                os.rename(out / f["path"], raw / f["source"])
