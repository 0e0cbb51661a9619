"""issue 17 through `trainer`, each numbered case as the user met it: Ctrl-C during fit and
--resume from another directory (1, 2), unchecked numbers (3), the pixel cap (4), predict and
evaluate as careful as validate (5), empty and linked inputs (6)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

pytest.importorskip("tensorflow")

from conftest import make_colour_split

from trainer.cli import app

runner = CliRunner()
FIT = ["--image-size", "32", "--batch-size", "8", "--augment", "none"]


def trainer(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`trainer ARGS` as a user runs it: its own process, its own working directory."""
    return subprocess.run(
        [sys.executable, "-m", "trainer", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **env},
    )


def one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture(scope="module")
def split_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_colour_split(tmp_path_factory.mktemp("data"), {"train": 8, "val": 3, "test": 3}, seed=2, shape=(32, 32))


@pytest.fixture(scope="module")
def run_dir(split_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "r"
    result = runner.invoke(app, ["fit", str(split_root), "--run-dir", str(run), *FIT, "--epochs", "1", "--json"])
    assert result.exit_code == 0, result.output
    return run


def test_case1_2_ctrl_c_in_process_then_resume_with_changed_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same user story in this process (the default tier): SIGINT after epoch 1 of 2 ends
    with the --resume line and exit 130; from another directory, --epochs 3 is refused without
    --override and taken with it."""
    data = make_colour_split(tmp_path / "data", {"train": 4, "val": 2}, seed=5)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATAPREP_INTERRUPT_AFTER_EPOCHS", "1")
    stopped = runner.invoke(app, ["fit", "data", "--run-dir", "run", *FIT, "--epochs", "2"])
    assert stopped.exit_code == 130, stopped.output
    run = (tmp_path / "run").resolve()
    assert one_line(stopped.stderr) == (
        f"interrupted: training stopped after 1 completed epoch(s); the run is kept in '{run}'; "
        f"continue it with: trainer fit {data.resolve()} --run-dir {run} --resume"
    )
    monkeypatch.delenv("DATAPREP_INTERRUPT_AFTER_EPOCHS")
    monkeypatch.chdir("/")
    refused = runner.invoke(app, ["fit", str(data.resolve()), "--run-dir", str(run), "--resume", "--epochs", "3"])
    assert refused.exit_code == 2 and "--epochs 3 (run has 2)" in one_line(refused.stderr)
    resumed = runner.invoke(
        app, ["fit", str(data.resolve()), "--run-dir", str(run), "--resume", "--epochs", "3", "--override", "--json"]
    )
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout[resumed.stdout.index("{\n") :])["epochs_run"] == 3
    assert json.loads((run / "config.json").read_text())["fit"]["epochs"] == 3


@pytest.mark.slow  # three trainer processes (~1 min); the in-process test above is the default tier's
def test_case1_2_ctrl_c_then_resume_from_another_directory(tmp_path: Path) -> None:
    """Ctrl-C during fit: one line naming --resume, exit 130; the run folder stores absolute
    paths, so `cd / && trainer fit /abs/data --run-dir /abs/run --resume` finishes it. A file the
    decoder cannot read is listed at the end; libjpeg's complaints become one summary line."""
    data = make_colour_split(tmp_path / "data", {"train": 6, "val": 2}, seed=4)
    good = (data / "train" / "cat" / "cat0.jpg").read_bytes()
    (data / "train" / "cat" / "cut.jpg").write_bytes(good[: len(good) * 2 // 3])  # "Premature end of JPEG data"
    (data / "train" / "dog" / "garbage.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 64)

    first = trainer(
        ["fit", "data", "--run-dir", "run", *FIT, "--epochs", "3"], cwd=tmp_path, DATAPREP_INTERRUPT_AFTER_EPOCHS="1"
    )
    assert first.returncode == 130, first.stderr
    line = one_line(first.stderr)
    run = (tmp_path / "run").resolve()
    assert line.startswith("interrupted: training stopped after 1 completed epoch(s)")
    assert line.endswith(f"continue it with: trainer fit {(tmp_path / 'data').resolve()} --run-dir {run} --resume")
    config = json.loads((run / "config.json").read_text())
    assert config["fit"]["data_dir"] == str((tmp_path / "data").resolve()) and config["fit"]["run_dir"] == str(run)

    changed = trainer(["fit", str(data.resolve()), "--run-dir", str(run), "--resume", "--epochs", "4"], cwd=Path("/"))
    assert changed.returncode == 2
    assert one_line(changed.stderr) == (
        "error: --resume with options that differ from the run's config.json: --epochs 4 (run has 3); "
        "leave them out to continue as the run was started, or add --override to take them"
    )
    resumed = trainer(["fit", str(data.resolve()), "--run-dir", str(run), "--resume", "--json"], cwd=Path("/"))
    assert resumed.returncode == 0, resumed.stderr
    metrics = json.loads(resumed.stdout[resumed.stdout.index("{\n") :])
    assert metrics["epochs_run"] == 3
    assert set(metrics["skipped_paths"]) >= {str(data.resolve() / "train" / "dog" / "garbage.jpg")}
    assert "Traceback" not in resumed.stderr and "function_node" not in resumed.stderr
    # libjpeg's own lines never reach the console: at most the one summary line names them.
    assert not [ln for ln in resumed.stderr.splitlines() if "JPEG" in ln and not ln.startswith("note: ")]
    assert (
        f"skipped: {data.resolve() / 'train' / 'dog' / 'garbage.jpg'}: the training decoder cannot read it"
        in resumed.stderr
    )


def test_case2_resume_refuses_another_dataset(tmp_path: Path, run_dir: Path) -> None:
    other = make_colour_split(tmp_path / "other", {"train": 5, "val": 3}, seed=9)
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    config = json.loads((run_dir / "config.json").read_text())
    (unfinished / "config.json").write_text(json.dumps(config))
    result = runner.invoke(app, ["fit", str(other), "--run-dir", str(unfinished), "--resume"])
    assert result.exit_code == 2
    assert f"'{other}' is not the dataset run '{unfinished}' was trained on" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["fit", "DATA", "--image-size", "-5"], "Invalid value for '--image-size'"),
    (["fit", "DATA", "--image-size", "0"], "Invalid value for '--image-size'"),
    (["bench", "DATA", "--batch-size", "0"], "Invalid value for '--batch-size'"),
    (["bench", "DATA", "--image-size", "0"], "Invalid value for '--image-size'"),
    (["evaluate", "RUN", "DATA", "--batch-size", "0"], "Invalid value for '--batch-size'"),
    (["fit", "DATA", "--lr", "nan"], "Invalid value for '--lr'"),
    (["fit", "DATA", "--val-fraction", "1.5"], "Invalid value for '--val-fraction'"),
])  # fmt: skip
def test_case3_unchecked_numbers_are_one_line_and_leave_nothing(
    split_root: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    import contextlib
    import io

    from dataprep.console import run_app

    argv = [str(split_root) if a == "DATA" else str(tmp_path / "run") if a == "RUN" else a for a in args]
    if argv[0] == "fit":
        argv += ["--run-dir", str(tmp_path / "new-run")]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_info:
        run_app(app, "trainer", argv)
    assert exit_info.value.code == 2
    assert message in one_line(err.getvalue())
    assert not (tmp_path / "new-run").exists()


def test_case4_max_pixels_raises_pillows_limit_too(tmp_path: Path) -> None:
    """13500x13300 (179.6 MP) is just over the default cap: with --max-pixels 500000000 it
    decodes (before: Pillow's own DecompressionBombError made it a pillow_decode error)."""
    from dataprep.inspection.validate import ValidateOptions, validate

    (tmp_path / "d" / "a").mkdir(parents=True)
    Image.new("L", (13500, 13300), 90).save(tmp_path / "d" / "a" / "big.jpg", quality=30)
    opts: dict[str, Any] = {"jobs": 0, "use_cache": False, "use_tf": False, "image_properties": False}
    capped = validate(tmp_path / "d", ValidateOptions(**opts))
    assert {f.check for f in capped.results[0].findings} == {"pixel_limit", "color_mode"}
    raised = validate(tmp_path / "d", ValidateOptions(max_pixels=500_000_000, **opts))
    assert {f.check for f in raised.results[0].findings} == {"color_mode"}


def test_case5_predict_refuses_what_validate_calls_an_error(run_dir: Path, tmp_path: Path) -> None:
    """A 16-bit grayscale PNG (TensorFlow reads it black: validate's wrong_pixels) and a
    20000x20000 PNG (over the pixel cap) are reported and not predicted; a good photo is."""
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray((np.arange(64 * 64).reshape(64, 64) % 256).astype(np.uint16)).save(folder / "gray16.png")
    Image.new("1", (20000, 20000)).save(folder / "huge.png")
    Image.new("RGB", (40, 40), (220, 60, 40)).save(folder / "red.jpg")
    result = runner.invoke(app, ["predict", str(run_dir), str(folder), "--json"])
    assert result.exit_code == 1, result.output
    by_name = {Path(r["path"]).name: r for r in json.loads(result.stdout)["predictions"]}
    assert by_name["red.jpg"]["label"] in ("cat", "dog") and "error" not in by_name["red.jpg"]
    assert by_name["gray16.png"]["label"] is None
    assert by_name["gray16.png"]["error"].startswith("not predicted: validate rates it an error (wrong_pixels: ")
    assert (
        by_name["huge.png"]["label"] is None and "(pixel_limit: header says 20000x20000" in by_name["huge.png"]["error"]
    )
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and all(ln.startswith("error: ") for ln in lines)


def test_case5_evaluate_leaves_out_what_validate_calls_an_error(
    run_dir: Path, split_root: Path, tmp_path: Path
) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(split_root, data)
    Image.fromarray((np.arange(32 * 32).reshape(32, 32) % 256).astype(np.uint16)).save(data / "test" / "cat" / "g.png")
    result = runner.invoke(app, ["evaluate", str(run_dir), str(data), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["images"] == 6 and report["skipped"] == 1
    assert list(report["refused"]) == ["test/cat/g.png"] and report["refused"]["test/cat/g.png"].startswith(
        "wrong_pixels: "
    )
    assert result.stderr.startswith("skipped: test/cat/g.png: wrong_pixels: ")


def test_case6_empty_and_linked_folders(tmp_path: Path, split_root: Path) -> None:
    empty = tmp_path / "EMPTY"
    empty.mkdir()
    result = runner.invoke(app, ["fit", str(empty), "--run-dir", str(tmp_path / "r1")])
    assert result.exit_code == 2 and result.stderr.startswith(f"error: no images found under '{empty}'")
    linked = tmp_path / "linked"
    linked.mkdir()
    for name in ("cat", "dog"):
        (linked / name).symlink_to(split_root / "train" / name, target_is_directory=True)
    result = runner.invoke(app, ["fit", str(linked), "--run-dir", str(tmp_path / "r2")])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: no images found under '{linked}': its class folders 'cat', 'dog' are symbolic links, which are not "
        f"followed; to follow them, copy the dataset with the links resolved (cp -rL '{linked}' COPY) and use COPY"
    )
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()


@pytest.mark.parametrize("args", [
    ["fit", "MISSING"], ["bench", "MISSING"], ["evaluate", "MISSING", "DATA"], ["evaluate", "RUN", "MISSING"],
    ["predict", "MISSING", "DATA"], ["predict", "RUN", "MISSING"],
])  # fmt: skip
def test_missing_paths_are_one_line(args: list[str], run_dir: Path, split_root: Path, tmp_path: Path) -> None:
    names = {"MISSING": str(tmp_path / "no such"), "DATA": str(split_root), "RUN": str(run_dir)}
    result = runner.invoke(app, [names.get(a, a) for a in args])
    assert result.exit_code in (1, 2), result.output
    line = one_line(result.stderr)
    assert line.startswith("error: ") and "no such" in line


def test_case4_predict_applies_the_same_pixel_cap(run_dir: Path, tmp_path: Path) -> None:
    Image.new("RGB", (120, 100), (220, 60, 40)).save(tmp_path / "photo.jpg")
    capped = runner.invoke(app, ["predict", str(run_dir), str(tmp_path / "photo.jpg"), "--max-pixels", "5000"])
    assert capped.exit_code == 1
    assert "not predicted: validate rates it an error (pixel_limit: header says 120x100" in one_line(capped.stderr)
    raised = runner.invoke(app, ["predict", str(run_dir), str(tmp_path / "photo.jpg"), "--max-pixels", "20000"])
    assert raised.exit_code == 0 and raised.stdout.startswith(f"{tmp_path / 'photo.jpg'}: ")
