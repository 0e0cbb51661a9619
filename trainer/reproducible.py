"""What `trainer fit --seed` makes reproducible, and the global state a run holds for its length.

On CPU, the same files and the same seed give the same run, epoch for epoch (the same history,
the same weights): Keras' global seed (Python's `random`, NumPy's and TensorFlow's generators:
initial weights, dropout) plus TensorFlow's op determinism, which makes every kernel and tf.data
stage give the same result in the same order. The split or hold-out, the file order, the shuffle
and the augmentation draws are seeded locally (`trainer.data`) on every device.

On a GPU op determinism is not switched on: TensorFlow has no deterministic GPU kernel for some
ops (it raises instead), and the cost is the GPU's to pay, not measured here. There the seed fixes
the split, the file order, the shuffle, the augmentation draws and the initial weights; float
sums in GPU kernels may still round in another order, so the metrics can differ in the last
digits from run to run.

A run also holds `dataprep.folder_lock` on its run folder, so two `fit --resume` runs never
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

from dataprep.folder_lock import folder_locks


def _op_determinism_on_cpu() -> Callable[[], None]:
    """Switch TensorFlow's op determinism on for a CPU-only process; returns what switches it back
    off (only if this call switched it on)."""
    from tensorflow.python.framework import config as tf_config  # the public API cannot read or undo it

    if tf.config.list_physical_devices("GPU") or tf_config.is_op_determinism_enabled():
        return lambda: None
    tf.config.experimental.enable_op_determinism()
    return tf_config.disable_op_determinism


def start_run(seed: int, run_dir: Path | None) -> Callable[[], None]:
    """Seed the global random state, make CPU ops deterministic and lock `run_dir` (None: no lock,
    a non-chief worker's scratch folder) for one run; returns the function that ends it: the lock
    released, Python's and NumPy's generator states given back, op determinism as it was.
    TensorFlow's global seed cannot be read back and stays set."""
    stack = contextlib.ExitStack()
    if run_dir is not None:
        stack.enter_context(folder_locks("trainer fit", run_dir))
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    keras.utils.set_random_seed(seed)
    stack.callback(np.random.set_state, numpy_state)
    stack.callback(random.setstate, python_state)
    stack.callback(_op_determinism_on_cpu())
    return stack.close
