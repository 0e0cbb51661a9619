"""Find mislabelled images: k-fold training on duplicate-aware folds, out-of-fold probabilities,
and a ranking of suspected label errors by cleanlab (confident learning).

Every image is scored by a model that never saw it, nor any exact or near copy of it: the folds
come from `dataprep.split.folds.plan_folds` over the duplicate groups `dataprep.duplicates.search` finds.
Each fold is one ordinary `trainer fit DATA --fold I --folds-from RUN/folds.json` run (train:
the other folds, validation: fold I, read from DATA where they are: nothing is copied), so a fold
folder explains itself like any run. A finished fold leaves `heldout.json`; a killed run resumed
with `resume=True` skips those folds and continues with the next unfinished one.

Run folder::

    RUN/config.json        the resolved settings
    RUN/folds.json         DATA's root, each file's class and fold (what fit --folds-from reads)
    RUN/fold-I/run/        fit's run folder (history.csv, curves.png, metrics.json, model.keras)
    RUN/fold-I/snapshots/  held-out probabilities after each of the last epochs
    RUN/fold-I/heldout.json  out-of-fold probabilities of fold I (the snapshots' mean)
    RUN/oof_probs.npy      (files x classes), rows in RUN/oof_files.json order, columns in class order
    RUN/label_issues.json / .csv / .png   the ranked suspects
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from dataprep.base.errors import DataprepError
from dataprep.base.findings import Severity
from dataprep.base.journal import crash_point, make_dirs
from dataprep.duplicates.search import check_threshold, find_duplicates
from dataprep.inspection.scan import natural_key
from dataprep.split.folds import fold_file_doc, plan_folds
from trainer import run_folder
from trainer.config import DEFAULT_FOLDS as DEFAULT_FOLDS  # re-exported: the names label-issues has offered
from trainer.config import QUICK_AUGMENT as QUICK_AUGMENT
from trainer.config import LabelIssuesConfig as LabelIssuesConfig

RESULT_VERSION = 1
CONFIG = "config.json"
FOLDS = "folds.json"
HELDOUT = "heldout.json"
OOF_PROBS = "oof_probs.npy"
OOF_FILES = "oof_files.json"
ISSUES_JSON = "label_issues.json"
ISSUES_CSV = "label_issues.csv"
ISSUES_PNG = "label_issues.png"
SNAPSHOTS = "snapshots"
CSV_COLUMNS = ("rank", "path", "given_label", "suggested_label", "self_confidence", "score")
INSTALL_HINT = "pip install 'dataprep[labels]'"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class LabelIssue:
    """One suspected label error. `score` = 1 - self_confidence: how strongly the out-of-fold
    prediction says the given label is wrong."""

    rank: int
    path: str
    given_label: str
    suggested_label: str
    self_confidence: float
    sha256: str | None = None
    neighbour_agreement: float | None = None  # embeddings method: share of nearest neighbours with the given label

    @property
    def score(self) -> float:
        return 1.0 - self.self_confidence

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank, "path": self.path, "given_label": self.given_label,
            "suggested_label": self.suggested_label, "self_confidence": round(self.self_confidence, 6),
            "score": round(self.score, 6), "sha256": self.sha256,
            **({} if self.neighbour_agreement is None else {"neighbour_agreement": round(self.neighbour_agreement, 4)}),
        }  # fmt: skip


@dataclass
class LabelIssuesResult:
    run_dir: Path
    class_names: list[str]
    paths: list[str]
    labels: np.ndarray
    probs: np.ndarray
    issues: list[LabelIssue]
    fold_accuracy: list[float]
    folds_resumed: int = 0
    skipped: list[str] = field(default_factory=list)
    method: str = "cnn"

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": RESULT_VERSION,
            "method": self.method,
            "run_dir": str(self.run_dir),
            "class_names": self.class_names,
            "files": len(self.paths),
            "flagged": len(self.issues),
            "fold_accuracy": [round(a, 4) for a in self.fold_accuracy],
            "oof_accuracy": round(float((self.probs.argmax(axis=1) == self.labels).mean()), 4)
            if len(self.paths)
            else None,
            "skipped_invalid": self.skipped,
            "issues": [i.to_dict() for i in self.issues],
        }


# --- inputs ----------------------------------------------------------------------------------


@dataclass
class Items:
    """The images to score, in natural path order: path relative to DATA, class, group, hash."""

    root: Path
    class_names: list[str]
    paths: list[str]
    labels: list[str]
    groups: list[str]
    sha256: list[str | None]
    skipped: list[str]


def collect_items(config: LabelIssuesConfig) -> Items:
    """Validate DATA (cached results are reused), keep images of a class that decode, and group
    exact and near duplicates so they land in one fold."""
    from dataprep.inspection.validate import ValidateOptions, validate
    from trainer.data import read_class_names

    check_threshold(config.threshold)
    report = validate(config.data_dir, ValidateOptions(jobs=config.jobs))
    scan = report.scan
    if scan.layout == "flat" or not any(r.label for r in scan.images):
        raise DataprepError(
            f"'{config.data_dir}' has no class folders (expected DATA/CLASS/*.jpg or DATA/{{train,val,test}}/CLASS/*.jpg); "
            "put each class's images in a folder named after the class"
        )
    class_names = read_class_names(scan.root)
    results = {r.rel: r for r in report.results}
    keep, skipped = [], []
    for rec in scan.images:
        if rec.label is None:
            continue
        result = results.get(rec.rel)
        if result is not None and result.worst == Severity.ERROR:
            skipped.append(rec.rel)
            continue
        if rec.label not in class_names:
            raise DataprepError(
                f"class folder '{rec.label}' of '{rec.rel}' is not in the class list {class_names}; "
                "re-run 'dataprep split' so every split has the same classes"
            )
        keep.append(rec)
    keep.sort(key=lambda r: natural_key(r.rel))
    group_of: dict[str, str] = {}
    if config.group_duplicates:
        for g in find_duplicates([results[r.rel] for r in keep if r.rel in results], config.threshold):
            for path in g.paths:
                group_of[path] = f"group:{g.paths[0]}"
    return Items(
        root=scan.root, class_names=list(class_names), paths=[r.rel for r in keep], labels=[str(r.label) for r in keep],
        groups=[group_of.get(r.rel, r.rel) for r in keep],
        sha256=[results[r.rel].sha256 if r.rel in results else None for r in keep], skipped=skipped,
    )  # fmt: skip


# --- the run folder --------------------------------------------------------------------------


def prepare_run(config: LabelIssuesConfig, resume: bool) -> tuple[Path, LabelIssuesConfig]:
    if config.run_dir is None:
        config.run_dir = str(Path("runs") / f"label-issues-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
    path = Path(config.run_dir)
    if resume:
        saved = path / CONFIG
        if not saved.is_file():
            raise DataprepError(
                f"nothing to resume in '{path}' (expected {CONFIG} from an earlier 'trainer label-issues'); "
                "pass the --run-dir of the interrupted run"
            )
        values = json.loads(saved.read_text(encoding="utf-8"))["label_issues"]
        values["verbose"] = config.verbose
        return path, LabelIssuesConfig.from_dict(values)
    if path.exists() and any(path.iterdir()):
        raise DataprepError(
            f"run folder '{path}' already exists and is not empty (expected a new folder); "
            "pass another --run-dir, or --resume to continue it"
        )
    return path, config


def saved_method(run_dir: Path) -> str | None:
    """The method an earlier run in `run_dir` used (what --resume continues), None without one."""
    saved = run_dir / CONFIG
    if not saved.is_file():
        return None
    return str(json.loads(saved.read_text(encoding="utf-8"))["label_issues"].get("method", "cnn"))


def _check_config(config: LabelIssuesConfig) -> None:
    from trainer.models import model_info

    model_info(config.model)  # unknown model: one clear error before any work
    for name in ("folds", "epochs", "batch_size", "top", "snapshots", "models_per_fold"):
        if getattr(config, name) < 1:
            raise DataprepError(f"--{name.replace('_', '-')} {getattr(config, name)} must be at least 1")


def require_cleanlab() -> None:
    """cleanlab is an optional extra: one line naming the install command when it is missing."""
    try:
        import cleanlab  # noqa: F401
    except ImportError:
        raise DataprepError(
            f"'trainer label-issues' ranks with the cleanlab library, which is not installed; run: {INSTALL_HINT}"
        ) from None


def _train_fold(items: Items, fold_of: dict[str, int], fold: int, config: LabelIssuesConfig, run_dir: Path) -> float:
    """Train fold `fold` against the rest (resuming its fit run when one was interrupted), reading
    DATA's files through RUN/folds.json (no copies), write its held-out probabilities, and return
    the held-out accuracy.

    The probabilities are the mean over the last `config.snapshots` epochs of the model's
    predictions on the held-out fold (a snapshot ensemble, each with its mirror image when
    training mirrored): steadier than any one epoch, and independent of which epoch fit keeps as
    its best checkpoint (fit validates on the held-out fold, so that choice saw its labels).
    With `models_per_fold` > 1, that many models (seeds) per fold, their means averaged."""
    fold_dir = run_dir / f"fold-{fold}"
    held = [i for i, p in enumerate(items.paths) if fold_of[p] == fold]
    pixels: np.ndarray | None = None
    per_model = []
    for member in range(config.models_per_fold):
        fit_dir, snapshots = _member_dirs(fold_dir, member)
        if not (fit_dir / run_folder.METRICS).is_file():
            if pixels is None:
                pixels = _load_pixels([items.root / items.paths[i] for i in held], config.image_size or 64)
            _fit_member(config, fold, member, fit_dir, snapshots, pixels, run_dir / FOLDS)
        probs = _snapshot_mean(snapshots, _first_snapshot(config), config.epochs)
        if probs is None:  # no snapshot survived (killed between fit's last checkpoint and the snapshot): fit's model
            from trainer.run_folder import load_run

            run = load_run(fit_dir)
            probs = _predict(
                run, [items.root / items.paths[i] for i in held], mirror=_trained_on_mirrors(config.augment)
            )
        per_model.append(probs)
    probs = np.mean(per_model, axis=0)
    index = {name: i for i, name in enumerate(items.class_names)}
    accuracy = float(np.mean([probs[j].argmax() == index[items.labels[i]] for j, i in enumerate(held)]))
    run_folder.write_json(fold_dir / HELDOUT, {
        "version": RESULT_VERSION, "fold": fold, "accuracy": accuracy,
        "paths": [items.paths[i] for i in held], "probs": probs.round(7).tolist(),
    })  # fmt: skip
    crash_point()  # the kill tests' hook: one fold finished
    return accuracy


def _member_dirs(fold_dir: Path, member: int) -> tuple[Path, Path]:
    """Fit's run folder and the snapshot folder of model `member` (0-based) of a fold."""
    suffix = "" if member == 0 else f"-{member + 1}"
    return fold_dir / f"run{suffix}", fold_dir / f"{SNAPSHOTS}{suffix}"


