"""Load: `validate` on 100k small files and `split` on 25k, in bounded memory.

Creates the data under a scratch folder (default /tmp/dataprep-load, removed afterwards unless
--keep), runs the real CLI in a subprocess for each case, and prints a markdown table: wall
time, files per second, the CLI process's own peak RSS (VmHWM), the largest peak RSS of any
process the run waited for (getrusage RUSAGE_CHILDREN ru_maxrss in a wrapper: the CLI or a
TensorFlow worker) and the peak of the whole process tree's RSS summed (sampled every 0.1 s).

    .venv/bin/python benchmarks/load_bench.py                # 100k validate, 25k split
    .venv/bin/python benchmarks/load_bench.py --validate 20000 --split 5000 --jobs 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent


def make_pngs(root: Path, count: int, classes: int = 10, empty_every: int = 0) -> None:
    """`count` distinct 16x16 PNGs in `classes` class folders (every `empty_every`-th one empty)."""
    for c in range(classes):
        (root / f"class{c:02d}").mkdir(parents=True, exist_ok=True)
    base = Image.new("RGB", (16, 16))
    for i in range(count):
        path = root / f"class{i % classes:02d}" / f"img{i:06d}.png"
        if empty_every and i % empty_every == 0:
            path.touch()
            continue
        base.putpixel((0, 0), (i % 256, (i >> 8) % 256, (i >> 16) % 256))
        base.putpixel((15, 15), ((i * 7) % 256, 128, 64))
        base.save(path, optimize=False, compress_level=1)


def _tree_rss_kib(pid: int) -> int:
    """Summed RSS (KiB) of `pid` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            ppid, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = pages * (os.sysconf("SC_PAGE_SIZE") // 1024)
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, []))
    return total


# Runs the CLI as its child and prints that child's RUSAGE_CHILDREN ru_maxrss (KiB): the CLI
# process's peak RSS for this run alone, not of earlier runs.
_WRAPPER = """
import resource, subprocess, sys
code = subprocess.run([sys.executable, "-m", "dataprep", *sys.argv[1:]], stdout=subprocess.DEVNULL).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
"""


def run(args: list[str]) -> dict[str, float]:
    """Run the CLI; wall seconds, largest process peak RSS and peak tree RSS (MiB)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _WRAPPER, *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    peak_tree = peak_cli = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_tree, peak_cli
        while not stop.is_set():
            peak_tree = max(peak_tree, _tree_rss_kib(proc.pid))
            try:  # the CLI is the wrapper's only child; VmHWM is its own peak RSS
                cli = int(Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()[0])
                for line in Path(f"/proc/{cli}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak_cli = max(peak_cli, int(line.split()[1]))
            except (OSError, IndexError, ValueError):
                pass
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    stop.set()
    sampler.join()
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"dataprep {' '.join(args)} failed ({proc.returncode}): {err.decode()[-2000:]}")
    largest = int(out.decode().split()[-1]) / 1024  # KiB on Linux
    return {"seconds": seconds, "largest_mib": largest, "cli_mib": peak_cli / 1024, "tree_mib": peak_tree / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validate", type=int, default=100_000, help="files for the validate run")
    parser.add_argument("--split", type=int, default=25_000, help="files for the split run")
    parser.add_argument("--jobs", type=int, default=None, help="validate workers (default: all cores)")
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/dataprep-load"))
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    args = parser.parse_args()
    scratch = args.scratch
    shutil.rmtree(scratch, ignore_errors=True)
    jobs = ["--jobs", str(args.jobs)] if args.jobs is not None else []
    rows = []
    try:
        t = time.perf_counter()
        make_pngs(scratch / "v", args.validate, empty_every=10)
        print(f"made {args.validate} files in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        r = run(["validate", str(scratch / "v"), "--json", "--no-cache", *jobs])
        rows.append((f"validate, {args.validate:,} files (16x16 PNG, every 10th empty)", args.validate, r))
        if args.split:
            make_pngs(scratch / "s", args.split)
            cache = ["--cache-dir", str(scratch / "cache")]
            r = run(["split", str(scratch / "s"), str(scratch / "out"), "--json", *cache, *jobs])
            rows.append((f"split --mode copy, {args.split:,} files (validate + plan + copy)", args.split, r))
            r = run(
                ["split", str(scratch / "s"), str(scratch / "out-link"), "--json", "--mode", "hardlink", *cache, *jobs]
            )
            rows.append((f"split --mode hardlink, {args.split:,} files (validate cache warm)", args.split, r))
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    cores = len(os.sched_getaffinity(0))
    print(f"\n{cores} cores, Python {sys.version.split()[0]}\n")
    print(
        "| run | wall time | files/s | peak RSS, CLI process (VmHWM) | peak RSS, largest descendant (getrusage) | peak RSS, CLI + workers summed (sampled) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, n, r in rows:
        print(
            f"| {name} | {r['seconds']:.0f} s | {n / r['seconds']:,.0f} | {r['cli_mib']:.0f} MiB | {r['largest_mib']:.0f} MiB | {r['tree_mib']:.0f} MiB |"
        )


if __name__ == "__main__":
    main()
