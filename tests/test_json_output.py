"""Every command's `--json` output is one JSON document on stdout, nothing else.

The commands are found by looking at both CLIs: a command that gains `--json` must be added to
`ARGS` below, or `test_every_json_command_is_covered` fails. `trainer fit --json` also runs as a
real subprocess, as `trainer fit ... --json | python -m json.tool` would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

pytest.importorskip("tensorflow")

from conftest import make_colour_split

from dataprep.cli import app as dataprep_app
from trainer.cli import app as trainer_app

runner = CliRunner()
APPS: dict[str, typer.Typer] = {"dataprep": dataprep_app, "trainer": trainer_app}


def json_commands() -> set[tuple[str, str]]:
    """(cli, command) for every command of both CLIs that has a --json option."""
    found = set()
    for name, app in APPS.items():
        group = typer.main.get_command(app)
        for command_name, command in getattr(group, "commands", {}).items():
            if any("--json" in getattr(p, "opts", ()) for p in command.params):
                found.add((name, command_name))
    return found


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A raw folder with one bad file, a split folder, and a finished run on it."""
    root = tmp_path_factory.mktemp("json")
    raw = make_colour_split(root / "r", {"raw": 6}, seed=4, shape=(24, 24)) / "raw"
    (raw / "cat" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    split_root = make_colour_split(root / "s", {"train": 8, "val": 3, "test": 3}, seed=5, shape=(24, 24))
    run = root / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"}  # TensorFlow's own log lines must not reach stdout either
    fit = ["fit", str(split_root), "--run-dir", str(run), "--image-size", "16", "--batch-size", "8", "--epochs", "2"]
    fitted = subprocess.run(
        [sys.executable, "-m", "trainer", *fit, "--augment", "none", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert fitted.returncode == 0, fitted.stderr
    (root / "fit.stdout").write_text(fitted.stdout)
    (root / "fit.stderr").write_text(fitted.stderr)
    return {"root": root, "raw": raw, "split": split_root, "run": run}


def test_trainer_fit_json_is_the_whole_stdout(data: dict[str, Path]) -> None:
    report = json.loads((data["root"] / "fit.stdout").read_text())  # all of it: no progress lines around it
    assert report["run_dir"] == str(data["run"]) and report["epochs_run"] == 2
    assert report["tensorboard"] == f"tensorboard --logdir {data['run'] / 'logs'}"
    assert "Epoch 1/2" in (data["root"] / "fit.stderr").read_text()  # Keras' progress went to stderr


def _clean_copy(d: dict[str, Path]) -> list[str]:
    target = d["root"] / "to-clean"
    shutil.copytree(d["raw"], target)
    return [str(target), "--jobs", "0"]


def _restore_after_clean(d: dict[str, Path]) -> list[str]:
    target = d["root"] / "to-restore"
    shutil.copytree(d["raw"], target)
    cleaned = runner.invoke(dataprep_app, ["clean", str(target), "--jobs", "0"])
    assert cleaned.exit_code == 0, cleaned.output
    return [str(d["root"] / "to-restore.quarantine")]


def _convert_copy(d: dict[str, Path]) -> list[str]:
    target = d["root"] / "to-convert"
    shutil.copytree(d["raw"], target)
    return [str(target), "--jobs", "0"]


def _relabel_copy(d: dict[str, Path]) -> list[str]:
    target = d["root"] / "to-relabel"
    shutil.copytree(d["raw"], target)
    issues = d["root"] / "label_issues.json"
    row = {"rank": 1, "path": "cat/cat0.jpg", "given_label": "cat", "suggested_label": "dog", "score": 0.9}
    issues.write_text(json.dumps({"issues": [row]}))
    return [str(target), "--label-issues", str(issues)]


# The arguments each --json command runs with (besides --json), and the exit codes it may give.
ARGS: dict[tuple[str, str], tuple[Callable[[dict[str, Path]], list[str]], set[int]]] = {
    ("dataprep", "validate"): (lambda d: [str(d["raw"]), "--jobs", "0"], {1}),  # 1: broken.jpg is an error
    ("dataprep", "clean"): (_clean_copy, {0}),
    ("dataprep", "restore"): (_restore_after_clean, {0}),
    ("dataprep", "duplicates"): (lambda d: [str(d["raw"]), "--jobs", "0"], {0}),
    ("dataprep", "leakage"): (lambda d: [str(d["split"]), "--jobs", "0"], {0}),
    ("dataprep", "split"): (
        lambda d: [str(d["raw"]), str(d["root"] / "split-out"), "--val", "1", "--test", "1", "--jobs", "0"],
        {0},
    ),
    ("dataprep", "stats"): (lambda d: [str(d["raw"])], {0}),
    ("dataprep", "embed"): (lambda d: [str(d["raw"]), "--out", str(d["root"] / "raw.npz")], {0}),
    ("dataprep", "outliers"): (lambda d: [str(d["raw"]), "--top", "3"], {0}),
    ("dataprep", "report"): (lambda d: [str(d["raw"]), "--out", str(d["root"] / "report"), "--jobs", "0"], {0}),
    ("trainer", "evaluate"): (lambda d: [str(d["run"]), str(d["split"])], {0}),
    ("trainer", "predict"): (  # exit 1: one file could not be read
        lambda d: [str(d["run"]), str(d["split"] / "test"), str(d["raw"] / "cat" / "broken.jpg")],
        {1},
    ),
    ("trainer", "bench"): (lambda d: [str(d["split"]), "--image-size", "16", "--no-compare"], {0}),
    ("trainer", "models"): (lambda d: [], {0}),
    ("dataprep", "convert"): (_convert_copy, {0}),
    ("dataprep", "relabel"): (_relabel_copy, {0}),
    ("trainer", "label-issues"): (
        lambda d: [
            str(d["raw"]),
            "--run-dir",
            str(d["root"] / "li"),
            "--folds",
            "2",
            "--epochs",
            "1",
            "--image-size",
            "16",
            "--jobs",
            "0",
        ],
        {0},
    ),
    # trainer fit: run by the `data` fixture as a real subprocess.
    ("trainer", "fit"): (lambda d: [], set()),
}


def test_every_json_command_is_covered() -> None:
    assert json_commands() == set(ARGS)


@pytest.mark.parametrize("cli, command", sorted(k for k, (_, codes) in ARGS.items() if codes))
def test_json_stdout_is_one_document(cli: str, command: str, data: dict[str, Path]) -> None:
    build, exit_codes = ARGS[(cli, command)]
    result = runner.invoke(APPS[cli], [command, *build(data), "--json"])
    assert result.exit_code in exit_codes, result.output
    document = json.loads(result.stdout)  # the whole of stdout, not a slice of it
    assert isinstance(document, dict) and "version" in document, document  # one object with a version, never a list