def _first_snapshot(config: LabelIssuesConfig) -> int:
    return max(1, config.epochs - config.snapshots + 1)


def _fit_member(
    config: LabelIssuesConfig, fold: int, member: int, fit_dir: Path, snapshots: Path, pixels: np.ndarray, folds: Path
) -> None:
    """`trainer fit DATA --fold FOLD --folds-from RUN/folds.json` for one model of the fold
    (resumed when an earlier one was interrupted), saving held-out snapshots as it trains."""
    from trainer.config import FitConfig
    from trainer.fit import fit

    started = (fit_dir / run_folder.CONFIG).is_file()
    if not started and fit_dir.exists():
        shutil.rmtree(fit_dir)  # killed before fit wrote its config: nothing worth keeping
    callback = _snapshot_callback(pixels, snapshots, _trained_on_mirrors(config.augment), _first_snapshot(config))
    fit(FitConfig(
        data_dir=config.data_dir, model=config.model, image_size=config.image_size, batch_size=config.batch_size,
        epochs=config.epochs, lr=config.lr, weight_decay=config.weight_decay, augment=config.augment,
        weights=config.weights, run_dir=str(fit_dir), seed=config.seed + fold + 1000 * member, fold=fold,
        folds_from=str(folds), verbose=config.verbose,
    ), resume=started, callbacks=[callback])  # fmt: skip


