"""The end of a run: the best model evaluated on validation (and test), which files were skipped
and why, the learning curves and metrics.json."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from trainer import data, run_folder
from trainer.evaluate import evaluate_model
from trainer.plots import write_curves_png
from trainer.screening import undecodable

if TYPE_CHECKING:
    from trainer.config import FitConfig


def finish_run(
    run_dir: Path,
    config: FitConfig,
    model: keras.Model,
    train_pipe: data.Pipeline,
    val_pipe: data.Pipeline,
    test: data.FileList | None,
    train_seconds: float,
    chief: bool,
    over_cap: tuple[dict[str, str], dict[str, str]] = ({}, {}),
) -> dict[str, Any]:
    """Evaluate the best model, write curves, confusion matrix and metrics.json."""
    assert config.image_size is not None
    model_file = run_dir / run_folder.MODEL
    if model_file.is_file():
        best = keras.models.load_model(model_file)
    else:  # no epoch improved on the threshold (e.g. resumed after the last epoch)
        model.save(model_file)
        best = model
    history = run_folder.read_history(run_dir / run_folder.HISTORY)
    val = evaluate_model(
        best,
        val_pipe.files,
        config.image_size,
        config.batch_size,
        run_dir / run_folder.CONFUSION if chief and test is None else None,
        title="validation",
    )
    metrics: dict[str, Any] = {
        "version": run_folder.RUN_VERSION,
        "model": config.model,
        "val_accuracy": val.accuracy,
        "val_loss": val.loss,
        "best_epoch": int(np.argmax(history["val_accuracy"])) + 1 if history.get("val_accuracy") else None,
        "epochs_run": len(history.get("loss", [])),
        "train_seconds": round(train_seconds, 2),
        "images_per_epoch": len(train_pipe.files),
        "val_per_class": val.per_class,
    }
    if test is not None and len(test):
        tested = evaluate_model(
            best,
            test,
            config.image_size,
            config.batch_size,
            run_dir / run_folder.CONFUSION if chief else None,
            title="test",
        )
        metrics.update(test_accuracy=tested.accuracy, test_loss=tested.loss, test_per_class=tested.per_class)
    # Which files were skipped, and why: over the pixel cap (never decoded), or unreadable.
    skipped: dict[str, str] = {}
    metrics["skipped_files"] = {}
    for name, pipe, decoded, capped in (
        ("train", train_pipe, train_pipe.count_decoded(), over_cap[0]),
        ("val", val_pipe, val.images, over_cap[1]),
    ):
        skipped.update(capped)
        if decoded < len(pipe.files):
            skipped.update(
                dict.fromkeys(undecodable(pipe.files, config.image_size), "the training decoder cannot read it")
            )
        metrics["skipped_files"][name] = len(pipe.files) - decoded + len(capped)
    metrics["skipped_paths"] = skipped
    if chief:
        write_curves_png(history, run_dir / run_folder.CURVES)
        run_folder.write_json(run_dir / run_folder.METRICS, metrics)
    return metrics
