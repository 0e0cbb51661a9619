"""What `trainer fit --deterministic` costs on CPU: the same fit with op determinism on and off.

    .venv/bin/python benchmarks/determinism_bench.py [--data fixtures/demo] [--rounds 3] [--epochs 3]

Each measurement is its own process (op determinism is process-wide): a one-epoch warm-up fit,
then the timed fit of `--epochs` epochs (compact_cnn, 64 px, batch 16, flips and rotations, a
seeded 80/20 hold-out of DATA). Rounds alternate on/off, so a busy machine slows both alike; the
result is the median of the per-round ratios on/off. It also says whether the two "on" runs of
the first rounds gave the same history (they must) and whether two "off" runs did.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's trainer, not another installed copy


def one(data: str, epochs: int, deterministic: bool) -> dict[str, object]:
    """One warm-up fit, then the timed one, in this process."""
    from trainer.config import FitConfig
    from trainer.fit import fit

    with tempfile.TemporaryDirectory() as tmp:
        config = {"data_dir": data, "image_size": 64, "batch_size": 16, "val_fraction": 0.2, "verbose": 0, "seed": 3,
                  "augment": "flip=horizontal,rotate=0.1", "deterministic": deterministic}  # fmt: skip
        fit(FitConfig(run_dir=str(Path(tmp) / "warm"), epochs=1, **config))  # type: ignore[arg-type]
        started = time.perf_counter()
        result = fit(FitConfig(run_dir=str(Path(tmp) / "timed"), epochs=epochs, **config))  # type: ignore[arg-type]
        return {"seconds": time.perf_counter() - started, "loss": result.history["loss"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO / "fixtures" / "demo"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--one", choices=("on", "off"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.data, args.epochs, args.one == "on")))
        return
    runs: dict[str, list[dict[str, object]]] = {"on": [], "off": []}
    for _ in range(args.rounds):
        for mode in ("on", "off"):
            out = subprocess.run(
                [sys.executable, __file__, "--one", mode, "--data", args.data, "--epochs", str(args.epochs)],
                capture_output=True, text=True, check=True, cwd=REPO,
            )  # fmt: skip
            runs[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
    ratios = [float(on["seconds"]) / float(off["seconds"]) for on, off in zip(runs["on"], runs["off"], strict=True)]  # type: ignore[arg-type]
    print("| round | determinism on (s) | off (s) | on/off |\n|---|---|---|---|")
    for i, (on, off, ratio) in enumerate(zip(runs["on"], runs["off"], ratios, strict=True), 1):
        print(f"| {i} | {float(on['seconds']):.1f} | {float(off['seconds']):.1f} | {ratio:.2f} |")  # type: ignore[arg-type]
    same_on = all(r["loss"] == runs["on"][0]["loss"] for r in runs["on"])
    same_off = all(r["loss"] == runs["off"][0]["loss"] for r in runs["off"])
    print(f"\nmedian on/off: {statistics.median(ratios):.2f}; identical histories: on {same_on}, off {same_off}")


if __name__ == "__main__":
    main()
