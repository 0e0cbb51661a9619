"""`trainer label-issues` from embeddings (the default): out-of-fold logistic regression on
duplicate-aware folds, the neighbour vote beside it, the same run folder and outputs as the CNN method."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("cleanlab")
pytest.importorskip("sklearn")

from trainer.label_issues import rank_label_issues
from trainer.label_issues_embed import neighbour_agreement, out_of_fold_probabilities

runner = CliRunner()


def _clusters(n_per_class: int, flips: list[int], seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors round one centre per class (3 classes, 32-d); labels of `flips` moved to the next class."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((3, 32))
    truth = np.repeat(np.arange(3), n_per_class)
    v = centres[truth] + 0.6 * rng.standard_normal((len(truth), 32))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    labels = truth.copy()
    labels[flips] = (truth[flips] + 1) % 3
    folds = np.arange(len(truth)) % 4
    return v.astype(np.float32), labels, folds


def test_planted_flips_rank_first_by_out_of_fold_probabilities() -> None:
    flips = [3, 47, 81, 100]
    v, labels, folds = _clusters(40, flips)
    probs, accuracy = out_of_fold_probabilities(v, labels, folds, 3, seed=0)
    assert probs.shape == (120, 3) and np.allclose(probs.sum(axis=1), 1.0) and len(accuracy) == 4
    flagged, confidence = rank_label_issues(labels, probs)
    assert set(flagged[: len(flips)].tolist()) == set(flips)
    assert np.all(confidence[flips] < 0.5)


def test_neighbour_agreement_counts_the_other_folds_only() -> None:
    # two tight pairs: (0, 1) near each other, (2, 3) near each other; 1 is labelled like 2 and 3
    v = np.array([[1, 0], [0.99, 0.14], [0, 1], [0.14, 0.99]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    labels = np.array([0, 1, 1, 1])
    folds = np.array([0, 1, 0, 1])
    agreement, shares = neighbour_agreement(v, labels, folds, 2, k=1)
    # 0's nearest in the other fold is 1 (label 1): disagrees; 1's is 0 (label 0): disagrees
    # 2's nearest in fold 1 is 3 (label 1): agrees; 3's nearest in fold 0 is 2: agrees
    assert agreement.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert np.allclose(shares.sum(axis=1), 1.0) and shares[0, 1] > shares[0, 0] > 0


def test_a_fold_with_one_class_to_learn_from_is_one_clear_error() -> None:
    from dataprep.base.errors import DataprepError

    v, labels, _ = _clusters(4, [])
    folds = np.where(labels == 0, 1, 0)  # fold 0's training data (fold 1) is class 0 alone
    with pytest.raises(DataprepError, match="fold 0 leaves 1 class"):
        out_of_fold_probabilities(v, labels, folds, 3, seed=0)


# --- end to end, with the real backbone -----------------------------------------------------------

PLANTED = {"dog/flip_c0.jpg", "dog/flip_c0_copy.jpg", "dog/flip_c1.jpg", "cat/flip_d0.jpg"}


def _flipped(root: Path, per_class: int = 24) -> Path:
    """Photo-like pictures, warm ones as 'cat' and cool ones as 'dog'; three filed in the other
    class, one of them with an exact copy (both truly mislabelled), one correct image copied too."""
    sys.path.insert(0, str(Path(__file__).parent))
    from photos import jpeg, photo, save

    for name, channel in (("cat", 0), ("dog", 2)):
        for i in range(per_class):
            arr = np.asarray(photo(i + 100 * channel, (96, 72))).astype(np.int16)
            arr[..., channel] = np.clip(arr[..., channel] + 110, 0, 255)
            arr[..., 2 - channel] = arr[..., 2 - channel] // 3
            from PIL import Image

            save(root / name / f"{name}{i}.jpg", jpeg(Image.fromarray(arr.astype(np.uint8))))
    (root / "cat" / "cat0.jpg").rename(root / "dog" / "flip_c0.jpg")
    (root / "cat" / "cat1.jpg").rename(root / "dog" / "flip_c1.jpg")
    (root / "dog" / "dog0.jpg").rename(root / "cat" / "flip_d0.jpg")
    shutil.copy(root / "dog" / "flip_c0.jpg", root / "dog" / "flip_c0_copy.jpg")
    shutil.copy(root / "cat" / "cat5.jpg", root / "cat" / "cat5_copy.jpg")
    return root


@pytest.fixture(scope="module")
def embedded_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    pytest.importorskip("tensorflow")
    from dataprep.embeddings.backbone import weights_available
    from trainer.cli import app

    if not weights_available():
        pytest.skip("the pretrained backbone's weights are not installed")
    data = _flipped(tmp_path_factory.mktemp("flipped") / "data")
    run = tmp_path_factory.mktemp("runs") / "li"
    result = runner.invoke(app, ["label-issues", str(data), "--run-dir", str(run), "--jobs", "0", "--json"])
    assert result.exit_code == 0, result.output
    return data, run, result.stdout


def test_embeddings_method_ranks_planted_flips_first(embedded_run: tuple[Path, Path, str]) -> None:
    _, run, stdout = embedded_run
    listed = json.loads(stdout)
    assert listed["method"] == "embeddings" and listed["version"] == 1 and listed["files"] == 50
    ranked = [i["path"] for i in listed["issues"]]
    assert set(ranked[: len(PLANTED)]) == PLANTED, ranked
    top = listed["issues"][0]
    assert top["suggested_label"] != top["given_label"] and 0 <= top["neighbour_agreement"] < 0.5
    assert json.loads((run / "label_issues.json").read_text())["issues"] == listed["issues"]
    with (run / "label_issues.csv").open(newline="") as handle:
        assert [r["path"] for r in csv.DictReader(handle)] == ranked


def test_embeddings_run_folder_has_the_cnn_methods_outputs(embedded_run: tuple[Path, Path, str]) -> None:
    _, run, _ = embedded_run
    files = json.loads((run / "oof_files.json").read_text())
    probs = np.load(run / "oof_probs.npy")
    assert probs.shape == (50, 2) and files["class_names"] == ["cat", "dog"]
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert json.loads((run / "config.json").read_text())["label_issues"]["method"] == "embeddings"
    assert (run / "label_issues.png").stat().st_size > 5000
    assert not list(run.glob("fold-*"))  # no models trained


def test_embeddings_folds_keep_duplicates_together(embedded_run: tuple[Path, Path, str]) -> None:
    _, run, _ = embedded_run
    folds = json.loads((run / "folds.json").read_text())
    groups = {frozenset(g) for g in folds["duplicate_groups"]}
    assert {
        frozenset({"dog/flip_c0.jpg", "dog/flip_c0_copy.jpg"}),
        frozenset({"cat/cat5.jpg", "cat/cat5_copy.jpg"}),
    } <= groups
    for group in groups:
        assert len({folds["folds"][p] for p in group}) == 1


def test_relabel_from_the_embeddings_list_is_undone_by_restore(
    embedded_run: tuple[Path, Path, str], tmp_path: Path
) -> None:
    from conftest import tree_digest

    from dataprep.cli import app as dataprep_app

    data, run, _ = embedded_run
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    original = tree_digest(copy)
    moved = runner.invoke(dataprep_app, ["relabel", str(copy), "--label-issues", str(run / "label_issues.json"),
                                         "--top", "3", "--json"])  # fmt: skip
    assert moved.exit_code == 0, moved.output
    assert json.loads(moved.stdout)["moved"] == 3 and tree_digest(copy) != original
    assert runner.invoke(dataprep_app, ["restore", str(tmp_path / "data.relabel")]).exit_code == 0
    assert tree_digest(copy) == original
