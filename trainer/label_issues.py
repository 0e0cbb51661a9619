"""Find mislabelled images: k-fold training on duplicate-aware folds, out-of-fold probabilities,
and a ranking of suspected label errors by cleanlab (confident learning).

Every image is scored by a model that never saw it, nor any exact or near copy of it: the folds
come from `dataprep.folds.plan_folds` over the duplicate groups `dataprep.duplicates` finds.
Each fold is one ordinary `trainer.fit` run (train: the other folds less a small validation
slice for checkpoint selection; test: the held-out fold), so a fold folder explains itself like
any run. A finished fold leaves `heldout.json`; a killed run resumed with `resume=True` skips
those folds and continues with the next unfinished one.

Run folder::

    RUN/config.json        the resolved settings          RUN/folds.json       path -> fold
    RUN/fold-I/run/        fit's run folder (history.csv, curves.png, metrics.json, model.keras)
    RUN/fold-I/heldout.json  out-of-fold probabilities of fold I
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
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from dataprep.defaults import DEFAULT_BATCH_SIZE, DEFAULT_LR, DEFAULT_SEED
from dataprep.duplicates import DEFAULT_THRESHOLD, check_threshold, find_duplicates
from dataprep.errors import DataprepError
from dataprep.findings import Severity
from dataprep.folds import plan_folds
from dataprep.journal import crash_point, make_dirs
from dataprep.scan import natural_key
from trainer import run_folder

RESULT_VERSION = 1
DEFAULT_FOLDS = 4
CONFIG = "config.json"
FOLDS = "folds.json"
HELDOUT = "heldout.json"
OOF_PROBS = "oof_probs.npy"
OOF_FILES = "oof_files.json"
ISSUES_JSON = "label_issues.json"
ISSUES_CSV = "label_issues.csv"
ISSUES_PNG = "label_issues.png"
CSV_COLUMNS = ("rank", "path", "given_label", "suggested_label", "self_confidence", "score")
INSTALL_HINT = "pip install 'dataprep[labels]'"
# Measured on pets-800 (benchmarks/label_issues_bench.py): with 24 short epochs, mirroring alone
# gave the fold models higher held-out accuracy than the default flip+rotate+zoom.
QUICK_AUGMENT = "flip=horizontal"

Progress = Callable[[str], None]


@dataclass
class LabelIssuesConfig:
    """Everything a label-issues run depends on; RUN/config.json holds it resolved."""

    data_dir: str
    folds: int = DEFAULT_FOLDS
    model: str = "compact_cnn"
    image_size: int | None = 64
    batch_size: int = DEFAULT_BATCH_SIZE
    epochs: int = 24
    lr: float = DEFAULT_LR
    augment: str = QUICK_AUGMENT
    weights: str = "none"  # transfer models: imagenet | none | PATH (as `trainer fit`)
    seed: int = DEFAULT_SEED
    run_dir: str | None = None  # None: runs/label-issues-<timestamp>
    threshold: int = DEFAULT_THRESHOLD  # pHash bits: near copies share a fold
    group_duplicates: bool = True  # False: plain stratified folds (the leaky baseline)
    val_fraction: float = 0.1  # of the training folds, for fit's checkpoint selection
    top: int = 16  # suspects drawn in label_issues.png
    jobs: int | None = None  # validate's worker processes
    verbose: int = 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LabelIssuesConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


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

    @property
    def score(self) -> float:
        return 1.0 - self.self_confidence

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank, "path": self.path, "given_label": self.given_label,
            "suggested_label": self.suggested_label, "self_confidence": round(self.self_confidence, 6),
            "score": round(self.score, 6), "sha256": self.sha256,
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": RESULT_VERSION,
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
    from dataprep.validate import ValidateOptions, validate
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


def _prepare_run(config: LabelIssuesConfig, resume: bool) -> tuple[Path, LabelIssuesConfig]:
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


def _check_config(config: LabelIssuesConfig) -> None:
    from trainer.models import model_info

    model_info(config.model)  # unknown model: one clear error before any work
    for name in ("folds", "epochs", "batch_size", "top"):
        if getattr(config, name) < 1:
            raise DataprepError(f"--{name.replace('_', '-')} {getattr(config, name)} must be at least 1")
    if not 0.0 < config.val_fraction < 0.5:
        raise DataprepError(f"--val-fraction {config.val_fraction} is out of range (expected 0 < f < 0.5)")


def require_cleanlab() -> None:
    """cleanlab is an optional extra: one line naming the install command when it is missing."""
    try:
        import cleanlab  # noqa: F401
    except ImportError:
        raise DataprepError(
            f"'trainer label-issues' ranks with the cleanlab library, which is not installed; run: {INSTALL_HINT}"
        ) from None


def _link_or_copy(src: Path, dst: Path) -> None:
    make_dirs(dst.parent)
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError:  # another filesystem, or links not allowed: a copy (DATA is never changed)
        shutil.copy2(src, dst)


def _fold_folder(items: Items, fold_of: dict[str, int], fold: int, config: LabelIssuesConfig, target: Path) -> None:
    """A split folder of links to DATA's files: train = the other folds less a duplicate-aware
    validation slice, test = fold `fold`. Written fresh each time (an interrupted one is redone)."""
    if target.exists():
        shutil.rmtree(target)
    rest = [(p, lab, g) for p, lab, g in zip(items.paths, items.labels, items.groups) if fold_of[p] != fold]
    slices = max(2, round(1 / config.val_fraction))
    n_groups = len({g for _, _, g in rest})
    val_of = plan_folds(rest, min(slices, n_groups), config.seed + 1000 + fold) if n_groups >= 2 else {}
    for path, label in zip(items.paths, items.labels):
        role = "test" if fold_of[path] == fold else ("val" if val_of.get(path) == 0 else "train")
        _link_or_copy(items.root / path, target / role / label / path.replace("/", "__"))  # unique: the whole path


def _train_fold(items: Items, fold_of: dict[str, int], fold: int, config: LabelIssuesConfig, run_dir: Path) -> float:
    """Train fold `fold` (resuming its fit run when one was interrupted), write its held-out
    probabilities, and return the held-out accuracy."""
    from trainer.fit import FitConfig, fit
    from trainer.run_folder import load_run

    fold_dir = run_dir / f"fold-{fold}"
    fit_dir = fold_dir / "run"
    data_dir = fold_dir / "data"
    if not (fit_dir / run_folder.METRICS).is_file():
        _fold_folder(items, fold_of, fold, config, data_dir)
        started = (fit_dir / run_folder.CONFIG).is_file()
        if not started and fit_dir.exists():
            shutil.rmtree(fit_dir)  # killed before fit wrote its config: nothing worth keeping
        fit(FitConfig(
            data_dir=str(data_dir), model=config.model, image_size=config.image_size, batch_size=config.batch_size,
            epochs=config.epochs, lr=config.lr, augment=config.augment, weights=config.weights, run_dir=str(fit_dir),
            seed=config.seed + fold,
            verbose=config.verbose,
        ), resume=started)  # fmt: skip
    held = [i for i, p in enumerate(items.paths) if fold_of[p] == fold]
    run = load_run(fit_dir)
    if run.class_names != items.class_names:
        raise DataprepError(
            f"fold {fold} trained on classes {run.class_names}, expected {items.class_names}; start a new run"
        )
    probs = _predict(run, [items.root / items.paths[i] for i in held], mirror=_trained_on_mirrors(config.augment))
    index = {name: i for i, name in enumerate(items.class_names)}
    accuracy = float(np.mean([probs[j].argmax() == index[items.labels[i]] for j, i in enumerate(held)]))
    run_folder.write_json(fold_dir / HELDOUT, {
        "version": RESULT_VERSION, "fold": fold, "accuracy": accuracy,
        "paths": [items.paths[i] for i in held], "probs": probs.round(7).tolist(),
    })  # fmt: skip
    shutil.rmtree(data_dir, ignore_errors=True)  # links only; DATA is untouched
    crash_point()  # the kill tests' hook: one fold finished
    return accuracy


def _trained_on_mirrors(augment: str) -> bool:
    """Whether training flipped images left-right: then a mirror image is as much that class."""
    from dataprep.augment import parse_augment_spec

    spec = "" if augment == "default" else augment
    return any(key == "flip" and "horizontal" in str(value) for key, value in parse_augment_spec(spec).steps)


def _predict(run: Any, files: Sequence[Path], mirror: bool = False, batch: int = 64) -> np.ndarray:
    """Class probabilities of `files` with the training decoder, in order; a file that does
    not decode is an error (validate let it through, so it changed since). With `mirror`, the
    mean over the image and its left-right mirror (test-time augmentation the model was trained
    for): steadier probabilities, so fewer clean images look like label errors by chance."""
    import tensorflow as tf

    from trainer import data

    out = np.zeros((len(files), len(run.class_names)), dtype=np.float64)
    for start in range(0, len(files), batch):
        chunk = files[start : start + batch]
        pixels = []
        for path in chunk:
            try:
                pixels.append(data.load_image(str(path), run.image_size).numpy())
            except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError, tf.errors.UnknownError):
                raise DataprepError(
                    f"'{path}' no longer decodes (it passed validate earlier); run 'dataprep validate' and start a new run"
                ) from None
        stack = np.stack(pixels).astype("float32")
        probs = np.asarray(run.model.predict_on_batch(stack), dtype=np.float64)
        if mirror:
            probs = (probs + np.asarray(run.model.predict_on_batch(stack[:, :, ::-1]), dtype=np.float64)) / 2
        out[start : start + len(chunk)] = probs
    return out


# --- ranking ---------------------------------------------------------------------------------


def rank_label_issues(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(flagged indices, most suspicious first; self-confidence of every file) by cleanlab:
    `find_label_issues` prunes by the estimated noise rates (confident learning) and ranks by
    self-confidence, the out-of-fold probability of the given label."""
    require_cleanlab()
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    scores = get_label_quality_scores(labels, probs, method="self_confidence")
    flagged = find_label_issues(
        labels, probs, filter_by="prune_by_noise_rate", return_indices_ranked_by="self_confidence"
    )
    return np.asarray(flagged, dtype=np.int64), np.asarray(scores, dtype=np.float64)


def find_label_issues(
    config: LabelIssuesConfig, resume: bool = False, progress: Progress | None = None
) -> LabelIssuesResult:
    """Train `config.folds` models on duplicate-aware folds of `config.data_dir`, score every image
    with the model that did not see it, and rank suspected label errors into the run folder."""
    require_cleanlab()
    run_dir, config = _prepare_run(config, resume)
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
    make_dirs(run_dir)
    run_folder.write_json(run_dir / CONFIG, {"version": RESULT_VERSION, "label_issues": config.to_dict()})
    run_folder.write_json(run_dir / FOLDS, {
        "version": RESULT_VERSION, "k": config.folds, "seed": config.seed, "group_duplicates": config.group_duplicates,
        "duplicate_groups": _groups_of(items), "folds": fold_of,
    })  # fmt: skip
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
    _write_outputs(result, items, config)
    return result


def _groups_of(items: Items) -> list[list[str]]:
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


def _write_outputs(result: LabelIssuesResult, items: Items, config: LabelIssuesConfig) -> None:
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
