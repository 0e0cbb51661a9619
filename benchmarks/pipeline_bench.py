"""Input pipeline: trainer.data first/cached passes vs keras.utils.image_dataset_from_directory.

    .venv/bin/python benchmarks/pipeline_bench.py [--data ../shared/data/pets-800] [--sizes 128 180 224]
        [--repeats 3] [--profile 180] [--json]
    .venv/bin/python benchmarks/pipeline_bench.py --larger-than-memory [--ram-cache-mb 20] [--epochs 3]

Pipeline mode: for each repeat and each image size (interleaved, so the neighbours' load falls on
every size alike), runs `trainer.bench.bench`: files pre-read so the OS page cache is warm for
both, Keras' loader timed first and then the trainer pipeline's first and cached pass, on the
same files, in the same process. Each call gives a paired ratio (trainer ÷ Keras, wall clock and
CPU per image); the table reports the median paired ratio and the best images/s of each. With
--profile SIZE it adds the cost of each pipeline step (`trainer.bench.stage_profile`) and, at
every size, the per-file costs and the entropy-decoding cap (`trainer.bench.decode_cap`).

Larger-than-memory mode: see `larger_than_memory` below. The data is used in place, never copied;
generated data lives under a temporary folder that is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "pets-800"


def pipeline_table(data: Path, sizes: list[int], batch_size: int, repeats: int) -> list[dict[str, Any]]:
    from trainer.bench import bench

    runs: dict[int, list[dict[str, Any]]] = {size: [] for size in sizes}
    for _ in range(repeats):
        for size in sizes:
            runs[size].append(bench(data, image_size=size, batch_size=batch_size))
    rows = []
    for size, found in runs.items():
        rows.append(
            {
                "image_size": size,
                "images": found[0]["images"],
                "repeats": repeats,
                "keras_img_s_best": max(r["keras_first_pass_images_per_s"] for r in found),
                "first_img_s_best": max(r["first_pass_images_per_s"] for r in found),
                "cached_img_s_best": max(r["cached_pass_images_per_s"] for r in found),
                "vs_keras_wall": [r["first_pass_vs_keras"] for r in found],
                "vs_keras_wall_median": statistics.median(r["first_pass_vs_keras"] for r in found),
                "vs_keras_cpu_median": statistics.median(r["first_pass_vs_keras_cpu"] for r in found),
                "tutorial_img_s_best": max(r["tutorial_first_pass_images_per_s"] for r in found),
                "vs_tutorial_wall_median": statistics.median(r["first_pass_vs_tutorial"] for r in found),
                "keras_cpu_ms": statistics.median(r["keras_first_pass_cpu_ms_per_image"] for r in found),
                "first_cpu_ms": statistics.median(r["first_pass_cpu_ms_per_image"] for r in found),
                "cached_vs_first_median": statistics.median(r["cached_vs_first"] for r in found),
                "count_decoded_s": statistics.median(r["skipped_file_count_seconds"] for r in found),
                "cache_mb_uint8": found[0]["cache_bytes_uint8"] / 1e6,
                "keras_mb_float32": found[0]["tutorial_cache_bytes_float32"] / 1e6,
            }
        )
    return rows


def print_pipeline_table(data: Path, rows: list[dict[str, Any]], batch_size: int) -> None:
    print(
        f"pipeline on {data} ({rows[0]['images']} images, batch {batch_size}, {os.cpu_count()} CPU cores, "
        f"{rows[0]['repeats']} interleaved repeats; load average before: {os.getloadavg()[0]:.1f})"
    )
    print(
        "| size | Keras first pass img/s (best) | trainer first pass img/s (best) | × Keras, wall (median of "
        "paired) | × Keras, CPU per image | CPU ms/img Keras / trainer | tutorial (+cache) img/s (best) "
        "| × tutorial, wall | cached pass img/s | cached × first | uint8 cache MB (Keras float32 MB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['image_size']} | {r['keras_img_s_best']:.0f} | {r['first_img_s_best']:.0f} | "
            f"**{r['vs_keras_wall_median']:.2f}** ({', '.join(f'{v:.2f}' for v in r['vs_keras_wall'])}) | "
            f"{r['vs_keras_cpu_median']:.2f} | {r['keras_cpu_ms']:.3f} / {r['first_cpu_ms']:.3f} | "
            f"{r['tutorial_img_s_best']:.0f} | {r['vs_tutorial_wall_median']:.2f} | "
            f"{r['cached_img_s_best']:.0f} | {r['cached_vs_first_median']:.1f} | "
            f"{r['cache_mb_uint8']:.1f} ({r['keras_mb_float32']:.1f}) |"
        )


def profile_rows(data: Path, size: int, batch_size: int, repeats: int) -> list[dict[str, Any]]:
    from trainer import data as trainer_data
    from trainer.bench import stage_profile, warm_page_cache

    files = trainer_data.list_files(data)
    warm_page_cache(files.paths)
    samples: dict[str, list[float]] = {}
    for _ in range(repeats):
        for name, measured in stage_profile(files, size, batch_size):
            samples.setdefault(name, []).append(measured.cpu_ms_per_image)
    return [{"step": name, "cpu_ms_per_image": statistics.median(values)} for name, values in samples.items()]


def cap_rows(data: Path, sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    """`trainer.bench.decode_cap` at each size, the median of `repeats` (sizes interleaved)."""
    from trainer import data as trainer_data
    from trainer.bench import decode_cap

    files = trainer_data.list_files(data)
    samples: dict[int, list[dict[str, float]]] = {size: [] for size in sizes}
    for _ in range(repeats):
        for size in sizes:
            samples[size].append(decode_cap(files, size))
    return [
        {"image_size": size, **{key: statistics.median(s[key] for s in found) for key in found[0]}}
        for size, found in samples.items()
    ]


def print_caps(rows: list[dict[str, Any]]) -> None:
    print(
        "\nper-file CPU ms per image, one element at a time on the same files (median; harness cost "
        "per element subtracted): the entropy-decoding floor bounds any loader"
    )
    print(
        "| size | per element | read | entropy: decode_jpeg(ratio=8) | floor: entropy + resize | decode at "
        "trainer's ratio | full decode | Keras: full decode + resize | decode_image (branching) | trainer (grouped) "
        "| trainer × Keras | cap × Keras |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['image_size']} | {r['fixed']:.3f} | {r['read']:.3f} | {r['entropy']:.3f} | {r['floor']:.3f} | "
            f"{r['decode_at_ratio']:.3f} | {r['decode_full']:.3f} | {r['keras']:.3f} | {r['trainer_branching']:.3f} | "
            f"{r['trainer']:.3f} | "
            f"{r['trainer_vs_keras']:.2f} | {r['cap_vs_keras']:.2f} |"
        )


def print_profile(rows: list[dict[str, Any]], size: int) -> None:
    print(f"\nfirst-pass cost by step at {size} px (cumulative pipelines, median CPU ms per image)")
    print("| pipeline | CPU ms / image | step adds |")
    print("|---|---:|---:|")
    previous = 0.0
    for r in rows:
        print(f"| {r['step']} | {r['cpu_ms_per_image']:.3f} | {r['cpu_ms_per_image'] - previous:+.3f} |")
        previous = r["cpu_ms_per_image"]


def generate_photos(out: Path, count: int, size: tuple[int, int], classes: int = 2) -> int:
    """`count` photo-like JPEGs (smooth gradients, shapes, noise) in `classes` class folders."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    from photos import jpeg, photo

    total = 0
    for i in range(count):
        folder = out / f"class{i % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        encoded = jpeg(photo(10_000 + i, size), quality=85)
        (folder / f"img{i:05d}.jpg").write_bytes(encoded)
        total += len(encoded)
    return total


