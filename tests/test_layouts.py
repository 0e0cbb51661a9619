"""Every split layout downloaded datasets use (train/ val/ test/, train/ validation/, training/
testing/, ...) is read by stats, validate, leakage and the trainer, names kept as on disk; an
ambiguous tree is one clear error naming --layout; and after `convert`, `trainer fit` trains on
every converted image of each dataset shape (issue 10)."""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
from pathlib import Path

import pytest
from real_world import SPLIT_LAYOUTS, exif_rotated, heic_classes, mixed_formats, picture, ppm_classes, split_tree
from typer.testing import CliRunner

from dataprep.actions.convert import ConvertOptions, convert
from dataprep.base.errors import DataprepError
from dataprep.insight.stats import dataset_stats
from dataprep.inspection.scan import scan_dataset, split_role
from dataprep.inspection.validate import ValidateOptions, validate

runner = CliRunner()
SERIAL = ValidateOptions(jobs=0)


@pytest.mark.parametrize("shape", list(SPLIT_LAYOUTS))
def test_every_split_layout_is_read_with_its_names(shape: str, tmp_path: Path) -> None:
    folders = SPLIT_LAYOUTS[shape]
    counts = split_tree(tmp_path, folders)
    scan = scan_dataset(tmp_path)
    assert scan.layout == "split" and scan.classes == ["cat", "dog"] and scan.splits == list(folders)
    stats = dataset_stats(tmp_path)
    assert list(stats["splits"]) == list(folders)
    assert {s: v["count"] for s, v in stats["splits"].items()} == counts
    report = validate(tmp_path, SERIAL)
    assert len(report.scan.images) == sum(counts.values()) and report.scan.junk == []


def test_a_zips_macosx_folder_does_not_make_a_split_ambiguous(tmp_path: Path) -> None:
    split_tree(tmp_path, ("train", "validation"))
    (tmp_path / "__MACOSX" / "train").mkdir(parents=True)
    (tmp_path / "__MACOSX" / "train" / "._cat_0.jpg").write_bytes(b"\x00\x05\x16\x07" + bytes(60))
    scan = scan_dataset(tmp_path)
    assert scan.layout == "split" and scan.splits == ["train", "validation"]
    assert [r.rel for r in scan.junk] == ["__MACOSX/train/._cat_0.jpg"]


def test_trainer_lists_each_role_by_its_folder(tmp_path: Path) -> None:
    data = pytest.importorskip("trainer.data")
    split_tree(tmp_path, ("training", "dev", "testing"))
    assert data.available_splits(tmp_path) == ["train", "val", "test"]
    assert data.read_class_names(tmp_path) == ["cat", "dog"]
    val = data.list_files(tmp_path, "val")
    assert val.split == "dev" and len(val) == 4 and all("/dev/" in p for p in val.paths)
    assert len(data.list_files(tmp_path, "testing")) == 4  # the folder's own name works too
    split_tree(tmp_path / "food", ("train", "test"))
    with pytest.raises(DataprepError, match="no 'validation' split"):
        data.list_files(tmp_path / "food", "validation")


def test_a_class_named_like_a_split_is_ambiguous_until_layout_says(tmp_path: Path) -> None:
    for name in ("cat", "dog", "validation"):
        folder = tmp_path / name
        folder.mkdir()
        picture(0, len(name)).save(folder / "a.jpg")
    with pytest.raises(DataprepError, match=r"reads two ways.*--layout split.*--layout raw"):
        scan_dataset(tmp_path)
    assert scan_dataset(tmp_path, "raw").classes == ["cat", "dog", "validation"]
    from dataprep.cli import app

    out = runner.invoke(app, ["stats", str(tmp_path), "--json"])
    assert out.exit_code == 2 and "--layout" in out.stderr and "Traceback" not in out.output
    out = runner.invoke(app, ["stats", str(tmp_path), "--json", "--layout", "raw"])
    assert out.exit_code == 0 and set(json.loads(out.stdout)["classes"]) == {"cat", "dog", "validation"}


def test_leakage_reads_other_split_names(tmp_path: Path) -> None:
    from dataprep.duplicates.search import leakage_report

    split_tree(tmp_path, ("training", "validation"))
    shutil.copy(tmp_path / "training" / "cat" / "cat_0.jpg", tmp_path / "validation" / "cat" / "leaked.jpg")
    report = leakage_report(tmp_path, validate_options=SERIAL)
    assert [leak.splits for leak in report.leaks] == [["training", "validation"]]


