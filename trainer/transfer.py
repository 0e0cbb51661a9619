"""Transfer learning the way the Keras transfer-learning guide does it, on cached activations.

Two phases, both on numbers the frozen part of the backbone computed once per image:

- **frozen** (`freeze_epochs`): the backbone runs once over every training and validation image,
  and the head (dropout + softmax) trains on the pooled features. An epoch is a pass over an
  n x 1280 array: well under a second for thousands of images.
- **fine_tune** (the remaining epochs): the top of the backbone — the layers above a cut through
  which every path runs, holding at least `FINE_TUNE_FRACTION` of its weights (MobileNetV2: the
  last stage, its 7x7 blocks and the 1280-channel convolution) — trains with the head at
  `lr * fine_tune_lr_factor`, from the activations cached at the cut: the bottom never runs again.

BatchNorm stays in inference mode throughout, as the guide says (its moving statistics must not be
re-estimated on a few hundred images): its layers stay frozen (`set_trainable`). The
phase models are built from the full model's own layers, so training them trains the full model
(pixels in, probabilities out), which is what is checkpointed, evaluated, saved and predicted with.

Augmentation is not used here: the activations are computed once, from the un-augmented images
(the same pixels evaluation and `predict` see). On the benchmarks a pretrained backbone with a
fine-tuned top reaches its accuracy in a few epochs, where augmentation pays for a from-scratch
network over many (BENCHMARKS.md, training). A resumed run computes the activations again
(one pass of the backbone) and continues from the last completed epoch.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

from trainer import data, run_folder
from trainer.models import find_backbone
from trainer.phases import Phase, best_so_far, compile_model
from trainer.tensorboard import EpochScalars

if TYPE_CHECKING:
    from trainer.config import FitConfig

# The fine-tuned top holds at least this share of the backbone's weights: MobileNetV2's last
# stage (7x7) holds 62 % of them, and the cut below it caches 14x14x96 numbers per image.
FINE_TUNE_FRACTION = 0.5
# Cached activations above this many bytes move the cut up (to smaller activations).
MAX_CACHED_BYTES = 1 << 30


@dataclass(frozen=True)
class BackboneCut:
    """The full model cut in two at one tensor of its backbone: `bottom` maps pixels to the
    activations at the cut; `top` maps those to the pooled features (None: the cut is the
    pooled output, nothing above it to fine-tune); `head` maps pooled features to probabilities."""

    bottom: keras.Model
    top: keras.Model | None
    head: list[keras.Layer]
    top_fraction: float  # share of the backbone's weights above the cut


def single_tensor_cuts(backbone: keras.Model) -> list[int]:
    """Indices k of `backbone.operations` (topological order) whose output alone feeds
    everything after it: every path from the input to the output runs through it."""
    ops = backbone.operations
    index = {id(op): i for i, op in enumerate(ops)}
    earliest = []  # per operation: the earliest operation it reads from
    for i, op in enumerate(ops):
        nodes = op._inbound_nodes
        tensors = nodes[0].input_tensors if nodes else []
        earliest.append(min((index.get(id(t._keras_history.operation), -1) for t in tensors), default=i))
    cuts, reads_from = [], len(ops)
    for k in range(len(ops) - 1, -1, -1):
        if reads_from >= k and ops[k]._inbound_nodes and len(ops[k]._inbound_nodes[0].output_tensors) == 1:
            cuts.append(k)
        reads_from = min(reads_from, earliest[k])
    return sorted(cuts)


def _weight_count(op: Any) -> int:
    return sum(math.prod(w.shape) for w in getattr(op, "weights", []))


def choose_cut(backbone: keras.Model, images: int, fraction: float = FINE_TUNE_FRACTION) -> int:
    """The highest single-tensor cut with at least `fraction` of the weights above it whose
    activations for `images` images fit in `MAX_CACHED_BYTES` (else the next cut up that fits)."""
    ops = backbone.operations
    counts = [_weight_count(op) for op in ops]
    total = max(1, sum(counts))
    cuts = single_tensor_cuts(backbone)
    above = {k: sum(counts[k + 1 :]) / total for k in cuts}
    enough = [k for k in cuts if above[k] >= fraction]
    start = enough[-1] if enough else cuts[0]
    for k in (k for k in cuts if k >= start):
        shape = ops[k]._inbound_nodes[0].output_tensors[0].shape
        if images * math.prod(d or 1 for d in shape[1:]) * 4 <= MAX_CACHED_BYTES:
            return k
    return cuts[-1]


def cut_model(model: keras.Model, images: int, fraction: float = FINE_TUNE_FRACTION) -> BackboneCut:
    """Cut a registry transfer model (pixels -> preprocessing -> backbone -> head) at its
    backbone's `choose_cut`; the parts share the model's layers and weights."""
    backbone = find_backbone(model)
    if backbone is None:
        raise ValueError(f"{model.name} has no pretrained backbone to cut")
    ops = backbone.operations
    k = choose_cut(backbone, images, fraction)
    at_cut = ops[k]._inbound_nodes[0].output_tensors[0]
    pixels = keras.Input(model.input.shape[1:], name="pixels")
    into_backbone = keras.Model(model.input, backbone._inbound_nodes[-1].input_tensors[0])
    lower = keras.Model(backbone.input, at_cut)
    bottom = keras.Model(pixels, lower(into_backbone(pixels), training=False), name="bottom")
    top = keras.Model(at_cut, backbone.output, name="top") if k < len(ops) - 1 else None
    head = model.layers[model.layers.index(backbone) + 1 :]
    counts = [_weight_count(op) for op in ops]
    return BackboneCut(bottom, top, head, sum(counts[k + 1 :]) / max(1, sum(counts)))


def _on_head(head: Sequence[keras.Layer], inputs: keras.KerasTensor, features: Any) -> keras.Model:
    for layer in head:
        features = layer(features)
    return keras.Model(inputs, features)


def head_model(cut: BackboneCut, features: int) -> keras.Model:
    """Pooled features -> probabilities, on the model's own head layers."""
    inputs = keras.Input((features,), name="features")
    return _on_head(cut.head, inputs, inputs)


