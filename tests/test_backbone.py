"""The pretrained backbone: torchvision's weights land in the right places of the Keras network,
weights resolve to files (or one line saying how to install them), and the network round-trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from legacy_pth import write_legacy_pth

keras = pytest.importorskip("keras")

from dataprep.base.errors import DataprepError
from dataprep.embeddings import backbone
from dataprep.embeddings.backbone import (
    EMBEDDING_DIM,
    INSTALL_WEIGHTS,
    build_mobilenetv2,
    resolve_weights,
    weights_available,
    weights_digest,
)
from dataprep.embeddings.pixels import load_square_rgb

TESTS = Path(__file__).resolve().parent
# ../shared/data/pets-800 beside the repository (CI has shared/); a worktree sits one level deeper.
PETS = next((p / "shared/data/pets-800" for p in TESTS.parents if (p / "shared/data/pets-800").is_dir()), None)
needs_weights = pytest.mark.skipif(not weights_available(), reason=f"weights not installed: {INSTALL_WEIGHTS}")
DOG_CLASSES = range(151, 269)  # ImageNet 151-268: dog breeds
CAT_CLASSES = range(281, 286)  # ImageNet 281-285: domestic cats


@needs_weights
@pytest.mark.skipif(PETS is None, reason="pets-800 is not on this machine")
def test_imagenet_top1_says_dog_for_dogs_and_top5_holds_a_cat_for_cats() -> None:
    """The check that every tensor landed where it belongs: one misplaced or mis-transposed
    tensor and the ImageNet answers on real photos fall apart. Every 4th photo (200 in all)."""
    assert PETS is not None
    model = build_mobilenetv2(224, include_top=True)
    assert model.count_params() == 3_538_984
    rates = {}
    for cls in ("dogs", "cats"):
        files = sorted((PETS / cls).iterdir())[::4]
        pixels = np.stack([load_square_rgb(f, 224) for f in files])
        top5 = np.argsort(-model.predict(pixels, batch_size=50, verbose=0), axis=1)[:, :5]
        classes = DOG_CLASSES if cls == "dogs" else CAT_CLASSES
        hits = np.isin(top5[:, 0] if cls == "dogs" else top5, list(classes))
        rates[cls] = float(hits.mean() if cls == "dogs" else hits.any(axis=1).mean())
    assert rates["dogs"] >= 0.90 and rates["cats"] >= 0.80, rates


def test_the_network_takes_uint8_or_float_pixels_and_round_trips_through_keras(tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    model = build_mobilenetv2(64, weights=None)
    assert model.output_shape == (None, EMBEDDING_DIM)
    pixels = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3)).astype(np.uint8)
    out = model.predict(pixels.astype(np.float32), verbose=0)
    np.testing.assert_allclose(model.predict(pixels, verbose=0), out, rtol=1e-5, atol=1e-5)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict(pixels, verbose=0), out, rtol=1e-5, atol=1e-5)


def test_a_small_local_keras_weights_file_is_loaded(tmp_path: Path) -> None:
    keras.utils.set_random_seed(1)
    source = build_mobilenetv2(32, weights=None)
    path = tmp_path / "mine.weights.h5"
    source.save_weights(path)
    loaded = build_mobilenetv2(32, weights=str(path))
    pixels = np.full((1, 32, 32, 3), 128, np.uint8)
    np.testing.assert_array_equal(loaded.predict(pixels, verbose=0), source.predict(pixels, verbose=0))
    assert weights_digest(path) != weights_digest(None) == "none"


def test_a_torch_file_of_another_network_is_one_line(tmp_path: Path) -> None:
    path = write_legacy_pth(tmp_path / "other.pth", {"features.0.0.weight": np.zeros((16, 3, 3, 3), np.float32)})
    with pytest.raises(DataprepError, match=r"does not fit mobilenetv2: features.0.0.weight is \(16, 3, 3, 3\)") as err:
        build_mobilenetv2(32, weights=str(path))
    assert "\n" not in str(err.value)


def test_resolve_weights_none_path_and_missing_path(tmp_path: Path) -> None:
    assert resolve_weights("mobilenetv2", None) is None
    assert resolve_weights("mobilenetv2", "none") is None
    path = tmp_path / "w.pth"
    path.write_bytes(b"x")
    assert resolve_weights("mobilenetv2", str(path)) == path
    with pytest.raises(DataprepError, match="no such weights file: 'nope.pth'"):
        resolve_weights("mobilenetv2", "nope.pth")
    with pytest.raises(DataprepError, match="no ImageNet weights for 'compact_cnn'"):
        resolve_weights("compact_cnn", "imagenet")


def test_imagenet_without_the_wheel_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backbone, "installed_weights_file", lambda: None)
    assert not backbone.weights_available()
    with pytest.raises(DataprepError) as err:
        resolve_weights("mobilenetv2", "imagenet")
    assert str(err.value).endswith(INSTALL_WEIGHTS) and "\n" not in str(err.value)


def test_keras_weights_come_from_keras_cache_or_a_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    cached = tmp_path / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    cached.parent.mkdir()
    cached.write_bytes(b"h5")
    assert resolve_weights("vgg16", "imagenet") == cached

    def offline(**kwargs: object) -> None:
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3] no network")

    monkeypatch.setattr(backbone, "_keras_application", lambda name: offline)
    monkeypatch.setattr(backbone, "why_unreachable", lambda host: None)  # the host answers; the fetch fails
    with pytest.raises(DataprepError) as err:
        resolve_weights("xception", "imagenet")
    message = str(err.value)
    assert "URL fetch failure" in message and "\n" not in message
    assert 'keras.applications.Xception(include_top=False)"' in message
