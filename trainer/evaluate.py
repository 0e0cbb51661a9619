"""Evaluate a run's model on a labelled folder: accuracy, per-class precision/recall/F1, confusion."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from dataprep.base.defaults import DEFAULT_BATCH_SIZE
from dataprep.base.errors import DataprepError
from trainer import data
from trainer.plots import write_confusion_png
from trainer.run_folder import load_run
from trainer.screening import ScreenOptions, refused_files


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        matrix[int(t), int(p)] += 1
    return matrix


def per_class_scores(matrix: np.ndarray, class_names: Sequence[str]) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support of each class (0.0 where undefined)."""
    rows = []
    for i, name in enumerate(class_names):
        tp = float(matrix[i, i])
        predicted = float(matrix[:, i].sum())
        actual = float(matrix[i, :].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"class": name, "precision": precision, "recall": recall, "f1": f1, "support": int(actual)})
    return rows


@dataclass
class EvalResult:
    """A model's answers on a labelled file list: the scores, and every evaluated file's true
    label and predicted probabilities (undecodable files are left out), in file order."""

    accuracy: float
    loss: float
    confusion: np.ndarray
    per_class: list[dict[str, Any]]
    paths: list[str]
    y_true: np.ndarray
    probs: np.ndarray

    @property
    def images(self) -> int:
        """How many files were evaluated (the others could not be decoded)."""
        return len(self.paths)

    def confidently_wrong(self, class_names: Sequence[str], limit: int = 10) -> list[dict[str, Any]]:
        """The wrong answers the model was surest of, most confident first: the files to look at
        first (often mislabelled, or a class the model confuses)."""
        if not len(self.paths):
            return []
        predicted = self.probs.argmax(axis=1)
        confidence = self.probs.max(axis=1)
        wrong = [i for i in np.argsort(-confidence, kind="stable") if predicted[i] != self.y_true[i]]
        return [
            {
                "path": self.paths[i],
                "true": class_names[int(self.y_true[i])],
                "predicted": class_names[int(predicted[i])],
                "confidence": float(confidence[i]),
            }
            for i in wrong[:limit]
        ]


@dataclass
class Evaluation:
    """What `evaluate` found; `to_dict` is the --json schema."""

    run: str
    data: str
    split: str | None
    class_names: list[str]
    accuracy: float
    loss: float
    images: int
    skipped: int
    per_class: list[dict[str, Any]]
    confusion: np.ndarray
    confusion_png: str | None = None
    confidently_wrong: list[dict[str, Any]] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # file -> why validate's checks refused it

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "run": self.run,
            "data": self.data,
            "split": self.split,
            "classes": self.class_names,
            "images": self.images,
            "skipped": self.skipped,
            "accuracy": self.accuracy,
            "loss": self.loss,
            "per_class": self.per_class,
            "confusion_matrix": self.confusion.tolist(),
            "confusion_png": self.confusion_png,
            "most_confidently_wrong": self.confidently_wrong,
            "refused": self.refused,
        }


def default_split(root: str | os.PathLike[str]) -> str | None:
    """test when the folder has one, else val, else the whole (raw) folder."""
    splits = data.available_splits(root)
    for name in ("test", "val"):
        if name in splits:
            return name
    return "train" if splits else None


def predict_fixed_batch(model: keras.Model, images: np.ndarray, batch_size: int) -> np.ndarray:
    """Class probabilities of `images` (at most `batch_size` of them), predicted as one batch of
    exactly `batch_size` rows (zero images pad a short last batch; their rows are dropped). One
    input shape per model: Keras traces its predict function once, not again for the last batch,
    and a loop over fold models does not trip TensorFlow's retracing warning."""
    count = len(images)
    if count < batch_size:
        images = np.concatenate([images, np.zeros((batch_size - count, *images.shape[1:]), images.dtype)])
    return np.asarray(model.predict_on_batch(images), dtype=np.float64)[:count]


