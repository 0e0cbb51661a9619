"""Measure the input pipeline alone: first pass (decode), cached pass, vs the tutorials' loader.

The files are read once before timing so every contender starts from the same warm OS page
cache; what is measured is decoding, resizing, caching and batching, not the disk.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import tensorflow as tf

from dataprep.tensorflow_runtime import tf_error_message
from trainer import data


def _drain(dataset: tf.data.Dataset) -> tuple[int, float]:
    """(images, seconds) for one full pass over a batched (images, labels) dataset."""
    started = time.perf_counter()
    count = 0
    for _, labels in dataset:
        count += int(labels.shape[0])
    return count, time.perf_counter() - started


def keras_first_pass(folder: str | os.PathLike[str], image_size: int, batch_size: int) -> tuple[int, float]:
    """`keras.utils.image_dataset_from_directory` as the tutorials use it: one full pass,
    timed from the call (it lists the files too) to the last batch."""
    import keras

    started = time.perf_counter()
    dataset = keras.utils.image_dataset_from_directory(
        folder, image_size=(image_size, image_size), batch_size=batch_size, verbose=False
    )
    count, _ = _drain(dataset)
    return count, time.perf_counter() - started


def bench(
    root: str | os.PathLike[str],
    image_size: int = 128,
    batch_size: int = 32,
    cache_dir: str | os.PathLike[str] | None = None,
    compare: bool = True,
) -> dict[str, Any]:
    """Images per second of the trainer pipeline's first and cached passes on `root` (its
    train/ split when it is a split folder), and of Keras' loader on the same files."""
    splits = data.available_splits(root)
    files = data.list_files(root, "train" if splits else None)
    folder = Path(files.root) / "train" if splits else Path(files.root)
    started = time.perf_counter()
    read_bytes = 0
    for path in files.paths:  # warm the OS page cache for every contender alike
        with open(path, "rb") as handle:
            read_bytes += len(handle.read())
    warm_seconds = time.perf_counter() - started

    result: dict[str, Any] = {
        "version": 1,
        "root": str(folder),
        "images": len(files),
        "image_size": image_size,
        "batch_size": batch_size,
        "cache": str(cache_dir) if cache_dir else "memory",
        "bytes_on_disk": read_bytes,
        "warm_read_seconds": round(warm_seconds, 3),
    }
    if compare:
        try:
            count, seconds = keras_first_pass(folder, image_size, batch_size)
            result["keras_first_pass_images_per_s"] = round(count / seconds, 1)
        except tf.errors.OpError as err:
            # The baseline has no safety net: one bad file ends its pass (our pipeline skips it).
            reason = tf_error_message(err)
            result["keras_first_pass_error"] = f"Keras' loader stopped on a bad file ({reason}); run 'dataprep clean' first"
            compare = False

    start_build = time.perf_counter()
    pipeline = data.make_pipeline(
        files, image_size=image_size, batch_size=batch_size, training=True, cache_dir=cache_dir
    )
    build_seconds = time.perf_counter() - start_build
    first_count, first_seconds = _drain(pipeline.dataset)
    first_seconds += build_seconds
    cached_count, cached_seconds = _drain(pipeline.dataset)
    result.update(
        first_pass_images_per_s=round(first_count / first_seconds, 1),
        cached_pass_images_per_s=round(cached_count / cached_seconds, 1),
        first_pass_seconds=round(first_seconds, 3),
        cached_pass_seconds=round(cached_seconds, 3),
        decoded=first_count,
        skipped=len(files) - first_count,
        cache_bytes_uint8=first_count * image_size * image_size * 3,
        tutorial_cache_bytes_float32=first_count * image_size * image_size * 3 * 4,
        cached_vs_first=round(first_seconds / cached_seconds, 2) if cached_seconds else None,
    )
    if compare:
        result["first_pass_vs_keras"] = round(result["first_pass_images_per_s"] / result["keras_first_pass_images_per_s"], 2)
    return result
