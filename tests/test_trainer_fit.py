"""trainer.fit: the whole run folder, resume after an interruption, transfer's two phases."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from conftest import make_colour_split

from dataprep.base.errors import DataprepError
from trainer.config import FitConfig
from trainer.fit import auto_class_weight, fit, resolve_config
from trainer.phases import Phase, plan_phases

RUN_FILES = {
    "config.json",
    "class_names.json",
    "history.csv",
    "curves.png",
    "metrics.json",
    "model.keras",
    "confusion.png",
    "logs",
}


@pytest.fixture(scope="module")
def split_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_colour_split(tmp_path_factory.mktemp("data"), {"train": 12, "val": 4, "test": 4}, seed=0, noise=30.0)


def small(split_root: Path, run_dir: Path, **overrides: object) -> FitConfig:
    values: dict[str, object] = {
        "data_dir": str(split_root),
        "run_dir": str(run_dir),
        "image_size": 32,
        "batch_size": 8,
        "epochs": 2,
        "augment": "none",
        "verbose": 0,
        "seed": 3,
    }
    values.update(overrides)
    return FitConfig(**values)  # type: ignore[arg-type]


def test_fit_writes_the_whole_run_folder(split_root: Path, tmp_path: Path) -> None:
    python_state, numpy_state = random.getstate(), np.random.get_state()
    result = fit(small(split_root, tmp_path / "run"))
    assert random.getstate() == python_state  # the run seeded the global generators and gave them back
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])
    run = result.run_dir
    assert {p.name for p in run.iterdir()} >= RUN_FILES
    assert json.loads((run / "class_names.json").read_text()) == ["cat", "dog"]
    config = json.loads((run / "config.json").read_text())
    assert config["fit"]["model"] == "compact_cnn" and config["fit"]["image_size"] == 32
    assert config["resolved"]["train_images"] == 24 and config["resolved"]["precision"] == "float32"
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("val_accuracy", "val_loss", "epochs_run", "train_seconds", "test_accuracy"):
        assert key in metrics
    assert metrics["epochs_run"] == 2 and metrics["skipped_files"] == {"train": 0, "val": 0}
    assert metrics["val_accuracy"] == pytest.approx(max(result.history["val_accuracy"]), abs=1e-6)
    with (run / "history.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert any((run / "logs" / "train").iterdir()) and any((run / "logs" / "validation").iterdir())
    assert keras.models.load_model(run / "model.keras").output_shape == (None, 2)
    with pytest.raises(DataprepError, match="already exists"):
        fit(small(split_root, run))


class Interrupt(Exception):
    pass


class InterruptAfter(keras.callbacks.Callback):
    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch: int, logs: object = None) -> None:
        if epoch == self.epoch:
            raise Interrupt(f"killed after epoch {epoch}")


def test_resume_continues_from_the_last_epoch(split_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    with pytest.raises(Interrupt):
        fit(small(split_root, run, epochs=3), callbacks=[InterruptAfter(1)])
    assert not (run / "metrics.json").exists()
    assert any((run / "backup").rglob("*"))
    # Resuming uses the saved config and the data folder given now (the same dataset); options the
    # user did not type (here: all of them) do not matter.
    result = fit(FitConfig(data_dir=str(split_root), run_dir=str(run), verbose=0), resume=True)
    assert result.metrics["epochs_run"] == 3
    with (run / "history.csv").open() as handle:
        assert [r["epoch"] for r in csv.DictReader(handle)] == ["0", "1", "2"]
    assert not any(p.is_file() for p in (run / "backup").rglob("*"))
    with pytest.raises(DataprepError, match="already finished"):
        fit(FitConfig(data_dir="ignored", run_dir=str(run)), resume=True)
    with pytest.raises(DataprepError, match="nothing to resume"):
        fit(FitConfig(data_dir="ignored", run_dir=str(tmp_path / "nothing")), resume=True)


@pytest.mark.slow  # ~1.5 min on 2 cores; every transfer model still trains a step in test_trainer_models
def test_transfer_freezes_then_fine_tunes(split_root: Path, tmp_path: Path) -> None:
    result = fit(small(split_root, tmp_path / "run", model="mobilenetv3small", weights="none", class_weight="auto"))
    assert result.metrics["epochs_run"] == 2
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["fit"]["freeze_epochs"] == 1
    assert config["resolved"]["class_weight"] == {"0": 1.0, "1": 1.0}
    assert (result.run_dir / "backup" / "frozen.done.weights.h5").is_file()


def test_auto_class_weight_balances_classes(split_root: Path) -> None:
    from trainer.data import list_files

    files = list_files(split_root, "train")
    skewed = files.subset([0, 1, 2, 3, 4, 5, 12, 13], "train")  # 6 cats, 2 dogs
    weights = auto_class_weight(skewed)
    assert weights[0] * 6 == pytest.approx(weights[1] * 2)


def test_bad_options_fail_before_any_work(split_root: Path, tmp_path: Path) -> None:
    with pytest.raises(DataprepError, match="--lr-schedule"):
        fit(small(split_root, tmp_path / "a", lr_schedule="step"))
    with pytest.raises(DataprepError, match="unknown model"):
        fit(small(split_root, tmp_path / "b", model="resnet9000"))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_phases_scratch_trains_once_transfer_freezes_then_fine_tunes() -> None:
    scratch = resolve_config(FitConfig(data_dir="d", epochs=5, run_dir="r"))
    assert plan_phases(scratch) == [Phase("train", 0, 5, scratch.lr, True)]
    transfer = resolve_config(FitConfig(data_dir="d", model="mobilenetv3small", epochs=5, lr=0.01, run_dir="r"))
    frozen, fine_tune = plan_phases(transfer)
    assert (frozen.name, frozen.first_epoch, frozen.last_epoch, frozen.backbone_trainable) == ("frozen", 0, 2, False)
    assert (fine_tune.first_epoch, fine_tune.last_epoch, fine_tune.backbone_trainable) == (2, 5, True)
    assert fine_tune.lr == pytest.approx(0.01 * transfer.fine_tune_lr_factor) and fine_tune.epochs == 3
    frozen_only = FitConfig(data_dir="d", model="mobilenetv3small", epochs=2, freeze_epochs=4, run_dir="r")
    assert [p.name for p in plan_phases(resolve_config(frozen_only))] == ["frozen"]
