"""issue 17 through `dataprep`: Ctrl-C in split, clean and restore is a normal ending (one line
naming what to run, exit 130, resumable to the same result); empty and linked folders get their
own line; split, duplicates, leakage and clean take validate's inspection options.

Interrupts are sent by the deterministic hook DATAPREP_INTERRUPT_AFTER_OPS (SIGINT to itself
right after the N-th durable step), never after a sleep.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from dataprep.base.journal import INTERRUPT_AFTER_ENV, INTERRUPT_SIGNAL_ENV
from dataprep.cli import app

REPO = Path(__file__).resolve().parents[1]


def dataprep(args: list[str], cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dataprep", *args], cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "XDG_CACHE_HOME": str(cache), **env},
    )  # fmt: skip


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }  # fmt: skip


def make_raw(root: Path, per_class: int = 4) -> Path:
    for c, label in enumerate(("cats", "dogs", "emus")):
        for i in range(per_class):
            path = root / label / f"img{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (16, 16), (40 * c + 9 * i, 90, 200 - 13 * i)).save(path)
    return root


def interrupted_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


# One interrupt point per command in the default tier; the others with -m slow.
POINTS = [1, pytest.param(3, marks=pytest.mark.slow), pytest.param(7, marks=pytest.mark.slow)]


@pytest.mark.parametrize("after", POINTS)
@pytest.mark.parametrize("signal_name", ["SIGINT", pytest.param("SIGTERM", marks=pytest.mark.slow)])
def test_case1_ctrl_c_during_split_names_resume_and_resumes_to_the_same_split(
    tmp_path: Path, after: int, signal_name: str
) -> None:
    raw = make_raw(tmp_path / "raw")
    args = ["--val", "1", "--test", "1", "--seed", "3", "-j", "0"]
    reference = dataprep(["split", str(raw), str(tmp_path / "ref"), *args], tmp_path / "cache")
    assert reference.returncode == 0, reference.stderr
    out = tmp_path / f"out{after}"
    stopped = dataprep(
        ["split", str(raw), str(out), *args],
        tmp_path / "cache",
        **{INTERRUPT_AFTER_ENV: str(after), INTERRUPT_SIGNAL_ENV: signal_name},
    )
    assert interrupted_line(stopped) == (
        f"interrupted: split stopped; the files placed in '{out}' so far are kept and journaled; "
        f"finish with: dataprep split {raw} {out} --resume (same options)"
    )
    resumed = dataprep(["split", str(raw), str(out), *args, "--resume"], tmp_path / "cache")
    assert resumed.returncode == 0, resumed.stderr
    assert tree(out).keys() - {"split.json"} == tree(tmp_path / "ref").keys() - {"split.json"}
    assert {k: v for k, v in tree(out).items() if k != "split.json"} == {
        k: v for k, v in tree(tmp_path / "ref").items() if k != "split.json"
    }
    files = json.loads((out / "split.json").read_text())["files"]
    assert files == json.loads((tmp_path / "ref" / "split.json").read_text())["files"]


@pytest.mark.parametrize("after", [2, pytest.param(1, marks=pytest.mark.slow), pytest.param(5, marks=pytest.mark.slow)])
def test_case1_ctrl_c_during_clean_and_restore_then_the_same_command_finishes(tmp_path: Path, after: int) -> None:
    data = make_raw(tmp_path / "data")
    (data / "cats" / "empty.png").write_bytes(b"")
    (data / "dogs" / "text.jpg").write_text("not a photo")
    (data / "emus" / "half.png").write_bytes((data / "emus" / "img0.png").read_bytes()[:40])
    original = tree(data)
    removed = {"cats/empty.png", "dogs/text.jpg", "emus/half.png"}
    quarantine = tmp_path / "data.quarantine"
    stopped = dataprep(["clean", str(data), "-j", "0"], tmp_path / "cache", **{INTERRUPT_AFTER_ENV: str(after)})
    assert interrupted_line(stopped) == (
        "interrupted: clean stopped; every file moved so far is in the quarantine with its manifest; "
        f"finish with the same command: dataprep clean {data} (same options)"
    )
    finished = dataprep(["clean", str(data), "-j", "0"], tmp_path / "cache")
    assert finished.returncode == 0, finished.stderr
    assert tree(data) == {k: v for k, v in original.items() if k not in removed}
    assert removed <= set(tree(quarantine))
    # restore, interrupted too, then run again: the original tree, byte for byte.
    stopped = dataprep(["restore", str(quarantine)], tmp_path / "cache", **{INTERRUPT_AFTER_ENV: str(after)})
    assert interrupted_line(stopped) == (
        f"interrupted: restore stopped; files restored so far are back; finish with: dataprep restore {quarantine}"
    )
    assert dataprep(["restore", str(quarantine)], tmp_path / "cache").returncode == 0
    assert tree(data) == original


def test_case6_validate_on_an_empty_folder_exits_2(tmp_path: Path) -> None:
    empty = tmp_path / "EMPTY"
    empty.mkdir()
    result = CliRunner().invoke(app, ["validate", str(empty)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: no images found under '{empty}' (expected image files in class folders: DIR/CLASS/*.jpg); "
        "check the path\n"
    )


@pytest.mark.parametrize("command", ["validate", "split", "stats"])
def test_case6_class_folders_that_are_links_are_named(tmp_path: Path, command: str) -> None:
    real = make_raw(tmp_path / "real")
    linked = tmp_path / "linked"
    linked.mkdir()
    for name in ("cats", "dogs"):
        (linked / name).symlink_to(real / name, target_is_directory=True)
    out = [str(tmp_path / "out")] if command == "split" else []
    result = CliRunner().invoke(app, [command, str(linked), *out] + (["-j", "0"] if command != "stats" else []))
    assert result.exit_code == 2 and not (tmp_path / "out").exists()
    assert result.stderr.strip() == (
        f"error: no images found under '{linked}': its class folders 'cats', 'dogs' are symbolic links, which are "
        f"not followed; to follow them, copy the dataset with the links resolved (cp -rL '{linked}' COPY) and use COPY"
    )


@pytest.mark.parametrize("command", ["validate", "split", "duplicates", "leakage", "clean"])
def test_inspection_options_mean_the_same_everywhere(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command that inspects files passes --jobs, --timeout, --max-pixels and --min-size on
    to validate (split used to drop them silently)."""
    import dataprep.inspection.validate as validate_mod
    import dataprep.inspection.validate_stream as validate_stream

    seen = []

    class Stop(Exception):
        pass

    def fake_inspect(scan: object, opts: validate_mod.ValidateOptions) -> object:
        seen.append(opts)
        raise Stop

    monkeypatch.setattr(validate_mod, "inspect_scan", fake_inspect)
    monkeypatch.setattr(
        validate_stream, "inspect_run", lambda store, scan, opts, known, inspect: fake_inspect(scan, opts)
    )
    raw = make_raw(tmp_path / "raw", per_class=2)
    if command == "leakage":  # reads a split folder
        raw = tmp_path / "split"
        make_raw(raw / "train", per_class=2), make_raw(raw / "val", per_class=1)
    args = [command, str(raw)] + ([str(tmp_path / "out")] if command == "split" else [])
    options = ["--jobs", "0", "--timeout", "7", "--max-pixels", "12345", "--min-size", "3", "--no-cache"]
    with pytest.raises(Stop):
        CliRunner().invoke(app, args + options, catch_exceptions=False)
    (opts,) = seen
    assert (opts.jobs, opts.timeout_s, opts.max_pixels, opts.min_size, opts.use_cache) == (0, 7.0, 12345, 3, False)


