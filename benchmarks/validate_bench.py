"""Benchmark: `dataprep validate` against the seeds' validation loops, in one run.

Baselines (each a single-threaded loop over the same files, as the tutorials write them):
  jfif_peek    the Keras tutorial's filter: b"JFIF" in the first bytes
  pil_verify   Pillow Image.open().verify()  (misses truncated JPEGs)
  pil_decode   Pillow Image.open().load()    (the named baseline: a full decode)
dataprep validate runs as a user runs it (a fresh process, all cores, Pillow *and* TensorFlow
verdicts), first with an empty cache, then again on the unchanged files.

Usage: python benchmarks/validate_bench.py [DIR] [--repeat N]   (default DIR: ../shared/data/pets-800)
Prints a markdown table and a JSON line. Ratios, not absolute times, are what to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "pets-800"


def list_images(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def jfif_peek(files: list[Path]) -> int:
    bad = 0
    for path in files:
        with open(path, "rb") as fobj:
            bad += b"JFIF" not in fobj.peek(10)
    return bad


def pil_verify(files: list[Path]) -> int:
    from PIL import Image

    bad = 0
    for path in files:
        try:
            with Image.open(path) as im:
                im.verify()
        except Exception:  # noqa: BLE001 - the loop under test does exactly this
            bad += 1
    return bad


def pil_decode(files: list[Path]) -> int:
    from PIL import Image

    bad = 0
    for path in files:
        try:
            with Image.open(path) as im:
                im.load()
        except Exception:  # noqa: BLE001
            bad += 1
    return bad


def timed(fn, *args) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def run_validate(root: Path, cache: Path) -> tuple[float, dict]:  # type: ignore[type-arg]
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "dataprep", "validate", str(root), "--json", "--fail-on", "never"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    return time.perf_counter() - start, json.loads(proc.stdout)


def tf_import_seconds() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--repeat", type=int, default=1, help="repeat the whole comparison N times; best of N")
    args = parser.parse_args()
    files = list_images(args.root)
    for path in files:  # warm the page cache so every contender reads from memory
        path.read_bytes()
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        rows = {
            "jfif_peek": timed(jfif_peek, files)[0],
            "pil_verify": timed(pil_verify, files)[0],
            "pil_decode": timed(pil_decode, files)[0],
        }
        with tempfile.TemporaryDirectory() as cache:
            rows["validate_first"], report = run_validate(args.root, Path(cache))
            rows["validate_rerun"], _ = run_validate(args.root, Path(cache))
        rows["tf_import"] = tf_import_seconds()
        for k, v in rows.items():
            best[k] = min(best.get(k, v), v)
    n = len(files)
    base = best["pil_decode"]
    print(f"validate benchmark: {n} files in {args.root}, {os.cpu_count()} cores\n")
    print("| contender | seconds | files/s | speed vs single-thread Pillow decode |")
    print("|---|---:|---:|---:|")
    labels = {
        "jfif_peek": "JFIF peek (tutorial filter; not a validation)",
        "pil_verify": "Pillow verify() loop (misses truncation)",
        "pil_decode": "**Pillow full-decode loop (baseline)**",
        "validate_first": "dataprep validate, first run (Pillow + TensorFlow verdicts)",
        "validate_rerun": "dataprep validate, re-run (cache)",
    }
    for key, label in labels.items():
        print(f"| {label} | {best[key]:.2f} | {n / best[key]:.0f} | {base / best[key]:.2f}x |")
    print(
        f"\nre-run speed-up over first run: {best['validate_first'] / best['validate_rerun']:.1f}x; "
        f"`import tensorflow` alone takes {best['tf_import']:.2f} s on this machine "
        f"(first run minus one TF import: {base / max(1e-9, best['validate_first'] - best['tf_import']):.2f}x the baseline)"
    )
    print(json.dumps({"files": n, **{k: round(v, 3) for k, v in best.items()},
                      "findings": len(report["findings"])}))  # fmt: skip


if __name__ == "__main__":
    main()
