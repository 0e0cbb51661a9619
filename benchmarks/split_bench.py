"""Benchmark `dataprep split`: files/s for copy and hardlink modes against `cp -r`.

    .venv/bin/python benchmarks/split_bench.py [DATA] [--repeat 9]

DATA defaults to /work/shared/data/pets-800 (used in place, never copied into the project).
Every output goes under a temporary folder that is deleted at the end. The validation cache is
warmed once first (a second `split` of unchanged files reuses it), and every timing is the
median of --repeat runs with the source files in the page cache, each run started after
`sync` so that writeback of the previous run does not slow the next one. Prints a markdown table for
BENCHMARKS.md:

- `cp -r` — the baseline, a subprocess (fork + exec included, a few ms).
- `split --mode M (write phase)` — the executor: journal, atomic per-file placement, split.json.
  Copies run on `dataprep.split.execute.COPY_THREADS` threads; the row `copy, 1 thread` is the
  same executor with one thread (what split did before), measured in the same rounds.
- `split --mode M (end to end)` — `split_dataset` with a warm validation cache: scan, cached
  validation lookup, plan, write.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dataprep.split.execute as split_execute
from dataprep.inspection.validate import ValidateOptions
from dataprep.split import SplitSpec, split_dataset

DEFAULT_DATA = Path("/work/shared/data/pets-800")


def _count_files(root: Path) -> int:
    return sum(len(files) for _dirpath, _dirs, files in os.walk(root))


def _time_cp(data: Path, target: Path) -> float:
    os.sync()  # start each run with no dirty pages of the previous one being written back
    started = time.perf_counter()
    subprocess.run(["cp", "-r", str(data), str(target)], check=True)
    seconds = time.perf_counter() - started
    shutil.rmtree(target)
    return seconds


def _time_split(data: Path, out: Path, mode: str, options: ValidateOptions) -> tuple[float, float, int]:
    """(write seconds, end-to-end seconds, files written) for one run of one mode ("copy-1": one thread)."""
    os.sync()
    threads = split_execute.COPY_THREADS
    if mode == "copy-1":
        split_execute.COPY_THREADS = 1
    started = time.perf_counter()
    try:
        result = split_dataset(data, out, SplitSpec(0.1, 0.1), mode=mode.split("-")[0], validate_options=options)
    finally:
        split_execute.COPY_THREADS = threads
    total = time.perf_counter() - started
    shutil.rmtree(out)
    return result.seconds["write"], total, result.written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA, help="dataset folder (RAW/CLASS/*.jpg)")
    parser.add_argument("--repeat", type=int, default=9, help="runs per row; the median is reported")
    parser.add_argument("--tmp", type=Path, default=None, help="where the temporary outputs go (default: system temp)")
    parser.add_argument("--tf", action="store_true", help="validate with TensorFlow's decoder too (slow warm-up)")
    args = parser.parse_args()
    data: Path = args.data.resolve()
    if not data.is_dir():
        sys.exit(f"error: no such directory: '{data}' (expected a folder of class folders)")

    with tempfile.TemporaryDirectory(prefix="split-bench-", dir=args.tmp) as tmp:
        work = Path(tmp)
        options = ValidateOptions(cache_dir=work / "cache", use_tf=args.tf)
        split_dataset(data, work / "warm", SplitSpec(0.1, 0.1), validate_options=options)  # warms cache + page cache
        shutil.rmtree(work / "warm")
        files = _count_files(data)
        # Rounds interleave the three commands so that a noisy disk slows them alike.
        cp_times: list[float] = []
        split_times: dict[str, list[tuple[float, float, int]]] = {"copy": [], "copy-1": [], "hardlink": []}
        for i in range(args.repeat):
            cp_times.append(_time_cp(data, work / f"cp-{i}"))
            for mode, runs in split_times.items():
                runs.append(_time_split(data, work / f"{mode}-{i}", mode, options))
    cp_s = statistics.median(cp_times)
    rows = [("`cp -r` (baseline)", files, cp_s)]
    ratios = {}
    for mode, runs in split_times.items():
        n = runs[0][2]
        write_s = statistics.median(r[0] for r in runs)
        name = "copy, 1 thread" if mode == "copy-1" else mode
        rows.append((f"`split --mode {name}` (write phase)", n, write_s))
        rows.append((f"`split --mode {name}` (end to end, warm cache)", n, statistics.median(r[1] for r in runs)))
        ratios[mode] = (n / write_s) / (files / cp_s)

    print(f"Dataset: `{data}` ({files} files). Median of {args.repeat} runs, files in the page cache.")
    print(f"Machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs.\n")
    print("| what | files | seconds | files/s | vs `cp -r` |")
    print("|---|---:|---:|---:|---:|")
    base = files / cp_s
    for name, n, seconds in rows:
        rate = n / seconds
        print(f"| {name} | {n} | {seconds:.3f} | {rate:,.0f} | {rate / base:.0%} |")
    print()
    verdict = "meets" if ratios["copy"] >= 0.8 else "misses"
    print(f"Copy mode write phase: {ratios['copy']:.0%} of `cp -r` throughput ({verdict} the 80% target).")


if __name__ == "__main__":
    main()