def drop_from_page_cache(folder: Path) -> None:
    """Ask the kernel to forget the (clean) pages of every file under `folder`, so the next read
    comes from the disk as it would when the data does not fit in memory."""
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def larger_than_memory(
    ram_cache_mb: float, image_size: int, epochs: int, batch_size: int, scratch: Path | None
) -> dict[str, Any]:
    """Throughput per epoch when the decoded images are 10x the RAM cache you can afford.

    Generates photo-like JPEGs whose uint8 cache is 10x `ram_cache_mb`, then runs `epochs`
    epochs of the training pipeline with no cache (every epoch decodes) and with the
    ``--cache-dir`` file cache (epoch 1 decodes and writes, later epochs read the file). Before
    each epoch the JPEGs and the cache files are dropped from the OS page cache, so the reads
    come from the disk, as on a machine whose memory the data does not fit.
    """
    from trainer import data as trainer_data

    per_image = image_size * image_size * 3
    count = int(10 * ram_cache_mb * 1e6 / per_image)
    root = Path(tempfile.mkdtemp(prefix="pipeline-bench-big-", dir=scratch))
    try:
        started = time.perf_counter()
        jpeg_bytes = generate_photos(root / "data", count, (480, 360))
        generate_seconds = time.perf_counter() - started
        files = trainer_data.list_files(root / "data")
        result: dict[str, Any] = {
            "images": count,
            "image_size": image_size,
            "jpeg_mb": round(jpeg_bytes / 1e6, 1),
            "decoded_cache_mb": round(count * per_image / 1e6, 1),
            "ram_cache_mb": ram_cache_mb,
            "generate_seconds": round(generate_seconds, 1),
            "epochs": {},
        }
        for mode in ("no cache", "disk cache"):
            cache_dir = root / "cache" if mode == "disk cache" else None
            pipeline = trainer_data.make_pipeline(
                files,
                image_size=image_size,
                batch_size=batch_size,
                training=True,
                cache=cache_dir is not None,
                cache_dir=cache_dir,
            )
            rates = []
            for _ in range(epochs):
                drop_from_page_cache(root)
                started = time.perf_counter()
                seen = sum(int(labels.shape[0]) for _, labels in pipeline.dataset)
                rates.append(round(seen / (time.perf_counter() - started), 1))
            result["epochs"][mode] = rates
            if cache_dir is not None:
                result["disk_cache_mb"] = round(
                    sum(p.stat().st_size for p in cache_dir.rglob("*") if p.is_file()) / 1e6, 1
                )
        return result
    finally:
        shutil.rmtree(root, ignore_errors=True)


