"""Benchmark: `dataprep validate` against the loops it replaces, in one run, on two folders.

Folders: pets-800 (800 real JPEG photos) and a larger one: pets-800 plus generated variants of
each photo (resized, progressive, grayscale, mirrored-and-cropped re-encodes; 4,000 files),
written once under /tmp (--work) and reused.

Paired rounds, per folder (each round measures the baselines and validate back to back, so a
busy machine weighs on both; the ratio of each round is kept and the median reported):
  pil_decode      single-threaded Pillow `Image.open(path).load()` loop (the first run's baseline)
  validate_first  `dataprep validate DIR --json` as a user runs it: fresh process, all cores, empty cache
  validate_rerun  the same command again over the unchanged files (result cache)
  walk_process    a bare `os.walk` + `os.stat` of every file, in a fresh Python process (the
                  re-run's baseline: what any tool that looks at every file pays, start-up included)
  walk            the same walk inside this process (no start-up), for reference
and, once per folder, the physical bound: libjpeg-turbo's decode rate on these files (single
thread, DCT-scaled to 1/8, which still reads every entropy-coded byte) times the cores.

`--profile`: CPU microseconds per photo on one core, step by step, over a folder's files.

Usage: python benchmarks/validate_bench.py [--pets DIR] [--rounds N] [--profile] [--only FOLDER]
Prints markdown tables and one JSON line. Ratios, not absolute times, are what to compare.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

DEFAULT_PETS = Path(__file__).resolve().parents[2] / "shared" / "data" / "pets-800"
DEFAULT_WORK = Path(tempfile.gettempdir()) / "dataprep-validate-bench"
VARIANTS = ("small", "progressive", "gray", "mirror_crop")
ROOT = Path(__file__).resolve().parents[1]  # validate runs from this checkout

_WALK = """
import os, sys
n = 0
for folder, _, names in os.walk(sys.argv[1]):
    for name in names:
        os.stat(os.path.join(folder, name))
        n += 1
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


def libjpeg_decode(files: list[Path]) -> int:
    """libjpeg-turbo (simplejpeg) decode of every file, DCT-scaled to 1/8."""
    import simplejpeg

    bad = 0
    for path in files:
        try:
            simplejpeg.decode_jpeg(path.read_bytes(), min_width=1, min_height=1)
        except ValueError:
            bad += 1
    return bad


def timed(fn: Callable[..., object], *args: object) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def run_validate(root: Path, cache: Path) -> tuple[float, dict]:  # type: ignore[type-arg]
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "dataprep", "validate", str(root), "--json", "--fail-on", "never"],
        capture_output=True, text=True, env=env, check=True, cwd=ROOT,
    )  # fmt: skip
    return time.perf_counter() - start, json.loads(proc.stdout)


