"""Benchmark: peak memory of the commands that validate a whole folder, at 100k tiny files.

`validate --json`, `clean --dry-run` and `duplicates --threshold 0 --json` on N generated
16x16 PNGs (smooth random colours) in 10 classes (every 50th a byte-identical copy of the one before, so duplicates finds
groups), each command a fresh process under `/usr/bin/time -v` (its maximum resident set size: the
largest of the command's processes, the driver here). The result cache is filled by one validate
first, so every measured run reads the cache and the numbers compare the commands' own memory, not
the decoding. With `--baseline CHECKOUT` the same commands also run from another checkout of the
repository (e.g. `git archive main | tar -x -C /tmp/base`), in the same sitting, alternating.

Not here: `split` and `duplicates` at the default --threshold. On these generated images (and on
pure noise) thousands of pHashes sit within 12 bits of each other, and the near-duplicate search's
candidate pairs, not validate's report, fill the memory (past 5 GB at 100k, before and after);
`--threshold 0` keeps the search to equal hashes, so the column shows what reading the report costs.

Usage: python benchmarks/memory_bench.py [--files 100000] [--rounds 1] [--baseline DIR] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
COMMANDS = {
    "validate --json": ["validate", "{data}", "--json"],
    "clean --dry-run": ["clean", "{data}", "--dry-run", "--json"],
    "duplicates --threshold 0 --json": ["duplicates", "{data}", "--threshold", "0", "--json"],
}


def make_pngs(root: Path, n: int) -> Path:
    """n distinct 16x16 PNGs in 10 class folders; every 50th repeats the one before (reused
    when a previous run made them)."""
    from PIL import Image

    done = root / ".complete"
    if done.exists():
        return root
    rng = random.Random(0)
    previous = b""
    for i in range(n):
        folder = root / f"class{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"img{i:07d}.png"
        if i % 50 == 49:
            path.write_bytes(previous)
            continue
        # 4x4 random colours smoothed up to 16x16: perceptual hashes spread like photos' (pure noise
        # makes every pHash alike, and the near-duplicate search a quadratic worst case)
        Image.frombytes("RGB", (4, 4), rng.randbytes(4 * 4 * 3)).resize((16, 16), Image.Resampling.BILINEAR).save(path)
        previous = path.read_bytes()
    done.touch()
    return root


def peak_mib(checkout: Path, args: list[str], cache: Path) -> float:
    """`dataprep ARGS` from `checkout` under /usr/bin/time -v: its maximum resident set size in MiB."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "dataprep", *args, "--cache-dir", str(cache)]
    done = subprocess.run(cmd, cwd=checkout, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if done.returncode not in (0, 1) or found is None:
        raise SystemExit(f"{args[0]} from {checkout} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return int(found.group(1)) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--baseline", type=Path)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "dataprep-memory-bench")
    args = ap.parse_args()
    data = make_pngs(args.work / f"pngs-{args.files}", args.files)
    cache = args.work / "cache"
    sides = {"this": HERE, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    peak_mib(HERE, ["validate", str(data), "--json"], cache)  # fill the result cache
    peaks: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for name, template in COMMANDS.items():
            for side, checkout in sides.items():
                out = args.work / "out"
                shutil.rmtree(out, ignore_errors=True)
                argv = [a.format(data=data, out=out) for a in template]
                peaks.setdefault((name, side), []).append(peak_mib(checkout, argv, cache))
                print(f"{name} [{side}]: {peaks[(name, side)][-1]:.0f} MiB", file=sys.stderr, flush=True)
    shutil.rmtree(args.work / "out", ignore_errors=True)
    print(f"\n{args.files:,} files, peak RSS in MiB (median of {args.rounds} round(s))\n")
    print("| command | " + " | ".join(sides) + " |")
    print("|---|" + "---:|" * len(sides))
    for name in COMMANDS:
        print(f"| `{name}` | " + " | ".join(f"{statistics.median(peaks[(name, s)]):.0f}" for s in sides) + " |")


if __name__ == "__main__":
    main()
