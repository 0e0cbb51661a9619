"""`trainer label-issues` on generated data with planted label flips: the planted files rank at
the top, duplicate groups share a fold, a killed run resumes with the next unfinished fold."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("tensorflow")
pytest.importorskip("cleanlab")

from dataprep.base.journal import KILL_AFTER_ENV
from trainer.cli import app

runner = CliRunner()

# red "cat" and blue "dog" images; these sit in the wrong folder (copy: an exact copy of a flip)
PLANTED = {"dog/flip_c0.jpg", "dog/flip_c0_copy.jpg", "dog/flip_c1.jpg", "cat/flip_d0.jpg"}
QUICK = ["--method", "cnn", "--folds", "2", "--epochs", "4", "--batch-size", "8", "--model", "baseline_cnn", "--augment", "none",
         "--image-size", "24", "--jobs", "0"]  # fmt: skip


def make_flipped(root: Path, per_class: int = 24) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, colour in (("cat", (220, 60, 40)), ("dog", (40, 70, 220))):
        for i in range(per_class):
            pixels = np.clip(np.array(colour) + rng.normal(0, 25, (24, 24, 3)), 0, 255).astype("uint8")
            path = root / name / f"{name}{i}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path)
    (root / "cat" / "cat0.jpg").rename(root / "dog" / "flip_c0.jpg")
    (root / "cat" / "cat1.jpg").rename(root / "dog" / "flip_c1.jpg")
    (root / "dog" / "dog0.jpg").rename(root / "cat" / "flip_d0.jpg")
    shutil.copy(root / "dog" / "flip_c0.jpg", root / "dog" / "flip_c0_copy.jpg")
    shutil.copy(root / "cat" / "cat5.jpg", root / "cat" / "cat5_copy.jpg")
    return root


def _trainer(args: list[str], env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "trainer", *args], capture_output=True, text=True, env=env, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, float], str]:
    """Killed (deterministically, by the journal's hook) right after fold 1 finished, then resumed."""
    data = make_flipped(tmp_path_factory.mktemp("flipped") / "data")
    run = tmp_path_factory.mktemp("runs") / "li"
    killed = _trainer(["label-issues", str(data), "--run-dir", str(run), *QUICK], {KILL_AFTER_ENV: "1"})
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (run / "fold-0" / "heldout.json").is_file() and not (run / "fold-1" / "heldout.json").exists()
    stamps = {p: (run / p).stat().st_mtime_ns for p in ("fold-0/heldout.json", "fold-0/run/model.keras")}
    resumed = runner.invoke(app, ["label-issues", str(data), "--run-dir", str(run), "--resume", "--jobs", "0"])
    assert resumed.exit_code == 0, resumed.output
    return data, run, stamps, resumed.stdout


def test_resume_skips_the_finished_fold(finished_run: tuple[Path, Path, dict[str, float], str]) -> None:
    _, run, stamps, output = finished_run
    assert "fold 1/2: finished earlier" in output and "fold 2/2: held-out accuracy" in output
    assert {p: (run / p).stat().st_mtime_ns for p in stamps} == stamps  # fold 1 was not trained again
    assert (run / "fold-1" / "heldout.json").is_file()


def test_planted_flips_rank_at_the_top(finished_run: tuple[Path, Path, dict[str, float], str]) -> None:
    _, run, _, _ = finished_run
    report = json.loads((run / "label_issues.json").read_text())
    ranked = [i["path"] for i in report["issues"]]
    assert set(ranked[: len(PLANTED)]) == PLANTED, ranked
    top = report["issues"][0]
    assert top["suggested_label"] != top["given_label"] and 0.5 < top["score"] <= 1.0
    assert abs(top["score"] + top["self_confidence"] - 1.0) < 1e-5
    with (run / "label_issues.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["path"] for r in rows] == ranked and rows[0]["rank"] == "1"


def test_run_folder_has_oof_probabilities_and_fold_histories(
    finished_run: tuple[Path, Path, dict[str, float], str],
) -> None:
    import numpy as np

    data, run, _, _ = finished_run
    files = json.loads((run / "oof_files.json").read_text())
    probs = np.load(run / "oof_probs.npy")
    n = sum(1 for p in data.rglob("*.jpg"))
    assert probs.shape == (n, 2) and files["class_names"] == ["cat", "dog"] and len(files["paths"]) == n
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assignment = json.loads((run / "folds.json").read_text())
    for fold in (0, 1):
        assert (run / f"fold-{fold}" / "run" / "history.csv").is_file()
        # each fold is `fit --fold I --folds-from RUN/folds.json`: validated on exactly fold I
        fitted = json.loads((run / f"fold-{fold}" / "run" / "config.json").read_text())
        assert fitted["fit"]["fold"] == fold and fitted["fit"]["folds_from"] == str((run / "folds.json").resolve())
        assert fitted["resolved"]["val_images"] == sum(1 for f in assignment["folds"].values() if f == fold)
        held = json.loads((run / f"fold-{fold}" / "heldout.json").read_text())
        assert sorted(held["paths"]) == sorted(p for p, f in assignment["folds"].items() if f == fold)
        assert sorted((run / f"fold-{fold}" / "snapshots").glob("epoch-*.npy"))  # the averaged epochs
    assert not list(run.rglob("*.jpg"))  # training read DATA's files: no copies or links of them
    assert (run / "label_issues.png").stat().st_size > 5000


def test_duplicates_share_a_fold(finished_run: tuple[Path, Path, dict[str, float], str]) -> None:
    _, run, _, _ = finished_run
    folds = json.loads((run / "folds.json").read_text())
    groups = {frozenset(g) for g in folds["duplicate_groups"]}
    assert {
        frozenset({"dog/flip_c0.jpg", "dog/flip_c0_copy.jpg"}),
        frozenset({"cat/cat5.jpg", "cat/cat5_copy.jpg"}),
    } <= groups
    for group in groups:
        assert len({folds["folds"][p] for p in group}) == 1


def test_json_output_is_the_ranked_list(finished_run: tuple[Path, Path, dict[str, float], str], tmp_path: Path) -> None:
    data, run, _, _ = finished_run
    again = runner.invoke(app, ["label-issues", str(data), "--run-dir", str(run), "--resume", "--json", "--jobs", "0"])
    assert again.exit_code == 0, again.output
    listed = json.loads(again.stdout)
    assert listed["files"] == 50 and {i["path"] for i in listed["issues"][:4]} == PLANTED
    assert "finished earlier" in again.stderr


def test_missing_cleanlab_is_one_line_with_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "cleanlab", None)
    result = runner.invoke(app, ["label-issues", str(tmp_path)])
    assert result.exit_code == 2
    assert "pip install 'dataprep[labels]'" in result.stderr and result.stderr.count("\n") == 1


def test_bad_folds_is_one_clear_error(tmp_path: Path) -> None:
    data = make_flipped(tmp_path / "data", per_class=6)
    result = runner.invoke(
        app, ["label-issues", str(data), "--folds", "50", "--run-dir", str(tmp_path / "r"), "--jobs", "0"]
    )
    assert result.exit_code == 2 and "--folds 50" in result.stderr


def test_cli_defaults_are_the_library_defaults() -> None:
    import inspect

    from trainer.cli import label_issues_command
    from trainer.config import LabelIssuesConfig

    parameters = inspect.signature(label_issues_command).parameters
    for name in (
        "folds",
        "model",
        "image_size",
        "batch_size",
        "epochs",
        "lr",
        "augment",
        "snapshots",
        "models_per_fold",
        "weights",
        "seed",
        "threshold",
        "top",
        "method",
        "knn_weight",
    ):
        assert parameters[name].default == getattr(LabelIssuesConfig, name), name


def test_fit_fold_validates_on_that_fold_and_reads_the_source_files(tmp_path: Path) -> None:
    """`trainer fit OUT --fold I` after `dataprep split RAW OUT --folds K`: trains on the other
    folds, validates on fold I, tests on the held-out test split, reading RAW's files."""
    from dataprep.cli import app as dataprep_app
    from dataprep.split.folds import read_folds
    from trainer.fit import fold_files

    raw = make_flipped(tmp_path / "raw", per_class=10)
    out = tmp_path / "out"
    made = runner.invoke(dataprep_app, ["split", str(raw), str(out), "--val", "0", "--test", "2", "--folds", "3",
                                        "--jobs", "0", "--cache-dir", str(tmp_path / "cache")])  # fmt: skip
    assert made.exit_code == 0, made.output
    doc = json.loads((out / "split.json").read_text())
    train, val, test = fold_files(str(out), 1)
    assert set(val.paths) == {str(raw / f["source"]) for f in doc["files"] if f["fold"] == 1}
    assert set(train.paths) == {str(raw / f["source"]) for f in doc["files"] if f["fold"] in (0, 2)}
    assert test is not None and set(test.paths) == {str(raw / f["source"]) for f in doc["files"] if f["fold"] is None}
    assert val.class_names == ("cat", "dog") and read_folds(out).k == 3

    run = tmp_path / "run"
    result = runner.invoke(app, ["fit", str(out), "--fold", "1", "--epochs", "1", "--image-size", "24", "--batch-size",
                                 "8", "--model", "baseline_cnn", "--augment", "none", "--run-dir", str(run)])  # fmt: skip
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())
    assert config["fit"]["fold"] == 1 and config["resolved"]["val_images"] == len(val)
    assert config["resolved"]["train_images"] == len(train) and config["resolved"]["test_images"] == len(test)
    assert "test_accuracy" in json.loads((run / "metrics.json").read_text())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fold", "0"], "has no split.json"),
        (["--folds-from", "X"], "pass --fold I"),
        (["--fold", "5", "--folds-from", "SPLIT"], "--fold 5 is out of range"),
    ],
)
def test_fit_fold_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    raw = make_flipped(tmp_path / "raw", per_class=6)
    out = tmp_path / "out"
    made = runner.invoke(
        __import__("dataprep.cli", fromlist=["app"]).app,
        ["split", str(raw), str(out), "--folds", "2", "--jobs", "0", "--cache-dir", str(tmp_path / "cache")],
    )
    assert made.exit_code == 0, made.output
    args = [str(out / "split.json") if a == "SPLIT" else a for a in args]
    result = runner.invoke(app, ["fit", str(raw), *args, "--epochs", "1", "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "run").exists()


def test_held_out_probabilities_are_the_mean_of_the_last_snapshots(tmp_path: Path) -> None:
    import numpy as np

    from trainer.label_issues import _snapshot_mean

    for epoch in range(1, 7):
        np.save(tmp_path / f"epoch-{epoch:03d}.npy", np.full((3, 2), float(epoch)))
    assert np.allclose(_snapshot_mean(tmp_path, 4, 6), 5.0)  # epochs 4, 5, 6
    (tmp_path / "epoch-006.npy").unlink()  # killed before the last snapshot: the ones there are
    assert np.allclose(_snapshot_mean(tmp_path, 4, 6), 4.5)
    assert _snapshot_mean(tmp_path, 7, 9) is None


def test_models_per_fold_averages_each_models_snapshots(tmp_path: Path) -> None:
    import numpy as np

    data = make_flipped(tmp_path / "data", per_class=10)
    run = tmp_path / "run"
    args = [a if a != "4" else "2" for a in QUICK]  # 2 epochs
    result = runner.invoke(app, ["label-issues", str(data), "--run-dir", str(run), *args, "--models-per-fold", "2",
                                 "--snapshots", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    for fold in (0, 1):
        seeds = {
            json.loads((run / f"fold-{fold}" / r / "config.json").read_text())["fit"]["seed"] for r in ("run", "run-2")
        }
        assert len(seeds) == 2
        one, two = (np.load(run / f"fold-{fold}" / s / "epoch-002.npy") for s in ("snapshots", "snapshots-2"))
        held = json.loads((run / f"fold-{fold}" / "heldout.json").read_text())
        assert np.allclose(held["probs"], (one + two) / 2, atol=1e-6)
