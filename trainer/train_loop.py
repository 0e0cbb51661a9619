"""Train a model through its phases with Keras' ``fit``: the callbacks every phase runs with
(resumable backup, best-model checkpoint, CSV history, TensorBoard scalars, early stopping), and
phases finished before an interruption skipped. `trainer.transfer` is the other way through the
phases, on cached activations."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import tensorflow as tf

from trainer import data, run_folder, transfer
from trainer.distribute import multi_worker_log_reduction
from trainer.models import find_backbone
from trainer.phases import Phase, best_so_far, compile_model
from trainer.tensorboard import EpochScalars

if TYPE_CHECKING:
    from trainer.config import FitConfig


def callbacks_for(
    run_dir: Path, phase: Phase, config: FitConfig, extra: Sequence[keras.callbacks.Callback]
) -> list[keras.callbacks.Callback]:
    history_csv = run_dir / run_folder.HISTORY
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.BackupAndRestore(str(run_dir / run_folder.BACKUP / phase.name)),
        keras.callbacks.ModelCheckpoint(
            str(run_dir / run_folder.MODEL),
            monitor="val_accuracy",
            mode="max",
            save_best_only=True,
            initial_value_threshold=best_so_far(history_csv),
        ),
        keras.callbacks.CSVLogger(str(history_csv), append=True),
        EpochScalars(run_dir / run_folder.LOGS),
    ]
    if config.patience > 0:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=config.patience))
    return callbacks + list(extra)


def train_phases(
    model: keras.Model,
    phases: list[Phase],
    config: FitConfig,
    strategy: tf.distribute.Strategy,
    workers: int,
    train_pipe: data.Pipeline,
    val_pipe: data.Pipeline,
    class_weight: dict[int, float] | None,
    steps_per_epoch: int,
    run_dir: Path,
    callbacks: Sequence[keras.callbacks.Callback],
) -> bool:
    """Run each phase's epochs (a phase finished before an interruption is skipped); True when
    early stopping ended training."""
    stopped_early = False
    for phase in phases:
        done_marker = run_dir / run_folder.BACKUP / f"{phase.name}.done.weights.h5"
        if done_marker.is_file():  # finished before an interruption: its weights, not its epochs
            model.load_weights(str(done_marker))
            continue
        with strategy.scope():
            backbone = find_backbone(model)
            if backbone is not None:
                transfer.set_trainable(backbone, phase.backbone_trainable)
            compile_model(model, config, steps_per_epoch, phase.epochs, phase.lr)
        if workers > 1:
            build_from_spec(model, train_pipe.dataset.element_spec)
        with warnings.catch_warnings(), multi_worker_log_reduction(workers > 1):
            # Skipped files make the cardinality unknown; Keras warns when the pass ends.
            warnings.filterwarnings("ignore", message=".*ran out of data.*")
            model.fit(
                train_pipe.dataset,
                validation_data=val_pipe.dataset,
                initial_epoch=phase.first_epoch,
                epochs=phase.last_epoch,
                shuffle=False,  # the pipeline shuffles (seeded) before batching
                class_weight=class_weight,
                callbacks=callbacks_for(run_dir, phase, config, callbacks),
                verbose=config.verbose,
            )
        stopped_early = stopped_early or bool(getattr(model, "stop_training", False))
        if len(phases) > 1:
            done_marker.parent.mkdir(parents=True, exist_ok=True)
            model.save_weights(str(done_marker))
        if stopped_early:
            break
    return stopped_early


def build_from_spec(model: keras.Model, element_spec: Any) -> None:
    """Work around Keras 3.15 under MultiWorkerMirroredStrategy: before the first step, `fit`
    averages a distributed (x, y) batch with ``strategy.reduce`` to build metrics and optimizer,
    which fails for a tuple with several workers. Build from the dataset's spec instead."""

    def build(iterator: Any = None, data_batch: Any = None) -> None:
        with model.distribute_strategy.scope():
            model._symbolic_build(data_batch=tuple(element_spec))

    model._maybe_symbolic_build = build