def labelled_predictions(
    model: keras.Model, files: data.FileList, image_size: int, batch_size: int = DEFAULT_BATCH_SIZE
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(paths, true labels, predicted probabilities) of every decodable file, in file order.

    Each file is decoded as the training pipeline decodes it (``data.load_image``); the path
    travels with the pixels, so skipped (undecodable) files cannot shift the answers.
    """
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(
        (tf.constant(list(files.paths), tf.string), tf.constant(list(files.labels), tf.int32))
    )
    ds = ds.map(
        lambda path, label: (data.load_image(path, image_size), label, path),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    ds = ds.ignore_errors(log_warning=True).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    paths: list[str] = []
    labels: list[np.ndarray] = []
    probs: list[np.ndarray] = []
    for x, y, p in ds:
        probs.append(predict_fixed_batch(model, tf.cast(x, tf.float32).numpy(), batch_size))
        labels.append(y.numpy())
        paths.extend(v.decode("utf-8") for v in p.numpy())
    if not probs:
        return [], np.zeros(0, np.int64), np.zeros((0, len(files.class_names)))
    return paths, np.concatenate(labels).astype(np.int64), np.concatenate(probs)


def evaluate_model(
    model: keras.Model,
    files: data.FileList,
    image_size: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
    confusion_png: str | os.PathLike[str] | None = None,
    title: str = "confusion matrix",
) -> EvalResult:
    """Accuracy, loss, confusion matrix and per-class scores of `model` on `files`, with every
    file's answer; with `confusion_png`, also the confusion matrix picture."""
    paths, y_true, probs = labelled_predictions(model, files, image_size, batch_size)
    k = len(files.class_names)
    y_pred = probs.argmax(axis=1) if len(probs) else np.zeros(0, np.int64)
    matrix = confusion_matrix(y_true.tolist(), y_pred.tolist(), k)
    accuracy = float((y_true == y_pred).mean()) if len(y_true) else float("nan")
    loss = (
        float(-np.mean(np.log(np.clip(probs[np.arange(len(y_true)), y_true], 1e-7, 1.0))))
        if len(y_true)
        else float("nan")
    )
    scores = per_class_scores(matrix, files.class_names)
    if confusion_png is not None:
        write_confusion_png(matrix, files.class_names, confusion_png, title=title, scores=scores)
    return EvalResult(accuracy, loss, matrix, scores, paths, y_true, probs)


def evaluate(
    run_dir: str | os.PathLike[str],
    data_dir: str | os.PathLike[str],
    split: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    confusion_png: str | os.PathLike[str] | None = None,
    wrong_limit: int = 10,
    screen: ScreenOptions | None = None,
) -> Evaluation:
    """Evaluate the best model of `run_dir` on `data_dir` (its test split by default).

    The folder's classes must be the run's classes (same names); labels are mapped by name, so a
    folder holding only some of the classes also works. The `wrong_limit` most confidently wrong
    files are listed.
    """
    run = load_run(run_dir)
    chosen = split or default_split(data_dir)
    files = data.list_files(data_dir, chosen)
    unknown = [name for name in files.class_names if name not in run.class_names]
    if unknown:
        raise DataprepError(
            f"classes {unknown} in '{data_dir}' are not among the run's classes {run.class_names}; "
            "evaluate on a folder with the classes the model was trained on"
        )
    # Re-index the folder's labels to the run's class order.
    mapping = [run.class_names.index(name) for name in files.class_names]
    files = data.FileList(
        files.paths, tuple(mapping[y] for y in files.labels), tuple(run.class_names), files.root, files.split
    )
    # What validate calls an error is left out and reported, never scored.
    refused = refused_files([Path(p) for p in files.paths], screen)
    if refused:
        files = files.subset([i for i, p in enumerate(files.paths) if Path(p).absolute() not in refused], files.split)
    listed = len(files) + len(refused)
    shown = files.split or chosen  # the split's folder as named on disk (validation/, not its role "val")
    png = Path(confusion_png) if confusion_png else run.path / f"confusion-{Path(files.root).name}-{shown or 'all'}.png"
    result = evaluate_model(
        run.model, files, run.image_size, batch_size, png, title=f"{Path(files.root).name} ({shown or 'all'})"
    )
    return Evaluation(
        run=str(run.path),
        data=files.root,
        split=shown,
        class_names=run.class_names,
        accuracy=result.accuracy,
        loss=result.loss,
        images=result.images,
        skipped=listed - result.images,
        per_class=result.per_class,
        confusion=result.confusion,
        confusion_png=str(png),
        confidently_wrong=result.confidently_wrong(run.class_names, wrong_limit),
        refused={
            str(Path(p).relative_to(files.root)) if Path(p).is_relative_to(files.root) else str(p): why
            for p, why in refused.items()
        },
    )