def test_case4_augment_preview_applies_the_pixel_cap(tmp_path: Path) -> None:
    from dataprep.insight.preview import load_preview_image

    Image.new("RGB", (120, 100), (10, 200, 30)).save(tmp_path / "photo.png")
    with pytest.raises(ValueError, match=r"120x100 is over the 5000 pixel cap; raise --max-pixels to show it"):
        load_preview_image(tmp_path / "photo.png", 64, max_pixels=5000)
    assert load_preview_image(tmp_path / "photo.png", 64).shape == (53, 64, 3)


def test_case5_decoder_noise_becomes_one_summary(capfd: pytest.CaptureFixture[str]) -> None:
    """What libjpeg and TensorFlow write to file descriptor 2 is counted, not shown; any other
    line still reaches stderr."""
    from dataprep.base.tensorflow_runtime import decoder_messages

    with decoder_messages() as noise:
        os.write(2, b"Premature end of JPEG data\nE0000 00:00:1.2 jpeg.cc:1] Corrupt JPEG data: 2 extraneous bytes\n")
        os.write(2, b"Improper call to JPEG library in state 201\na line of the user's own\n")
    assert noise.count == 3
    assert noise.summary() == "the image decoders reported 3 warning(s), most often 'Premature end of JPEG data'"
    assert capfd.readouterr().err == "a line of the user's own\n"


@pytest.mark.parametrize("after", [3, pytest.param(1, marks=pytest.mark.slow), pytest.param(6, marks=pytest.mark.slow)])
def test_case1_ctrl_c_during_convert_then_the_same_command_finishes(tmp_path: Path, after: int) -> None:
    """A dataset of PPMs (TensorFlow cannot read them) interrupted mid-convert: one line naming
    the same command, exit 130; running it again ends as an uninterrupted convert does, and
    restore gives back the original tree byte for byte."""
    from real_world import ppm_classes

    data = tmp_path / "data"
    ppm_classes(data, classes=2, per_class=3)
    original = tree(data)
    reference = tmp_path / "reference"
    ppm_classes(reference, classes=2, per_class=3)
    assert dataprep(["convert", str(reference), "-j", "0"], tmp_path / "cache").returncode == 0
    stopped = dataprep(["convert", str(data), "-j", "0"], tmp_path / "cache", **{INTERRUPT_AFTER_ENV: str(after)})
    assert interrupted_line(stopped) == (
        "interrupted: convert stopped; every original moved so far is in the quarantine with its manifest; "
        f"finish with the same command: dataprep convert {data} (same options)"
    )
    finished = dataprep(["convert", str(data), "-j", "0"], tmp_path / "cache")
    assert finished.returncode == 0, finished.stderr
    assert tree(data) == tree(reference)  # the same PNGs as a convert never interrupted
    assert dataprep(["restore", str(tmp_path / "data.quarantine")], tmp_path / "cache").returncode == 0
    assert tree(data) == original
