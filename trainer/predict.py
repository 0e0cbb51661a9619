"""Predict classes for image files (or folders of them) with a run's best model."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from dataprep.base.defaults import DEFAULT_BATCH_SIZE
from dataprep.base.errors import DataprepError
from dataprep.base.tensorflow_runtime import tf_error_message
from trainer import data
from trainer.plots import GridImage, write_prediction_grid
from trainer.run_folder import LoadedRun, load_run
from trainer.screening import ScreenOptions, refused_files

PREDICTIONS_VERSION = 1  # of `predictions_document`, what `trainer predict --json` prints


@dataclass
class Prediction:
    """One file's answer, or the reason there is none (`error`)."""

    path: str
    label: str | None = None
    confidence: float | None = None
    probabilities: dict[str, float] | None = None
    error: str | None = None
    true_label: str | None = None  # the file's folder, when it names one of the run's classes

    @property
    def correct(self) -> bool | None:
        """Right or wrong when the true label is known and there is an answer; else None."""
        if self.true_label is None or self.label is None:
            return None
        return self.label == self.true_label

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "label": self.label,
            "confidence": self.confidence,
            "probabilities": self.probabilities,
        }
        if self.true_label is not None:
            out.update(true_label=self.true_label, correct=self.correct)
        if self.error is not None:
            out["error"] = self.error
        return out


def predictions_document(run_dir: str | os.PathLike[str], results: Sequence[Prediction]) -> dict[str, Any]:
    """One JSON object for a predict call: the run and every file's answer (or error), in order."""
    return {
        "version": PREDICTIONS_VERSION,
        "run": str(run_dir),
        "predictions": [r.to_dict() for r in results],
        "errors": sum(r.error is not None for r in results),
    }


def _read(path: Path, image_size: int) -> tuple[np.ndarray | None, str | None]:
    """Decode one file as the training pipeline does; (pixels, None) or (None, why not)."""
    if not path.exists():
        return None, "no such file"
    if not path.is_file():
        return None, "not a file"
    try:
        return data.load_image(str(path), image_size).numpy(), None
    except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError, tf.errors.UnknownError) as err:
        return None, f"cannot decode image ({tf_error_message(err)}); run 'dataprep validate' on it"


def predict_images(
    run: LoadedRun, paths: Sequence[str | os.PathLike[str]], screen: ScreenOptions | None = None
) -> tuple[list[Prediction], list[np.ndarray]]:
    """Predictions for `paths` (folders expanded) in order, plus the decoded pixels of each
    successful file (for the grid). Files validate's checks call an error are not predicted:
    their `error` says why."""
    files = data.expand_image_paths(paths)
    if not files:
        raise DataprepError(f"no images found in {[str(p) for p in paths]} (expected image files or folders of them)")
    known = set(run.class_names)
    results = [Prediction(str(p), true_label=p.parent.name if p.parent.name in known else None) for p in files]
    refused = refused_files([p for p in files if p.is_file()], screen)
    pixels: list[np.ndarray | None] = []
    for result, path in zip(results, files):
        why = refused.get(path.absolute())
        if why is not None:
            result.error = f"not predicted: validate rates it an error ({why})"
            pixels.append(None)
            continue
        image, error = _read(path, run.image_size)
        result.error = error
        pixels.append(image)
    ok = [i for i, image in enumerate(pixels) if image is not None]
    for start in range(0, len(ok), DEFAULT_BATCH_SIZE):
        chunk = ok[start : start + DEFAULT_BATCH_SIZE]
        batch = np.stack([pixels[i] for i in chunk]).astype("float32")  # type: ignore[misc]
        probs = np.asarray(run.model.predict_on_batch(batch), dtype=np.float64)
        for i, row in zip(chunk, probs):
            best = int(row.argmax())
            results[i].label = run.class_names[best]
            results[i].confidence = float(row[best])
            results[i].probabilities = {name: float(p) for name, p in zip(run.class_names, row)}
    return results, [pixels[i] for i in ok]  # type: ignore[misc]


def predict(
    run_dir: str | os.PathLike[str],
    paths: Sequence[str | os.PathLike[str]],
    grid: str | os.PathLike[str] | None = None,
    screen: ScreenOptions | None = None,
) -> list[Prediction]:
    """Load `run_dir` and predict every image in `paths` that passes validate's checks; with `grid`,
    also draw them titled with the answer, marked right or wrong where the folder names the true
    class, wrong ones first."""
    run = load_run(run_dir)
    results, images = predict_images(run, paths, screen)
    if grid is not None:
        good = [r for r in results if r.error is None]
        items = [
            GridImage(pixels, Path(r.path).name, r.label or "", r.confidence or 0.0, r.true_label)
            for r, pixels in zip(good, images)
        ]
        write_prediction_grid(items, grid)
    return results