def walk_process(root: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", _WALK, str(root)], check=True)
    return time.perf_counter() - start


def walk(root: Path) -> float:
    start = time.perf_counter()
    for folder, _, names in os.walk(root):
        for name in names:
            os.stat(os.path.join(folder, name))
    return time.perf_counter() - start


def bench_folder(root: Path, rounds: int) -> dict[str, object]:
    """Paired rounds: the baselines and validate back to back in each; every round's seconds kept."""
    files = list_images(root)
    for path in files:  # warm the page cache so every contender reads from memory
        path.read_bytes()
    rows: list[dict[str, float]] = []
    findings = 0
    for _ in range(rounds):
        row = {"load": os.getloadavg()[0], "pil_decode": timed(pil_decode, files)}
        with tempfile.TemporaryDirectory() as cache:
            row["validate_first"], report = run_validate(root, Path(cache))
            row["validate_rerun"], again = run_validate(root, Path(cache))
        row["walk_process"] = walk_process(root)
        row["walk"] = walk(root)
        assert again["cache"]["inspected"] == 0, again["cache"]
        findings = len(report["findings"])
        rows.append(row)
    return {"files": len(files), "findings": findings, "libjpeg_1_8": timed(libjpeg_decode, files), "rounds": rows}


def _median(rows: list[dict[str, float]], fn: Callable[[dict[str, float]], float]) -> float:
    return statistics.median(fn(r) for r in rows)


def print_folder(name: str, r: dict[str, object], cores: int) -> dict[str, float]:
    rows: list[dict[str, float]] = r["rounds"]  # type: ignore[assignment]
    n = int(r["files"])  # type: ignore[call-overload]
    first = _median(rows, lambda x: x["pil_decode"] / x["validate_first"])
    rerun = _median(rows, lambda x: x["validate_rerun"] / x["walk_process"])
    loads = ", ".join(f"{x['load']:.1f}" for x in rows)
    print(f"\n### {name}: {n} files, {len(rows)} paired rounds (load average {loads})\n")
    print(
        "| round | Pillow loop s | validate first run s | **first run vs Pillow** | validate re-run s "
        "| walk (fresh process) s | **re-run / walk** | walk (in process) s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for k, x in enumerate(rows, 1):
        print(
            f"| {k} | {x['pil_decode']:.2f} | {x['validate_first']:.2f} | {x['pil_decode'] / x['validate_first']:.2f}x "
            f"| {x['validate_rerun']:.3f} | {x['walk_process']:.3f} | {x['validate_rerun'] / x['walk_process']:.1f}x "
            f"| {x['walk']:.3f} |"
        )
    bound = float(r["libjpeg_1_8"]) / cores  # type: ignore[arg-type]
    base = _median(rows, lambda x: x["pil_decode"])
    print(
        f"\nmedian: first run **{first:.2f}x** the Pillow loop, re-run **{rerun:.1f}x** a bare walk in a fresh process "
        f"({_median(rows, lambda x: x['validate_rerun'] / x['walk']):.1f}x the walk in process); {r['findings']} findings; "
        f"bound (libjpeg-turbo 1/8 x {cores} cores) {base / bound:.2f}x the Pillow loop."
    )
    return {"first_vs_pillow": round(first, 3), "rerun_vs_walk_process": round(rerun, 2)}


def profile(root: Path, repeat: int = 3) -> None:
    """CPU microseconds per photo on one core, step by step (best of `repeat` passes over the
    folder; decoded arrays kept in memory between the steps)."""
    import numpy as np
    from PIL import Image

    from dataprep.inspection.checks import CheckOptions, Sample, run_checks
    from dataprep.inspection.checks import image_properties as ip

    files = list_images(root)
    opts = CheckOptions()
    data = [path.read_bytes() for path in files]
    samples = [Sample(path, path.name, opts, data=d) for path, d in zip(files, data, strict=True)]
    arrays = [s.pixels.array for s in samples]
    inputs = []
    for a in arrays:
        assert a is not None
        h, w = a.shape[:2]
        im = Image.fromarray(a)
        scale = min(1.0, ip.ANALYSIS_SIDE / max(h, w))
        if scale < 1.0:
            im = im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BOX)
        gray = im.convert("L")
        inputs.append((np.asarray(im), np.asarray(gray), np.array(gray.histogram(), dtype=np.float64)))

    def pixel_hash() -> None:
        for a in arrays:
            assert a is not None
            hashlib.blake2b(a.data, digest_size=16).hexdigest()

    def decode() -> None:
        for path, d in zip(files, data, strict=True):
            _ = Sample(path, path.name, opts, data=d).pixels

    steps: dict[str, Callable[[], object]] = {
        "read the file": lambda: [path.read_bytes() for path in files],
        "decode (libjpeg-turbo, DCT-scaled; frame header)": decode,
        "image properties, all": lambda: [ip.image_properties(a) for a in arrays if a is not None],
        "  of which pixel hash (blake2b of the decoded pixels)": pixel_hash,
        "  of which measures (brightness, percentiles, gray statistics, sharpness, colour spread)": lambda: [
            ip._measures(*x) for x in inputs
        ],
        "sha256 of the file": lambda: [hashlib.sha256(d).hexdigest() for d in data],
        "checks (the table, on the decoded sample)": lambda: [run_checks(s) for s in samples],
        "Pillow full-decode loop, for reference": lambda: pil_decode(files),
    }
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(repeat):
        for key, step in steps.items():
            t = time.process_time()
            step()
            best[key] = min(best[key], time.process_time() - t)
    us = {k: 1e6 * v / len(files) for k, v in best.items()}
    rest = us["image properties, all"] - us["  of which pixel hash (blake2b of the decoded pixels)"]
    rest -= us["  of which measures (brightness, percentiles, gray statistics, sharpness, colour spread)"]
    print(
        f"\n### per-file profile: {len(files)} files of {root.name}, CPU µs per photo on one core, best of {repeat}\n"
    )
    print("| step | µs per photo |")
    print("|---|---:|")
    for key, value in us.items():
        print(f"| {key} | {value:.0f} |")
        if key.startswith("  of which measures"):
            print(f"|   of which thumbnail, gray grid, pHashes, dHash, signature | {rest:.0f} |")
    worker = sum(us[k] for k in steps if not k.startswith("  ") and not k.startswith("Pillow"))
    print(f"| **in the worker, all steps** | **{worker:.0f}** |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pets", type=Path, default=DEFAULT_PETS)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="where the larger folder is generated")
    parser.add_argument("--rounds", type=int, default=3, help="paired rounds per folder (the median is reported)")
    parser.add_argument("--profile", action="store_true", help="also print the per-file profile (CPU µs per step)")
    parser.add_argument("--only", choices=("pets-800", "pets-800+variants"), help="measure one folder only")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # the profile imports this checkout's dataprep
    cores = len(os.sched_getaffinity(0))
    larger = make_variants(args.pets, args.work)
    folders = {"pets-800": args.pets, "pets-800+variants": larger}
    results = {name: bench_folder(root, args.rounds) for name, root in folders.items() if args.only in (None, name)}
    print(f"validate benchmark, {cores} cores, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    summary = {name: print_folder(name, r, cores) for name, r in results.items()}
    if args.profile:
        profile(args.pets)
    print(json.dumps({"summary": summary, "results": results}))


if __name__ == "__main__":
    main()