def _load_pixels(files: Sequence[Path], image_size: int) -> np.ndarray:
    """The held-out images as the training decoder gives them (uint8, image_size square)."""
    import tensorflow as tf

    from trainer import data

    pixels = []
    for path in files:
        try:
            pixels.append(data.load_image(str(path), image_size).numpy())
        except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError, tf.errors.UnknownError):
            raise DataprepError(
                f"'{path}' no longer decodes (it passed validate earlier); run 'dataprep validate' and start a new run"
            ) from None
    return np.stack(pixels) if pixels else np.zeros((0, image_size, image_size, 3), np.uint8)


def _predict_pixels(model: Any, pixels: np.ndarray, mirror: bool, batch: int = 64) -> np.ndarray:
    """Class probabilities of `pixels`, batch by batch, called eagerly: each fold trains a new
    model, and a traced predict function per model (and per last-batch shape) is what made
    TensorFlow warn about retracing; a forward pass on a held-out fold needs no graph."""
    out = []
    for start in range(0, len(pixels), batch):
        stack = pixels[start : start + batch].astype("float32")
        probs = np.asarray(model(stack, training=False), dtype=np.float64)
        if mirror:
            probs = (probs + np.asarray(model(stack[:, :, ::-1], training=False), dtype=np.float64)) / 2
        out.append(probs)
    return np.concatenate(out) if out else np.zeros((0, 0))