def fine_tune_model(cut: BackboneCut, shape: Sequence[int]) -> keras.Model:
    """Activations at the cut -> probabilities: the backbone's top (BatchNorm in inference mode)
    and the head, on the model's own layers."""
    inputs = keras.Input(tuple(shape), name="activations")
    pooled = cut.top(inputs, training=False) if cut.top is not None else inputs
    return _on_head(cut.head, inputs, pooled)


def cached_activations(bottom: keras.Model, pipe: data.Pipeline, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(activations, labels) of every decodable image of `pipe`, un-augmented, in file order."""
    images = pipe.images.batch(batch_size).prefetch(data.AUTOTUNE)
    with warnings.catch_warnings():  # skipped files make the cardinality unknown; Keras warns at the end
        warnings.filterwarnings("ignore", message=".*ran out of data.*")
        activations = bottom.predict(images.map(data.plain_graph(lambda x, _: x)), verbose=0)
    labels = np.concatenate([y.numpy() for y in images.map(data.plain_graph(lambda _, y: y))] or [[]])
    return activations.astype(np.float32, copy=False), labels.astype(np.int32)


class SaveBestModel(keras.callbacks.Callback):
    """ModelCheckpoint for the full model while a phase model trains: saves `model` to `path`
    whenever val_accuracy improves on the best so far (`initial`: the run's best before)."""

    def __init__(self, model: keras.Model, path: Path, initial: float | None) -> None:
        super().__init__()
        self.full = model
        self.path = path
        self.best = initial

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = (logs or {}).get("val_accuracy")
        if value is not None and (self.best is None or float(value) > self.best):
            self.best = float(value)
            self.full.save(self.path)


class OnFullModel(keras.callbacks.Callback):
    """A caller's callback run while a phase model trains, seeing the full model (pixels in) as
    its `model`, as it would in a from-scratch run; its stop_training request reaches the phase."""

    def __init__(self, inner: keras.callbacks.Callback, full: keras.Model) -> None:
        super().__init__()
        self.inner, self.full = inner, full
        inner.set_model(full)

    def _forward(self, name: str, *args: Any) -> None:
        getattr(self.inner, name)(*args)
        if getattr(self.full, "stop_training", False):
            self.full.stop_training = False
            self.model.stop_training = True

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._forward("on_train_begin", logs)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._forward("on_epoch_begin", epoch, logs)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._forward("on_train_batch_end", batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._forward("on_epoch_end", epoch, logs)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._forward("on_train_end", logs)


def _phase_callbacks(
    run_dir: Path, phase: Phase, config: FitConfig, model: keras.Model, extra: Sequence[keras.callbacks.Callback]
) -> list[keras.callbacks.Callback]:
    history_csv = run_dir / run_folder.HISTORY
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.BackupAndRestore(str(run_dir / run_folder.BACKUP / phase.name)),
        SaveBestModel(model, run_dir / run_folder.MODEL, best_so_far(history_csv)),
        keras.callbacks.CSVLogger(str(history_csv), append=True),
        EpochScalars(run_dir / run_folder.LOGS),
    ]
    if config.patience > 0:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=config.patience))
    return callbacks + [OnFullModel(callback, model) for callback in extra]


