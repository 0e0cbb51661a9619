"""Embedding speed: `embed`'s batch embedder against a plain Keras `model.predict` loop.

Both run the same MobileNetV2 (ImageNet weights) over the same files in the same process, as
paired rounds in alternating order; the ratio of each round's images/s is taken, and the
median over rounds reported, which tolerates a machine shared with other work. The plain loop
is the Keras tutorial's: `keras.utils.load_img(path, target_size=...)`, `img_to_array`, stack
a batch, `model.predict`. Ours decodes JPEGs DCT-scaled on threads while the traced network runs
the previous batch. Network build and the first (tracing) batch are outside the timing.
Then, once, the whole `embed_folder` on the folder: a first run (cold cache) and a second.

    .venv/bin/python benchmarks/embed_bench.py                        # pets-800, 200 files, 160 and 224 px
    .venv/bin/python benchmarks/embed_bench.py --data DIR --files 400 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dataprep.base.tensorflow_runtime import import_tensorflow  # noqa: E402
from dataprep.embeddings.backbone import build_mobilenetv2  # noqa: E402
from dataprep.embeddings.embed import embed_folder  # noqa: E402
from dataprep.embeddings.embedder import BatchEmbedder  # noqa: E402

# ../shared/data/pets-800 beside the repository (or beside the folder that holds a worktree).
PETS = next((p / "shared/data/pets-800" for p in REPO.parents if (p / "shared/data/pets-800").is_dir()), REPO.parent)
BATCH = 32


def sample_files(root: Path, count: int) -> list[Path]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    step = max(1, len(files) // count)
    return files[::step][:count]


def plain_keras(model: object, files: list[Path], size: int) -> float:
    """Seconds for the tutorial loop over `files`."""
    import keras

    started = time.perf_counter()
    for k in range(0, len(files), BATCH):
        batch = [
            keras.utils.img_to_array(keras.utils.load_img(p, target_size=(size, size))) for p in files[k : k + BATCH]
        ]
        model.predict(np.stack(batch), verbose=0)  # type: ignore[attr-defined]
    return time.perf_counter() - started


def ours(embedder: BatchEmbedder, files: list[Path]) -> float:
    started = time.perf_counter()
    for _ in embedder.stream([files[k : k + BATCH] for k in range(0, len(files), BATCH)]):
        pass
    return time.perf_counter() - started


def bench_size(files: list[Path], size: int, rounds: int) -> dict[str, float]:
    model = build_mobilenetv2(size)
    embedder = BatchEmbedder(size, "imagenet")
    plain_keras(model, files[:BATCH], size)  # warm-up: tracing, first allocations
    ours(embedder, files[:BATCH])
    ratios, ours_s, plain_s = [], [], []
    for r in range(rounds):
        if r % 2 == 0:  # alternate which goes first, so neither always meets a warmer machine
            a = ours(embedder, files)
            b = plain_keras(model, files, size)
        else:
            b = plain_keras(model, files, size)
            a = ours(embedder, files)
        ours_s.append(a)
        plain_s.append(b)
        ratios.append(b / a)
    return {
        "ours_ips": len(files) / statistics.median(ours_s),
        "plain_ips": len(files) / statistics.median(plain_s),
        "ratio": statistics.median(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=PETS)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[160, 224])
    args = parser.parse_args()
    import_tensorflow()
    files = sample_files(args.data, args.files)
    if not files:
        sys.exit(f"no .jpg/.png files under {args.data}; pass --data DIR")
    print(f"{len(files)} files of {args.data}, batches of {BATCH}, {args.rounds} paired rounds\n")
    print(
        "| size | `embed` images/s | plain Keras `model.predict` loop images/s | speed-up (median of paired rounds) |"
    )
    print("|---|---|---|---|")
    for size in args.sizes:
        r = bench_size(files, size, args.rounds)
        print(f"| {size} px | {r['ours_ips']:.1f} | {r['plain_ips']:.1f} | {r['ratio']:.2f}x |", flush=True)
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        first = embed_folder(args.data, cache_dir=Path(cache))
        cold = time.perf_counter() - started
        started = time.perf_counter()
        again = embed_folder(args.data, cache_dir=Path(cache))
        warm = time.perf_counter() - started
    print(
        f"\n`embed_folder` on all of {args.data.name} at 224 px: {len(first.paths)} images, first run {cold:.1f} s "
        f"(validate, network build and {first.computed} vectors), second run {warm:.2f} s ({again.computed} computed)"
    )


if __name__ == "__main__":
    main()
