"""Train a registered model on a split folder into a run folder that explains itself.

``fit(FitConfig(...)) -> RunResult``. The strategy follows the hardware: one device, a
MirroredStrategy over several local GPUs, or a MultiWorkerMirroredStrategy when ``TF_CONFIG``
names several workers. Mixed precision on GPU, optional XLA. Resumable: per-epoch state is
backed up (``keras.callbacks.BackupAndRestore``) and ``resume=True`` continues from it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import shutil
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from dataprep.base.errors import DataprepError
from dataprep.base.folder_lock import LOCK_NAME
from dataprep.insight.augment import DEFAULT_NAME as DEFAULT_AUGMENT_NAME
from dataprep.split.folds import refuse_folds_only_split
from trainer import data, run_folder, transfer
from trainer.config import CLASS_WEIGHTS, LR_SCHEDULES, PRECISIONS, FitConfig
from trainer.distribute import choose_strategy, strategy_name, worker_count
from trainer.models import build_model, choose_model, model_info
from trainer.phases import plan_phases
from trainer.reproducible import start_run
from trainer.resume import (
    absolute,
    check_same_dataset,
    dataset_digest,
    interrupt_ends_at_checkpoint,
    interrupt_hooks,
    resumed_config,
)
from trainer.run_metrics import finish_run
from trainer.screening import within_pixel_cap
from trainer.train_loop import train_phases


@dataclass
class RunResult:
    """Where the run is and how it went (metrics.json's content)."""

    run_dir: Path
    metrics: dict[str, Any]
    history: dict[str, list[float]] = field(default_factory=dict)


# --- precision ------------------------------------------------------------------------------


def resolve_precision(requested: str) -> str:
    if requested not in PRECISIONS:
        raise DataprepError(f"--precision {requested} is not known (expected one of: {', '.join(PRECISIONS)})")
    if requested != "auto":
        return requested
    return "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"


# --- configuration ---------------------------------------------------------------------------


def resolve_config(config: FitConfig) -> FitConfig:
    """Fill in defaults that depend on the model and check every choice, before any work."""
    resolved = FitConfig.from_dict(config.to_dict())
    resolved.model, resolved.weights, _ = choose_model(config.model, config.weights)
    info = model_info(resolved.model)
    resolved.image_size = config.image_size or info.default_image_size
    resolved.augment = data.normalize_augment(config.augment)
    if info.transfer and resolved.augment != "none":  # trainer.transfer: cached, un-augmented activations
        if config.augment not in (DEFAULT_AUGMENT_NAME, None):
            data.log.warning(
                "--augment is not applied to %s: it trains on activations of the un-augmented images", info.name
            )
        resolved.augment = "none"
    if config.lr_schedule not in LR_SCHEDULES:
        raise DataprepError(
            f"--lr-schedule {config.lr_schedule} is not known (expected one of: {', '.join(LR_SCHEDULES)})"
        )
    if config.class_weight not in CLASS_WEIGHTS:
        raise DataprepError(
            f"--class-weight {config.class_weight} is not known (expected one of: {', '.join(CLASS_WEIGHTS)})"
        )
    for name in ("epochs", "batch_size"):
        if getattr(config, name) < 1:
            raise DataprepError(f"--{name.replace('_', '-')} {getattr(config, name)} must be at least 1")
    if config.lr <= 0:
        raise DataprepError(f"--lr {config.lr} must be positive")
    if info.transfer:
        frozen = config.freeze_epochs if config.freeze_epochs is not None else max(1, config.epochs // 2)
        resolved.freeze_epochs = min(frozen, config.epochs)
    else:
        resolved.freeze_epochs = 0
    if resolved.run_dir is None:
        resolved.run_dir = str(Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S"))
    # Absolute, resolved paths: the run folder must work from any directory (--resume).
    resolved.data_dir, resolved.run_dir = absolute(resolved.data_dir) or "", absolute(resolved.run_dir)
    resolved.cache_dir = absolute(resolved.cache_dir)
    resolved.folds_from = absolute(resolved.folds_from)
    if config.folds_from is not None and config.fold is None:
        raise DataprepError(
            "--folds-from names where folds are recorded; pass --fold I to train fold I against the rest"
        )
    resolve_precision(config.precision)
    return resolved


def auto_class_weight(files: data.FileList) -> dict[int, float]:
    """n / (k · count_c): each class contributes equally to the loss."""
    counts = files.class_counts()
    total, k = sum(counts), len(counts)
    return {i: (total / (k * c) if c else 0.0) for i, c in enumerate(counts)}


# --- the run ---------------------------------------------------------------------------------


def prepare_run_dir(
    config: FitConfig, resume: bool, typed: Collection[str] = (), override: bool = False
) -> tuple[Path, FitConfig]:
    """Check that the run folder is new (it is created once the data is listed) or, resuming,
    read its config back (see `trainer.resume.resumed_config` for `typed` and `override`)."""
    assert config.run_dir is not None
    path = Path(config.run_dir)
    if resume:
        saved = path / run_folder.CONFIG
        if not saved.is_file():
            raise DataprepError(
                f"nothing to resume in '{path}' (expected {run_folder.CONFIG} from an earlier 'trainer fit'); "
                "pass the --run-dir of the interrupted run"
            )
        if (path / run_folder.METRICS).is_file():
            raise DataprepError(
                f"run '{path}' already finished (it has {run_folder.METRICS}); nothing to resume. "
                "Start a new run with another --run-dir"
            )
        values = json.loads(saved.read_text(encoding="utf-8"))["fit"]
        return path, resumed_config(values, config, typed, override)
    if path.exists() and any(p.name != LOCK_NAME for p in path.iterdir()):  # a killed run's lock is no content
        raise DataprepError(
            f"run folder '{path}' already exists and is not empty (expected a new folder); "
            "pass another --run-dir, or --resume to continue it"
        )
    return path, config


def split_files(config: FitConfig) -> tuple[data.FileList, data.FileList, data.FileList | None]:
    """(train, val, test): the splits, a seeded hold-out of a raw tree, or with `fold` the folds'."""
    if config.fold is not None:
        return fold_files(config.folds_from or config.data_dir, config.fold)
    refuse_folds_only_split(config.data_dir)
    splits = data.available_splits(config.data_dir, config.layout)
    if splits:
        train = data.list_files(config.data_dir, "train", config.layout)
        if "val" in splits:
            val = data.list_files(config.data_dir, "val", config.layout)
        else:
            folder = train.split
            train, val = data.stratified_split(train, config.val_fraction, config.seed)
            kept = "the test split is kept for the final test metrics" if "test" in splits else "there is no test split"
            data.log.warning(
                "no validation folder in '%s': holding out %s of %s/ per class (seed %d, --val-fraction) for validation; %s",
                config.data_dir,
                f"{config.val_fraction:.0%}",
                folder,
                config.seed,
                kept,
            )
        test = data.list_files(config.data_dir, "test", config.layout) if "test" in splits else None
    else:
        train, val = data.stratified_split(
            data.list_files(config.data_dir, None, config.layout), config.val_fraction, config.seed
        )
        test = None
    if len(val) == 0:
        raise DataprepError(
            f"no validation images in '{config.data_dir}' (expected a val/ split or enough images to hold out "
            f"{config.val_fraction:.0%}); add images or run 'dataprep split'"
        )
    return train, val, test


def fold_files(where: str, fold: int) -> tuple[data.FileList, data.FileList, data.FileList | None]:
    """Fold `fold` against the rest, read where the files are (`dataprep.split.folds.read_folds`)."""
    from dataprep.split.folds import read_folds

    assignment = read_folds(where)
    index = {name: i for i, name in enumerate(assignment.class_names)}
    lists = {
        role: data.FileList(tuple(p for p, _ in files), tuple(index[c] for _, c in files), assignment.class_names,
                            str(assignment.root), role)
        for role, files in assignment.roles(fold).items()
    }  # fmt: skip
    if not len(lists["train"]) or not len(lists["val"]):
        raise DataprepError(
            f"fold {fold} of '{assignment.source}' leaves no images to train or validate on; use fewer folds"
        )
    return lists["train"], lists["val"], lists["test"] or None


def fit(
    config: FitConfig,
    resume: bool = False,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    given: Collection[str] = (),
    override: bool = False,
) -> RunResult:
    """Train `config.model` on `config.data_dir` and fill the run folder.

    `resume=True` continues the run in `config.run_dir` from its last completed epoch, with the
    configuration saved there and the data folder of `config` (it must hold the same files).
    Options named in `given` (those the user typed) must match the saved ones unless `override`.
    Extra `callbacks` run after the built-in ones. Ctrl-C ends at the last completed epoch
    with `dataprep.base.errors.Interrupted` naming the command that continues.
    """
    workers, worker_index = worker_count()
    chief = worker_index == 0
    config, run_dir = _config_and_run_dir(config, resume, given, override, worker_index)
    assert config.image_size is not None and config.model is not None and config.weights is not None
    strategy = choose_strategy()
    previous_policy = keras.mixed_precision.global_policy()
    precision = resolve_precision(config.precision)
    keras.mixed_precision.set_global_policy(precision)
    end_run = start_run(config.seed, run_dir if chief else None, config.deterministic)  # trainer.reproducible
    try:
        train, val, test = split_files(config)
        digest = dataset_digest(train, val, test)
        if resume and chief:
            check_same_dataset(run_dir, config.data_dir, digest)
        train, over_cap_train = within_pixel_cap(train, config.max_pixels)
        val, over_cap_val = within_pixel_cap(val, config.max_pixels)
        with strategy.scope():  # the weights are read here: a missing file leaves no run folder behind
            model = build_model(config.model, config.image_size, len(train.class_names), config.weights)
        run_dir.mkdir(parents=True, exist_ok=True)  # only once the input is known to be good
        global_batch = config.batch_size * strategy.num_replicas_in_sync
        train_pipe, val_pipe = _pipelines(config, train, val, global_batch, shard=workers > 1)
        class_weight = auto_class_weight(train) if config.class_weight == "auto" else None
        if chief:
            run_folder.write_json(run_dir / run_folder.CLASS_NAMES, list(train.class_names))
            context = {
                "class_weight": class_weight,
                "precision": precision,
                "strategy": strategy_name(strategy),
                "replicas": strategy.num_replicas_in_sync,
                "workers": workers,
                "dataset_digest": digest,
            }
            run_folder.write_json(run_dir / run_folder.CONFIG, _run_config(config, train, val, test, context))

        started = time.perf_counter()
        hooks = [*callbacks, *interrupt_hooks()]
        with interrupt_ends_at_checkpoint(run_dir, config.data_dir) if chief else contextlib.nullcontext():
            if transfer.can_train_on_activations(model, workers):
                transfer.train_transfer(
                    model, plan_phases(config), config, train_pipe, val_pipe, class_weight, run_dir, hooks
                )
            else:
                steps_per_epoch = math.ceil(len(train) / global_batch)
                train_phases(
                    model, plan_phases(config), config, strategy, workers, train_pipe, val_pipe, class_weight,
                    steps_per_epoch, run_dir, hooks,
                )  # fmt: skip
        train_seconds = time.perf_counter() - started
        over_cap = (over_cap_train, over_cap_val)
        metrics = finish_run(run_dir, config, model, train_pipe, val_pipe, test, train_seconds, chief, over_cap)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
        end_run()
    if not chief:
        shutil.rmtree(run_dir, ignore_errors=True)
    return RunResult(run_dir, metrics, run_folder.read_history(run_dir / run_folder.HISTORY))


def _config_and_run_dir(
    config: FitConfig, resume: bool, given: Collection[str], override: bool, worker_index: int
) -> tuple[FitConfig, Path]:
    """The resolved configuration (resuming: the saved one, with the options allowed to change)
    and where this worker writes: the run folder for the chief, a scratch folder for the others."""
    chief = worker_index == 0
    if chief and not resume and (default_model := choose_model(config.model, config.weights)[2]):
        data.log.warning(default_model)  # one line: which model trains when --model was not given
    config = resolve_config(config)
    if not chief:
        return config, _worker_dir(config, worker_index)
    run_dir, config = prepare_run_dir(config, resume, given, override)
    if resume:
        config = resolve_config(config)
    return config, run_dir


def _pipelines(
    config: FitConfig, train: data.FileList, val: data.FileList, global_batch: int, shard: bool
) -> tuple[data.Pipeline, data.Pipeline]:
    """The training pipeline (shuffled, augmented) and the validation one, at the global batch size."""
    assert config.image_size is not None
    make = functools.partial(
        data.make_pipeline,
        image_size=config.image_size,
        batch_size=global_batch,
        cache_dir=config.cache_dir,
        shard_by_data=shard,
    )
    augment = config.augment if config.augment != "none" else None
    return make(train, training=True, seed=config.seed, augment=augment), make(val, training=False)


def _run_config(
    config: FitConfig,
    train: data.FileList,
    val: data.FileList,
    test: data.FileList | None,
    context: dict[str, Any],
) -> dict[str, Any]:
    """config.json: the options as given (``fit``, what ``--resume`` reads back) and what they
    resolved to on these files and this machine (``resolved``)."""
    return {
        "version": run_folder.RUN_VERSION,
        "fit": config.to_dict(),
        "resolved": {
            "class_names": list(train.class_names),
            "train_images": len(train),
            "val_images": len(val),
            "test_images": len(test) if test else 0,
            "train_class_counts": train.class_counts(),
            **context,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
    }


def _worker_dir(config: FitConfig, index: int) -> Path:
    """Non-chief workers of a multi-worker run write checkpoints to a scratch folder they delete."""
    assert config.run_dir is not None
    path = Path(config.run_dir).parent / f".{Path(config.run_dir).name}.worker-{index}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