def set_trainable(backbone: keras.Model, trainable: bool, only: Sequence[keras.Layer] | None = None) -> None:
    """Freeze the backbone, or unfreeze it (only the layers in `only`, when given) except its
    BatchNormalization layers, which stay frozen and so in inference mode. ``training=False``
    on the backbone's call is not enough: Keras 3's Functional passes the outer ``training=True``
    of a train step through it, and a BatchNormalization layer keeps its moving statistics (and
    normalises with them) only while it is not trainable."""
    backbone.trainable = trainable
    if not trainable:
        return
    chosen = {id(layer) for layer in (only if only is not None else backbone.layers)}
    for layer in backbone.layers:
        layer.trainable = id(layer) in chosen and not isinstance(layer, keras.layers.BatchNormalization)


def set_fine_tuned(model: keras.Model, cut: BackboneCut, fine_tuning: bool) -> None:
    """Trainable flags as they are: the whole backbone frozen, or only its top trainable."""
    backbone = find_backbone(model)
    assert backbone is not None
    set_trainable(backbone, fine_tuning, cut.top.layers if cut.top is not None else [])


def train_transfer(
    model: keras.Model,
    phases: list[Phase],
    config: FitConfig,
    train_pipe: data.Pipeline,
    val_pipe: data.Pipeline,
    class_weight: dict[int, float] | None,
    run_dir: Path,
    callbacks: Sequence[keras.callbacks.Callback],
) -> bool:
    """Run `phases` (frozen, then fine_tune) on cached activations; the full `model` is trained
    in place and checkpointed to the run folder. True when early stopping ended training."""
    cut = cut_model(model, len(train_pipe.files) + len(val_pipe.files))
    x_train, y_train = cached_activations(cut.bottom, train_pipe, config.batch_size)
    x_val, y_val = cached_activations(cut.bottom, val_pipe, config.batch_size)
    steps = math.ceil(len(y_train) / config.batch_size)
    for phase in phases:
        done_marker = run_dir / run_folder.BACKUP / f"{phase.name}.done.weights.h5"
        if done_marker.is_file():  # finished before an interruption: its weights, not its epochs
            model.load_weights(str(done_marker))
            continue
        set_fine_tuned(model, cut, phase.backbone_trainable)
        if phase.backbone_trainable:
            trained, x, xv = fine_tune_model(cut, x_train.shape[1:]), x_train, x_val
        else:
            x, xv = x_train, x_val
            if cut.top is not None:  # the pooled features, computed once for every epoch of the phase
                x, xv = (cut.top.predict(a, batch_size=256, verbose=0) for a in (x_train, x_val))
            trained = head_model(cut, x.shape[1])
        compile_model(trained, config, steps, phase.epochs, phase.lr)
        trained.fit(
            x,
            y_train,
            batch_size=config.batch_size,
            validation_data=(xv, y_val),
            initial_epoch=phase.first_epoch,
            epochs=phase.last_epoch,
            shuffle=True,
            class_weight=class_weight,
            callbacks=_phase_callbacks(run_dir, phase, config, model, callbacks),
            verbose=config.verbose,
        )
        if len(phases) > 1:
            done_marker.parent.mkdir(parents=True, exist_ok=True)
            model.save_weights(str(done_marker))
        if getattr(trained, "stop_training", False):
            return True
    return False


def can_train_on_activations(model: keras.Model, workers: int) -> bool:
    """Transfer models train on cached activations on one machine; several workers train the
    whole model on the pipeline (`trainer.fit`), each phase as the guide's plain form."""
    return workers == 1 and find_backbone(model) is not None and tf.executing_eagerly()
