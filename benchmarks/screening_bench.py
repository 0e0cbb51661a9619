"""Overhead of validate's per-file screening in `trainer evaluate` (issue 17).

Usage: python benchmarks/screening_bench.py SPLIT_FOLDER RUN_FOLDER (e.g. pets-800 split by
`dataprep split`, a run from `trainer fit SPLIT --image-size 64 --epochs 1`). Each repetition times
evaluate without screening (the baseline, in the same run), screened with a cold cache in this
process and with a worker pool, and with a warm cache; then fit's header-only pixel-cap pass.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import trainer.evaluate as ev
from trainer import data
from trainer.screening import ScreenOptions, refused_files, within_pixel_cap


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def evaluate(root: str, run: str, screen_on: bool, cache: Path | None, jobs: int | None) -> float:
    saved = ev.refused_files
    if not screen_on:
        ev.refused_files = lambda paths, options=None: {}
    try:
        return timed(lambda: ev.evaluate(run, root, screen=ScreenOptions(jobs=jobs, cache_dir=cache)))
    finally:
        ev.refused_files = saved


def main(root: str, run: str) -> None:
    files = [Path(p) for p in data.list_files(root, "test").paths]
    train = data.list_files(root, "train")
    evaluate(root, run, False, None, 0)  # warm-up: model load, tf.function tracing
    for rep in range(2):
        base = evaluate(root, run, False, None, 0)
        cold = evaluate(root, run, True, Path(tempfile.mkdtemp()), 0)
        pool = evaluate(root, run, True, Path(tempfile.mkdtemp()), 2)  # a pool of 2 workers
        warm_dir = Path(tempfile.mkdtemp())
        refused_files(files, ScreenOptions(jobs=0, cache_dir=warm_dir))
        warm = evaluate(root, run, True, warm_dir, 0)
        print(
            f"rep {rep}: {len(files)} files; evaluate without screening {base:.2f}s | screened, cold cache, "
            f"in-process {cold:.2f}s | cold cache, pool {pool:.2f}s | warm cache {warm:.2f}s",
            flush=True,
        )
    cap = min(timed(lambda: within_pixel_cap(train, 178_956_970)) for _ in range(3))
    print(f"fit's pixel-cap header read over {len(train)} train files: {cap:.3f}s")


if __name__ == "__main__":  # the worker pool's fork server re-imports this module
    main(sys.argv[1], sys.argv[2])
