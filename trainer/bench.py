"""Measure the input pipeline alone: first pass (decode), cached pass, vs the tutorials' loader.

The files are read once before timing so every contender starts from the same warm OS page
cache; what is measured is listing, decoding, resizing, caching and batching, not the disk.
Each pass reports wall-clock images/s and the process's CPU milliseconds per image: on a
shared machine the wall clock moves with the neighbours' load while CPU time per image
barely does, so the CPU ratio is the steadier comparison of the work each loader does.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tensorflow as tf

from dataprep.base.tensorflow_runtime import tf_error_message
from dataprep.base.tf_decode import JPEG_RATIOS, decode_full, decode_image, decode_jpeg_at, jpeg_ratio_index
from trainer import data


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Pass:
    """One timed pass: images delivered, wall seconds, CPU seconds, bytes of pixels delivered."""

    images: int
    seconds: float
    cpu: float
    pixel_bytes: int = 0

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_image(self) -> float:
        return 1000 * self.cpu / self.images if self.images else 0.0


def timed_pass(make: Callable[[], tf.data.Dataset]) -> Pass:
    """Build a batched (images, labels) dataset with `make` and drain it once, timing both."""
    cpu, started = cpu_seconds(), time.perf_counter()
    count = nbytes = 0
    for images, labels in make():
        count += int(labels.shape[0])
        nbytes += int(images.shape.num_elements()) * images.dtype.size
    return Pass(count, time.perf_counter() - started, cpu_seconds() - cpu, nbytes)


def keras_first_pass(folder: str | os.PathLike[str], image_size: int, batch_size: int, tutorial: bool = False) -> Pass:
    """`keras.utils.image_dataset_from_directory`: one full pass, timed from the call (it lists
    the files too) to the last batch. `tutorial`: followed by the tutorials'
    ``.cache().shuffle(1000).prefetch(AUTOTUNE)``, so the pass also fills their float32 cache,
    as the trainer's first pass fills its uint8 one."""
    import keras

    def make() -> tf.data.Dataset:
        ds = keras.utils.image_dataset_from_directory(
            folder, image_size=(image_size, image_size), batch_size=batch_size, verbose=False
        )
        return ds.cache().shuffle(1000).prefetch(tf.data.AUTOTUNE) if tutorial else ds

    return timed_pass(make)


def warm_page_cache(paths: Sequence[str]) -> tuple[int, float]:
    """Read every file once (bytes, seconds) so every contender finds them in the page cache."""
    started = time.perf_counter()
    total = 0
    for path in paths:
        with open(path, "rb") as handle:
            total += len(handle.read())
    return total, time.perf_counter() - started


def bench(
    root: str | os.PathLike[str],
    image_size: int = 128,
    batch_size: int = 32,
    cache_dir: str | os.PathLike[str] | None = None,
    compare: bool = True,
) -> dict[str, Any]:
    """Images per second (and CPU ms per image) of the trainer pipeline's first and cached
    passes on `root` (its train/ split when it is a split folder), and of Keras' loader on the
    same files. The trainer's first pass is timed from listing the files, as Keras' is."""
    splits = data.available_splits(root)
    files = data.list_files(root, "train" if splits else None)
    folder = Path(files.root) / "train" if splits else Path(files.root)
    read_bytes, warm_seconds = warm_page_cache(files.paths)

    result: dict[str, Any] = {
        "version": 2,
        "root": str(folder),
        "images": len(files),
        "image_size": image_size,
        "batch_size": batch_size,
        "cache": str(cache_dir) if cache_dir else "memory",
        "bytes_on_disk": read_bytes,
        "warm_read_seconds": round(warm_seconds, 3),
    }
    keras_pass = tutorial_pass = None
    if compare:
        try:
            keras_pass = keras_first_pass(folder, image_size, batch_size)
            tutorial_pass = keras_first_pass(folder, image_size, batch_size, tutorial=True)
        except tf.errors.OpError as err:
            # The baseline has no safety net: one bad file ends its pass (our pipeline skips it).
            reason = tf_error_message(err)
            result["keras_first_pass_error"] = (
                f"Keras' loader stopped on a bad file ({reason}); run 'dataprep clean' first"
            )
    first_pass = trainer_passes(root, "train" if splits else None, image_size, batch_size, cache_dir, result)
    result["skipped"] = len(files) - result["decoded"]
    if keras_pass is None:  # the tutorial caches Keras' float32 output: 4 bytes for each uint8 one
        result["tutorial_cache_bytes_float32"] = result["cache_bytes_uint8"] * 4
    else:
        result.update(
            tutorial_cache_bytes_float32=keras_pass.pixel_bytes,
            keras_first_pass_images_per_s=round(keras_pass.images_per_s, 1),
            keras_first_pass_cpu_ms_per_image=round(keras_pass.cpu_ms_per_image, 3),
            first_pass_vs_keras=round(first_pass.images_per_s / keras_pass.images_per_s, 2),
            first_pass_vs_keras_cpu=round(keras_pass.cpu_ms_per_image / first_pass.cpu_ms_per_image, 2),
        )
    if tutorial_pass is not None:
        result.update(
            tutorial_first_pass_images_per_s=round(tutorial_pass.images_per_s, 1),
            tutorial_first_pass_cpu_ms_per_image=round(tutorial_pass.cpu_ms_per_image, 3),
            first_pass_vs_tutorial=round(first_pass.images_per_s / tutorial_pass.images_per_s, 2),
        )
    return result


