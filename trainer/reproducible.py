"""What `trainer fit --seed` makes reproducible, and the global state a run holds for its length.

The seed always fixes the hold-out (or the folds' use), the file order, each epoch's shuffle and
the augmentation draws (seeded locally in `trainer.data`) and the initial weights and dropout
masks (Keras' global seed: Python's `random`, NumPy's and TensorFlow's generators). What it does
not fix by itself is the order in which TensorFlow's multi-threaded kernels add floats: on CPU
three runs of one seed gave 0.728 / 0.753 / 0.778 validation accuracy.

With `--deterministic` (CPU), TensorFlow's op determinism is on for the run: every kernel and
tf.data stage gives the same result in the same order, so the same files and seed give the same
run, epoch for epoch (the same history, the same weights), at a cost in training time (median
1.3x, noisy: BENCHMARKS.md, "trainer fit --deterministic"): hence a flag, not the default. On a
GPU it is not switched on: TensorFlow has no deterministic GPU kernel for some ops (it raises
instead) and that path is not tested here.

A run also holds `dataprep.base.folder_lock` on its run folder, so two `fit --resume` runs never
write one folder at once.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from dataprep.base.folder_lock import folder_locks


def _op_determinism_on_cpu() -> Callable[[], None]:
    """Switch TensorFlow's op determinism on for a CPU-only process; returns what switches it back
    off (only if this call switched it on)."""
    from tensorflow.python.framework import config as tf_config  # the public API cannot read or undo it

    if tf.config.list_physical_devices("GPU") or tf_config.is_op_determinism_enabled():
        return lambda: None
    tf.config.experimental.enable_op_determinism()
    return tf_config.disable_op_determinism


def start_run(seed: int, run_dir: Path | None, deterministic: bool = False) -> Callable[[], None]:
    """Seed the global random state, with `deterministic` make CPU ops deterministic, and lock
    `run_dir` (None: no lock, a non-chief worker's scratch folder) for one run; returns the
    function that ends it: the lock released, Python's and NumPy's generator states given back,
    op determinism as it was. TensorFlow's global seed cannot be read back and stays set."""
    stack = contextlib.ExitStack()
    if run_dir is not None:
        stack.enter_context(folder_locks("trainer fit", run_dir))
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    keras.utils.set_random_seed(seed)
    stack.callback(np.random.set_state, numpy_state)
    stack.callback(random.setstate, python_state)
    if deterministic:
        stack.callback(_op_determinism_on_cpu())
    return stack.close
