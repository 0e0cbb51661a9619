"""`FitConfig`: everything a training run depends on, and its defaults (from `dataprep.defaults`).

Below `trainer.fit` (which trains from it) and `trainer.resume` (which compares a saved config with
the one given now); imports no TensorFlow, so the command line builds it before TensorFlow starts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from dataprep.defaults import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MODEL,
    DEFAULT_SEED,
    DEFAULT_VAL_FRACTION,
)

DEFAULT_AUGMENT_NAME = "default"
LR_SCHEDULES = ("cosine", "constant")
CLASS_WEIGHTS = ("none", "auto")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


@dataclass
class FitConfig:
    """Everything a training run depends on; config.json holds it resolved."""

    data_dir: str
    model: str = DEFAULT_MODEL
    image_size: int | None = None  # None: the model's default size
    batch_size: int = DEFAULT_BATCH_SIZE
    epochs: int = DEFAULT_EPOCHS
    lr: float = DEFAULT_LR
    lr_schedule: str = "cosine"
    warmup_epochs: int = 1
    weight_decay: float = 1e-4
    augment: str = DEFAULT_AUGMENT_NAME  # a dataprep.augment spec, "default" or "none"
    run_dir: str | None = None  # None: runs/<timestamp>
    seed: int = DEFAULT_SEED
    patience: int = 0  # early stopping on val_accuracy; 0 turns it off
    class_weight: str = "none"
    weights: str = "none"  # transfer models: imagenet | none | PATH
    freeze_epochs: int | None = None  # transfer models: epochs with the backbone frozen (None: half)
    fine_tune_lr_factor: float = 0.1
    val_fraction: float = DEFAULT_VAL_FRACTION  # only when the folder has no val/ split
    layout: str | None = None  # raw | split, for a tree that reads both ways (dataprep.scan)
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
