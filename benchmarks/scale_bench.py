"""Benchmark: dataprep at scale. Local pool vs Ray on the same files, the driver's ingest ceiling,
the CLI's peak RSS as the file count grows, a wall-time projection for big clusters, and
near-duplicate grouping (HashIndex) at 1M and 10M hashes.

Sections (each prints a markdown table; `--json` adds one JSON line per section):
  engines   N generated tiny JPEGs (default 10,000; noise, 32x32) validated with --engine local and
            --engine ray (a private Ray started as the CLI starts it: --rounds paired rounds, the
            median ratio; and a warm one), no cache; then a cached re-run on each engine, counting
            Ray starts (there must be none).
  pairs     the near-duplicate pair search (HashIndex.pairs_within(10)) over --pairs generated
            hashes (default 1M, 1% planted copies) on the driver alone vs its parts as Ray tasks on
            --pairs-workers CPUs of a running Ray (dataprep.duplicates.ray_pairs), paired rounds, results
            checked equal; then --pairs-big (10M) hashes timed on 2 of --pairs-sample-parts parts and
            projected onto 1-64 nodes of 8 cores with the parallel efficiency measured.
  ingest    results per second the driver takes in (validate's loop: stream -> cache), from a
            stand-in `inspect` that reads no file, in-process, through the local pool and through Ray.
  rss       peak RSS of the driver process (validate's per-file path held in memory: scan records,
            results, cache, report, JSON written to /dev/null; the dataset findings live in the
            streamed path only, see --streamed) at 10k/100k/1M synthetic files, each in a fresh
            process; synthetic = real result objects shaped like a pets-800 photo's, no files
            (1M real files do not fit this machine's disk budget).
  photos    per-file CPU cost on real photos (--photos DIR, default ../shared/data/pets-800).
  project   wall time for 1M and 10M photos at 8/64/512 worker cores from the measured per-file
            cost (photos, else engines) and per-result driver cost (Ray's, from ingest);
            --ray-start: Ray's start-up seconds (engines: ray_cold - ray_warm).
  hashes    HashIndex.pairs_within(10) over 100k, 1M and 10M random 64-bit pHashes with 1% planted
            near copies: time and peak RSS; above --hashes-parts-over hashes the index is built in
            full and one of n/that independent parts of the queries is timed (x parts).

Usage: python benchmarks/scale_bench.py [--files 10000] [--rounds 3] [--rss 10000,100000,1000000] [--sections ...]
Times on a shared machine are noisy: compare the ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from dataprep.inspection.checks import CheckOptions
from dataprep.inspection.report import FileResult

TEMPLATE: dict[str, Any] = {  # dataprep's result for a pets-800 photo (cats/cat.0.jpg), hashes varied per file
    "size": 33385, "mtime_ns": 0, "format": "jpeg", "width": 300, "height": 280, "mode": "RGB", "frames": 1,
    "findings": [],
    "properties": {
        "brightness": 0.2785, "brightness_p01": 0.0544, "brightness_p99": 0.6367, "contrast": 0.1334,
        "entropy": 7.0257, "sharpness": 1.2746, "colour_spread": 49.0, "aspect_ratio": 0.9333,
    },
}  # fmt: skip


def synthetic_inspect(path: Path, rel: str, size: int, mtime_ns: int, options: CheckOptions) -> FileResult:
    """A photo's result without reading a file: what the driver ingests per file."""
    import hashlib

    digest = hashlib.sha256(rel.encode()).hexdigest()
    d: dict[str, Any] = {
        **TEMPLATE, "size": size, "mtime_ns": mtime_ns, "sha256": digest, "phash": digest[:16],
        "dhash": digest[16:32], "pixel_hash": digest[32:64], "properties": dict(TEMPLATE["properties"]),
    }  # fmt: skip
    if int(digest[:2], 16) < 13:  # about 1 in 20 photos has a finding
        d["findings"] = [["corrupt_data", "warning", "Premature end of JPEG file (bytes after the last marker)"]]
    return FileResult.from_cache(rel, d)


