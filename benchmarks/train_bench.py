"""Tutorial recipe vs `trainer fit` defaults: validation accuracy and wall time, same data, same run.

    .venv/bin/python benchmarks/train_bench.py [--data ../shared/data/pets-800] [--json]

Both recipes train on one seeded, stratified 80/20 split of DATA (a folder of class folders),
materialised as hardlinks in a temporary split folder, so they see exactly the same images.

- tutorial: the Keras flowers tutorial as written: ``image_dataset_from_directory`` at 180×180,
  ``.cache().shuffle(1000).prefetch()`` of float32, a Sequential model with RandomFlip /
  RandomRotation(0.1) / RandomZoom(0.1) inside, Rescaling, Conv 16/32/64 + max-pool, Dropout(0.2),
  Flatten, Dense(128), Adam, 15 epochs.
- trainer: ``trainer.fit.fit(FitConfig(data_dir=SPLIT))`` with every default.

Wall time is measured from the start of each recipe (including its data loading) to its end.
Prints a markdown table and, with --json, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

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


def tutorial_recipe(split: Path, epochs: int, seed: int) -> dict[str, float]:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    started = time.perf_counter()
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
    model = keras.Sequential([
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
    ])
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=2)
    seconds = time.perf_counter() - started
    val = history.history["val_accuracy"]
    return {"val_accuracy_final": float(val[-1]), "val_accuracy_best": float(max(val)),
            "epochs": epochs, "wall_seconds": round(seconds, 1)}


def trainer_recipe(split: Path, run_dir: Path, seed: int, overrides: dict[str, object]) -> dict[str, object]:
    from trainer.fit import FitConfig, fit

    started = time.perf_counter()
    config = FitConfig(data_dir=str(split), run_dir=str(run_dir), seed=seed, **overrides)  # type: ignore[arg-type]
    result = fit(config)
    seconds = time.perf_counter() - started
    m = result.metrics
    saved = json.loads((run_dir / "config.json").read_text())["fit"]
    return {"val_accuracy_best": float(m["val_accuracy"]),
            "val_accuracy_final": float(result.history["val_accuracy"][-1]),
            "epochs": m["epochs_run"], "wall_seconds": round(seconds, 1),
            "model": saved["model"], "image_size": saved["image_size"], "augment": saved["augment"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--tutorial-epochs", type=int, default=15)
    parser.add_argument("--skip-tutorial", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a FitConfig field for the trainer recipe (experiments)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    overrides: dict[str, object] = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value) if value[:1].isdigit() or value in ("true", "false") else value

    import tensorflow as tf

    results: dict[str, object] = {
        "data": str(args.data), "cpu_cores": os.cpu_count(),
        "gpus": len(tf.config.list_physical_devices("GPU")), "tensorflow": tf.__version__,
    }
    with tempfile.TemporaryDirectory(prefix="train-bench-") as tmp:
        split = Path(tmp) / "split"
        results["split"] = make_split(args.data.resolve(), split, args.seed)
        if not args.skip_tutorial:
            results["tutorial"] = tutorial_recipe(split, args.tutorial_epochs, args.seed)
        results["trainer"] = trainer_recipe(split, Path(tmp) / "run", args.seed, overrides)
    if "tutorial" in results:
        tut, ours = results["tutorial"], results["trainer"]
        assert isinstance(tut, dict) and isinstance(ours, dict)
        results["time_ratio"] = round(ours["wall_seconds"] / tut["wall_seconds"], 3)
        results["accuracy_gain"] = round(ours["val_accuracy_best"] - tut["val_accuracy_best"], 4)
    print("| recipe | model | size | epochs | best val acc | final val acc | wall s |")
    print("|---|---|---|---|---|---|---|")
    for name in ("tutorial", "trainer"):
        r = results.get(name)
        if isinstance(r, dict):
            print(f"| {name} | {r.get('model', 'tutorial CNN')} | {r.get('image_size', 180)} | {r['epochs']} | "
                  f"{r['val_accuracy_best']:.3f} | {r['val_accuracy_final']:.3f} | {r['wall_seconds']} |")
    if args.json:
        print(json.dumps(results, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
