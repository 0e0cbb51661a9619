"""`trainer` end to end through the CLI: fit → evaluate → predict, bench, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("tensorflow")

from conftest import make_colour_split

from trainer.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def split_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_colour_split(
        tmp_path_factory.mktemp("data"), {"train": 12, "val": 4, "test": 4}, seed=1, shape=(36, 30)
    )


@pytest.fixture(scope="module")
def run_dir(split_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "r1"
    result = runner.invoke(
        app,
        [
            "fit",
            str(split_root),
            "--run-dir",
            str(run),
            "--image-size",
            "32",
            "--batch-size",
            "8",
            "--epochs",
            "2",
            "--augment",
            "flip=horizontal",
            "--lr",
            "0.003",
        ],
    )
    assert result.exit_code == 0, result.output
    summary, curves = result.stdout.splitlines()[-2:]  # (--json output: tests/test_json_output.py)
    assert summary.startswith(f"run: {run}  val_accuracy ") and "epochs 2" in summary
    assert curves.startswith(f"curves: tensorboard --logdir {run / 'logs'}")
    assert json.loads((run / "metrics.json").read_text())["epochs_run"] == 2
    return run


def test_fit_through_the_cli(run_dir: Path) -> None:
    config = json.loads((run_dir / "config.json").read_text())
    assert config["fit"]["augment"] == "flip=horizontal"
    assert {"model.keras", "metrics.json", "curves.png", "confusion.png", "history.csv"} <= {
        p.name for p in run_dir.iterdir()
    }


def test_evaluate_json_and_table(run_dir: Path, split_root: Path, tmp_path: Path) -> None:
    png = tmp_path / "cm.png"
    result = runner.invoke(app, ["evaluate", str(run_dir), str(split_root), "--json", "--confusion", str(png)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["split"] == "test" and report["images"] == 8 and report["classes"] == ["cat", "dog"]
    assert sum(map(sum, report["confusion_matrix"])) == 8
    assert {r["class"] for r in report["per_class"]} == {"cat", "dog"}
    assert 0.0 <= report["accuracy"] <= 1.0 and png.is_file()
    wrong = report["most_confidently_wrong"]
    assert len(wrong) == 8 - round(report["accuracy"] * 8)
    assert all(w["true"] != w["predicted"] for w in wrong)
    assert [w["confidence"] for w in wrong] == sorted((w["confidence"] for w in wrong), reverse=True)
    table = runner.invoke(app, ["evaluate", str(run_dir), str(split_root), "--split", "val"])
    assert table.exit_code == 0, table.output
    assert "precision" in table.stdout and "accuracy" in table.stdout


def test_predict_files_folders_grid_and_bad_files(run_dir: Path, split_root: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0not a jpeg at all")
    grid = tmp_path / "grid.png"
    cat = split_root / "test" / "cat" / "cat0.jpg"
    result = runner.invoke(
        app,
        ["predict", str(run_dir), str(cat), str(split_root / "test" / "dog"), str(bad), "--json", "--grid", str(grid)],
    )
    assert result.exit_code == 1  # one file could not be read; the others are answered
    document = json.loads(result.stdout)
    assert document["version"] == 1 and document["run"] == str(run_dir) and document["errors"] == 1
    answers = document["predictions"]
    assert [a["path"] for a in answers][:1] == [str(cat)] and len(answers) == 6
    good = [a for a in answers if "error" not in a]
    assert len(good) == 5
    for a in good:
        assert a["label"] in ("cat", "dog") and set(a["probabilities"]) == {"cat", "dog"}
        assert a["confidence"] == pytest.approx(max(a["probabilities"].values()))
        assert a["true_label"] == Path(a["path"]).parent.name  # the class folder says
        assert a["correct"] == (a["label"] == a["true_label"])
    assert "cannot decode" in answers[-1]["error"] and grid.is_file()
    assert "true_label" not in answers[-1]  # tmp_path is no class folder
    plain = runner.invoke(app, ["predict", str(run_dir), str(cat)])
    assert plain.exit_code == 0 and plain.stdout.startswith(f"{cat}: ") and "%" in plain.stdout


def test_bench_json(split_root: Path) -> None:
    result = runner.invoke(app, ["bench", str(split_root), "--image-size", "16", "--batch-size", "4", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["images"] == 24 and report["decoded"] == 24
    for key in (
        "first_pass_images_per_s",
        "cached_pass_images_per_s",
        "keras_first_pass_images_per_s",
        "tutorial_first_pass_images_per_s",
        "first_pass_cpu_ms_per_image",
        "keras_first_pass_cpu_ms_per_image",
    ):
        assert report[key] > 0
    assert report["cache_bytes_uint8"] * 4 == report["tutorial_cache_bytes_float32"]


def test_fit_builds_its_config_from_every_option(
    split_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each option reaches the FitConfig field of its name; --image-cache is the decoded-image cache."""
    import trainer.fit
    from trainer.config import FitConfig

    got: list[FitConfig] = []

    def fake_fit(config: FitConfig, **_: object) -> object:
        got.append(config)
        raise SystemExit(0)

    monkeypatch.setattr(trainer.fit, "fit", fake_fit)
    args = ["fit", str(split_root), "--model", "small_xception", "--epochs", "3", "--lr", "0.01", "--seed", "9",
            "--augment", "none", "--layout", "split", "--image-cache", str(tmp_path / "ic"),
            "--run-dir", str(tmp_path / "r"), "--val-fraction", "0.3", "--weights", "none", "--xla"]  # fmt: skip
    runner.invoke(app, args)
    (config,) = got
    expected = FitConfig(
        data_dir=str(split_root), model="small_xception", epochs=3, lr=0.01, seed=9, augment="none", layout="split",
        cache_dir=str(tmp_path / "ic"), run_dir=str(tmp_path / "r"), val_fraction=0.3, weights="none", xla=True,
        verbose=2,
    )  # fmt: skip
    assert config == expected