def synthetic_scan(n: int, root: Path) -> Any:
    from dataprep.inspection.scan import FileRecord, Scan

    images = [
        FileRecord(path=root / f"class{i % 10}" / f"img{i:08d}.jpg", rel=f"class{i % 10}/img{i:08d}.jpg",
                   label=f"class{i % 10}", split=None, size=30_000 + i % 5000, mtime_ns=i)
        for i in range(n)
    ]  # fmt: skip
    images.sort(key=lambda r: r.rel)
    return Scan(root=root, layout="raw", images=images)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- engines -----------------------------------------------------------------------------------


def make_files(root: Path, n: int) -> None:
    from PIL import Image

    rng = random.Random(0)
    for i in range(n):
        folder = root / f"c{i % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.frombytes("RGB", (32, 32), rng.randbytes(32 * 32 * 3)).save(folder / f"{i:06d}.jpg", quality=90)


def section_engines(n: int, rounds: int) -> dict[str, Any]:
    """validate over n generated files, as the CLI runs it: the local pool, then `--engine ray`
    starting its own Ray, in paired rounds (the ratio is the median of the rounds'); then a
    re-run with every file cached on each engine (Ray must start nothing: `ray_starts`)."""
    import statistics

    import ray

    from dataprep.inspection.ray_engine import ray_session
    from dataprep.inspection.validate import ValidateOptions
    from dataprep.inspection.validate_stream import validate_streamed

    def validate(root: Path, opts: ValidateOptions) -> float:  # the CLI's path
        t = time.perf_counter()
        validate_streamed(root, opts).store.close()
        return time.perf_counter() - t

    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        root = Path(tmp) / "files"
        make_files(root, n)
        validate(root, ValidateOptions(use_cache=False, jobs=0, use_tf=False))  # page cache warm
        local, cold = [], []
        for _ in range(rounds):
            local.append(validate(root, ValidateOptions(use_cache=False)))
            cold.append(validate(root, ValidateOptions(use_cache=False, engine="ray")))  # starts, stops its Ray
        with ray_session():
            validate(root, ValidateOptions(use_cache=False, engine="ray", use_tf=False))  # actors' code loaded once
            warm = validate(root, ValidateOptions(use_cache=False, engine="ray"))
        cache = Path(tmp) / "cache"
        validate(root, ValidateOptions(cache_dir=cache))  # fills the cache
        cached_local = validate(root, ValidateOptions(cache_dir=cache))
        starts: list[int] = []
        real_init = ray.init
        ray.init = lambda *a, **k: starts.append(1) or real_init(*a, **k)  # type: ignore[assignment]
        try:
            cached_ray = validate(root, ValidateOptions(cache_dir=cache, engine="ray"))
        finally:
            ray.init = real_init  # type: ignore[assignment]
    ratios = [c / lo for c, lo in zip(cold, local, strict=True)]
    rows = {"local": statistics.median(local), "ray_cold": statistics.median(cold), "ray_warm": warm,
            "cached_local": cached_local, "cached_ray": cached_ray}  # fmt: skip
    cores = os.cpu_count() or 1
    out: dict[str, Any] = {"files": n, "cores": cores, "rounds": rounds, **{k: round(v, 2) for k, v in rows.items()}}
    out |= {"ratio_cold": round(statistics.median(ratios), 2), "ratio_cold_rounds": [round(r, 2) for r in ratios],
            "ratio_warm": round(warm / rows["local"], 2), "cpu_s_per_file": round(rows["local"] * cores / n, 5),
            "ray_starts_cached": len(starts)}  # fmt: skip
    print(f"\n### engines: {n} files, {cores} cores, TensorFlow check on; median of {rounds} paired rounds\n")
    print("| run | seconds | / local |\n|---|---:|---:|")
    for k in ("local", "ray_cold", "ray_warm"):
        ratio = out["ratio_cold"] if k == "ray_cold" else rows[k] / rows["local"]
        print(f"| {k} | {rows[k]:.1f} | {ratio:.2f}x |")
    print(f"| cached re-run, local | {cached_local:.1f} | |")
    print(f"| cached re-run, --engine ray ({len(starts)} Ray starts) | {cached_ray:.1f} | |")
    return out


