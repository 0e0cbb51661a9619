"""Tutorial recipe vs `trainer fit` defaults: validation accuracy and wall time, same data, same run.

    .venv/bin/python benchmarks/train_bench.py [--data ../shared/data/pets-800 | --generate flowers]
        [--rounds N] [--curves] [--variant NAME:key=value,...] [--json]

Both recipes train on one seeded, stratified 80/20 split of DATA (a folder of class folders),
materialised as hardlinks in a temporary split folder, so they see exactly the same images.

- tutorial: the Keras flowers tutorial as written: ``image_dataset_from_directory`` at 180×180,
  ``.cache().shuffle(1000).prefetch()`` of float32, a Sequential model with RandomFlip /
  RandomRotation(0.1) / RandomZoom(0.1) inside, Rescaling, Conv 16/32/64 + max-pool, Dropout(0.2),
  Flatten, Dense(128), Adam, 15 epochs.
- trainer: ``trainer.fit.fit(FitConfig(data_dir=SPLIT))`` with every default: the transfer recipe
  when the pretrained backbone's weights are installed (mobilenetv2 at 224 px: the head on cached
  features, then the top fine-tuned, see ``trainer/transfer.py``), else compact_cnn from scratch
  (``--set model=compact_cnn`` asks for it explicitly).

Wall time is measured from the start of each recipe (including its data loading) to its end;
every epoch's validation accuracy is recorded with the wall time at which it was reached, so
each run is also an accuracy-vs-time curve.

- ``--curves``: also train every registered from-scratch model with the trainer's defaults,
  each stopped at the first epoch end past the tutorial's wall time (same run, same split).
- ``--variant NAME:key=value,...``: also train the trainer with FitConfig overrides (e.g.
  ``e8:epochs=8``), to test a change of default against the current one in the same run.
- ``--generate flowers``: instead of DATA, a generated flower-photo-like set (5 classes of
  flowers told apart by petal shape and count, random colours, sizes, positions and rotations on
  cluttered photo-like backgrounds; ``generate_flowers``), harder than pets-800's coarse cues.

- ``--rounds N``: N paired rounds of tutorial + trainer on the same split (variants and curves run
  in the first round only); the summary is the median ratio of the trainer's wall time, and of
  its time to ``--target`` validation accuracy, to the tutorial's.

Prints markdown tables and, with --json, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "pets-800"


def make_split(data: Path, out: Path, seed: int, val_fraction: float = 0.2) -> dict[str, int]:
    """Hardlink (or copy) a stratified 80/20 split of DATA's class folders into OUT/{train,val}/CLASS.
    Not symlinks: the scanner does not follow links that leave the dataset folder."""
    rng = random.Random(seed)
    counts = {"train": 0, "val": 0}
    for class_dir in sorted(p for p in data.iterdir() if p.is_dir()):
        files = sorted(p for p in class_dir.iterdir() if p.is_file())
        rng.shuffle(files)
        n_val = round(len(files) * val_fraction)
        for split, chunk in (("val", files[:n_val]), ("train", files[n_val:])):
            target = out / split / class_dir.name
            target.mkdir(parents=True, exist_ok=True)
            for f in chunk:
                try:
                    os.link(f, target / f.name)
                except OSError:
                    shutil.copy2(f, target / f.name)
            counts[split] += len(chunk)
    return counts


def generate_flowers(out: Path, per_class: int, seed: int, size: tuple[int, int] = (240, 180)) -> dict[str, int]:
    """A flower-photo-like set: OUT/CLASS/*.jpg, 5 classes told apart by the flower's form.

    daisy: many thin petals around a small disc; tulip: a cup of three broad petals on a stem;
    rose: concentric rings of overlapping petals; sunflower: a large dark disc in a ring of short
    petals; dandelion: a ball of fine radial strokes. Colours are drawn per image from ranges
    that overlap between classes (as in real flowers), and every picture has a random scale,
    position, rotation, cluttered background and sensor noise.
    """
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    sys.path.insert(0, str(HERE.parent / "tests"))
    from photos import photo

    rng = np.random.default_rng(seed)
    w, h = size
    classes = ("daisy", "dandelion", "rose", "sunflower", "tulip")

    def colour(lo: int, hi: int) -> tuple[int, int, int]:
        return tuple(int(v) for v in rng.integers(lo, hi, 3))  # type: ignore[return-value]

    def petal(
        draw: ImageDraw.ImageDraw,
        cx: float,
        cy: float,
        angle: float,
        length: float,
        width: float,
        fill: tuple[int, int, int],
    ) -> None:
        tip = (cx + length * math.cos(angle), cy + length * math.sin(angle))
        side = angle + math.pi / 2
        mid = (cx + 0.5 * length * math.cos(angle), cy + 0.5 * length * math.sin(angle))
        left = (mid[0] + width * math.cos(side), mid[1] + width * math.sin(side))
        right = (mid[0] - width * math.cos(side), mid[1] - width * math.sin(side))
        draw.polygon([(cx, cy), left, tip, right], fill=fill)

    counts: dict[str, int] = {}
    for label, name in enumerate(classes):
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            im = photo(int(rng.integers(0, 2**31)), size).filter(ImageFilter.GaussianBlur(2))
            draw = ImageDraw.Draw(im)
            r = float(rng.uniform(0.22, 0.42)) * min(w, h)
            cx, cy = float(rng.uniform(r, w - r)), float(rng.uniform(r, h - r))
            turn = float(rng.uniform(0, 2 * math.pi))
            if name == "daisy":
                n = int(rng.integers(14, 22))
                petals = colour(200, 256) if rng.random() < 0.7 else colour(120, 256)
                for k in range(n):
                    petal(draw, cx, cy, turn + 2 * math.pi * k / n, r, r * 0.09, petals)
                d = r * 0.22
                draw.ellipse(
                    (cx - d, cy - d, cx + d, cy + d),
                    fill=(int(rng.integers(180, 256)), int(rng.integers(150, 230)), 20),
                )
            elif name == "dandelion":
                fill = colour(170, 256)
                for _ in range(int(rng.integers(60, 90))):
                    a = turn + float(rng.uniform(0, 2 * math.pi))
                    end = (cx + r * math.cos(a), cy + r * math.sin(a))
                    draw.line((cx, cy, *end), fill=fill, width=1)
                    draw.ellipse((end[0] - 2, end[1] - 2, end[0] + 2, end[1] + 2), fill=fill)
            elif name == "rose":
                base = colour(60, 256)
                for ring in range(5, 0, -1):
                    rr = r * ring / 5
                    shade = tuple(max(0, c - 18 * (5 - ring)) for c in base)
                    for k in range(5):
                        a = turn + ring * 0.7 + 2 * math.pi * k / 5
                        ox, oy = cx + 0.25 * rr * math.cos(a), cy + 0.25 * rr * math.sin(a)
                        draw.ellipse(
                            (ox - 0.8 * rr, oy - 0.8 * rr, ox + 0.8 * rr, oy + 0.8 * rr),
                            fill=shade,
                            outline=tuple(max(0, c - 60) for c in shade),
                        )  # type: ignore[arg-type]
            elif name == "sunflower":
                n = int(rng.integers(20, 30))
                petals = (int(rng.integers(200, 256)), int(rng.integers(140, 220)), int(rng.integers(0, 80)))
                for k in range(n):
                    petal(draw, cx, cy, turn + 2 * math.pi * k / n, r, r * 0.15, petals)
                d = r * 0.55
                draw.ellipse((cx - d, cy - d, cx + d, cy + d), fill=colour(30, 90))
            else:  # tulip
                fill = colour(80, 256)
                draw.line(
                    (cx, cy, cx + float(rng.uniform(-10, 10)), h), fill=(40, int(rng.integers(100, 160)), 40), width=4
                )
                for a in (-0.45, 0.0, 0.45):
                    petal(draw, cx, cy + 0.3 * r, -math.pi / 2 + a + float(rng.normal(0, 0.1)), 1.2 * r, 0.35 * r, fill)
            arr = np.asarray(im).astype(np.float32) + rng.normal(0, 6, (h, w, 3))
            Image.fromarray(np.clip(arr, 0, 255).astype("uint8")).save(folder / f"{name}_{i:04d}.jpg", quality=88)
        counts[name] = per_class
        del label
    return counts


def curve_callback(started: float, budget: float | None) -> Any:
    """A Keras callback whose `points` collect (seconds since `started`, val_accuracy) at every
    epoch end; it stops training at the first epoch end past `budget` seconds, or mid-epoch past
    1.5x it, so a model whose epoch outlasts the budget is cut (None: never stops)."""
    import keras

    class Curve(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.points: list[tuple[float, float]] = []

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            elapsed = time.perf_counter() - started
            self.points.append((round(elapsed, 1), round(float((logs or {}).get("val_accuracy", 0.0)), 4)))
            if budget is not None and elapsed > budget:
                self.model.stop_training = True

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            if budget is not None and time.perf_counter() - started > 1.5 * budget:
                self.model.stop_training = True

    return Curve()


def tutorial_recipe(split: Path, epochs: int, seed: int) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    started = time.perf_counter()
    curve = curve_callback(started, None)
    size = (180, 180)
    train_ds = keras.utils.image_dataset_from_directory(
        split / "train", image_size=size, batch_size=32, seed=seed, verbose=False
    )
    val_ds = keras.utils.image_dataset_from_directory(
        split / "val", image_size=size, batch_size=32, shuffle=False, verbose=False
    )
    num_classes = len(train_ds.class_names)
    train_ds = train_ds.cache().shuffle(1000).prefetch(tf.data.AUTOTUNE)
    val_ds = val_ds.cache().prefetch(tf.data.AUTOTUNE)
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((*size, 3)),
            layers.RandomFlip("horizontal"),
            layers.RandomRotation(0.1),
            layers.RandomZoom(0.1),
            layers.Rescaling(1.0 / 255),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Dropout(0.2),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(num_classes),
        ]
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=2, callbacks=[curve])
    seconds = time.perf_counter() - started
    val = history.history["val_accuracy"]
    return {
        "val_accuracy_final": float(val[-1]),
        "val_accuracy_best": float(max(val)),
        "epochs": epochs,
        "wall_seconds": round(seconds, 1),
        "curve": curve.points,
    }


def trainer_recipe(
    split: Path, run_dir: Path, seed: int, overrides: dict[str, object], budget: float | None = None
) -> dict[str, object]:
    from trainer.config import FitConfig
    from trainer.fit import fit

    started = time.perf_counter()
    curve = curve_callback(started, budget)
    config = FitConfig(data_dir=str(split), run_dir=str(run_dir), seed=seed, **overrides)  # type: ignore[arg-type]
    error = None
    try:
        fit(config, callbacks=[curve])
    except Exception as err:
        if budget is None:
            raise
        error = f"{type(err).__name__}: {err}"[:200]
    seconds = time.perf_counter() - started
    saved = json.loads((run_dir / "config.json").read_text())["fit"]
    accuracies = [acc for _, acc in curve.points] or [0.0]
    return {
        "val_accuracy_best": max(accuracies),
        "val_accuracy_final": accuracies[-1],
        "epochs": len(curve.points),
        "wall_seconds": round(seconds, 1),
        "error": error,
        "model": saved["model"],
        "image_size": saved["image_size"],
        "augment": saved["augment"],
        "curve": curve.points,
        "overrides": overrides,
    }


def parse_overrides(items: list[str]) -> dict[str, object]:
    overrides: dict[str, object] = {}
    for item in items:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value) if value[:1].isdigit() or value in ("true", "false") else value
    return overrides


def time_to(curve: list[tuple[float, float]], target: float) -> float | None:
    """Wall seconds at the first epoch end with validation accuracy >= `target` (None: never)."""
    return next((t for t, acc in curve if acc >= target), None)


def at_fraction(curve: list[tuple[float, float]], seconds: float) -> float | None:
    """Best validation accuracy reached within `seconds` (None: no epoch ended by then)."""
    reached = [acc for t, acc in curve if t <= seconds]
    return max(reached) if reached else None


def one_round(args: argparse.Namespace, split: Path, tmp: Path, first: bool) -> dict[str, dict[str, Any]]:
    """The tutorial, then the trainer (then, in the first round, variants and curves) on `split`."""
    runs: dict[str, dict[str, Any]] = {}
    budget: float | None = None
    if not args.skip_tutorial:
        runs["tutorial"] = tutorial_recipe(split, args.tutorial_epochs, args.seed)
        budget = float(runs["tutorial"]["wall_seconds"])
    runs["trainer"] = trainer_recipe(split, tmp / "run", args.seed, parse_overrides(args.set))
    for spec in args.variant if first else []:
        name, _, items = spec.partition(":")
        runs[name] = trainer_recipe(
            split, tmp / f"run-{name}", args.seed, parse_overrides([i for i in items.split(",") if i]), budget
        )
    if args.curves and first:
        from trainer.models import DEFAULT_MODEL, list_models, model_info

        for model in list_models():
            if model_info(model).transfer or model == DEFAULT_MODEL:
                continue
            runs[model] = trainer_recipe(split, tmp / f"run-{model}", args.seed, {"model": model}, budget)
    tut = runs.get("tutorial")
    for r in runs.values():
        r["seconds_to_target"] = time_to(r["curve"], args.target)
        if tut:
            r["time_ratio"] = round(r["wall_seconds"] / tut["wall_seconds"], 3)
            reached = r["seconds_to_target"]
            r["target_time_ratio"] = None if reached is None else round(reached / tut["wall_seconds"], 3)
            r["best_within_third"] = at_fraction(r["curve"], tut["wall_seconds"] / 3)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--generate", choices=["flowers"], default=None, help="train on a generated set instead")
    parser.add_argument("--per-class", type=int, default=160, help="--generate: images per class")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--tutorial-epochs", type=int, default=15)
    parser.add_argument("--skip-tutorial", action="store_true")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a FitConfig field for the trainer recipe (experiments)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE,...",
        help="also train the trainer with these overrides",
    )
    parser.add_argument("--curves", action="store_true", help="also train every registered from-scratch model")
    parser.add_argument("--rounds", type=int, default=1, help="paired rounds of tutorial + trainer")
    parser.add_argument("--target", type=float, default=0.90, help="validation accuracy whose time is reported")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import tensorflow as tf

    results: dict[str, Any] = {
        "data": f"generated {args.generate} ({args.per_class}/class)" if args.generate else str(args.data),
        "cpu_cores": os.cpu_count(),
        "gpus": len(tf.config.list_physical_devices("GPU")),
        "tensorflow": tf.__version__,
        "load_average_before": round(os.getloadavg()[0], 1),
    }
    rounds: list[dict[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="train-bench-") as tmp:
        source = args.data.resolve()
        if args.generate:
            source = Path(tmp) / "generated"
            results["generated"] = generate_flowers(source, args.per_class, args.seed)
        split = Path(tmp) / "split"
        results["split"] = make_split(source, split, args.seed)
        for index in range(args.rounds):
            rounds.append(one_round(args, split, Path(tmp) / f"round-{index}", first=index == 0))
            # Each finished round as one line, so a run stopped early still has its results.
            print(f"round {index + 1}: " + json.dumps(rounds[-1]), flush=True)
    results["rounds"] = rounds
    print(
        f"{results['data']}: split {results['split']}, {results['cpu_cores']} cores, "
        f"load average before {results['load_average_before']}"
    )
    print(
        f"| round | run | model | size | epochs | best val acc | final val acc | wall s | × tutorial time "
        f"| s to {args.target:.2f} | × tutorial time to {args.target:.2f} | best within ⅓ tutorial time |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for index, each in enumerate(rounds):
        for name, r in each.items():
            print(
                f"| {index + 1} | {name} | {r.get('model', 'tutorial CNN')} | {r.get('image_size', 180)} | {r['epochs']} | "
                f"{r['val_accuracy_best']:.3f} | {r['val_accuracy_final']:.3f} | {r['wall_seconds']} | "
                f"{r.get('time_ratio', '')} | {r.get('seconds_to_target', '')} | {r.get('target_time_ratio', '')} | "
                f"{r.get('best_within_third', '')} |"
            )
    paired = [each for each in rounds if "tutorial" in each and "trainer" in each]
    if paired:
        summary = {
            "median_time_ratio": statistics.median(each["trainer"]["time_ratio"] for each in paired),
            "median_target_time_ratio": statistics.median(
                each["trainer"]["target_time_ratio"] if each["trainer"]["target_time_ratio"] is not None else math.inf
                for each in paired
            ),
            "rounds": len(paired),
        }
        results["summary"] = summary
        print(
            f"\ntrainer vs tutorial over {summary['rounds']} paired round(s): median wall-time ratio "
            f"{summary['median_time_ratio']:.3f}, median ratio of the time to {args.target:.2f} "
            f"{summary['median_target_time_ratio']:.3f}"
        )
    print("\naccuracy-vs-time curves (wall s since the run started: val accuracy)")
    for index, each in enumerate(rounds):
        for name, r in each.items():
            print(f"- round {index + 1} {name}: " + ", ".join(f"{t:.0f}s {a:.3f}" for t, a in r["curve"]))
    if args.json:
        print(json.dumps(results, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
