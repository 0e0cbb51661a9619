"""Benchmark: peak memory of the commands that read a whole folder's validate results, at 100k+ files.

`validate --json`, `clean --dry-run`, `clean --duplicates --dry-run`, `split --dry-run`,
`duplicates` and `leakage` (all at their default --threshold and --similarity) on N generated
16x16 PNGs in 10 classes, each command a fresh process. Peak memory is the largest resident set of
the command and every process it started (`getrusage(RUSAGE_CHILDREN).ru_maxrss` in a wrapper
process that runs only that command). The result cache is filled first (one cold validate of the
folder, and one of the split folder `leakage` reads, not measured), so every measured run reads the
cache and the numbers are the commands' own memory, not the decoding's.

The images: an 8x8 grid of random colours smoothed up to 16x16, so each image's 64-bit pHash is
about as random as a photo's (distinct images sit ~32 bits apart; a 4x4 grid puts thousands of
pHashes within 12 bits of each other, 16 million candidate pairs at 100k files, which no photo
collection does). Every 50th file is a byte copy of the one before (an exact pair) and every 50th
from the 25th a 10% brighter copy of the one before (a near pair that the thumbnails verify).

With `--baseline CHECKOUT` the same commands also run from another checkout of the repository
(e.g. `git archive main | tar -x -C /tmp/base`), alternating with this one in each round.

Usage: python benchmarks/memory_bench.py [--files 100000] [--rounds 1] [--baseline DIR] [--work DIR]
       [--only NAME ...]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
COMMANDS = {  # name -> arguments ({data}: the generated folder, {split}: its split, {out}: a new folder)
    "validate --json": ["validate", "{data}", "--json"],
    "clean --dry-run": ["clean", "{data}", "--dry-run", "--json"],
    "clean --duplicates --dry-run": ["clean", "{data}", "--duplicates", "--dry-run", "--json"],
    "split --dry-run": ["split", "{data}", "{out}", "--dry-run", "--json"],
    "duplicates --json": ["duplicates", "{data}", "--json"],
    "leakage --json": ["leakage", "{split}", "--json"],
}
# Runs one command as its only child and prints that child's peak RSS (KiB; the largest of the
# command and the processes it waited for), then the command's exit code.
_WRAPPER = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)
"""


def make_pngs(root: Path, n: int) -> Path:
    """n 16x16 PNGs in 10 class folders (see the module docstring); reused when a previous run
    made them."""
    from PIL import Image, ImageEnhance

    done = root / ".complete"
    if done.exists():
        return root
    rng = random.Random(0)
    previous, image = b"", None
    for i in range(n):
        folder = root / f"class{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"img{i:07d}.png"
        if i % 50 == 49:
            path.write_bytes(previous)
        elif i % 50 == 24 and image is not None:
            ImageEnhance.Brightness(image).enhance(1.1).save(path)
        else:
            grid = Image.frombytes("RGB", (8, 8), rng.randbytes(8 * 8 * 3))
            image = grid.resize((16, 16), Image.Resampling.BILINEAR)
            image.save(path)
            previous = path.read_bytes()
    done.touch()
    return root


def measure(checkout: Path, args: list[str], cache: Path) -> tuple[float, float]:
    """`dataprep ARGS` from `checkout`: (peak RSS in MiB, wall seconds)."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    cmd = [sys.executable, "-c", _WRAPPER, sys.executable, "-m", "dataprep", *args, "--cache-dir", str(cache)]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    fields = done.stdout.split()
    if done.returncode != 0 or len(fields) != 2 or fields[1] not in ("0", "1"):
        raise SystemExit(f"dataprep {' '.join(args)} from {checkout} failed: {done.stdout} {done.stderr[-600:]}")
    return int(fields[0]) / 1024, seconds


def prepare(work: Path, n: int, cache: Path) -> tuple[Path, Path]:
    """The generated folder and a hardlinked split of it, both validated once (cache warm)."""
    data = make_pngs(work / f"pngs-{n}", n)
    split = work / f"split-{n}"
    if not (split / "split.json").exists():
        shutil.rmtree(split, ignore_errors=True)
        measure(HERE, ["split", str(data), str(split), "--mode", "hardlink", "--json"], cache)
    measure(HERE, ["validate", str(data), "--json"], cache)
    measure(HERE, ["validate", str(split), "--json"], cache)
    return data, split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--baseline", type=Path)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "dataprep-memory-bench")
    ap.add_argument("--only", nargs="+", choices=list(COMMANDS), help="measure only these commands")
    args = ap.parse_args()
    cache = args.work / "cache"
    started = time.perf_counter()
    data, split = prepare(args.work, args.files, cache)
    print(f"data and cache ready in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    sides = {"this": HERE, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    names = args.only or list(COMMANDS)
    peaks: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(args.rounds):
        for name in names:
            for side, checkout in sides.items():
                out = args.work / "out"
                shutil.rmtree(out, ignore_errors=True)
                argv = [a.format(data=data, split=split, out=out) for a in COMMANDS[name]]
                peaks.setdefault((name, side), []).append(measure(checkout, argv, cache))
                mib, seconds = peaks[(name, side)][-1]
                print(f"{name} [{side}]: {mib:.0f} MiB, {seconds:.1f} s", file=sys.stderr, flush=True)
    print(f"\n{args.files:,} files; peak RSS (MiB) and wall time, median of {args.rounds} round(s)\n")
    print("| command | " + " | ".join(f"{s} MiB | {s} s" for s in sides) + " |")
    print("|---|" + "---:|---:|" * len(sides))
    for name in names:
        cells = []
        for side in sides:
            runs = peaks[(name, side)]
            cells += [f"{statistics.median(m for m, _ in runs):.0f}", f"{statistics.median(s for _, s in runs):.1f}"]
        print(f"| `{name}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