def section_photos(root: Path) -> dict[str, Any]:
    """Per-file CPU cost on real photos (the projection's input): validate, local engine, no cache."""
    from dataprep.inspection.validate import ValidateOptions, validate

    validate(root, ValidateOptions(use_cache=False, jobs=0, use_tf=False))  # page cache warm
    t = time.perf_counter()
    report = validate(root, ValidateOptions(use_cache=False))
    seconds = time.perf_counter() - t
    cores = os.cpu_count() or 1
    n = len(report.scan.images)
    per_file = round(seconds * cores / n, 4)
    out = {"dir": str(root), "files": n, "seconds": round(seconds, 1), "cpu_s_per_file": per_file}
    print(
        f"\n### photos: {n} real photos ({root.name}), local engine, {cores} cores: {seconds:.1f} s, "
        f"{per_file * 1000:.0f} ms of CPU per file (worker start-up included)"
    )
    return out


# --- ingest ------------------------------------------------------------------------------------


def run_driver(n: int, engine: str, jobs: int | None, use_cache: bool = True) -> dict[str, Any]:
    """validate's driver path over `n` synthetic files; returns seconds and peak RSS. Ray is
    started first and its actors' code loaded by a small run, so ingest_s is the driver's rate."""
    if engine == "ray":
        from dataprep.inspection.ray_engine import ray_session

        with ray_session():
            _driver_path(200, engine, jobs, use_cache)
            return _driver_path(n, engine, jobs, use_cache)
    return _driver_path(n, engine, jobs, use_cache)


def _driver_path(n: int, engine: str, jobs: int | None, use_cache: bool) -> dict[str, Any]:
    from dataprep.inspection.validate import ValidateOptions, inspect_scan

    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        scan = synthetic_scan(n, Path(tmp) / "root")
        opts = ValidateOptions(
            jobs=jobs, engine=engine, use_tf=False, cache_dir=Path(tmp) / "cache", use_cache=use_cache
        )
        t = time.perf_counter()
        results, _, inspected = inspect_scan(scan, opts, inspect=synthetic_inspect)
        ingest_s = time.perf_counter() - t
        from dataprep.inspection.report import Report

        report = Report(root=scan.root, scan=scan, results=results, inspected=inspected)
        with open(os.devnull, "w", encoding="utf-8") as sink:
            json.dump(report.to_dict(), sink, indent=2)
        total_s = time.perf_counter() - t
    return {"files": n, "engine": engine, "jobs": jobs, "ingest_s": round(ingest_s, 2), "total_s": round(total_s, 2),
            "results_per_s": round(n / ingest_s), "peak_rss_mib": round(peak_rss_mib())}  # fmt: skip


def make_tree(n: int, base: Path) -> Path:
    """n empty files in 10 class folders under `base` (reused when a previous run made them):
    the walk and the run file are real; `synthetic_inspect` never reads a file."""
    root = base / f"files-{n}"
    done = root / ".complete"
    if not done.exists():
        for c in range(10):
            (root / f"class{c}").mkdir(parents=True, exist_ok=True)
        for i in range(n):
            open(root / f"class{i % 10}" / f"img{i:08d}.jpg", "wb").close()
        done.touch()
    return root


def run_streamed(n: int, engine: str, jobs: int | None, base: Path) -> dict[str, Any]:
    """The validate command's path (`validate_streamed`, JSON and CSV written from the run file)
    over n files on disk, with the stand-in inspect; peak RSS of this process."""
    from dataprep.inspection.validate import ValidateOptions
    from dataprep.inspection.validate_stream import validate_streamed

    root = make_tree(n, base)
    start_rss = peak_rss_mib()
    with tempfile.TemporaryDirectory(prefix="scale-bench-", dir=base) as tmp:
        opts = ValidateOptions(jobs=jobs, engine=engine, use_tf=False, cache_dir=Path(tmp) / "cache")
        t = time.perf_counter()
        report = validate_streamed(root, opts, store_dir=Path(tmp), inspect=synthetic_inspect)
        try:
            with open(os.devnull, "w", encoding="utf-8") as sink:
                report.write_json(sink)
            report.write_csv(Path(tmp) / "findings.csv")
            findings = sum(1 for _ in report.findings())
            run_file_mib = report.store.path.stat().st_size / 2**20
        finally:
            report.store.close()
        total_s = time.perf_counter() - t
    return {"files": n, "engine": engine, "jobs": jobs, "total_s": round(total_s, 1), "findings": findings,
            "run_file_mib": round(run_file_mib),
            "rss_before_mib": round(start_rss), "peak_rss_mib": round(peak_rss_mib()), "streamed": True}  # fmt: skip


