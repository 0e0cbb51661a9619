"""Finding planted label errors on real photos: embeddings vs trained CNNs, duplicate-aware folds
vs plain folds, vs chance.

    .venv/bin/python benchmarks/label_issues_bench.py [--data ../shared/data/pets-800] [--folds 4]
        [--epochs 36] [--image-size 64] [--augment SPEC] [--snapshots 4] [--models-per-fold 1]
        [--weight-decay 1e-4] [--flip 0.05] [--only e|a|b] [--keep DIR] [--json]

Defaults are `trainer label-issues`' defaults. `--keep DIR` copies the planted data and the run
folders (with each fold's per-epoch held-out snapshots) there, with `wrong.json`, for analysis.

DATA (a folder of class folders) is linked (or copied) into a temporary folder under /tmp, and
a seeded `--flip` fraction of its images is moved into another class folder: planted label
errors. Each flipped image also gets one near copy (resized to 80 %, re-encoded at JPEG q85) in
the same wrong folder, and so do as many correctly labelled images (so copies alone say nothing),
the way PetImages holds near copies of its photos. Truly mislabelled = the flipped images and
their copies.

Rankers, one run, the same data, the same duplicate-aware folds (n, e, k, a):

- (n) ``trainer label-issues`` as shipped (``--method embeddings``): a logistic regression on the
  pretrained backbone's vectors with the neighbour vote mixed in (``knn_weight`` 0.5), nothing
  cached (its own empty cache folder), so the wall time includes embedding every image;
- (e) the logistic regression alone (``knn_weight`` 0) and (k) the neighbour vote alone
  (``knn_weight`` 1): does the nearest-neighbour label agreement help? (vectors cached by (n));
- (a) ``--method cnn``: a CNN trained per fold on duplicate-aware folds (near copies share a fold);
- (b) the same with plain stratified folds: a flipped image's copy usually sits in another fold,
  so the model that scores it was trained on its copy, with the wrong label;
- (c) a random ranking (seeded).

Reported per ranker: precision and recall of the flagged set (cleanlab's ``find_label_issues``),
precision among the top N by self-confidence (N = number truly mislabelled), mean held-out
accuracy of the fold models, and wall time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "pets-800"


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _near_copy(src: Path, dst: Path) -> None:
    from PIL import Image, ImageOps

    with Image.open(src) as im:
        picture = ImageOps.exif_transpose(im).convert("RGB")
    picture = picture.resize((max(1, int(picture.width * 0.8)), max(1, int(picture.height * 0.8))))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=85)
    dst.write_bytes(buffer.getvalue())


def plant(data: Path, out: Path, flip: float, seed: int) -> set[str]:
    """Link DATA into OUT with `flip` of the images moved to another class; returns the
    relative paths that are truly mislabelled (flips and their near copies)."""
    rng = random.Random(seed)
    classes = sorted(p.name for p in data.iterdir() if p.is_dir())
    files = [(c, f) for c in classes for f in sorted((data / c).iterdir()) if f.is_file()]
    n_flip = round(len(files) * flip)
    order = list(range(len(files)))
    rng.shuffle(order)
    flipped, copied_clean = set(order[:n_flip]), set(order[n_flip : 2 * n_flip])
    wrong: set[str] = set()
    for i, (label, f) in enumerate(files):
        target = label
        if i in flipped:
            target = rng.choice([c for c in classes if c != label])
        rel = f"{target}/{f.name}"
        _link(f, out / rel)
        if i in flipped or i in copied_clean:
            copy_rel = f"{target}/copy_{f.stem}.jpg"
            _near_copy(f, out / copy_rel)
            if i in flipped:
                wrong.add(copy_rel)
        if i in flipped:
            wrong.add(rel)
    return wrong


def score(ranked_all: list[str], flagged: list[str], wrong: set[str]) -> dict[str, Any]:
    n = len(wrong)
    hits = sum(1 for p in flagged if p in wrong)
    return {
        "flagged": len(flagged),
        "precision": round(hits / len(flagged), 3) if flagged else 0.0,
        "recall": round(hits / n, 3),
        "top_n_precision": round(sum(1 for p in ranked_all[:n] if p in wrong) / n, 3),
    }


def scored(result: Any, wrong: set[str], seconds: float) -> dict[str, Any]:
    """`score` of a label-issues result against the planted flips, with its accuracies and time."""
    import numpy as np

    from trainer.label_issues import rank_label_issues

    _, confidence = rank_label_issues(result.labels, result.probs)
    ranked_all = [result.paths[i] for i in np.argsort(confidence, kind="stable")]
    out = score(ranked_all, [i.path for i in result.issues], wrong)
    out.update(
        fold_accuracy=round(float(np.mean(result.fold_accuracy)), 3),
        oof_accuracy_on_true_labels=round(_true_accuracy(result, wrong), 3),
        seconds=round(seconds, 1),
    )
    return out


def run_trainer(
    data: Path, run_dir: Path, args: argparse.Namespace, group_duplicates: bool, wrong: set[str]
) -> dict[str, Any]:
    from trainer.config import LabelIssuesConfig
    from trainer.label_issues import find_label_issues

    started = time.perf_counter()
    result = find_label_issues(LabelIssuesConfig(
        data_dir=str(data), folds=args.folds, model=args.model, image_size=args.image_size, epochs=args.epochs,
        batch_size=args.batch_size, augment=args.augment, seed=args.seed, run_dir=str(run_dir), group_duplicates=group_duplicates,
        snapshots=args.snapshots, weight_decay=args.weight_decay, models_per_fold=args.models_per_fold, verbose=0,
    ))  # fmt: skip
    return scored(result, wrong, time.perf_counter() - started)


def run_embeddings(
    data: Path, run_dir: Path, args: argparse.Namespace, knn_weight: float, wrong: set[str]
) -> dict[str, Any]:
    from trainer.config import LabelIssuesConfig
    from trainer.label_issues_embed import find_label_issues_from_embeddings

    started = time.perf_counter()
    result = find_label_issues_from_embeddings(LabelIssuesConfig(
        data_dir=str(data), method="embeddings", folds=args.folds, seed=args.seed, run_dir=str(run_dir),
        knn_weight=knn_weight, verbose=0,
    ))  # fmt: skip
    return scored(result, wrong, time.perf_counter() - started)


def _true_accuracy(result: Any, wrong: set[str]) -> float:
    """Out-of-fold accuracy against the labels before flipping (two classes: a flip is the other one)."""
    predicted = result.probs.argmax(axis=1)
    correct = 0
    for path, given, guess in zip(result.paths, result.labels.tolist(), predicted.tolist()):
        truth_is_given = path not in wrong
        correct += int((guess == given) == truth_is_given)
    return correct / len(result.paths)


def main() -> None:
    from trainer.config import LabelIssuesConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=LabelIssuesConfig.folds)
    parser.add_argument("--epochs", type=int, default=LabelIssuesConfig.epochs)
    parser.add_argument("--image-size", type=int, default=LabelIssuesConfig.image_size)
    parser.add_argument("--batch-size", type=int, default=LabelIssuesConfig.batch_size)
    parser.add_argument("--model", default=LabelIssuesConfig.model)
    parser.add_argument("--augment", default=LabelIssuesConfig.augment)
    parser.add_argument("--weight-decay", type=float, default=LabelIssuesConfig.weight_decay)
    parser.add_argument("--models-per-fold", type=int, default=LabelIssuesConfig.models_per_fold)
    parser.add_argument("--snapshots", type=int, default=LabelIssuesConfig.snapshots)
    parser.add_argument("--flip", type=float, default=0.05)
    parser.add_argument("--keep", type=Path, default=None, help="Copy the data and run folders here (for analysis).")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--only", choices=["e", "a", "b"], default=None, help="Run one variant only.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="label-issues-bench-", dir="/tmp") as tmp:
        data = Path(tmp) / "data"
        wrong = plant(args.data, data, args.flip, args.seed)
        files = sum(1 for p in data.rglob("*") if p.is_file())
        rows: dict[str, dict[str, Any]] = {}
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")  # nothing cached: (e) embeds every image
        if args.only in (None, "e"):
            for key, weight in (("n", 0.5), ("e", 0.0), ("k", 1.0)):
                rows[key] = run_embeddings(data, Path(tmp) / f"run-{key}", args, weight, wrong)
                print(f"({key}) {rows[key]}", file=sys.stderr, flush=True)
        for key, grouped in (("a", True), ("b", False)):
            if args.only in (None, key):
                rows[key] = run_trainer(data, Path(tmp) / f"run-{key}", args, grouped, wrong)
                print(f"({key}) {rows[key]}", file=sys.stderr, flush=True)
        if args.keep is not None:
            shutil.copytree(tmp, args.keep, symlinks=True, dirs_exist_ok=True)
            (args.keep / "wrong.json").write_text(json.dumps(sorted(wrong)))
        paths = sorted(str(p.relative_to(data)) for p in data.rglob("*") if p.is_file())
        random.Random(args.seed).shuffle(paths)
        rows["c"] = score(paths, paths[: len(wrong)], wrong)
    total = time.perf_counter() - started
    names = {
        "n": "(n) embeddings: logistic regression + neighbour vote 0.5 (default)",
        "e": "(e) embeddings: logistic regression alone", "k": "(k) embeddings: neighbour vote alone", "a": "(a) CNN, duplicate-aware folds", "b": "(b) CNN, plain folds, copies across folds",
        "c": "(c) random ranking",
    }  # fmt: skip
    summary = {
        "data": str(args.data), "files": files, "mislabelled": len(wrong), "folds": args.folds, "epochs": args.epochs,
        "image_size": args.image_size, "model": args.model, "augment": args.augment, "seconds_total": round(total, 1), "rows": rows,
    }  # fmt: skip
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(
        f"{files} files, {len(wrong)} mislabelled; {args.model} {args.image_size}px, {args.folds} folds x "
        f"{args.epochs} epochs, augment {args.augment}; total {total:.0f} s"
    )
    print("| ranker | flagged | precision | recall | top-N precision | fold accuracy | wall s |")
    print("|---|---|---|---|---|---|---|")
    for key, row in rows.items():
        print(
            f"| {names[key]} | {row['flagged']} | {row['precision']} | {row['recall']} | **{row['top_n_precision']}** | "
            f"{row.get('fold_accuracy', '-')} | {row.get('seconds', '-')} |"
        )


if __name__ == "__main__":
    main()