# --- trainer fit on each dataset shape after convert ----------------------------------------------


def _fit(root: Path, run_dir: Path) -> dict[str, object]:
    from trainer.config import FitConfig
    from trainer.fit import fit

    config = FitConfig(
        data_dir=str(root),
        run_dir=str(run_dir),
        image_size=32,
        batch_size=8,
        epochs=1,
        augment="none",
        verbose=0,
        seed=3,
        val_fraction=0.25,
    )
    result = fit(config)
    resolved = json.loads((result.run_dir / "config.json").read_text())["resolved"]
    return {**result.metrics, **resolved}


def _converted(root: Path) -> Path:
    convert(root, ConvertOptions(validate=SERIAL))
    report = validate(root, SERIAL)
    assert not [r.rel for r in report.results if r.worst is not None and r.worst.value == "error"]
    return root


def test_fit_trains_on_every_converted_image_of_each_shape(tmp_path: Path) -> None:
    pytest.importorskip("keras")
    raw = tmp_path / "raw"
    ppm_classes(raw / "ppm", classes=2, per_class=4)
    mixed_formats(raw / "mixed")
    exif_rotated(raw / "exif")
    shapes = ["ppm", "mixed", "exif"]
    if importlib.util.find_spec("pillow_heif") is not None:
        heic_classes(raw / "heic", per_class=4)
        shapes.append("heic")
    for name in shapes:
        root = _converted(raw / name)
        images = len(scan_dataset(root).images)
        metrics = _fit(root, tmp_path / f"run-{name}")
        assert metrics["train_images"] + metrics["val_images"] == images, name
        assert metrics["skipped_files"] == {"train": 0, "val": 0}, name


@pytest.mark.parametrize(
    "shape",
    [
        "train_test",  # the default tier runs the hold-out case; the others read the same way
        pytest.param("train_validation", marks=pytest.mark.slow),
        pytest.param("training_testing", marks=pytest.mark.slow),
        pytest.param("train_valid_test", marks=pytest.mark.slow),
    ],
)
def test_fit_reads_downloaded_split_layouts(shape: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("keras")
    folders = SPLIT_LAYOUTS[shape]
    counts = split_tree(tmp_path / "data", folders)
    with caplog.at_level(logging.WARNING, logger="trainer.data"):
        metrics = _fit(tmp_path / "data", tmp_path / "run")
    train_folder = folders[0]
    val_folder = next((f for f in folders if split_role(f) == "val"), None)
    test_folder = next((f for f in folders if split_role(f) == "test"), None)
    if val_folder is not None:
        assert metrics["val_images"] == counts[val_folder]
        assert metrics["test_images"] == (counts[test_folder] if test_folder else 0)
    else:  # no validation folder: a seeded hold-out of train, test kept for the test metrics
        assert metrics["train_images"] + metrics["val_images"] == counts[train_folder]
        assert test_folder is not None and metrics["test_images"] == counts[test_folder] and "test_accuracy" in metrics
        held = [r.getMessage() for r in caplog.records if "no validation folder" in r.getMessage()]
        assert len(held) == 1 and f"of {train_folder}/" in held[0] and "25%" in held[0]
    assert metrics["skipped_files"] == {"train": 0, "val": 0}


def test_trainer_says_which_files_it_cannot_decode(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = pytest.importorskip("trainer.data")
    ppm_classes(tmp_path, classes=2, per_class=3)
    with caplog.at_level(logging.WARNING, logger="trainer.data"):
        files = data.list_files(tmp_path)
    assert len(files) == 6 and files.class_names == ("00000", "00001")  # counted as images of their class
    lines = [r.getMessage() for r in caplog.records if "cannot decode" in r.getMessage()]
    assert len(lines) == 1 and "PPM/PGM/PBM 6" in lines[0] and "dataprep convert" in lines[0]


def test_trainer_layout_reads_an_ambiguous_tree(tmp_path: Path) -> None:
    data = pytest.importorskip("trainer.data")
    for name in ("cat", "dog", "test"):
        (tmp_path / name).mkdir()
        picture(0, len(name)).save(tmp_path / name / "a.jpg")
    with pytest.raises(DataprepError, match="--layout"):
        data.list_files(tmp_path)
    assert data.list_files(tmp_path, None, "raw").class_names == ("cat", "dog", "test")
    assert data.available_splits(tmp_path, "raw") == []
