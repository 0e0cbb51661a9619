"""`trainer fit --seed --deterministic` (issue 26): on CPU the same files and seed give the same
run, epoch for epoch; op determinism is on only during such a run; a run folder has one writer
at a time."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from conftest import make_colour_split

from dataprep.base.folder_lock import FolderLocked, folder_locks
from trainer.config import FitConfig
from trainer.fit import fit


@pytest.fixture(scope="module")
def split_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_colour_split(tmp_path_factory.mktemp("data"), {"train": 16, "val": 4, "test": 4}, seed=1, noise=30.0)


def _config(split_root: Path, run_dir: Path, seed: int, deterministic: bool = True) -> FitConfig:
    return FitConfig(
        data_dir=str(split_root), run_dir=str(run_dir), image_size=32, batch_size=8, epochs=2,
        augment="flip=horizontal,rotate=0.1,zoom=0.1", verbose=0, seed=seed, deterministic=deterministic,
    )  # fmt: skip


class _RecordDeterminism(keras.callbacks.Callback):
    """Whether TensorFlow's op determinism was on while the model trained."""

    seen: list[bool]

    def on_epoch_end(self, epoch: int, logs: object = None) -> None:
        from tensorflow.python.framework import config as tf_config

        self.seen.append(tf_config.is_op_determinism_enabled())


def _weights(run_dir: Path) -> list[np.ndarray]:
    return [np.asarray(w) for w in keras.models.load_model(run_dir / "model.keras").get_weights()]


def test_one_seed_gives_the_same_history_and_weights_on_cpu(split_root: Path, tmp_path: Path) -> None:
    from tensorflow.python.framework import config as tf_config

    during = _RecordDeterminism()
    during.seen = []
    first = fit(_config(split_root, tmp_path / "a", seed=5), callbacks=[during])
    assert during.seen == [True, True]
    assert not tf_config.is_op_determinism_enabled()  # switched back off when the run ended
    second = fit(_config(split_root, tmp_path / "b", seed=5))
    assert first.history == second.history  # exactly: every loss, every accuracy, every epoch
    assert all(np.array_equal(x, y) for x, y in zip(_weights(first.run_dir), _weights(second.run_dir), strict=True))
    plain = _RecordDeterminism()
    plain.seen = []
    other = fit(_config(split_root, tmp_path / "c", seed=6, deterministic=False), callbacks=[plain])
    assert plain.seen == [False, False]  # not asked for: TensorFlow's fast kernels
    assert other.history["loss"] != first.history["loss"]


class _StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch: int, logs: object = None) -> None:
        raise KeyError("stopped")


def test_a_run_folder_has_one_writer(split_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    with pytest.raises(KeyError):
        fit(replace(_config(split_root, run, seed=5), augment="none"), callbacks=[_StopAfterFirstEpoch()])
    with folder_locks("trainer fit", run), pytest.raises(FolderLocked, match=r"the folder trainer fit writes"):
        fit(_config(split_root, run, seed=5), resume=True)  # a second `fit --resume` of one run
    assert not (run / ".dataprep.lock").exists()


def test_a_lock_a_killed_fresh_run_left_does_not_block_a_new_run_there(split_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / ".dataprep.lock").write_text("{}")  # what kill -9 leaves when it hits a fresh run before its first file
    result = fit(replace(_config(split_root, run, seed=5, deterministic=False), epochs=1))
    assert result.metrics["epochs_run"] == 1 and not (run / ".dataprep.lock").exists()
