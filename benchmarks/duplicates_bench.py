"""Benchmark: near-duplicate recall and precision on planted edits of real photos, three methods.

Every photo of DIR (default: the pets-800 photos) is copied into a temporary folder (never into
the repository), plus planted copies of a seeded sample of them, one per kind: resized to 50%,
JPEG quality 60, cropped 5% and 10% (off centre), brightness +30 and -30, grayscale, hue shifted
40 degrees, mirrored, rotated +5 and -5 degrees (cropped to the largest rectangle inside, as a
phone's straighten tool does), and two combined edits (5% crop + quality 60; grayscale + 50%).
`validate` runs once (no TensorFlow, no cache); then, in the same run:

- `old`: pHash only, every pair within 10 bits joined transitively (dataprep before this change);
- `new`: `dataprep.duplicates.search.search_duplicates` at its defaults (candidates from the direct,
  mirrored and cropped pHashes, verified on aligned thumbnails' detail and colours);
- `cleanvision`: CleanVision's `near_duplicates` issue check (`pip install cleanvision`, in the
  dev extra), on the same folder.

Recall per kind: the share of planted copies that share a group with their original. Precision:
of all pairs of files that share a group, the share that come from one photo. Also: groups
among the original photos alone (false groups), and the most similar two distinct photos (the
gap to the default similarity).

Usage: python benchmarks/duplicates_bench.py [DIR] [--sample N] [--no-cleanvision]
Prints markdown tables and a JSON line.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from photo_edits import hue as _hue
from photo_edits import rotate as _rotate
from photo_edits import shift as _shift

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "pets-800"
OLD_THRESHOLD = 10  # the pHash-only method's default


def _jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _crop(im: Image.Image, fraction: float, rng: random.Random) -> Image.Image:
    dx, dy = round(im.width * fraction), round(im.height * fraction)
    x0, y0 = rng.randint(0, dx), rng.randint(0, dy)
    return im.crop((x0, y0, im.width - (dx - x0), im.height - (dy - y0)))


def planted_copies(im: Image.Image, rng: random.Random) -> dict[str, bytes]:
    half = (im.width // 2, im.height // 2)
    return {
        "resize50": _jpeg(im.resize(half, Image.Resampling.LANCZOS)),
        "jpeg_q60": _jpeg(im, 60),
        "crop5": _jpeg(_crop(im, 0.05, rng)),
        "crop10": _jpeg(_crop(im, 0.10, rng)),
        "bright+30": _jpeg(_shift(im, 30)),
        "bright-30": _jpeg(_shift(im, -30)),
        "grayscale": _jpeg(im.convert("L").convert("RGB")),
        "hue40": _jpeg(_hue(im)),
        "mirror": _jpeg(ImageOps.mirror(im)),
        "rotate+5": _jpeg(_rotate(im, 5)),
        "rotate-5": _jpeg(_rotate(im, -5)),
        "crop5+q60": _jpeg(_crop(im, 0.05, rng), 60),
        "gray+resize50": _jpeg(im.convert("L").convert("RGB").resize(half, Image.Resampling.LANCZOS)),
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
    together: set[frozenset[str]] = set()
    pairs = true_pairs = 0
    for g in groups:
        for a, b in itertools.combinations(sorted(set(g)), 2):
            together.add(frozenset((a, b)))
            pairs += 1
            true_pairs += truth[a][0] == truth[b][0]
    found: Counter[str] = Counter()
    planted: Counter[str] = Counter()
    for rel, (source, kind) in truth.items():
        if kind is not None:
            planted[kind] += 1
            found[kind] += frozenset((rel, source)) in together
    recall = {k: round(found[k] / planted[k], 3) for k in planted}
    recall["all"] = round(sum(found.values()) / max(1, sum(planted.values())), 3)
    originals = [g for g in groups if sum(truth[p][1] is None for p in set(g)) > 1]
    return {"recall": recall, "precision": round(true_pairs / pairs, 4) if pairs else 1.0, "pairs": pairs,
            "false_pairs": pairs - true_pairs, "groups_of_originals": len(originals)}  # fmt: skip


def old_groups(results: list, threshold: int = OLD_THRESHOLD) -> list[list[str]]:
    """The pHash-only method: every pair within `threshold` bits, joined transitively."""
    from dataprep.duplicates.hash_index import HashIndex
    from dataprep.duplicates.pair_graph import UnionFind as _UnionFind

    items = [r for r in results if r.phash]
    uf = _UnionFind(len(items))
    i, j, _ = HashIndex([int(r.phash, 16) for r in items]).pairs_within(threshold)
    for a, b in zip(i.tolist(), j.tolist(), strict=True):
        uf.union(a, b)
    comps: dict[int, list[str]] = {}
    for k, r in enumerate(items):
        comps.setdefault(uf.find(k), []).append(r.rel)
    return [g for g in comps.values() if len(g) > 1]


def cleanvision_groups(root: Path) -> list[list[str]]:
    from cleanvision import Imagelab

    lab = Imagelab(data_path=str(root), verbose=False)
    lab.find_issues({"near_duplicates": {}}, verbose=False)
    sets = lab.info["near_duplicates"]["sets"]
    return [[Path(p).resolve().relative_to(root.resolve()).as_posix() for p in s] for s in sets]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("dir", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--sample", type=int, default=100, help="photos that get planted copies")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cleanvision", action="store_true", help="skip CleanVision (when it is not installed)")
    args = parser.parse_args()
    if not args.dir.is_dir():
        sys.exit(f"error: no such directory: '{args.dir}'")

    from dataprep.duplicates.search import DEFAULT_SIMILARITY, DEFAULT_THRESHOLD, search_duplicates
    from dataprep.inspection.validate import ValidateOptions, validate

    out: dict[str, object] = {"dir": str(args.dir), "sample": args.sample}
    with tempfile.TemporaryDirectory(prefix="dupbench-") as tmp:
        root = Path(tmp) / "data"
        truth = build(args.dir, root, args.sample, args.seed)
        started = time.perf_counter()
        results = validate(root, ValidateOptions(use_cache=False, use_tf=False)).results
        out["validate_seconds"] = round(time.perf_counter() - started, 1)
        out["files"] = len(truth)
        methods: dict[str, dict[str, object]] = {}
        started = time.perf_counter()
        methods[f"old: pHash <= {OLD_THRESHOLD} bits, transitive"] = score(old_groups(results), truth) | {
            "seconds": round(time.perf_counter() - started, 2)}  # fmt: skip
        started = time.perf_counter()
        found = search_duplicates(results)
        methods[f"new: candidates <= {DEFAULT_THRESHOLD} bits, verified >= {DEFAULT_SIMILARITY}"] = score(
            [g.paths for g in found.groups], truth) | {"seconds": round(time.perf_counter() - started, 2),
                                                       "candidates": found.candidates}  # fmt: skip
        if not args.no_cleanvision:
            started = time.perf_counter()
            methods["cleanvision near_duplicates (defaults)"] = score(cleanvision_groups(root), truth) | {
                "seconds": round(time.perf_counter() - started, 2)}  # fmt: skip
        out["methods"] = methods
        # The closest distinct photos: every candidate pair's similarity (verification threshold 0).
        loose = search_duplicates([r for r in results if truth[r.rel][1] is None], similarity=0.0)
        distinct = sorted(
            (p.similarity, p.a, p.b) for g in loose.groups for p in g.pairs if p.kind in ("near", "mirrored")
        )
        out["closest_distinct"] = [{"similarity": round(s, 3), "a": a, "b": b} for s, a, b in distinct[-3:][::-1]]
        planted_sim = [p.similarity for g in found.groups for p in g.pairs
                       if truth[p.a][0] == truth[p.b][0] and p.kind in ("near", "mirrored")]  # fmt: skip
        out["planted_similarity"] = {
            "min": round(min(planted_sim), 3),
            "p5": round(float(np.percentile(planted_sim, 5)), 3),
        }
        out["gap"] = round(DEFAULT_SIMILARITY - (distinct[-1][0] if distinct else 0.0), 3)

    print(f"## near duplicates: {out['files']} files ({args.sample} photos with 13 planted edits each)\n")
    kinds = list(next(iter(methods.values()))["recall"])  # type: ignore[call-overload]
    print("| method | " + " | ".join(kinds) + " | precision (pairs) | false pairs | groups of originals | s |")
    print("|---|" + "---:|" * len(kinds) + "---:|---:|---:|---:|")
    for name, row in methods.items():
        recall = row["recall"]
        assert isinstance(recall, dict)
        print(f"| {name} | " + " | ".join(f"{recall[k]:.2f}" for k in kinds)
              + f" | {row['precision']} | {row['false_pairs']} | {row['groups_of_originals']} | {row['seconds']} |")  # fmt: skip
    print(f"\nclosest distinct photos (similarity): {out['closest_distinct']}")
    print(f"planted copies found by the new method, similarity: {out['planted_similarity']}; "
          f"gap between the default {DEFAULT_SIMILARITY} and the closest distinct pair: {out['gap']}")  # fmt: skip
    print(json.dumps(out))


if __name__ == "__main__":
    main()
