"""Label issues from embeddings: out-of-fold probabilities of a logistic regression on the cached
vectors of a pretrained backbone, ranked by cleanlab (the default of `trainer label-issues`).

A network that already tells cats from dogs from flowers turns the question "is this label
wrong?" into a linear one: each image's 1280-d MobileNetV2 vector (`dataprep.embeddings`, cached
per file, so a second run computes nothing) is scored by a logistic regression (scikit-learn,
which cleanlab requires anyway) trained on the other folds. The folds are the duplicate-aware ones
of the CNN method (`dataprep.split.folds.plan_folds` over `dataprep.duplicates.search` groups), so a copy of a
flipped image with the same wrong label never teaches the model that scores it.

Beside it, each image's neighbour agreement: the share of its nearest neighbours in the *other*
folds (cosine similarity of the vectors, `dataprep.embeddings.neighbours`) that carry its label.
It is written into the ranked list for every suspect, and mixed into the probabilities with
`knn_weight` (default 0.5; 0 = logistic regression alone). Measured on pets-800 with 5 % planted
flips over three plantings (benchmarks/label_issues_bench.py, BENCHMARKS.md "Label issues"): the
mix ranked as well or better than either alone every time (top-N precision 0.93 mean against 0.92
for the regression alone and 0.91 for the vote alone), and flagged fewer correct images.

Run folder: config.json, folds.json, oof_probs.npy, oof_files.json, label_issues.json/.csv/.png,
the same files as the CNN method minus the fold training folders.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from dataprep.base.errors import DataprepError
from dataprep.split.folds import plan_folds
from trainer.label_issues import (
    Items,
    LabelIssue,
    LabelIssuesConfig,
    LabelIssuesResult,
    Progress,
    collect_items,
    prepare_run,
    rank_label_issues,
    require_cleanlab,
    write_outputs,
    write_run_plan,
)

# Inverse regularisation of the logistic regression. On unit vectors of 1280 dimensions the
# default C=1 underfits; measured on pets-800 with 5 % flips (BENCHMARKS.md), C in 0.3..3 ranks
# alike, so the library default is kept.
LOGISTIC_C = 1.0
NEIGHBOURS = 10  # neighbours per image for the agreement score


def find_label_issues_from_embeddings(
    config: LabelIssuesConfig, resume: bool = False, progress: Progress | None = None
) -> LabelIssuesResult:
    """Score every image of `config.data_dir` by a logistic regression on the other folds'
    embeddings, rank suspected label errors with cleanlab, and write the run folder."""
    require_cleanlab()
    run_dir, config = prepare_run(config, resume)
    _check_config(config)
    say = progress or (lambda _message: None)
    items = collect_items(config)
    plan_folds(list(zip(items.paths, items.labels, items.groups)), config.folds, config.seed)  # bad --folds: fail fast
    started = time.perf_counter()
    vectors, items = _embed_items(items, config, say)
    say(f"embedded {len(items.paths)} images in {time.perf_counter() - started:.1f} s")
    fold_of = plan_folds(list(zip(items.paths, items.labels, items.groups)), config.folds, config.seed)
    write_run_plan(run_dir, config, items, fold_of)
    if items.skipped:
        say(f"{len(items.skipped)} file(s) left out (validate rates them 'error', or they did not embed)")

    index = {name: i for i, name in enumerate(items.class_names)}
    labels = np.asarray([index[label] for label in items.labels], dtype=np.int64)
    folds = np.asarray([fold_of[p] for p in items.paths], dtype=np.int64)
    lr_probs, accuracy = out_of_fold_probabilities(vectors, labels, folds, len(items.class_names), config.seed)
    agreement, knn_probs = neighbour_agreement(vectors, labels, folds, len(items.class_names), NEIGHBOURS)
    probs = (1.0 - config.knn_weight) * lr_probs + config.knn_weight * knn_probs
    for fold, acc in enumerate(accuracy):
        say(f"fold {fold + 1}/{config.folds}: held-out accuracy {acc:.3f}")
    flagged, confidence = rank_label_issues(labels, probs)
    issues = [
        LabelIssue(rank=r + 1, path=items.paths[i], given_label=items.labels[i],
                   suggested_label=items.class_names[int(probs[i].argmax())], self_confidence=float(confidence[i]),
                   sha256=items.sha256[i], neighbour_agreement=float(agreement[i]))
        for r, i in enumerate(flagged.tolist())
    ]  # fmt: skip
    result = LabelIssuesResult(
        run_dir, items.class_names, items.paths, labels, probs, issues, accuracy, 0, items.skipped, method="embeddings"
    )
    write_outputs(result, items, config)
    return result


def _check_config(config: LabelIssuesConfig) -> None:
    if config.folds < 2:
        raise DataprepError(f"--folds {config.folds} must be at least 2")
    if config.top < 1:
        raise DataprepError(f"--top {config.top} must be at least 1")
    if not 0.0 <= config.knn_weight <= 1.0:
        raise DataprepError(f"--knn-weight {config.knn_weight} is out of range (expected 0 to 1)")


def _embed_items(items: Items, config: LabelIssuesConfig, say: Progress) -> tuple[np.ndarray, Items]:
    """The vectors of `items`, in their order; files the backbone could not read join the skipped."""
    paths, vectors, skipped = embed_images(items.root, config, say)
    row = {p: i for i, p in enumerate(paths)}
    keep = [i for i, p in enumerate(items.paths) if p in row]
    missing = [p for p in items.paths if p not in row]
    kept = Items(
        root=items.root, class_names=items.class_names, paths=[items.paths[i] for i in keep],
        labels=[items.labels[i] for i in keep], groups=[items.groups[i] for i in keep],
        sha256=[items.sha256[i] for i in keep], skipped=[*items.skipped, *missing, *skipped],
    )  # fmt: skip
    return vectors[[row[p] for p in kept.paths]], kept


def embed_images(root: Path, config: LabelIssuesConfig, say: Progress) -> tuple[list[str], np.ndarray, list[str]]:
    """(relative paths, L2-normalised vectors, paths the backbone skipped) of every image under `root`,
    from the per-file embedding cache where it holds them."""
    from dataprep.embeddings.embed import embed_folder

    def progress(done: int, total: int) -> None:
        if done == total or done % 256 == 0:
            say(f"embedding: {done}/{total} images")

    emb = embed_folder(root, image_size=config.embed_image_size, progress=progress)
    return list(emb.paths), np.asarray(emb.vectors, dtype=np.float32), [p for p, _ in emb.skipped]


def out_of_fold_probabilities(
    vectors: np.ndarray, labels: np.ndarray, folds: np.ndarray, n_classes: int, seed: int
) -> tuple[np.ndarray, list[float]]:
    """(probabilities (n × classes), held-out accuracy per fold): each fold scored by a logistic
    regression fitted on the other folds."""
    from sklearn.linear_model import LogisticRegression

    probs = np.zeros((len(labels), n_classes), dtype=np.float64)
    accuracy = []
    for fold in range(int(folds.max()) + 1 if len(folds) else 0):
        held, train = folds == fold, folds != fold
        present = np.unique(labels[train])
        if len(present) < 2:
            raise DataprepError(
                f"fold {fold} leaves {len(present)} class(es) to learn from (expected at least 2); "
                "add images to the small classes or pass fewer --folds"
            )
        model = LogisticRegression(C=LOGISTIC_C, max_iter=2000, random_state=seed)
        model.fit(vectors[train], labels[train])
        probs[np.ix_(held, present)] = model.predict_proba(vectors[held])  # a class missing from training: 0
        accuracy.append(float(np.mean(probs[held].argmax(axis=1) == labels[held])))
    return probs, accuracy


def neighbour_agreement(
    vectors: np.ndarray, labels: np.ndarray, folds: np.ndarray, n_classes: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(agreement, vote probabilities): for each image, the share of its k nearest neighbours in the
    other folds that carry its label, and each class's share of those neighbours (smoothed by one
    vote spread over the classes, so no class gets probability 0)."""
    from dataprep.embeddings.neighbours import neighbours_between

    votes = np.zeros((len(labels), n_classes), dtype=np.float64)
    for fold in range(int(folds.max()) + 1 if len(folds) else 0):
        held, train = np.flatnonzero(folds == fold), np.flatnonzero(folds != fold)
        found, _ = neighbours_between(vectors[held], vectors[train], k)
        neighbour_labels = labels[train][found]
        for c in range(n_classes):
            votes[held, c] = (neighbour_labels == c).sum(axis=1)
    shares = (votes + 1.0 / n_classes) / (votes.sum(axis=1, keepdims=True) + 1.0)
    agreement = votes[np.arange(len(labels)), labels] / np.maximum(votes.sum(axis=1), 1.0)
    return agreement, shares
