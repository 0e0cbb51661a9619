"""trainer.data: file lists, decode equality (eager vs mapped), uint8 cache, skip-and-count, cache key."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

tf = pytest.importorskip("tensorflow")

from dataprep.base.errors import DataprepError
from trainer import data

COLORS = {"cat": (200, 60, 40), "dog": (40, 80, 210)}


def write_image(
    path: Path, color: tuple[int, int, int], size: tuple[int, int] = (40, 32), seed: int = 0, fmt: str = "JPEG"
) -> None:
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(color)[None, None, :] + rng.normal(0, 25, (size[1], size[0], 3)), 0, 255)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype("uint8")).save(path, format=fmt)


def make_split_folder(root: Path, per_class: dict[str, int], classes: list[str]) -> Path:
    """root/{split}/{class}/*.jpg plus split.json listing `classes` in the given order."""
    files = []
    for split, n in per_class.items():
        for ci, name in enumerate(classes):
            for i in range(n):
                rel = f"{split}/{name}/{name}{i}.jpg"
                write_image(root / rel, COLORS.get(name, (128, 128, 128)), seed=ci * 1000 + i)
                files.append({"path": rel, "split": split, "class": name})
    (root / "split.json").write_text(json.dumps({"version": 1, "seed": 0, "class_names": classes, "files": files}))
    return root


@pytest.fixture(scope="module")
def split_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # "dog" first: the class index must come from split.json, not from sorting.
    return make_split_folder(tmp_path_factory.mktemp("split"), {"train": 6, "val": 3}, ["dog", "cat"])


@pytest.fixture(scope="module")
def raw_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("raw")
    for name in ("cat", "dog"):
        for i in range(5):
            write_image(root / name / f"{name}{i}.jpg", COLORS[name], seed=i)
    write_image(root / "cat" / "odd.png", COLORS["cat"], fmt="PNG")
    (root / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    return root


def test_split_json_sets_class_index(split_root: Path) -> None:
    files = data.list_files(split_root, "train")
    assert files.class_names == ("dog", "cat")
    assert len(files) == 12 and files.class_counts() == [6, 6]
    assert all(("/dog/" in p) == (y == 0) for p, y in zip(files.paths, files.labels))
    assert data.available_splits(split_root) == ["train", "val"]
    assert len(data.list_files(split_root, "val")) == 6


def test_raw_layout_uses_sorted_folders_and_natural_order(raw_root: Path) -> None:
    files = data.list_files(raw_root)
    assert files.class_names == ("cat", "dog")
    names = [Path(p).name for p in files.paths]
    assert names[:5] == ["cat0.jpg", "cat1.jpg", "cat2.jpg", "cat3.jpg", "cat4.jpg"]
    with pytest.raises(DataprepError, match="no 'test/' split"):
        data.list_files(raw_root, "test")


def test_flat_folder_is_a_clear_error(tmp_path: Path) -> None:
    write_image(tmp_path / "a.jpg", (1, 2, 3))
    with pytest.raises(DataprepError, match="class folders"):
        data.list_files(tmp_path)


def test_eager_equals_mapped(split_root: Path) -> None:
    files = data.list_files(split_root, "val")
    pipeline = data.make_pipeline(files, image_size=24, batch_size=4, training=False)
    batched = np.concatenate([x.numpy() for x, _ in pipeline.dataset])
    eager = np.stack([data.load_image(p, 24).numpy() for p in files.paths])
    assert batched.dtype == np.uint8 and eager.dtype == np.uint8
    np.testing.assert_array_equal(batched, eager)


def test_uint8_batches_train_like_float32(split_root: Path) -> None:
    """The model casts uint8 batches to its input dtype: same outputs as float32 input."""
    keras = pytest.importorskip("keras")
    from trainer.models import build_model

    files = data.list_files(split_root, "val")
    x, _ = next(iter(data.make_pipeline(files, image_size=32, batch_size=6, training=False).dataset))
    model = build_model("compact_cnn", image_size=32, num_classes=2)
    assert x.dtype == tf.uint8
    np.testing.assert_allclose(model(x).numpy(), model(tf.cast(x, tf.float32)).numpy(), rtol=1e-6, atol=1e-7)
    assert isinstance(model, keras.Model)


def test_cache_holds_uint8(split_root: Path) -> None:
    files = data.list_files(split_root, "train")
    pipeline = data.make_pipeline(files, image_size=16, batch_size=5, training=True, seed=1)
    image_spec, label_spec = pipeline.images.element_spec
    assert image_spec.dtype == tf.uint8 and tuple(image_spec.shape) == (16, 16, 3)
    assert label_spec.dtype == tf.int32
    x, _y = next(iter(pipeline.dataset))
    assert x.shape == (5, 16, 16, 3) and float(tf.reduce_max(x)) <= 255.0


def test_training_order_is_seeded(split_root: Path) -> None:
    files = data.list_files(split_root, "train")

    def labels(seed: int) -> list[int]:
        pipe = data.make_pipeline(files, image_size=8, batch_size=12, training=True, seed=seed)
        return next(iter(pipe.dataset))[1].numpy().tolist()

    assert labels(3) == labels(3)


def test_bad_file_is_skipped_and_counted(raw_root: Path) -> None:
    files = data.list_files(raw_root)
    assert len(files) == 12
    pipeline = data.make_pipeline(files, image_size=16, batch_size=4, training=True)
    seen = sum(int(y.shape[0]) for _, y in pipeline.dataset)
    assert seen == 11
    assert pipeline.count_decoded() == 11
    assert sum(int(y.shape[0]) for _, y in pipeline.dataset) == 11  # second (cached) pass too


def test_count_is_zero_when_no_file_decodes(tmp_path: Path) -> None:
    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg either")
    pipeline = data.make_pipeline(data.list_files(tmp_path), image_size=16, batch_size=4, training=False)
    assert sum(int(y.shape[0]) for _, y in pipeline.dataset) == 0
    assert pipeline.count_decoded() == 0


def test_cache_key_tracks_size_and_files(split_root: Path, tmp_path: Path) -> None:
    files = data.list_files(split_root, "train")
    key = data.cache_key(files, 32)
    assert key == data.cache_key(files, 32)
    assert key != data.cache_key(files, 48)
    fewer = files.subset(range(len(files) - 1), "train")
    assert key != data.cache_key(fewer, 32)
    # A changed file (new mtime) is a new key: a stale cache is never read.
    copy = tmp_path / "copy"
    make_split_folder(copy, {"train": 2}, ["dog", "cat"])
    copied = data.list_files(copy, "train")
    before = data.cache_key(copied, 32)
    st = os.stat(copied.paths[0])
    os.utime(copied.paths[0], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert data.cache_key(copied, 32) != before


def test_file_cache_is_written_and_reused(split_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = data.list_files(split_root, "val")
    cache_dir = tmp_path / "cache"
    first = data.make_pipeline(files, image_size=16, batch_size=4, training=False, cache_dir=cache_dir)
    a = np.concatenate([x.numpy() for x, _ in first.dataset])
    assert first.cache_file is not None and Path(f"{first.cache_file}.index").exists()

    def no_header_reads(*_: object) -> list[int]:
        raise AssertionError("a complete file cache needs no JPEG header reads")

    monkeypatch.setattr(data, "decode_groups", no_header_reads)
    second = data.make_pipeline(files, image_size=16, batch_size=4, training=False, cache_dir=cache_dir)
    assert second.cache_file == first.cache_file
    np.testing.assert_array_equal(a, np.concatenate([x.numpy() for x, _ in second.dataset]))
    monkeypatch.undo()
    other = data.make_pipeline(files, image_size=20, batch_size=4, training=False, cache_dir=cache_dir)
    assert other.cache_file != first.cache_file


def test_large_jpeg_decodes_at_reduced_scale(tmp_path: Path) -> None:
    assert int(data.jpeg_ratio_index(tf.constant(1000), tf.constant(900), 100)) == 3  # ratio 8
    assert int(data.jpeg_ratio_index(tf.constant(400), tf.constant(300), 128)) == 1  # ratio 2
    assert int(data.jpeg_ratio_index(tf.constant(200), tf.constant(300), 128)) == 0  # full size
    path = tmp_path / "big.jpg"
    gradient = np.linspace(0, 255, 800, dtype=np.float32)
    pixels = np.stack([np.tile(gradient, (640, 1))] * 3, axis=-1).astype("uint8")
    Image.fromarray(pixels).save(path, quality=95)
    reduced = data.load_image(str(path), 64).numpy().astype(np.float32)
    full = tf.image.resize(tf.io.decode_jpeg(tf.io.read_file(str(path)), channels=3), [64, 64]).numpy()
    assert reduced.shape == (64, 64, 3)
    assert np.abs(reduced - full).mean() < 3.0


def test_stratified_split_is_deterministic(raw_root: Path) -> None:
    files = data.list_files(raw_root)
    train, val = data.stratified_split(files, 0.4, seed=7)
    again_train, again_val = data.stratified_split(files, 0.4, seed=7)
    assert train.paths == again_train.paths and val.paths == again_val.paths
    assert len(train) + len(val) == len(files)
    assert set(train.paths).isdisjoint(val.paths)
    assert val.class_counts() == [2, 2]


def test_augmentation_runs_after_the_cache(split_root: Path) -> None:
    pytest.importorskip("dataprep.insight.augment")
    files = data.list_files(split_root, "train")
    pipe = data.make_pipeline(files, image_size=16, batch_size=4, training=True, augment="flip=horizontal")
    x, _ = next(iter(pipe.dataset))
    assert x.dtype == tf.float32 and x.shape == (4, 16, 16, 3)
    # Without the pipeline's own cast before it, the augmentation still sees 0..255 pixels.
    plain = data.make_pipeline(files, image_size=16, batch_size=len(files), training=False)
    pixels = np.concatenate([b.numpy() for b, _ in plain.dataset])
    flipped = data.make_pipeline(files, image_size=16, batch_size=len(files), training=True, augment="flip=horizontal")
    out = np.concatenate([b.numpy() for b, _ in flipped.dataset])
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 255
    assert sorted(out.sum(axis=(1, 2, 3)).round()) == sorted(pixels.sum(axis=(1, 2, 3)).round())
    assert pipe.images.element_spec[0].dtype == tf.uint8
    assert data.normalize_augment("none") == "none"
    assert data.normalize_augment("default") == data.normalize_augment(None)


def header_test_jpegs() -> dict[str, bytes]:
    """JPEGs whose start-of-frame sits at different places: plain, progressive, grayscale, CMYK,
    with long EXIF/ICC metadata before the frame (past the parser's first 4 KB read)."""
    import io

    from photos import photo

    out: dict[str, bytes] = {}
    big = photo(3, (900, 700))
    for name, kwargs, image in (
        ("plain", {}, big),
        ("progressive", {"progressive": True}, big),
        ("gray", {}, big.convert("L")),
        ("cmyk", {}, big.convert("CMYK")),
        ("icc", {"icc_profile": bytes(range(256)) * 300}, big),
        ("exif", {"exif": b"Exif\x00\x00" + bytes(30_000)}, photo(4, (500, 380))),
    ):
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85, **kwargs)
        out[name] = buffer.getvalue()
    return out


def test_header_sizes_are_tensorflows(tmp_path: Path) -> None:
    from conftest import ZOO

    from dataprep.base.tf_decode import jpeg_header_size

    paths = [p for p in ZOO.rglob("*") if p.is_file()]
    for name, contents in header_test_jpegs().items():
        paths.append(tmp_path / f"{name}.jpg")
        paths[-1].write_bytes(contents)
    read = 0
    for path in paths:
        size = jpeg_header_size(str(path))
        contents = path.read_bytes()
        if size is None:  # only files TensorFlow does not see as readable JPEGs
            if tf.io.is_jpeg(contents):
                with pytest.raises(tf.errors.OpError):
                    tf.image.extract_jpeg_shape(contents)
            continue
        read += 1
        assert size == tuple(int(v) for v in tf.image.extract_jpeg_shape(contents)[:2]), path.name
    assert read >= 18  # 12 JPEGs of the zoo and the 6 made here
    assert jpeg_header_size(str(tmp_path / "missing.jpg")) is None


def test_grouped_decode_equals_load_image_in_file_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files decoded in groups of one DCT ratio come back in file order with `load_image`'s pixels,
    also when a JPEG with a good header fails mid-file and files of other formats sit between."""
    rng = np.random.default_rng(5)
    for i in range(14):
        path = tmp_path / ("a" if i % 3 else "b") / f"im{i:02d}.jpg"
        write_image(path, tuple(int(c) for c in rng.integers(0, 255, 3)), size=((520, 400), (90, 70))[i % 2], seed=i)
        if i in (4, 7):  # header intact, entropy-coded data cut short
            path.write_bytes(path.read_bytes()[:300])
    write_image(tmp_path / "a" / "im20.png", (10, 200, 30), fmt="PNG")
    for name, contents in header_test_jpegs().items():
        (tmp_path / "b" / f"z_{name}.jpg").write_bytes(contents)
    files = data.list_files(tmp_path)
    groups = data.decode_groups(files, 64)
    assert {0, 1, 4, 8} <= set(groups)  # the PNG branches; large and small JPEGs group by ratio
    monkeypatch.setattr(data, "HEADER_THREADS_FROM", 2)  # large lists: read by threads, same order
    assert data.decode_groups(files, 64) == groups
    pipeline = data.make_pipeline(files, image_size=64, batch_size=5, training=False)
    got = [(x, y) for xs, ys in pipeline.dataset for x, y in zip(xs.numpy(), ys.numpy())]
    expected = []
    for path, label in zip(files.paths, files.labels):
        try:
            expected.append((data.load_image(path, 64).numpy(), label))
        except tf.errors.OpError:
            continue
    assert len(expected) == len(files) - 2 and len(got) == len(expected)
    for (x, y), (want, label) in zip(got, expected):
        assert y == label
        np.testing.assert_array_equal(x, want)
    assert pipeline.count_decoded() == len(expected)


def test_host_ratio_is_the_graphs() -> None:
    from dataprep.base.tf_decode import JPEG_RATIOS, jpeg_ratio, jpeg_ratio_index

    for image_size in (32, 128, 180, 224):
        for short in (
            1,
            image_size - 1,
            image_size,
            2 * image_size - 1,
            2 * image_size,
            4 * image_size,
            9 * image_size,
        ):
            for long in (short, short + 1, 3 * short):
                index = int(jpeg_ratio_index(tf.constant(long), tf.constant(short), image_size))
                assert jpeg_ratio(long, short, image_size) == JPEG_RATIOS[index], (image_size, short, long)