def trainer_passes(
    root: str | os.PathLike[str],
    split: str | None,
    image_size: int,
    batch_size: int,
    cache_dir: str | os.PathLike[str] | None,
    result: dict[str, Any],
) -> Pass:
    """Time the trainer pipeline's first pass (from listing the files) and its best cached pass
    into `result`, with how long counting the skipped files takes and what the cache holds;
    returns the first pass."""
    pipelines: list[data.Pipeline] = []

    def first() -> tf.data.Dataset:
        listed = data.list_files(root, split)
        pipelines.append(
            data.make_pipeline(listed, image_size=image_size, batch_size=batch_size, training=True, cache_dir=cache_dir)
        )
        return pipelines[0].dataset

    first_pass = timed_pass(first)
    # Best of 3 cached passes: each takes a few hundredths of a second, so one neighbour's burst
    # on a shared machine can lengthen a single pass several-fold.
    cached_pass = min((timed_pass(lambda: pipelines[0].dataset) for _ in range(3)), key=lambda p: p.seconds)
    counted = time.perf_counter()
    decoded = pipelines[0].count_decoded()
    count_seconds = time.perf_counter() - counted
    result.update(
        first_pass_images_per_s=round(first_pass.images_per_s, 1),
        cached_pass_images_per_s=round(cached_pass.images_per_s, 1),
        first_pass_seconds=round(first_pass.seconds, 3),
        cached_pass_seconds=round(cached_pass.seconds, 3),
        first_pass_cpu_ms_per_image=round(first_pass.cpu_ms_per_image, 3),
        cached_pass_cpu_ms_per_image=round(cached_pass.cpu_ms_per_image, 3),
        skipped_file_count_seconds=round(count_seconds, 4),
        decoded=decoded,
        # What the cache holds, measured on its tensors.
        cache_bytes_uint8=sum(int(tf.size(image)) * image.dtype.size for image, _ in pipelines[0].images),
        cached_vs_first=round(first_pass.seconds / cached_pass.seconds, 2) if cached_pass.seconds else None,
    )
    return first_pass


def stage_profile(files: data.FileList, image_size: int, batch_size: int = 32) -> list[tuple[str, Pass]]:
    """CPU cost of each step of the first pass, as cumulative pipelines over `files` (page cache
    warm): each row adds one step to the one before, so the differences are the steps' costs.
    The ``decode_jpeg(ratio=8)`` row is the floor of any JPEG decode that reads every byte:
    entropy decoding alone, with almost no inverse-DCT, colour or resize work left."""
    autotune = tf.data.AUTOTUNE
    paths = tf.constant(list(files.paths))
    labels = tf.constant(list(files.labels), tf.int32)
    size = [image_size, image_size]

    def mapped(fn: Callable[[Any], Any]) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices((paths, labels))
        return ds.map(lambda p, y: (fn(tf.io.read_file(p)), y), num_parallel_calls=autotune)

    def tiny(contents: Any) -> Any:  # read only: a constant-size image so batching works
        return tf.fill([2, 2, 3], tf.cast(tf.strings.length(contents) % 256, tf.uint8))

    def floor(contents: Any) -> Any:
        return tf.image.resize(tf.io.decode_jpeg(contents, channels=3, ratio=8), size)

    def keras_like(contents: Any) -> Any:
        return tf.image.resize(decode_full(contents), size)

    def ours(contents: Any) -> Any:
        return decode_image(contents, image_size)

    def grouped(cache: bool, shuffle: bool, cast: bool) -> tf.data.Dataset:
        ds, _ = data.decoded_images(files, image_size, cache=cache)  # groups by ratio, ignore_errors
        if shuffle:
            ds = ds.shuffle(len(files), seed=1)
        ds = ds.batch(batch_size, num_parallel_calls=autotune, deterministic=True)
        if cast:
            ds = ds.map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=autotune)
        return ds.prefetch(autotune)

    rows: list[tuple[str, Callable[[], tf.data.Dataset]]] = [
        ("read files only", lambda: mapped(tiny).batch(batch_size)),
        ("+ decode_jpeg(ratio=8) + resize: entropy-decoding floor", lambda: mapped(floor).batch(batch_size)),
        ("+ full decode + float resize (Keras' per-image work)", lambda: mapped(keras_like).batch(batch_size)),
        (
            "decode_image instead: DCT ratio chosen per element in the graph (before)",
            lambda: mapped(ours).batch(batch_size),
        ),
        ("files grouped by ratio from their headers, + ignore_errors (now)", lambda: grouped(False, False, False)),
        ("+ cache()", lambda: grouped(True, False, False)),
        ("+ shuffle(all) (= make_pipeline: uint8 batches)", lambda: grouped(True, True, False)),
        ("+ float32 cast per batch (make_pipeline before; now the model casts)", lambda: grouped(True, True, True)),
    ]
    return [(name, timed_pass(make)) for name, make in rows]


