"""Benchmark: `dataprep validate` against the loops it replaces, in one run, on two folders.

Folders: pets-800 (800 real JPEG photos) and a larger one: pets-800 plus generated variants of
each photo (resized, progressive, grayscale, mirrored-and-cropped re-encodes; 4,000 files),
written once under /tmp (--work) and reused.

Contenders, per folder:
  pil_decode      single-threaded Pillow `Image.open(path).load()` loop (the baseline)
  tf_decode       single-threaded `tf.io.decode_image` loop (time of the loop; `import tensorflow` apart)
  validate_first  `dataprep validate DIR --json` as a user runs it: fresh process, all cores, empty cache
  validate_rerun  the same command again over the unchanged files (result cache)
and the physical bound: libjpeg-turbo's decode rate on these files (single thread, full size and
DCT-scaled to 1/8, which still reads every entropy-coded byte) times the cores.

Usage: python benchmarks/validate_bench.py [--pets DIR] [--repeat N] [--profile] [--only FOLDER]
Prints markdown tables and one JSON line. Ratios, not absolute times, are what to compare.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

DEFAULT_PETS = Path(__file__).resolve().parents[2] / "shared" / "data" / "pets-800"
DEFAULT_WORK = Path(tempfile.gettempdir()) / "dataprep-validate-bench"
VARIANTS = ("small", "progressive", "gray", "mirror_crop")

_TF_LOOP = """
import sys, time
t0 = time.perf_counter()
import tensorflow as tf
t1 = time.perf_counter()
bad = 0
for path in sys.argv[1:]:
    try:
        tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    except (tf.errors.OpError, ValueError):
        bad += 1
print(t1 - t0, time.perf_counter() - t1, bad)
"""


def list_images(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def make_variants(pets: Path, work: Path) -> Path:
    """pets-800 plus four re-encoded variants of each photo, generated once (deterministic)."""
    from PIL import Image, ImageOps

    out = work / "pets-800-plus-variants"
    done = work / "pets-800-plus-variants.complete"
    if done.exists():
        return out
    for src in list_images(pets):
        rel = src.relative_to(pets)
        target = out / rel.parent
        target.mkdir(parents=True, exist_ok=True)
        data = src.read_bytes()
        (target / rel.name).write_bytes(data)
        with Image.open(io.BytesIO(data)) as im:
            rgb = im.convert("RGB")
        w, h = rgb.size
        crop = ImageOps.mirror(rgb).crop((w // 25, h // 25, w - w // 25, h - h // 25))
        for name, image, params in (
            ("small", rgb.resize((max(1, w * 4 // 5), max(1, h * 4 // 5)), Image.Resampling.BILINEAR), {"quality": 85}),
            ("progressive", rgb, {"quality": 90, "progressive": True}),
            ("gray", rgb.convert("L"), {"quality": 88}),
            ("mirror_crop", crop, {"quality": 80}),
        ):
            image.save(target / f"{src.stem}_{name}.jpg", "JPEG", **params)
    done.write_text("ok\n")
    return out


def pil_decode(files: list[Path]) -> int:
    from PIL import Image

    bad = 0
    for path in files:
        try:
            with Image.open(path) as im:
                im.load()
        except Exception:
            bad += 1
    return bad


def libjpeg_decode(files: list[Path], scaled: bool) -> int:
    """libjpeg-turbo (simplejpeg) decode of every file, full size or DCT-scaled to 1/8."""
    import simplejpeg

    bad = 0
    for path in files:
        try:
            simplejpeg.decode_jpeg(path.read_bytes(), min_width=1 if scaled else 0, min_height=1 if scaled else 0)
        except ValueError:
            bad += 1
    return bad


def timed(fn: Callable[..., object], *args: object) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def tf_loop(files: list[Path]) -> tuple[float, float]:
    """(import seconds, loop seconds) of a tf.io.decode_image loop in a fresh process."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [sys.executable, "-c", _TF_LOOP, *map(str, files)], capture_output=True, text=True, env=env, check=True
    )
    imp, loop, _ = proc.stdout.split()
    return float(imp), float(loop)


def run_validate(root: Path, cache: Path) -> tuple[float, dict]:  # type: ignore[type-arg]
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "dataprep", "validate", str(root), "--json", "--fail-on", "never"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    return time.perf_counter() - start, json.loads(proc.stdout)


_NO_PROPERTIES = """
import sys
from dataprep.inspection.validate import ValidateOptions, validate

if __name__ == "__main__":
    validate(sys.argv[1], ValidateOptions(use_cache=False, image_properties=False))
"""


