"""`FitConfig` and `LabelIssuesConfig`: everything a training (or label-issues) run depends on, and
their defaults (from `dataprep.base.defaults`), written once.

Below `trainer.fit` (which trains from it), `trainer.resume` (which compares a saved config with the
one given now) and `trainer.label_issues`; imports no TensorFlow, so the command line takes its
defaults from here and builds the config before TensorFlow starts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from dataprep.base.defaults import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_EMBED_SIZE,
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MODEL,
    DEFAULT_SEED,
    DEFAULT_THRESHOLD_BITS,
    DEFAULT_VAL_FRACTION,
)
from dataprep.insight.augment import DEFAULT_NAME as DEFAULT_AUGMENT_NAME

LR_SCHEDULES = ("cosine", "constant")
CLASS_WEIGHTS = ("none", "auto")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


@dataclass
class FitConfig:
    """Everything a training run depends on; config.json holds it resolved."""

    data_dir: str
    model: str | None = None  # None: the pretrained backbone when installed, else DEFAULT_MODEL (choose_model)
    image_size: int | None = None  # None: the model's default size
    batch_size: int = DEFAULT_BATCH_SIZE
    epochs: int = DEFAULT_EPOCHS
    lr: float = DEFAULT_LR
    lr_schedule: str = "cosine"
    warmup_epochs: int = 1
    weight_decay: float = 1e-4
    augment: str = DEFAULT_AUGMENT_NAME  # a dataprep.insight.augment spec, "default" or "none"
    run_dir: str | None = None  # None: runs/<timestamp>
    seed: int = DEFAULT_SEED
    deterministic: bool = False  # CPU: TensorFlow's op determinism, the same run epoch for epoch (trainer.reproducible)
    patience: int = 0  # early stopping on val_accuracy; 0 turns it off
    class_weight: str = "none"
    weights: str | None = None  # transfer models: imagenet | none | PATH (None: imagenet; none from scratch)
    freeze_epochs: int | None = None  # transfer models: epochs with the backbone frozen (None: half)
    fine_tune_lr_factor: float = 0.1
    val_fraction: float = DEFAULT_VAL_FRACTION  # only when the folder has no val/ split
    layout: str | None = None  # raw | split, for a tree that reads both ways (dataprep.inspection.scan)
    cache_dir: str | None = None
    precision: str = "auto"  # auto: mixed_float16 on GPU, float32 on CPU
    xla: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS  # the pixel cap validate applies: larger images are left out
    fold: int | None = None  # train on the other folds, validate on this one (split.json or --folds-from)
    folds_from: str | None = None  # None: DATA's split.json
    verbose: int = 2  # Keras progress: 1 progress bar, 2 one line per epoch, 0 silent

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FitConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


DEFAULT_FOLDS = 4
# Measured on pets-800 (benchmarks/label_issues_bench.py, BENCHMARKS.md): with 36 epochs, this
# stronger augmentation keeps the fold models from memorising their 660 photos (train accuracy
# 0.79-0.86 instead of 0.99) and makes them less sure of their mistakes: top-80 precision
# 0.35-0.45 against 0.35 for mirroring alone, at equal held-out accuracy.
QUICK_AUGMENT = "flip=horizontal,rotate=0.1,zoom=0.2,translate=0.1"


@dataclass
class LabelIssuesConfig:
    """Everything a label-issues run depends on; RUN/config.json holds it resolved."""

    data_dir: str
    method: str = "embeddings"  # embeddings (trainer.label_issues_embed) | cnn (fold models trained here)
    folds: int = DEFAULT_FOLDS
    model: str = DEFAULT_MODEL
    image_size: int | None = 64
    batch_size: int = DEFAULT_BATCH_SIZE
    epochs: int = 36
    lr: float = DEFAULT_LR
    weight_decay: float = 1e-4  # AdamW's, as `trainer fit`
    augment: str = QUICK_AUGMENT
    weights: str = "none"  # transfer models: imagenet | none | PATH (as `trainer fit`)
    seed: int = DEFAULT_SEED
    run_dir: str | None = None  # None: runs/label-issues-<timestamp>
    threshold: int = DEFAULT_THRESHOLD_BITS  # pHash bits: near copies share a fold
    group_duplicates: bool = True  # False: plain stratified folds (the leaky baseline)
    snapshots: int = 4  # held-out predictions averaged over the last N epochs
    models_per_fold: int = 1  # models (seeds) trained per fold, their held-out predictions averaged
    top: int = 16  # suspects drawn in label_issues.png
    jobs: int | None = None  # validate's worker processes
    embed_image_size: int = DEFAULT_EMBED_SIZE  # embeddings method: the backbone's input size
    knn_weight: float = 0.5  # embeddings method: share of the neighbour vote in the probabilities (measured)
    verbose: int = 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LabelIssuesConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