def section_rss_streamed(sizes: list[int], engines: list[str], base: Path) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    for n in sizes:
        for engine in engines:
            cmd = [sys.executable, __file__, "--streamed", str(n), "--engine", engine, "--tree-dir", str(base)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    print("\n### rss: peak RSS of `validate`'s streamed path (walk, run file, cache, JSON + CSV from disk)\n")
    print("| files | engine | peak RSS MiB | before the run MiB | run file MiB | seconds |")
    print("|---:|---|---:|---:|---:|---:|")
    for r in runs:
        print(
            f"| {r['files']:,} | {r['engine']} | {r['peak_rss_mib']:,} | {r['rss_before_mib']:,} "
            f"| {r.get('run_file_mib', '')} | {r['total_s']:.0f} |"
        )
    return runs


def in_subprocess(n: int, engine: str, jobs: int | None) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--driver",
        str(n),
        "--engine",
        engine,
        "--jobs",
        str(jobs if jobs is not None else -1),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def section_ingest(n: int, base: Path) -> list[dict[str, Any]]:
    """Results per second through validate's streamed path (walk, cache, run file, JSON, CSV)
    with a stand-in inspect that reads no file: the driver's ceiling."""
    runs = []
    for engine, jobs in (("local", 0), ("local", -1), ("ray", -1)):
        cmd = [sys.executable, __file__, "--streamed", str(n), "--engine", engine, "--jobs", str(jobs), "--warm"]
        out = subprocess.run([*cmd, "--tree-dir", str(base)], capture_output=True, text=True, check=True).stdout
        run = json.loads(out.strip().splitlines()[-1])
        run["results_per_s"] = round(n / run["total_s"])
        runs.append(run)
    print(
        f"\n### ingest: {n} files, stand-in inspect (no file read), validate's streamed path, cache on, Ray running\n"
    )
    print("| engine | results/s | seconds |\n|---|---:|---:|")
    for r in runs:
        name = "in-process (jobs=0)" if r["jobs"] == 0 else r["engine"]
        print(f"| {name} | {r['results_per_s']:,} | {r['total_s']:.1f} |")
    return runs


def section_rss(sizes: list[int]) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    for n in sizes:
        for engine, jobs in (("local", None), ("ray", None)):
            if n > 100_000:  # 1M through a pool on 2 shared cores takes many minutes: the driver alone
                engine, jobs = "local", 0
                if runs and runs[-1]["files"] == n:
                    continue
            runs.append(in_subprocess(n, engine, jobs))
    print("\n### rss: peak RSS of the driver (scan records + results + cache + report + JSON)\n")
    print("| files | engine | peak RSS MiB | KiB per file | seconds |\n|---:|---|---:|---:|---:|")
    for r in runs:
        engine = "in-process (jobs=0)" if r["jobs"] == 0 else r["engine"]
        print(
            f"| {r['files']:,} | {engine} | {r['peak_rss_mib']:,} | "
            f"{r['peak_rss_mib'] * 1024 / r['files']:.1f} | {r['total_s']:.1f} |"
        )
    return runs


# --- projection --------------------------------------------------------------------------------


def section_project(cpu_s_per_file: float, driver_s_per_result: float, startup_s: float) -> list[dict[str, Any]]:
    rows = []
    print("\n### projection: wall time = max(files x cpu_s/file / cores, files x driver_s/result) + startup\n")
    print(
        f"(cpu_s/file {cpu_s_per_file:.4f} measured on this machine; "
        f"driver {driver_s_per_result * 1e6:.0f} us/result; startup {startup_s:.0f} s)\n"
    )
    print("| photos | 8 cores | 64 cores | 512 cores |\n|---:|---:|---:|---:|")
    for n in (1_000_000, 10_000_000):
        cells = []
        for cores in (8, 64, 512):
            work, driver = n * cpu_s_per_file / cores, n * driver_s_per_result
            wall = max(work, driver) + startup_s
            rows.append({"photos": n, "cores": cores, "wall_s": round(wall), "driver_bound": driver >= work})
            cells.append(f"{_hms(wall)}{' (driver-bound)' if driver >= work else ''}")
        print(f"| {n:,} | " + " | ".join(cells) + " |")
    return rows


def _hms(s: float) -> str:
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min" if s >= 60 else f"{s:.0f} s"


# --- near-duplicate grouping -------------------------------------------------------------------


def hashes_run(n: int, parts: int) -> dict[str, Any]:
    """Index n random hashes (1% planted near copies) and find the pairs within 10 bits. With
    parts > 1 only the first of `parts` independent parts runs (the index is built in full, so the
    memory is the whole run's) and the time is that part's times `parts`."""
    import numpy as np

    from dataprep.duplicates.hash_index import HashIndex

    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
    planted = n // 100  # 1% are near copies of another photo (up to 8 bits flipped)
    src = rng.integers(0, n, size=planted)
    dst = rng.integers(0, n, size=planted)
    flips = np.zeros(planted, dtype=np.uint64)
    for _ in range(8):
        flips |= np.uint64(1) << rng.integers(0, 64, size=planted, dtype=np.uint64)
    hashes[dst] = hashes[src] ^ flips
    before = peak_rss_mib()
    t = time.perf_counter()
    index = HashIndex(hashes)
    i, _, _ = index.pairs_within(10, part=(0, parts))
    seconds = (time.perf_counter() - t) * parts
    return {"hashes": n, "seconds": round(seconds, 1), "parts_run": f"1/{parts}", "pairs": len(i) * parts,
            "comparisons": index.comparisons * parts, "peak_rss_mib": round(peak_rss_mib()),
            "rss_before_mib": round(before),
            "layout": " ".join(f"{p.bits}b r{p.radius}" for p in index.layout(10))}  # fmt: skip


def section_hashes(sizes: list[int], parts_over: int) -> list[dict[str, Any]]:
    runs = []
    for n in sizes:
        parts = max(1, n // parts_over)
        out = subprocess.run(
            [sys.executable, __file__, "--hashes-run", str(n), "--hashes-parts", str(parts)],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("\n### hashes: HashIndex near-duplicate pairs (threshold 10 bits) on the driver\n")
    print("| hashes | layout (piece bits, radius) | seconds | peak RSS MiB | pairs found | distances computed | run |")
    print("|---:|---|---:|---:|---:|---:|---|")
    for r in runs:
        run = "all" if r["parts_run"] == "1/1" else f"{r['parts_run']} of the queries, x{r['parts_run'][2:]}"
        print(
            f"| {r['hashes']:,} | {r['layout']} | {r['seconds']} | {r['peak_rss_mib']:,} | {r['pairs']:,} "
            f"| {r['comparisons']:,} | {run} |"
        )
    return runs


def planted_hashes(n: int, seed: int = 0) -> Any:
    """n random 64-bit pHashes, 1% of them near copies (up to 8 bits flipped) of another."""
    import numpy as np

    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
    src, dst = rng.integers(0, n, size=n // 100), rng.integers(0, n, size=n // 100)
    flips = np.zeros(n // 100, dtype=np.uint64)
    for _ in range(8):
        flips |= np.uint64(1) << rng.integers(0, 64, size=n // 100, dtype=np.uint64)
    hashes[dst] = hashes[src] ^ flips
    return hashes


def timed_part(index: Any, queries: Any, threshold: int, part: tuple[int, int]) -> tuple[float, int]:
    """`ray_pairs.search_part` on a Ray worker, answering with its CPU seconds and the worker's pid."""
    from dataprep.duplicates.ray_pairs import search_part

    cpu = time.process_time()
    search_part(index, queries, threshold, part)
    return time.process_time() - cpu, os.getpid()


def section_pairs(n: int, workers: int, rounds: int, big: int, sample_parts: int) -> dict[str, Any]:
    """The pair search (threshold 10) over n hashes on the driver alone vs its parts as Ray tasks
    on `workers` CPUs of a running private Ray, in paired rounds (index build included in both);
    the CPU seconds of both (the busiest worker's is the wall time on dedicated cores); then `big`
    hashes' driver time estimated from 2 of `sample_parts` parts, and projected."""
    import statistics

    import numpy as np

    from dataprep.duplicates.hash_index import HashIndex
    from dataprep.duplicates.ray_pairs import _run_parts, ray_pairs_within
    from dataprep.inspection.ray_engine import ray_session

    hashes = planted_hashes(n)
    driver, spread, load, driver_cpu = [], [], [], []
    here = str(Path(__file__).resolve().parent)  # Ray's workers import timed_part from this file
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)
    t = time.perf_counter()
    with ray_session(num_cpus=workers) as ray:
        start_s = time.perf_counter() - t
        ray_pairs_within(ray, HashIndex(hashes[:20_000]), 10)  # workers started, code loaded
        for _ in range(rounds):
            load.append(os.getloadavg()[0])
            t, cpu = time.perf_counter(), time.process_time()
            expected = HashIndex(hashes).pairs_within(10)
            driver.append(time.perf_counter() - t)
            driver_cpu.append(time.process_time() - cpu)
            t = time.perf_counter()
            found = ray_pairs_within(ray, HashIndex(hashes), 10)
            spread.append(time.perf_counter() - t)
            assert all(np.array_equal(a, b) for a, b in zip(found, expected, strict=True))
        per_worker: dict[int, float] = {}
        for _, (cpu_s, pid) in _run_parts(ray, timed_part, (ray.put(HashIndex(hashes).prepare(10)), None, 10), None):
            per_worker[pid] = per_worker.get(pid, 0.0) + cpu_s
    cpu_speedup = statistics.median(driver_cpu) / max(per_worker.values())
    speedups = [d / r for d, r in zip(driver, spread, strict=True)]
    big_hashes = planted_hashes(big, seed=1)
    index = HashIndex(big_hashes)
    t = time.perf_counter()
    index.prepare(10)
    build_s = time.perf_counter() - t
    part_s = []
    for k in (0, sample_parts // 2):
        t = time.perf_counter()
        index.pairs_within(10, part=(k, sample_parts))
        part_s.append(time.perf_counter() - t)
    big_driver_s = build_s + statistics.mean(part_s) * sample_parts
    efficiency = cpu_speedup / workers
    out: dict[str, Any] = {
        "hashes": n, "workers": workers, "rounds": rounds, "driver_s": round(statistics.median(driver), 1),
        "ray_s": round(statistics.median(spread), 1), "speedup": round(statistics.median(speedups), 2),
        "speedup_rounds": [round(x, 2) for x in speedups], "load_1min": [round(x, 1) for x in load],
        "ray_start_s": round(start_s, 1), "pairs": len(expected[0]), "big": big, "big_build_s": round(build_s, 1),
        "big_driver_s": round(big_driver_s), "efficiency": round(efficiency, 2),
        "driver_cpu_s": round(statistics.median(driver_cpu), 1), "worker_cpu_s": [round(x, 1) for x in per_worker.values()],
        "cpu_speedup": round(cpu_speedup, 2),
    }  # fmt: skip
    print(f"\n### pairs: near-duplicate pair search (10 bits), {n:,} hashes, median of {rounds} paired rounds\n")
    print("| run | seconds | speed-up |\n|---|---:|---:|")
    print(f"| the driver alone (1 core) | {out['driver_s']} | 1.00x |")
    print(f"| {workers} Ray workers (parts as tasks; Ray running) | {out['ray_s']} | {out['speedup']:.2f}x |")
    print(
        f"| {workers} Ray workers on dedicated cores (CPU s: the driver's / the busiest worker's) "
        f"| {max(per_worker.values()):.1f} | {cpu_speedup:.2f}x |"
    )
    print(
        f"\n(Ray start-up {start_s:.1f} s; 1-min load average during the rounds: {out['load_1min']}; "
        f"CPU s: driver {out['driver_cpu_s']}, workers {out['worker_cpu_s']})"
    )
    print(
        f"\n### projection: pair search over {big:,} hashes (driver alone measured from 2 of {sample_parts}"
        f" parts: {_hms(big_driver_s)}; index build {build_s:.0f} s, on the driver; parallel efficiency on"
        f" dedicated cores {efficiency:.2f}, measured above)\n"
    )
    print("| nodes x 8 cores | wall |\n|---:|---:|")
    rows = []
    for nodes in (1, 4, 16, 64):
        wall = build_s + (big_driver_s - build_s) / (nodes * 8 * efficiency)
        rows.append({"nodes": nodes, "cores": nodes * 8, "wall_s": round(wall)})
        print(f"| {nodes} x 8 | {_hms(wall)} |")
    out["projection"] = rows
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3, help="paired rounds of the engines and pairs sections")
    ap.add_argument("--pairs", type=int, default=1_000_000, help="hashes of the pairs section")
    ap.add_argument("--pairs-workers", type=int, default=2)
    ap.add_argument("--pairs-big", type=int, default=10_000_000, help="hashes of the pairs projection")
    ap.add_argument("--pairs-sample-parts", type=int, default=100, help="the big run is timed on 2 of these parts")
    ap.add_argument("--ingest", type=int, default=20000)
    ap.add_argument("--rss", default="10000,100000,1000000")
    ap.add_argument("--hashes", default="100000,1000000,10000000")
    ap.add_argument("--hashes-parts-over", type=int, default=2_000_000, help="above this many hashes, time one part")
    ap.add_argument("--hashes-parts", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--photos", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "pets-800")
    ap.add_argument("--ray-start", type=float, default=12.0, help="seconds to start Ray, for the projection")
    ap.add_argument("--sections", default="engines,pairs,photos,ingest,rss,project,hashes")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--driver", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--engine", default="local", help=argparse.SUPPRESS)
    ap.add_argument("--jobs", type=int, default=-1, help=argparse.SUPPRESS)
    ap.add_argument("--hashes-run", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--streamed", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--chunk", type=int, help="images per engine run in the streamed path (default: CHUNK)")
    ap.add_argument("--rss-engines", default="local,ray")
    ap.add_argument(
        "--tree-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "dataprep-scale-bench",
        help="where the empty-file trees of the rss section are made (and reused)",
    )
    args = ap.parse_args()
    if args.driver:
        print(json.dumps(run_driver(args.driver, args.engine, None if args.jobs < 0 else args.jobs)))
        return
    if args.streamed:
        if args.chunk:
            import dataprep.inspection.run_store

            dataprep.inspection.run_store.CHUNK = args.chunk
        jobs = None if args.jobs < 0 else args.jobs
        if args.engine == "ray" and args.warm:  # the driver's rate on a running Ray, its start-up apart
            from dataprep.inspection.ray_engine import ray_session

            with ray_session():
                run_streamed(200, args.engine, jobs, args.tree_dir)
                print(json.dumps(run_streamed(args.streamed, args.engine, jobs, args.tree_dir)))
            return
        print(json.dumps(run_streamed(args.streamed, args.engine, jobs, args.tree_dir)))
        return
    if args.hashes_run:
        print(json.dumps(hashes_run(args.hashes_run, args.hashes_parts)))
        return
    sections = set(args.sections.split(","))
    found: dict[str, Any] = {}
    if "engines" in sections:
        found["engines"] = section_engines(args.files, args.rounds)
    if "pairs" in sections:
        found["pairs"] = section_pairs(
            args.pairs, args.pairs_workers, args.rounds, args.pairs_big, args.pairs_sample_parts
        )
    if "photos" in sections and args.photos.is_dir():
        found["photos"] = section_photos(args.photos)
    if "ingest" in sections:
        found["ingest"] = section_ingest(args.ingest, args.tree_dir)
    if "rss" in sections:
        found["rss"] = section_rss_streamed(
            [int(x) for x in args.rss.split(",") if x], args.rss_engines.split(","), args.tree_dir
        )
    if "rss-in-memory" in sections:
        found["rss_in_memory"] = section_rss([int(x) for x in args.rss.split(",") if x])
    if "project" in sections and "ingest" in found and ("photos" in found or "engines" in found):
        ray_ingest = next(r for r in found["ingest"] if r["engine"] == "ray")
        per_file = found["photos" if "photos" in found else "engines"]["cpu_s_per_file"]
        found["project"] = section_project(per_file, 1 / ray_ingest["results_per_s"], args.ray_start)
    if "hashes" in sections:
        found["hashes"] = section_hashes([int(x) for x in args.hashes.split(",") if x], args.hashes_parts_over)
    if args.json:
        for name, value in found.items():
            print(json.dumps({name: value}))


if __name__ == "__main__":
    main()