def _snapshot_callback(pixels: np.ndarray, folder: Path, mirror: bool, first_epoch: int) -> Any:
    """A Keras callback saving the held-out fold's probabilities after each epoch from
    `first_epoch` (1-based) on, as folder/epoch-NNN.npy (atomically: a resumed fit redoes an
    epoch whose file is missing, or overwrites it)."""
    import keras

    class HeldOutSnapshots(keras.callbacks.Callback):  # type: ignore[misc]
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            if epoch + 1 < first_epoch:
                return
            make_dirs(folder)
            tmp = folder / f".epoch-{epoch + 1:03d}.tmp.npy"
            np.save(tmp, _predict_pixels(self.model, pixels, mirror))
            os.replace(tmp, folder / f"epoch-{epoch + 1:03d}.npy")

    return HeldOutSnapshots()


def _snapshot_mean(folder: Path, first_epoch: int, last_epoch: int) -> np.ndarray | None:
    """Mean of the saved snapshots of epochs first..last (those that exist); None when none do."""
    found = [folder / f"epoch-{e:03d}.npy" for e in range(first_epoch, last_epoch + 1)]
    arrays = [np.load(f) for f in found if f.is_file()]
    return np.mean(arrays, axis=0) if arrays else None


def _trained_on_mirrors(augment: str) -> bool:
    """Whether training flipped images left-right: then a mirror image is as much that class."""
    from dataprep.insight.augment import parse_augment_spec

    spec = "" if augment == "default" else augment
    return any(key == "flip" and "horizontal" in str(value) for key, value in parse_augment_spec(spec).steps)


def _predict(run: Any, files: Sequence[Path], mirror: bool = False) -> np.ndarray:
    """Class probabilities of `files` with the training decoder, in order; with `mirror`, the
    mean over the image and its left-right mirror (test-time augmentation the model was trained for)."""
    return _predict_pixels(run.model, _load_pixels(files, run.image_size), mirror)


# --- ranking ---------------------------------------------------------------------------------


