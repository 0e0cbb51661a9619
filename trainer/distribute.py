"""Where training runs: the distribution strategy from the hardware and ``TF_CONFIG``, and the
Keras 3 work-around a multi-worker fit needs (split out of fit.py)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

import tensorflow as tf

from dataprep.base.errors import DataprepError


def worker_count() -> tuple[int, int]:
    """(number of workers, this worker's index) from TF_CONFIG; (1, 0) without it."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 1, 0
    try:
        config = json.loads(raw)
        workers = config.get("cluster", {}).get("worker", [])
        task = config.get("task", {})
        index = int(task.get("index", 0)) if task.get("type", "worker") == "worker" else 0
    except (ValueError, AttributeError, TypeError) as err:
        raise DataprepError(
            f"TF_CONFIG is not valid JSON ({err}); expected {{'cluster': {{'worker': [...]}}, 'task': ...}}"
        ) from None
    return max(1, len(workers)), index


def choose_strategy() -> tf.distribute.Strategy:
    """MultiWorkerMirrored with a multi-worker TF_CONFIG, Mirrored on several GPUs, else default."""
    workers, _ = worker_count()
    if workers > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def strategy_name(strategy: tf.distribute.Strategy) -> str:
    """The public name of a strategy (TF's class for MultiWorkerMirrored is CollectiveAllReduce)."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "MultiWorkerMirroredStrategy"
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        return "MirroredStrategy"
    return "default"


@contextlib.contextmanager
def multi_worker_log_reduction(active: bool) -> Iterator[None]:
    """Work around Keras 3.15 with several workers (tensorflow/tensorflow#72388): it averages
    each replica's scalar logs with ``strategy.reduce("MEAN", v, axis=0)``, which fails on
    scalars. For the duration of one `fit`, average them with ``axis=None`` instead."""
    if not active:
        yield
        return
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    original = tf_trainer.reduce_per_replica

    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        if reduction not in ("auto", "mean"):
            return original(values, strategy, reduction)
        return tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)

    tf_trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        tf_trainer.reduce_per_replica = original