@pytest.mark.parametrize("command", ["fit", "bench"])
def test_cache_dir_of_fit_and_bench_names_its_new_name(split_root: Path, tmp_path: Path, command: str) -> None:
    result = runner.invoke(app, [command, str(split_root), "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 2
    assert "is now --image-cache" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "c").exists()


def test_models_lists_the_registry() -> None:
    result = runner.invoke(app, ["models", "--json"])
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    names = [m["name"] for m in document["models"]]
    assert "baseline_cnn" in names and sum(m["default"] for m in document["models"]) == 1
    assert document["version"] == 1 and document["default"] in names


def run_trainer(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "trainer", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def test_subprocess_exit_codes(tmp_path: Path, run_dir: Path) -> None:
    missing = run_trainer("fit", str(tmp_path / "nope"), cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1].startswith("error: no such directory")
    assert "Traceback" not in missing.stderr
    no_run = run_trainer("predict", str(tmp_path), str(tmp_path), cwd=tmp_path)
    assert no_run.returncode == 2 and "no model.keras" in no_run.stderr
    usage = run_trainer("fit", str(tmp_path), "--epochs", "many", cwd=tmp_path)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    helped = run_trainer("--help", cwd=tmp_path)
    assert helped.returncode == 0 and "fit" in helped.stdout


def test_evaluate_names_the_split_as_its_folder_is_named(run_dir: Path, split_root: Path, tmp_path: Path) -> None:
    """cats_and_dogs_filtered has train/ + validation/: evaluate reports 'validation', not its role 'val'."""
    import shutil

    data = tmp_path / "filtered"
    shutil.copytree(split_root / "train", data / "train")
    shutil.copytree(split_root / "val", data / "validation")
    result = runner.invoke(app, ["evaluate", str(run_dir), str(data), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["split"] == "validation" and Path(report["confusion_png"]).name == "confusion-filtered-validation.png"
    table = runner.invoke(app, ["evaluate", str(run_dir), str(data), "--split", "val"])
    assert "(validation): 8 images" in table.stdout and "(val)" not in table.stdout, table.stdout


def test_version() -> None:
    from importlib.metadata import version

    from trainer import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"trainer {__version__} (tensorflow {version('tensorflow')}, keras {version('keras')})\n"
