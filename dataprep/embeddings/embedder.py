"""The backbone at work: files -> decoded uint8 batches -> L2-normalised vectors.

Both engines run this (the local one in the CLI's process, the Ray one in each actor), so they
cannot drift. The network is traced once for uint8 batches of any length; while it runs on one
batch, a few threads decode the next one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from dataprep.embeddings.backbone import build_mobilenetv2
from dataprep.embeddings.pixels import UndecodableImage, load_square_rgb

DECODE_THREADS = 4  # libjpeg-turbo and Pillow release the GIL while decoding
# One batch's answer: (index in its batch, vector) for the images embedded, (index, why) for the rest.
BatchResult = tuple[list[tuple[int, np.ndarray]], list[tuple[int, str]]]


class BatchEmbedder:
    """The backbone compiled once for uint8 batches, plus the threads that decode the files."""

    def __init__(self, image_size: int, weights: str, threads: int = DECODE_THREADS) -> None:
        from dataprep.base.tensorflow_runtime import import_tensorflow

        tf = import_tensorflow()  # quietly: TensorFlow's start-up lines do not reach the console
        self.image_size = image_size
        self.threads = max(1, min(threads, os.cpu_count() or 1))
        model = build_mobilenetv2(image_size, weights=weights, include_top=False)
        spec = tf.TensorSpec((None, image_size, image_size, 3), tf.uint8)
        # One traced graph for every batch size: far less per-batch overhead than model.predict.
        self._run = tf.function(lambda x: model(tf.cast(x, tf.float32), training=False), input_signature=[spec])

    def embed(self, pixels: np.ndarray) -> np.ndarray:
        """L2-normalised vectors of a (n, size, size, 3) uint8 batch."""
        out = np.asarray(self._run(pixels), dtype=np.float32)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def stream(self, batches: Sequence[Sequence[Path]]) -> Iterator[BatchResult]:
        """Each batch's result in order; the next batch decodes while this one runs."""
        with ThreadPoolExecutor(self.threads, thread_name_prefix="dataprep-decode") as pool:
            ahead: Future[tuple[list[np.ndarray], list[int], list[tuple[int, str]]]] | None = None
            for k in range(len(batches)):
                current = ahead.result() if ahead is not None else self._decode(batches[k], pool)
                ahead = pool.submit(self._decode, batches[k + 1], pool) if k + 1 < len(batches) else None
                arrays, ok, bad = current
                vectors = self.embed(np.stack(arrays)) if arrays else np.zeros((0, 0), np.float32)
                yield list(zip(ok, vectors)), bad

    def _decode(
        self, paths: Sequence[Path], pool: ThreadPoolExecutor | None = None
    ) -> tuple[list[np.ndarray], list[int], list[tuple[int, str]]]:
        def one(path: Path) -> np.ndarray | str:
            try:
                return load_square_rgb(path, self.image_size)
            except UndecodableImage as err:
                return str(err)

        # The look-ahead runs on a pool thread: it decodes its files itself rather than wait on the pool.
        decoded = list(pool.map(one, paths)) if pool is not None and len(paths) > 1 else [one(p) for p in paths]
        arrays = [d for d in decoded if isinstance(d, np.ndarray)]
        ok = [i for i, d in enumerate(decoded) if isinstance(d, np.ndarray)]
        bad = [(i, d) for i, d in enumerate(decoded) if isinstance(d, str)]
        return arrays, ok, bad
