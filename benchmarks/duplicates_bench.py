"""Benchmark: near-duplicate recall/precision on planted copies, and what hashing costs validate.

1. Recall and precision. Every photo of DIR is copied into a temporary folder (never into the
   repository), plus planted copies of a seeded sample of them: resized to 50%, re-compressed
   at JPEG quality 60, cropped by 5% and by 10%, brightness +30 and -30. `validate` runs once
   (all cores, TensorFlow on, no cache) and `find_duplicates` groups the results at several
   thresholds. Recall: the share of planted copies grouped with their original (per kind).
   Precision: of all pairs of files that share a group, the share that come from one photo.
2. Overhead. `validate` on DIR with hashing + image properties on and off, alternately, in
   the same run, no cache: the ratio of the medians is what hashing costs.

Usage: python benchmarks/duplicates_bench.py [DIR] [--sample N] [--repeat N]
       (default DIR: ../shared/data/pets-800). Prints markdown tables and a JSON line.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "pets-800"
THRESHOLDS = (4, 6, 8, 10, 12, 14)
QUALITY = ("dark", "light", "blurry", "low_information", "odd_aspect_ratio", "odd_size", "grayscale")


def _jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _crop(im: Image.Image, fraction: float, rng: random.Random) -> Image.Image:
    dx, dy = round(im.width * fraction), round(im.height * fraction)
    x0, y0 = rng.randint(0, dx), rng.randint(0, dy)
    return im.crop((x0, y0, im.width - (dx - x0), im.height - (dy - y0)))


def _shift(im: Image.Image, delta: int) -> Image.Image:
    return Image.fromarray(np.clip(np.asarray(im).astype(np.int16) + delta, 0, 255).astype(np.uint8))


def planted_copies(im: Image.Image, rng: random.Random) -> dict[str, bytes]:
    return {
        "resize50": _jpeg(im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)),
        "jpeg_q60": _jpeg(im, 60),
        "crop5": _jpeg(_crop(im, 0.05, rng)),
        "crop10": _jpeg(_crop(im, 0.10, rng)),
        "bright+30": _jpeg(_shift(im, 30)),
        "bright-30": _jpeg(_shift(im, -30)),
    }


def build(src: Path, dst: Path, sample: int, seed: int) -> dict[str, tuple[str, str | None]]:
    """Copy DIR into dst and plant copies; rel -> (source photo, copy kind or None)."""
    files = sorted(p for p in src.rglob("*") if p.is_file())
    truth: dict[str, tuple[str, str | None]] = {}
    for p in files:
        rel = p.relative_to(src).as_posix()
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        (dst / rel).write_bytes(p.read_bytes())
        truth[rel] = (rel, None)
    rng = random.Random(seed)
    for p in rng.sample(files, min(sample, len(files))):
        rel = p.relative_to(src).as_posix()
        with Image.open(p) as im:
            rgb = im.convert("RGB")
        for kind, data in planted_copies(rgb, rng).items():
            copy_rel = f"{Path(rel).parent.as_posix()}/copy_{kind}_{Path(rel).stem}.jpg"
            (dst / copy_rel).write_bytes(data)
            truth[copy_rel] = (rel, kind)
    return truth


def score(groups: list[list[str]], truth: dict[str, tuple[str, str | None]]) -> dict[str, object]:
    group_of = {p: k for k, g in enumerate(groups) for p in g}
    found: Counter[str] = Counter()
    planted: Counter[str] = Counter()
    for rel, (source, kind) in truth.items():
        if kind is None:
            continue
        planted[kind] += 1
        if rel in group_of and group_of[rel] == group_of.get(source):
            found[kind] += 1
    pairs = true_pairs = 0
    for g in groups:
        for a, b in itertools.combinations(g, 2):
            pairs += 1
            true_pairs += truth[a][0] == truth[b][0]
    recall = {k: round(found[k] / planted[k], 3) for k in planted}
    recall["all"] = round(sum(found.values()) / max(1, sum(planted.values())), 3)
    return {"recall": recall, "precision": round(true_pairs / pairs, 4) if pairs else 1.0, "pairs": pairs, "false_pairs": pairs - true_pairs}


def timed_validate(root: Path, properties: bool) -> float:
    from dataprep.validate import ValidateOptions, validate

    started = time.perf_counter()
    validate(root, ValidateOptions(use_cache=False, image_properties=properties))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--sample", type=int, default=100, help="photos that get planted copies")
    parser.add_argument("--repeat", type=int, default=3, help="validate runs per setting for the overhead")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.dir.is_dir():
        sys.exit(f"error: no such directory: '{args.dir}'")

    from dataprep.duplicates import DEFAULT_THRESHOLD, HashIndex, find_duplicates
    from dataprep.validate import ValidateOptions, validate

    out: dict[str, object] = {"dir": str(args.dir), "sample": args.sample}
    with tempfile.TemporaryDirectory(prefix="dupbench-") as tmp:
        root = Path(tmp) / "data"
        truth = build(args.dir, root, args.sample, args.seed)
        report = validate(root, ValidateOptions(use_cache=False))
        rows = {}
        for t in THRESHOLDS:
            started = time.perf_counter()
            groups = find_duplicates(report.results, t)
            rows[t] = score([g.paths for g in groups], truth) | {"group_seconds": round(time.perf_counter() - started, 3)}
        out["files"] = len(truth)
        out["by_threshold"] = rows
        originals = [r for r in report.results if truth[r.rel][1] is None]
        flags = defaultdict(list)
        for r in originals:
            for f in r.findings:
                if f.check in QUALITY:
                    flags[f.check].append(r.rel)
        out["quality_findings_on_originals"] = {k: len(v) for k, v in sorted(flags.items())}
        hashes = [int(r.phash, 16) for r in originals if r.phash]
        distances = np.array([(a ^ b).bit_count() for a, b in itertools.combinations(hashes, 2)])
        out["distinct_photo_distance"] = {
            "min": int(distances.min()), "p0.1": float(np.percentile(distances, 0.1)), "median": float(np.median(distances)),
        }  # fmt: skip

    rng = random.Random(1)
    index = HashIndex([rng.getrandbits(64) for _ in range(100_000)])
    started = time.perf_counter()
    index.pairs_within(DEFAULT_THRESHOLD)
    out["index_100k"] = {
        "seconds": round(time.perf_counter() - started, 2), "comparisons": index.comparisons,
        "all_pairs": 100_000 * 99_999 // 2,
    }  # fmt: skip

    on, off = [], []
    timed_validate(args.dir, True)  # warm the page cache
    for _ in range(args.repeat):
        off.append(timed_validate(args.dir, False))
        on.append(timed_validate(args.dir, True))
    out["validate_seconds"] = {"properties_off": round(statistics.median(off), 2), "properties_on": round(statistics.median(on), 2)}
    out["overhead_ratio"] = round(statistics.median(on) / statistics.median(off), 3)

    print(f"## near-duplicate detection: {out['files']} files ({args.sample} photos with 6 planted copies each)\n")
    kinds = list(next(iter(rows.values()))["recall"])  # type: ignore[arg-type]
    print("| threshold | " + " | ".join(f"recall {k}" for k in kinds) + " | precision (pairs) | false pairs |")
    print("|---:|" + "---:|" * len(kinds) + "---:|---:|")
    for t, row in rows.items():
        recall = row["recall"]
        assert isinstance(recall, dict)
        mark = " (default)" if t == DEFAULT_THRESHOLD else ""
        print(f"| {t}{mark} | " + " | ".join(f"{recall[k]:.3f}" for k in kinds) + f" | {row['precision']} | {row['false_pairs']} |")
    print(f"\ndistinct photos' pHash distances: {out['distinct_photo_distance']}")
    print(f"quality findings on the original photos: {out['quality_findings_on_originals']}")
    print(f"hash index, 100k random hashes at threshold {DEFAULT_THRESHOLD}: {out['index_100k']}")
    print(f"\n## validate overhead ({args.dir}, median of {args.repeat})\n")
    print(f"properties off {out['validate_seconds']['properties_off']} s, on {out['validate_seconds']['properties_on']} s: "  # type: ignore[index]
          f"ratio {out['overhead_ratio']}")  # fmt: skip
    print(json.dumps(out))


if __name__ == "__main__":
    main()