def decode_cap(files: data.FileList, image_size: int, passes: int = 4) -> dict[str, float]:
    """CPU ms per image of each per-file step, one element at a time, on the same files.

    Single-threaded (a sequential map drained by ``reduce``), the encoded bytes held in memory
    (except for the read row), `passes` passes so the set-up of each pipeline is amortised;
    ``fixed`` is the per-element cost of the harness with no work, subtracted from the others
    (a loader pays one like it per element). ``entropy``, ``decode_jpeg(ratio=8)``, is the
    entropy (Huffman) decoding that every decoder of these files must do, with almost no
    inverse-DCT or colour work left; ``floor`` adds the resize to image_size that every loader
    delivering image_size pixels does (its cost follows the output size). No loader that decodes
    each file costs less than ``fixed + read + floor``, so ``cap_vs_keras`` bounds how far ahead
    of Keras' loader (``keras``: full decode + float resize) any first pass can be. Files are
    grouped by the pipeline's ratio (`trainer.data.decode_groups`), one pipeline per group, as
    the pipeline does; ``trainer`` is its per-file work, ``trainer_branching`` `decode_image`'s.
    """
    blobs = [Path(path).read_bytes() for path in files.paths]
    size = [image_size, image_size]
    groups = data.decode_groups(files, image_size)  # the pipeline's ratio per file (0: branches in the graph)

    def at_our_ratio(contents: Any) -> Any:
        shape = tf.image.extract_jpeg_shape(contents)
        branches = [(lambda r=ratio: tf.io.decode_jpeg(contents, channels=3, ratio=r)) for ratio in JPEG_RATIOS]
        return tf.switch_case(jpeg_ratio_index(shape[0], shape[1], image_size), branches)

    def grouped(decode: Callable[[Any, int], Any], branching: Callable[[Any], Any]) -> Callable[[Any, int], Any]:
        return lambda contents, ratio: branching(contents) if ratio == 0 else decode(contents, ratio)

    # Each step maps (input, ratio) → tensor; `ratio` is the file's group, a Python int per pipeline.
    steps: dict[str, Callable[[Any, int], Any]] = {
        "fixed": lambda contents, _: tf.zeros([1], tf.uint8),
        "read": lambda path, _: tf.strings.length(tf.io.read_file(path)),
        "entropy": lambda contents, _: tf.io.decode_jpeg(contents, channels=3, ratio=8),
        "floor": lambda contents, _: tf.image.resize(tf.io.decode_jpeg(contents, channels=3, ratio=8), size),
        "decode_at_ratio": grouped(lambda c, r: tf.io.decode_jpeg(c, channels=3, ratio=r), at_our_ratio),
        "decode_full": lambda contents, _: decode_full(contents),
        "keras": lambda contents, _: tf.image.resize(decode_full(contents), size),
        "trainer_branching": lambda contents, _: decode_image(contents, image_size),
        "trainer": grouped(lambda c, r: decode_jpeg_at(c, r, image_size), lambda c: decode_image(c, image_size)),
    }
    count = data.plain_graph(lambda total, out: total + tf.cast(tf.size(out), tf.int64))
    cost: dict[str, float] = {}
    for name, step in steps.items():
        source = list(files.paths) if name == "read" else blobs
        started = cpu_seconds()
        for group in sorted(set(groups)):
            members = [item for item, g in zip(source, groups) if g == group]
            ds = tf.data.Dataset.from_tensor_slices(members).repeat(passes)
            ds.map(data.plain_graph(lambda x, g=group, step=step: step(x, g))).reduce(tf.constant(0, tf.int64), count)
        cost[name] = 1000 * (cpu_seconds() - started) / (len(blobs) * passes)
    fixed = cost.pop("fixed")
    result = {name: max(value - fixed, 0.0) for name, value in cost.items()}
    result["fixed"] = fixed
    base = fixed + result["read"]
    result["cap_vs_keras"] = (base + result["keras"]) / (base + result["floor"])
    result["trainer_vs_keras"] = (base + result["keras"]) / (base + result["trainer"])
    return result
