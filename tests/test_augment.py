"""The augmentation spec, the Keras pipeline built from it, and `dataprep augment-preview`.

Images are generated here with Pillow under `tmp_path` (tiny, so the suite stays fast).
TensorFlow/Keras are imported inside the tests that need them, never at collection time.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from dataprep.base.errors import DataprepError
from dataprep.cli import app
from dataprep.insight.augment import (
    AUGMENTATIONS,
    DEFAULT_AUGMENT,
    AugmentSpec,
    build_augmentation,
    parse_augment_spec,
)
from dataprep.insight.preview import preview_candidates, render_augment_preview
from dataprep.inspection.scan import scan_dataset

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ALL_KEYS_SPEC = "flip=horizontal_and_vertical,rotate=0.2,zoom=0.2,translate=0.1,contrast=0.3,brightness=0.3"


# --- fixtures -------------------------------------------------------------------------------


def _photo(seed: int, size: tuple[int, int] = (40, 30)) -> Image.Image:
    """A small picture with an asymmetric shape, so flips and rotations are visible."""
    rng = random.Random(seed)
    img = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw = ImageDraw.Draw(img)
    draw.rectangle([3, 3, size[0] // 2, size[1] // 2], fill=(255, 255, 0))
    draw.line([0, size[1] - 1, size[0] - 1, size[1] // 3], fill=(0, 0, 0), width=2)
    return img


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """root/{cat,dog,bird}/*: three classes of tiny JPEG and PNG photos."""
    root = tmp_path / "raw"
    for c, name in enumerate(("cat", "dog", "bird")):
        (root / name).mkdir(parents=True)
        for i in range(4):
            ext = "png" if i == 3 else "jpg"
            _photo(10 * c + i).save(root / name / f"{name}{i}.{ext}")
    return root


@pytest.fixture
def batch() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(4, 24, 32, 3), dtype=np.uint8)


# --- spec parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "   "])
def test_empty_spec_is_the_default(text: str | None) -> None:
    spec = parse_augment_spec(text)
    assert spec == parse_augment_spec(DEFAULT_AUGMENT)
    assert spec.to_string() == DEFAULT_AUGMENT
    assert spec.steps == (("flip", "horizontal"), ("rotate", 0.1), ("zoom", 0.1))


@pytest.mark.parametrize("text", ["none", "NONE", " none "])
def test_none_disables_augmentation(text: str) -> None:
    spec = parse_augment_spec(text)
    assert spec == AugmentSpec()
    assert not spec.enabled
    assert spec.to_string() == "none"
    assert parse_augment_spec(spec.to_string()) == spec


def test_spec_is_canonical_hashable_and_round_trips() -> None:
    a = parse_augment_spec(" Zoom = 0.1 , flip=HORIZONTAL,contrast=.25, ")
    b = parse_augment_spec("contrast=0.25,flip=horizontal,zoom=0.10")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a.to_string() == "flip=horizontal,zoom=0.1,contrast=0.25"  # table order, not typed order
    assert parse_augment_spec(a.to_string()) == a
    assert parse_augment_spec(a) is a
    assert str(a) == a.to_string()


def test_every_table_key_parses() -> None:
    spec = parse_augment_spec(ALL_KEYS_SPEC)
    assert [key for key, _ in spec.steps] == list(AUGMENTATIONS)


def test_direct_construction_is_validated_and_normalized() -> None:
    assert AugmentSpec((("zoom", "0.1"), ("flip", "horizontal"))) == parse_augment_spec("flip=horizontal,zoom=0.1")
    with pytest.raises(DataprepError, match="unknown augmentation key 'blur'"):
        AugmentSpec((("blur", 1.0),))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("blur=1", "unknown augmentation key 'blur' in --augment 'blur=1'"),
        ("flip=sideways", "bad value 'sideways' for 'flip'"),
        ("rotate=abc", "bad value 'abc' for 'rotate'"),
        ("rotate=0", "bad value '0' for 'rotate'"),
        ("zoom=1.5", "bad value '1.5' for 'zoom'"),
        ("contrast=-0.1", "bad value '-0.1' for 'contrast'"),
        ("brightness=nan", "bad value 'nan' for 'brightness'"),
        ("flip", "'flip' in --augment 'flip' is not KEY=VALUE"),
        ("rotate=", "is not KEY=VALUE"),
        ("flip=horizontal,flip=vertical", "'flip' given twice"),
        ("none,flip=horizontal", "'none' cannot be combined"),
    ],
)
def test_bad_spec_is_one_line_listing_accepted_keys(text: str, expected: str) -> None:
    with pytest.raises(DataprepError) as info:
        parse_augment_spec(text)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    assert info.value.exit_code == 2
    if "cannot be combined" not in message:
        assert "accepted keys: flip, rotate, zoom, translate, contrast, brightness (or 'none')" in message


# --- the Keras pipeline ---------------------------------------------------------------------


@pytest.mark.parametrize("key", list(AUGMENTATIONS))
def test_each_augmentation_keeps_shape_dtype_and_range(key: str, batch: np.ndarray) -> None:
    # The table is the test matrix: one line added there is tested here.
    text = next(item for item in ALL_KEYS_SPEC.split(",") if item.startswith(f"{key}="))
    pipeline = build_augmentation(text, seed=1)
    out = np.asarray(pipeline(batch))
    assert out.shape == batch.shape
    assert out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 255.0


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_pipeline_on_a_batch_gives_same_shape_float32(dtype: Any, batch: np.ndarray) -> None:
    out = np.asarray(build_augmentation(ALL_KEYS_SPEC, seed=3)(batch.astype(dtype), training=True))
    assert out.shape == batch.shape
    assert out.dtype == np.float32
    assert not np.array_equal(out, batch.astype(np.float32))  # it did augment


@pytest.mark.parametrize("spec", [DEFAULT_AUGMENT, ALL_KEYS_SPEC, "none"])
def test_training_false_is_the_identity(spec: str, batch: np.ndarray) -> None:
    out = build_augmentation(spec, seed=0)(batch, training=False)
    assert out.dtype.name == "float32"
    np.testing.assert_array_equal(np.asarray(out), batch.astype(np.float32))


def test_none_is_an_identity_cast(batch: np.ndarray) -> None:
    out = build_augmentation("none")(batch)
    np.testing.assert_array_equal(np.asarray(out), batch.astype(np.float32))


def test_same_seed_same_transforms_other_seed_others(batch: np.ndarray) -> None:
    a = np.asarray(build_augmentation(ALL_KEYS_SPEC, seed=7)(batch))
    b = np.asarray(build_augmentation(ALL_KEYS_SPEC, seed=7)(batch))
    c = np.asarray(build_augmentation(ALL_KEYS_SPEC, seed=8)(batch))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_pipeline_runs_inside_tf_data_on_batches(batch: np.ndarray) -> None:
    import tensorflow as tf

    pipeline = build_augmentation(DEFAULT_AUGMENT, seed=0)
    ds = tf.data.Dataset.from_tensor_slices(batch).batch(2).map(pipeline, num_parallel_calls=tf.data.AUTOTUNE)
    outs = [t.numpy() for t in ds]
    assert [o.shape for o in outs] == [(2, 24, 32, 3), (2, 24, 32, 3)]
    assert all(o.dtype == np.float32 for o in outs)
    assert not np.array_equal(np.concatenate(outs), batch.astype(np.float32))


def test_output_stays_float32_under_mixed_precision(batch: np.ndarray) -> None:
    import keras

    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        out = build_augmentation(ALL_KEYS_SPEC, seed=0)(batch)
    finally:
        keras.mixed_precision.set_global_policy(before)
    assert out.dtype.name == "float32"


def test_pipeline_config_round_trips(batch: np.ndarray) -> None:
    import keras

    pipeline = build_augmentation(ALL_KEYS_SPEC, seed=0)
    clone = keras.layers.Pipeline.from_config(pipeline.get_config())
    assert [type(layer) for layer in clone.layers] == [type(layer) for layer in pipeline.layers]
    np.testing.assert_array_equal(np.asarray(clone(batch, training=False)), batch.astype(np.float32))


# --- preview --------------------------------------------------------------------------------


def test_candidates_spread_across_classes(dataset: Path) -> None:
    images = scan_dataset(dataset).images
    picked = list(preview_candidates(images, random.Random(0)))
    assert sorted(r.rel for r in picked) == sorted(r.rel for r in images)  # each file once
    assert {r.label for r in picked[:3]} == {"cat", "dog", "bird"}
    again = list(preview_candidates(list(reversed(images)), random.Random(0)))
    assert [r.rel for r in again] == [r.rel for r in picked]  # input order does not matter


def test_preview_is_deterministic_per_seed(dataset: Path, tmp_path: Path) -> None:
    kwargs: dict[str, Any] = {"images": 3, "per_image": 2, "size": 32}
    first = render_augment_preview(dataset, tmp_path / "a.png", seed=5, **kwargs)
    second = render_augment_preview(dataset, tmp_path / "b.png", seed=5, **kwargs)
    other = render_augment_preview(dataset, tmp_path / "c.png", seed=6, **kwargs)
    assert first.read_bytes().startswith(PNG_SIGNATURE)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()
    with Image.open(first) as img:
        assert img.info.get("Software") is None


def test_preview_refuses_to_overwrite_without_force(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "preview.png"
    out.write_bytes(b"keep me")
    with pytest.raises(DataprepError, match="already exists.*--force"):
        render_augment_preview(dataset, out, images=1, per_image=1, size=32)
    assert out.read_bytes() == b"keep me"
    render_augment_preview(dataset, out, images=1, per_image=1, size=32, force=True)
    assert out.read_bytes().startswith(PNG_SIGNATURE)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_preview_skips_undecodable_files(tmp_path: Path) -> None:
    root = tmp_path / "raw"
    (root / "cat").mkdir(parents=True)
    (root / "cat" / "broken.jpg").write_bytes(b"not a jpeg")
    _photo(1).save(root / "cat" / "good.jpg")
    skipped: list[tuple[str, str]] = []
    out = render_augment_preview(
        root, tmp_path / "p.png", images=2, per_image=1, size=32, on_skip=lambda rel, why: skipped.append((rel, why))
    )
    assert out.exists()
    assert [rel for rel, _ in skipped] == ["cat/broken.jpg"]


def test_preview_errors_on_a_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "raw" / "cat").mkdir(parents=True)
    (tmp_path / "raw" / "cat" / "notes.txt").write_text("hi")
    with pytest.raises(DataprepError, match="no images found|could be decoded"):  # notes.txt: junk by content
        render_augment_preview(tmp_path / "raw", tmp_path / "p.png")


def test_preview_errors_when_nothing_decodes(tmp_path: Path) -> None:
    (tmp_path / "raw" / "cat").mkdir(parents=True)
    (tmp_path / "raw" / "cat" / "a.jpg").write_bytes(b"")
    with pytest.raises(DataprepError, match="none of the 1 image files"):
        render_augment_preview(tmp_path / "raw", tmp_path / "p.png")
    assert not (tmp_path / "p.png").exists()


def test_preview_rejects_a_non_png_out(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(DataprepError, match=r"does not end in \.png"):
        render_augment_preview(dataset, tmp_path / "p.jpg")


# --- command line ---------------------------------------------------------------------------

runner = CliRunner()


def test_cli_augment_preview_end_to_end(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "preview.png"
    args = ["augment-preview", str(dataset), "--out", str(out), "--images", "2", "--per-image", "2", "--size", "32"]
    result = runner.invoke(app, [*args, "--seed", "3", "--augment", "flip=horizontal,contrast=0.2"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    first = out.read_bytes()
    assert first.startswith(PNG_SIGNATURE)
    with Image.open(out) as img:
        assert img.width > img.height  # 2 rows of 3 cells

    again = runner.invoke(app, [*args, "--seed", "3", "--augment", "flip=horizontal,contrast=0.2", "--force"])
    assert again.exit_code == 0, again.output
    assert out.read_bytes() == first


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--augment", "blur=1"], "unknown augmentation key 'blur'"),
        (["--augment", "rotate=7"], "bad value '7' for 'rotate'"),
    ],
)
def test_cli_bad_augment_exits_2_with_one_line(dataset: Path, tmp_path: Path, extra: list[str], expected: str) -> None:
    result = runner.invoke(app, ["augment-preview", str(dataset), "--out", str(tmp_path / "p.png"), *extra])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "accepted keys:" in lines[0]
    assert not (tmp_path / "p.png").exists()


def test_cli_existing_out_exits_2(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.png"
    out.write_bytes(b"mine")
    result = runner.invoke(app, ["augment-preview", str(dataset), "--out", str(out)])
    assert result.exit_code == 2
    assert "--force" in result.stderr
    assert out.read_bytes() == b"mine"


def test_cli_module_does_not_import_tensorflow() -> None:
    code = (
        "import sys, dataprep.cli, dataprep.insight.augment, dataprep.insight.preview; "
        "heavy = [m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