def print_larger_than_memory(r: dict[str, Any]) -> None:
    print(
        f"\nlarger than memory: {r['images']} generated 480×360 JPEGs ({r['jpeg_mb']} MB) at {r['image_size']} px: "
        f"decoded uint8 {r['decoded_cache_mb']} MB = 10x a {r['ram_cache_mb']} MB RAM cache; "
        f"page cache dropped before every epoch"
    )
    print("| pipeline | " + " | ".join(f"epoch {i + 1} img/s" for i in range(len(r["epochs"]["no cache"]))) + " |")
    print("|---|" + "---:|" * len(r["epochs"]["no cache"]))
    for mode, rates in r["epochs"].items():
        print(f"| {mode} | " + " | ".join(f"{v:.0f}" for v in rates) + " |")
    if "disk_cache_mb" in r:
        print(f"disk cache on disk: {r['disk_cache_mb']} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 180, 224])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, metavar="SIZE", help="also profile the steps at SIZE px")
    parser.add_argument(
        "--larger-than-memory", action="store_true", help="run the larger-than-memory benchmark instead"
    )
    parser.add_argument("--ram-cache-mb", type=float, default=20.0)
    parser.add_argument("--big-image-size", type=int, default=160)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--scratch", type=Path, default=None, help="where to generate the data (default: $TMPDIR)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    report: dict[str, Any] = {"cpu_cores": os.cpu_count()}
    if args.larger_than_memory:
        report["larger_than_memory"] = larger_than_memory(
            args.ram_cache_mb, args.big_image_size, args.epochs, args.batch_size, args.scratch
        )
        print_larger_than_memory(report["larger_than_memory"])
    else:
        report["pipeline"] = pipeline_table(args.data, args.sizes, args.batch_size, args.repeats)
        print_pipeline_table(args.data, report["pipeline"], args.batch_size)
        if args.profile:
            report["profile"] = profile_rows(args.data, args.profile, args.batch_size, args.repeats)
            print_profile(report["profile"], args.profile)
            report["caps"] = cap_rows(args.data, args.sizes, args.repeats)
            print_caps(report["caps"])
    if args.json:
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
