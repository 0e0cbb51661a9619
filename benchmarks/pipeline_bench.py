"""Input pipeline: trainer.data first/cached passes vs keras.utils.image_dataset_from_directory.

    .venv/bin/python benchmarks/pipeline_bench.py [--data ../shared/data/pets-800] [--repeats 3] [--json]

For each image size, runs `trainer.bench.bench` (files pre-read so the OS page cache is warm
for every contender; Keras' loader timed first, then the trainer pipeline's first and cached
pass) `--repeats` times in this process and reports the median of each number. The data is
used in place, never copied.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "pets-800"
KEYS = ("keras_first_pass_images_per_s", "first_pass_images_per_s", "cached_pass_images_per_s",
        "first_pass_vs_keras", "cached_vs_first")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sizes", type=int, nargs="+", default=[96, 128, 180])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from trainer.bench import bench

    rows = []
    for size in args.sizes:
        runs = [bench(args.data, image_size=size, batch_size=args.batch_size) for _ in range(args.repeats)]
        row = {"image_size": size, "images": runs[0]["images"], "repeats": args.repeats,
               "cache_bytes_uint8": runs[0]["cache_bytes_uint8"],
               "tutorial_cache_bytes_float32": runs[0]["tutorial_cache_bytes_float32"]}
        for key in KEYS:
            row[key] = round(statistics.median(r[key] for r in runs), 2)
        rows.append(row)
    print(f"pipeline on {args.data} ({rows[0]['images']} images, batch {args.batch_size}, {os.cpu_count()} CPU cores, "
          f"median of {args.repeats})")
    print("| size | keras first pass img/s | trainer first pass img/s | × keras | cached pass img/s | cached × first "
          "| cache MB uint8 (tutorial float32) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['image_size']} | {r['keras_first_pass_images_per_s']:.0f} | {r['first_pass_images_per_s']:.0f} | "
              f"{r['first_pass_vs_keras']:.2f} | {r['cached_pass_images_per_s']:.0f} | {r['cached_vs_first']:.1f} | "
              f"{r['cache_bytes_uint8'] / 1e6:.1f} ({r['tutorial_cache_bytes_float32'] / 1e6:.1f}) |")
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
