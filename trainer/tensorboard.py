"""TensorBoard scalars per epoch, written with TensorFlow alone.

``keras.callbacks.TensorBoard`` needs the `tensorboard` package for ``tf.summary.scalar``;
TensorFlow 2.21 no longer installs it. ``tf.summary.write`` with the scalars plugin's metadata
writes the same event files (train/ and validation/ runs, ``epoch_*`` tags, as Keras names
them), so ``tensorboard --logdir RUN/logs`` shows the curves wherever TensorBoard is installed.
"""

from __future__ import annotations

import os
from typing import Any

import keras
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

_SCALARS = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))


class EpochScalars(keras.callbacks.Callback):
    """Write every epoch's logs (loss, accuracy, val_*, learning rate) as TensorBoard scalars."""

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        super().__init__()
        self.log_dir = str(log_dir)
        self._writers: dict[str, Any] = {}

    def _writer(self, run: str) -> Any:
        if run not in self._writers:
            self._writers[run] = tf.summary.create_file_writer(os.path.join(self.log_dir, run))
        return self._writers[run]

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        values = dict(logs or {})
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and "learning_rate" not in values:
            values["learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        for key, value in values.items():
            run, tag = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            with self._writer(run).as_default():
                tf.summary.write(f"epoch_{tag}", tf.constant(float(value), tf.float32), step=epoch, metadata=_SCALARS)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