def run_validate_without_properties(root: Path) -> float:
    """validate through the library in a fresh process, verdicts only: no hashes or image properties."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", _NO_PROPERTIES, str(root)], check=True)
    return time.perf_counter() - start


def bench_folder(root: Path, repeat: int) -> dict[str, float]:
    files = list_images(root)
    for path in files:  # warm the page cache so every contender reads from memory
        path.read_bytes()
    best: dict[str, float] = {}
    findings = 0
    for _ in range(repeat):
        rows = {
            "pil_decode": timed(pil_decode, files),
            "libjpeg_full": timed(libjpeg_decode, files, False),
            "libjpeg_1_8": timed(libjpeg_decode, files, True),
        }
        rows["tf_import"], rows["tf_decode"] = tf_loop(files)
        with tempfile.TemporaryDirectory() as cache:
            rows["validate_first"], report = run_validate(root, Path(cache))
            rows["validate_rerun"], _ = run_validate(root, Path(cache))
        rows["validate_no_properties"] = run_validate_without_properties(root)
        findings = len(report["findings"])
        for k, v in rows.items():
            best[k] = min(best.get(k, v), v)
    return {"files": len(files), "findings": findings, **best}


def print_folder(name: str, r: dict[str, float], cores: int) -> None:
    n = int(r["files"])
    base = r["pil_decode"]
    print(f"\n### {name}: {n} files\n")
    print("| contender | seconds | files/s | speed vs single-thread Pillow decode |")
    print("|---|---:|---:|---:|")
    rows = {
        "pil_decode": "**Pillow full-decode loop (baseline)**",
        "tf_decode": "`tf.io.decode_image` loop (import not counted)",
        "validate_first": "dataprep validate, first run",
        "validate_rerun": "dataprep validate, re-run (cache)",
        "validate_no_properties": "validate, first run without hashes and image properties (library)",
    }
    for key, label in rows.items():
        print(f"| {label} | {r[key]:.2f} | {n / r[key]:.0f} | {base / r[key]:.2f}x |")
    for key, label in (("libjpeg_full", "full size"), ("libjpeg_1_8", "DCT-scaled 1/8")):
        bound = r[key] / cores
        print(
            f"| physical bound: libjpeg-turbo {label} x {cores} cores | {bound:.2f} | {n / bound:.0f} | "
            f"{base / bound:.2f}x |"
        )
    print(
        f"\nre-run {r['validate_first'] / r['validate_rerun']:.1f}x faster than the first run; "
        f"validate's first run reaches {100 * (r['libjpeg_1_8'] / cores) / r['validate_first']:.0f}% of the DCT-scaled "
        f"bound; `import tensorflow` took {r['tf_import']:.2f} s (validate never imported it: no file needed it)."
    )


_POOL_START = """
import sys, time
from dataprep.inspection.checks import CheckOptions
from dataprep.inspection.local_engine import inspect_files
from dataprep.inspection.scan import scan_dataset

if __name__ == "__main__":
    two = scan_dataset(sys.argv[1]).images[:2]
    start = time.perf_counter()
    inspect_files(two, CheckOptions(), jobs=2)
    print(time.perf_counter() - start)
"""


def profile(root: Path) -> None:
    """Where one core's time goes per file, stage by stage (CPU time of this process), and the
    fixed costs of a run."""
    import numpy as np  # noqa: F401 - imported before timing

    from dataprep.inspection.checks import CheckOptions, Sample, run_checks
    from dataprep.inspection.checks.image_properties import image_properties

    files = list_images(root)
    opts = CheckOptions()
    stages: dict[str, float] = dict.fromkeys(("read", "decode", "header", "properties", "sha256", "checks"), 0.0)
    for path in files:
        t = time.process_time()
        data = path.read_bytes()
        t, stages["read"] = time.process_time(), stages["read"] + time.process_time() - t
        sample = Sample(path, path.name, opts, data=data)
        decoded = sample.pixels  # a settled JPEG: its frame header is read here too
        t, stages["decode"] = time.process_time(), stages["decode"] + time.process_time() - t
        _ = sample.header  # Pillow's header parse: only for files the single decode did not settle
        t, stages["header"] = time.process_time(), stages["header"] + time.process_time() - t
        if decoded.array is not None:
            sample.__dict__["properties"] = image_properties(decoded.array)
        t, stages["properties"] = time.process_time(), stages["properties"] + time.process_time() - t
        hashlib.sha256(data).hexdigest()
        t, stages["sha256"] = time.process_time(), stages["sha256"] + time.process_time() - t
        run_checks(sample)
        stages["checks"] += time.process_time() - t
    total = sum(stages.values())
    print(f"\n### profile: {len(files)} files, CPU ms per file on one core\n")
    print("| stage | ms/file | share |")
    print("|---|---:|---:|")
    for key, value in stages.items():
        print(f"| {key} | {1000 * value / len(files):.3f} | {100 * value / total:.0f}% |")
    print(f"| **total in the worker** | {1000 * total / len(files):.3f} | 100% |")
    for label, loop in (
        ("Pillow full-decode loop, for reference", lambda: pil_decode(files)),
        ("libjpeg-turbo DCT-scaled 1/8 decode, for reference", lambda: libjpeg_decode(files, True)),
    ):
        t = time.process_time()
        loop()
        print(f"| {label} | {1000 * (time.process_time() - t) / len(files):.3f} | |")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import dataprep.cli"], check=True)
    cli = time.perf_counter() - start
    proc = subprocess.run([sys.executable, "-c", _POOL_START, str(root)], capture_output=True, text=True, check=True)
    pool = float(proc.stdout)
    print(
        f"\nfixed costs: starting Python and importing the CLI {cli:.2f} s; starting the 2-worker pool and "
        f"inspecting one file in each (a fresh process, forked as the CLI does; workers import numpy, Pillow) {pool:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pets", type=Path, default=DEFAULT_PETS)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="where the larger folder is generated")
    parser.add_argument("--repeat", type=int, default=1, help="repeat each comparison N times; best of N")
    parser.add_argument("--profile", action="store_true", help="also print where the time goes, per stage")
    parser.add_argument("--only", choices=("pets-800", "pets-800+variants"), help="measure one folder only")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    larger = make_variants(args.pets, args.work)
    folders = {"pets-800": args.pets, "pets-800+variants": larger}
    results = {name: bench_folder(root, args.repeat) for name, root in folders.items() if args.only in (None, name)}
    print(f"validate benchmark, {cores} cores, load average {os.getloadavg()[0]:.1f} at the end")
    for name, r in results.items():
        print_folder(name, r, cores)
    if args.profile:
        profile(larger)
    print(json.dumps({name: {k: round(v, 3) for k, v in r.items()} for name, r in results.items()}))


if __name__ == "__main__":
    main()
