"""`dataprep outliers`: a planted image of another kind ranks first; scores are robust z-scores
that mean the same on any dataset; `clean --outliers` quarantines them, undone by `restore`."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import tree_digest
from typer.testing import CliRunner

from dataprep.cli import app
from dataprep.embeddings.outliers import FLAG_SCORE, robust_z, score_outliers

sys.path.insert(0, str(Path(__file__).parent))
from photos import flower, jpeg, photo, save

runner = CliRunner()


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _two_classes(rng: np.random.Generator, per_class: int = 40, d: int = 24) -> tuple[np.ndarray, list[str]]:
    centres = rng.standard_normal((2, d)) * 2
    v = np.concatenate([centres[c] + rng.standard_normal((per_class, d)) for c in (0, 1)])
    return v, ["a"] * per_class + ["b"] * per_class


def test_an_image_of_another_kind_ranks_first_and_a_mislabelled_one_is_no_outlier() -> None:
    rng = np.random.default_rng(0)
    v, labels = _two_classes(rng)
    stray = rng.standard_normal((1, v.shape[1])) * 6  # near neither class
    misfiled = v[45:46] + 0.05 * rng.standard_normal((1, v.shape[1]))  # a 'b' filed as 'a'
    vectors = _unit(np.concatenate([v, stray, misfiled]))
    scores = score_outliers(vectors, [*labels, "a", "a"], k=5)
    assert int(np.argmax(scores.score)) == 80 and scores.score[80] >= FLAG_SCORE
    # far from its class, near the other: a label issue, not an outlier
    assert scores.class_score[81] >= FLAG_SCORE and scores.score[81] < FLAG_SCORE
    assert scores.nearest[81] != 81


def test_scores_mean_the_same_whatever_the_spread_of_the_dataset() -> None:
    """One dataset drawn tight and loose (×3 spread, ×9 cosine distances): the planted image's raw
    distance changes ninefold, its robust z-score stays put."""
    rng = np.random.default_rng(1)
    noise = np.zeros((300, 16))
    noise[:, 2:] = rng.standard_normal((300, 14))
    centre, away = np.eye(16)[1], np.eye(16)[0]
    planted_z, planted_distance = [], []
    for spread in (0.02, 0.06):
        v = _unit(np.concatenate([centre + spread * noise, [centre + spread * 8 * away]]))
        scores = score_outliers(v, ["x"] * 301, k=5)
        assert int(np.argmax(scores.score)) == 300
        planted_z.append(float(scores.score[300]))
        planted_distance.append(1.0 - float(scores.nearest_similarity[300]))
    assert planted_distance[1] > 7 * planted_distance[0]
    assert abs(planted_z[1] - planted_z[0]) < 0.15 * planted_z[0] and planted_z[0] > FLAG_SCORE
    z = robust_z(np.array([1.0, 2.0, 3.0, 4.0, 100.0]))
    assert z[2] == 0.0 and z[4] == pytest.approx(97 / 1.4826)


def test_too_few_images_is_one_clear_error() -> None:
    from dataprep.base.errors import DataprepError

    with pytest.raises(DataprepError, match="at least 3"):
        score_outliers(_unit(np.eye(2)), ["a", "a"])


# --- clean --outliers (no backbone needed: the list is what `outliers --json` writes) ---------------


def _dataset(root: Path) -> Path:
    for label, offset in (("cat", 0), ("dog", 50)):
        for i in range(4):
            save(root / label / f"{label}{i}.jpg", jpeg(photo(offset + i, (64, 48))))
    save(root / "cat" / "odd.jpg", jpeg(flower(3, (64, 48))))
    return root


def _outliers_file(root: Path, target: Path, paths: list[str]) -> Path:
    rows = [
        {"rank": r + 1, "path": p, "label": p.split("/")[0], "score": 9.0 - r, "dataset_score": 9.0 - r,
         "class_score": 10.0 - r, "nearest": "dog/dog0.jpg", "nearest_similarity": 0.5,
         "sha256": hashlib.sha256((root / p).read_bytes()).hexdigest()}
        for r, p in enumerate(paths)
    ]  # fmt: skip
    target.write_text(json.dumps({"version": 1, "root": str(root), "outliers": rows}))
    return target


def test_clean_outliers_quarantines_the_top_n_and_restore_brings_them_back(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "data")
    listed = _outliers_file(root, tmp_path / "outliers.json", ["cat/odd.jpg", "dog/dog2.jpg", "cat/cat1.jpg"])
    original = tree_digest(root)
    dry = runner.invoke(app, ["clean", str(root), "--outliers", str(listed), "--top", "2", "--dry-run", "--jobs", "0"])
    assert dry.exit_code == 0, dry.output
    assert "cat/odd.jpg" in dry.stdout and tree_digest(root) == original
    assert not (tmp_path / "data.quarantine").exists()
    done = runner.invoke(app, ["clean", str(root), "--outliers", str(listed), "--top", "2", "--jobs", "0", "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert sorted(f["path"] for f in report["files"]) == ["cat/odd.jpg", "dog/dog2.jpg"]
    assert report["files"][0]["findings"][-1]["check"] == "outlier"
    assert (tmp_path / "data.quarantine" / "cat" / "odd.jpg").read_bytes() == original["cat/odd.jpg"]
    assert "cat/odd.jpg" not in tree_digest(root)
    assert runner.invoke(app, ["restore", str(tmp_path / "data.quarantine")]).exit_code == 0
    assert tree_digest(root) == original


def test_clean_outliers_refuses_a_changed_file_and_bad_combinations(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "data")
    listed = _outliers_file(root, tmp_path / "outliers.json", ["cat/odd.jpg"])
    save(root / "cat" / "odd.jpg", jpeg(flower(4, (64, 48))))  # replaced since it was scored
    changed = runner.invoke(app, ["clean", str(root), "--outliers", str(listed), "--jobs", "0"])
    assert changed.exit_code == 2 and "changed since" in changed.stderr
    both = runner.invoke(app, ["clean", str(root), "--outliers", str(listed), "--label-issues", str(listed)])
    assert both.exit_code == 2 and "one list at a time" in both.stderr
    scored = runner.invoke(app, ["clean", str(root), "--outliers", str(listed), "--min-score", "0.5"])
    assert scored.exit_code == 2 and "--top N" in scored.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    unreadable = runner.invoke(app, ["clean", str(root), "--outliers", str(bad)])
    assert unreadable.exit_code == 2 and "dataprep outliers DIR --json" in unreadable.stderr


# --- end to end, with the real backbone -------------------------------------------------------------


def test_outliers_cli_ranks_a_planted_flower_first_and_draws_it(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    from dataprep.embeddings.backbone import weights_available

    if not weights_available():
        pytest.skip("the pretrained backbone's weights are not installed")
    root = tmp_path / "data"
    for label, offset in (("a", 0), ("b", 1000)):
        for i in range(20):
            save(root / label / f"{label}{i}.jpg", jpeg(photo(offset + i, (160, 120))))
    save(root / "b" / "b_flower.jpg", jpeg(flower(5, (160, 120))))
    plot = tmp_path / "outliers.png"
    result = runner.invoke(app, ["outliers", str(root), "--top", "5", "--json", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert listed["version"] == 1 and listed["images"] == 41 and len(listed["outliers"]) == 5
    first = listed["outliers"][0]
    assert first["path"] == "b/b_flower.jpg" and first["score"] >= FLAG_SCORE, listed["outliers"]
    assert first["score"] > listed["outliers"][1]["score"] + 2
    assert plot.stat().st_size > 5000
    table = runner.invoke(app, ["outliers", str(root), "--top", "3"])  # second run: every vector cached
    assert table.exit_code == 0 and "b/b_flower.jpg" in table.stdout
