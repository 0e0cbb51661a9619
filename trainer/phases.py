"""Training phases: the learning-rate schedule and optimizer of one phase, and how a run is cut
into phases (from-scratch models train once; transfer models train their head on the frozen
backbone, then fine-tune its top at a lower learning rate, see `trainer.transfer`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras

from trainer import run_folder

if TYPE_CHECKING:
    from trainer.config import FitConfig


def learning_rate(config: FitConfig, steps_per_epoch: int, epochs: int, base: float) -> Any:
    if config.lr_schedule == "constant":
        return base
    total = max(1, steps_per_epoch * epochs)
    warmup = min(total // 2, steps_per_epoch * config.warmup_epochs)
    if warmup:
        return keras.optimizers.schedules.CosineDecay(
            base * 0.1, decay_steps=total - warmup, alpha=0.01, warmup_target=base, warmup_steps=warmup
        )
    return keras.optimizers.schedules.CosineDecay(base, decay_steps=total, alpha=0.01)


def compile_model(model: keras.Model, config: FitConfig, steps_per_epoch: int, epochs: int, base_lr: float) -> None:
    optimizer = keras.optimizers.AdamW(
        learning_rate=learning_rate(config, steps_per_epoch, epochs, base_lr), weight_decay=config.weight_decay
    )
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=bool(config.xla),
    )


@dataclass(frozen=True)
class Phase:
    """One stretch of training with one optimizer: epochs `first_epoch` up to (not including)
    `last_epoch` at peak learning rate `lr`, with the pretrained backbone trainable or frozen."""

    name: str
    first_epoch: int
    last_epoch: int
    lr: float
    backbone_trainable: bool

    @property
    def epochs(self) -> int:
        return self.last_epoch - self.first_epoch


def plan_phases(config: FitConfig) -> list[Phase]:
    """From-scratch models train in one phase; transfer models first train the head on a frozen
    backbone (`freeze_epochs`), then fine-tune the backbone's top at a lower learning rate."""
    frozen = config.freeze_epochs or 0
    if not frozen:
        return [Phase("train", 0, config.epochs, config.lr, True)]
    phases = [Phase("frozen", 0, frozen, config.lr, False)]
    if config.epochs > frozen:
        phases.append(Phase("fine_tune", frozen, config.epochs, config.lr * config.fine_tune_lr_factor, True))
    return phases


def best_so_far(history_csv: Path, monitor: str = "val_accuracy") -> float | None:
    values = run_folder.read_history(history_csv).get(monitor)
    return max(values) if values else None