def rank_label_issues(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(flagged indices, most suspicious first; self-confidence of every file) by cleanlab:
    `find_label_issues` prunes by the estimated noise rates (confident learning) and ranks by
    self-confidence, the out-of-fold probability of the given label."""
    require_cleanlab()
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    scores = get_label_quality_scores(labels, probs, method="self_confidence")
    # n_jobs=1: cleanlab's own process pool is terminated with SIGTERM, which the CLI turns into
    # Ctrl-C in every forked worker (a traceback each); one process ranks 100k images in seconds.
    flagged = find_label_issues(
        labels, probs, filter_by="prune_by_noise_rate", return_indices_ranked_by="self_confidence", n_jobs=1
    )
    return np.asarray(flagged, dtype=np.int64), np.asarray(scores, dtype=np.float64)


def find_label_issues(
    config: LabelIssuesConfig, resume: bool = False, progress: Progress | None = None
) -> LabelIssuesResult:
    """Train `config.folds` models on duplicate-aware folds of `config.data_dir`, score every image
    with the model that did not see it, and rank suspected label errors into the run folder."""
    require_cleanlab()
    run_dir, config = prepare_run(config, resume)
    _check_config(config)
    say = progress or (lambda _message: None)
    items = collect_items(config)
    fold_of = plan_folds(list(zip(items.paths, items.labels, items.groups)), config.folds, config.seed)
    if resume:
        saved = (
            json.loads((run_dir / FOLDS).read_text(encoding="utf-8"))["folds"] if (run_dir / FOLDS).is_file() else None
        )
        if saved is not None and saved != fold_of:
            raise DataprepError(
                f"the images in '{config.data_dir}' changed since run '{run_dir}' planned its folds; start a new run"
            )
    write_run_plan(run_dir, config, items, fold_of)
    if items.skipped:
        say(f"{len(items.skipped)} file(s) that validate rates 'error' are left out (e.g. {items.skipped[0]})")

    accuracy: list[float] = []
    resumed = 0
    for fold in range(config.folds):
        done = run_dir / f"fold-{fold}" / HELDOUT
        if done.is_file():
            accuracy.append(float(json.loads(done.read_text(encoding="utf-8"))["accuracy"]))
            resumed += 1
            say(f"fold {fold + 1}/{config.folds}: finished earlier (held-out accuracy {accuracy[-1]:.3f}), skipped")
            continue
        say(f"fold {fold + 1}/{config.folds}: training on {sum(1 for f in fold_of.values() if f != fold)} images")
        accuracy.append(_train_fold(items, fold_of, fold, config, run_dir))
        say(f"fold {fold + 1}/{config.folds}: held-out accuracy {accuracy[-1]:.3f}")

    probs = _collect_probs(run_dir, items, config.folds)
    index = {name: i for i, name in enumerate(items.class_names)}
    labels = np.asarray([index[label] for label in items.labels], dtype=np.int64)
    flagged, confidence = rank_label_issues(labels, probs)
    issues = [
        LabelIssue(rank=r + 1, path=items.paths[i], given_label=items.labels[i],
                   suggested_label=items.class_names[int(probs[i].argmax())], self_confidence=float(confidence[i]),
                   sha256=items.sha256[i])
        for r, i in enumerate(flagged.tolist())
    ]  # fmt: skip
    result = LabelIssuesResult(
        run_dir, items.class_names, items.paths, labels, probs, issues, accuracy, resumed, items.skipped
    )
    write_outputs(result, items, config)
    return result


def write_run_plan(run_dir: Path, config: LabelIssuesConfig, items: Items, fold_of: dict[str, int]) -> None:
    """Create the run folder with what either method was asked (config.json) and which fold
    each image is in (folds.json, the form `dataprep.split.folds` reads)."""
    make_dirs(run_dir)
    run_folder.write_json(run_dir / CONFIG, {"version": RESULT_VERSION, "label_issues": config.to_dict()})
    run_folder.write_json(run_dir / FOLDS, fold_file_doc(
        items.root.resolve(), items.class_names, dict(zip(items.paths, items.labels)), fold_of, config.folds,
        seed=config.seed, group_duplicates=config.group_duplicates, duplicate_groups=groups_of(items),
    ))  # fmt: skip


def groups_of(items: Items) -> list[list[str]]:
    members: dict[str, list[str]] = {}
    for path, group in zip(items.paths, items.groups):
        members.setdefault(group, []).append(path)
    return [m for m in members.values() if len(m) > 1]


def _collect_probs(run_dir: Path, items: Items, k: int) -> np.ndarray:
    row = {p: i for i, p in enumerate(items.paths)}
    probs = np.full((len(items.paths), len(items.class_names)), np.nan)
    for fold in range(k):
        held = json.loads((run_dir / f"fold-{fold}" / HELDOUT).read_text(encoding="utf-8"))
        for path, p in zip(held["paths"], held["probs"]):
            probs[row[path]] = p
    if np.isnan(probs).any():
        raise DataprepError(
            f"some images of '{run_dir}' have no out-of-fold prediction; the run folder was edited, start a new run"
        )
    return probs


def write_outputs(result: LabelIssuesResult, items: Items, config: LabelIssuesConfig) -> None:
    run_dir = result.run_dir
    tmp = run_dir / (OOF_PROBS + ".tmp.npy")
    np.save(tmp, result.probs.astype(np.float32))
    os.replace(tmp, run_dir / OOF_PROBS)
    run_folder.write_json(run_dir / OOF_FILES, {
        "version": RESULT_VERSION, "class_names": result.class_names, "paths": result.paths,
        "labels": result.labels.tolist(),
    })  # fmt: skip
    run_folder.write_json(run_dir / ISSUES_JSON, {"data_dir": str(items.root), **result.to_dict()})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for issue in result.issues:
        row = issue.to_dict()
        writer.writerow([row[c] for c in CSV_COLUMNS])
    (run_dir / ISSUES_CSV).write_text(buffer.getvalue(), encoding="utf-8")
    write_issues_png(items.root, result.issues[: config.top], run_dir / ISSUES_PNG)


def write_issues_png(root: Path, issues: Sequence[LabelIssue], path: Path, columns: int = 4) -> None:
    """A grid of the top suspects, each titled 'given -> suggested' with its score."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image, ImageOps

    n = max(1, len(issues))
    cols = min(columns, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3.5 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, issue in zip(axes.flat, issues):
        with Image.open(root / issue.path) as im:
            picture = ImageOps.exif_transpose(im).convert("RGB")
            picture.thumbnail((256, 256))
        ax.imshow(np.asarray(picture))
        title = f"#{issue.rank}  {issue.given_label} \u2192 {issue.suggested_label}  score {issue.score:.4f}"
        ax.set_title(f"{title}\n{Path(issue.path).name[:34]}", fontsize=9)
    if not issues:
        axes.flat[0].text(0.5, 0.5, "no label issues found", ha="center", va="center")
    fig.suptitle("Suspected label errors: given \u2192 suggested (score = 1 \u2212 self-confidence)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
