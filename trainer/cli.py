"""`trainer` command line: declarations plus one call into the library per command.

TensorFlow is imported inside each command, so `trainer --help` stays fast. Only this module
prints; errors are DataprepError, turned into one line and exit code 2 by `run_app`.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from dataprep.console import CommandApp, run_app
from dataprep.defaults import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_BENCH_IMAGE_SIZE,
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    DEFAULT_MAX_PIXELS,
    DEFAULT_SEED,
    DEFAULT_THRESHOLD_BITS,
    DEFAULT_VAL_FRACTION,
)
from dataprep.options import (
    BatchSize,
    CacheDir,
    Epochs,
    FitSeed,
    FreezeEpochs,
    ImageSize,
    Jobs,
    LearningRate,
    MaxPixels,
    ModelImageSize,
    NoCache,
    Patience,
    Seed,
    Threshold,
    ValFraction,
)
from dataprep.tensorflow_runtime import DecoderMessages, decoder_messages

app = CommandApp(
    name="trainer",
    help="Train, evaluate and use image classifiers on folders prepared by dataprep.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _quiet_tensorflow() -> None:
    from dataprep.tensorflow_runtime import import_tensorflow

    import_tensorflow()


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def _options_given(ctx: typer.Context, leave_out: tuple[str, ...]) -> set[str]:
    """Names of the options the user typed (not defaults): what --resume compares with the run."""
    typed = {"COMMANDLINE", "ENVIRONMENT"}  # click's ParameterSource (Typer vendors click: compare names)
    return {
        name for name in ctx.params
        if name not in leave_out and getattr(ctx.get_parameter_source(name), "name", None) in typed
    }  # fmt: skip


def _print_decoder_summary(noise: DecoderMessages, data: Path | list[Path]) -> None:
    """What the image decoders wrote to stderr during the command, as one line."""
    if noise.count:
        first = data if isinstance(data, Path) else data[0]
        folder = first if first.is_dir() else first.parent
        print(f"note: {noise.summary()}; 'dataprep validate {folder}' lists the files", file=sys.stderr)


@app.command()
def fit(
    ctx: typer.Context,
    data_dir: Annotated[Path, typer.Argument(help="Split folder (dataprep split) or a folder of class folders.")],
    model: Annotated[str, typer.Option(help="Registered model (see 'trainer models').")] = "compact_cnn",
    image_size: ModelImageSize = None,
    batch_size: BatchSize = DEFAULT_BATCH_SIZE,
    epochs: Epochs = DEFAULT_EPOCHS,
    lr: LearningRate = DEFAULT_LR,
    lr_schedule: Annotated[str, typer.Option(help="cosine (with warm-up) or constant.")] = "cosine",
    augment: Annotated[
        str, typer.Option(help="Augmentation spec shared with 'dataprep augment-preview', 'default' or 'none'.")
    ] = "default",
    run_dir: Annotated[Path | None, typer.Option(help="Run folder to create [default: runs/<timestamp>].")] = None,
    seed: FitSeed = DEFAULT_SEED,
    deterministic: Annotated[
        bool,
        typer.Option(
            "--deterministic",
            help="CPU: the same files and --seed give the same run, epoch for epoch (TensorFlow's op determinism; "
            "slower: median 1.3x the training time, measured).",
        ),
    ] = False,
    patience: Patience = 0,
    class_weight: Annotated[str, typer.Option(help="'auto' weighs classes by inverse frequency; 'none'.")] = "none",
    weights: Annotated[
        str, typer.Option(help="Transfer models: imagenet, none, or PATH to a .weights.h5 backbone.")
    ] = "none",
    freeze_epochs: FreezeEpochs = None,
    val_fraction: ValFraction = DEFAULT_VAL_FRACTION,
    layout: Annotated[
        str | None,
        typer.Option(
            "--layout",
            help="raw|split: how to read a tree that could be either (a class named like a split folder).",
            metavar="LAYOUT",
        ),
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Cache decoded images on disk here (data larger than RAM).", file_okay=False)
    ] = None,
    precision: Annotated[
        str, typer.Option(help="auto (mixed_float16 on GPU), float32, mixed_float16, mixed_bfloat16.")
    ] = "auto",
    xla: Annotated[bool, typer.Option(help="Compile the train step with XLA.")] = False,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    fold: Annotated[
        int | None,
        typer.Option(
            help="Train on the other folds of DATA_DIR's split.json (dataprep split --folds K) and validate on fold I.",
            metavar="I",
            min=0,
            max=99,
        ),
    ] = None,
    folds_from: Annotated[
        Path | None,
        typer.Option(
            help="With --fold: the split.json (or a label-issues folds.json) to read the folds from.", metavar="FILE"
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue the interrupted run in --run-dir (its saved config is used; DATA_DIR may be given by another path)."
        ),
    ] = False,
    override: Annotated[
        bool,
        typer.Option(
            "--override",
            help="With --resume: take the options given now where they differ from the run's config.json (else refused).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print metrics as JSON.")] = False,
) -> None:
    """Train a model; writes config, history, curves, metrics, best model and logs to the run folder."""
    _quiet_tensorflow()
    from dataprep.errors import DataprepError
    from trainer.fit import FitConfig
    from trainer.fit import fit as run_fit

    if resume and run_dir is None:
        raise DataprepError("--resume needs --run-dir RUN (the folder of the interrupted run)")
    if override and not resume:
        raise DataprepError("--override only applies with --resume (it takes changed options into a resumed run)")
    given = _options_given(ctx, ("data_dir", "run_dir", "resume", "override", "as_json"))
    config = FitConfig(
        data_dir=str(data_dir),
        model=model,
        image_size=image_size,
        batch_size=batch_size,
        epochs=epochs,
        lr=lr,
        lr_schedule=lr_schedule,
        augment=augment,
        run_dir=str(run_dir) if run_dir else None,
        seed=seed,
        deterministic=deterministic,
        patience=patience,
        class_weight=class_weight,
        weights=weights,
        freeze_epochs=freeze_epochs,
        val_fraction=val_fraction,
        layout=layout,
        cache_dir=str(cache_dir) if cache_dir else None,
        precision=precision,
        xla=xla,
        max_pixels=max_pixels,
        fold=fold,
        folds_from=str(folds_from) if folds_from else None,
        verbose=1 if sys.stdout.isatty() else 2,
    )
    from trainer import render
    from trainer.run_folder import LOGS

    with decoder_messages() as noise:
        if as_json:
            # stdout carries one JSON document: Keras' progress lines go to stderr meanwhile.
            with contextlib.redirect_stdout(sys.stderr):
                result = run_fit(config, resume=resume, given=given, override=override)
        else:
            result = run_fit(config, resume=resume, given=given, override=override)
    logs = result.run_dir / LOGS
    if as_json:
        _print_json({"run_dir": str(result.run_dir), **result.metrics, "tensorboard": render.tensorboard_command(logs)})
    else:
        render.print_fit_result(result.run_dir, result.metrics, logs)
    _print_skipped(result.metrics.get("skipped_paths") or {})
    _print_decoder_summary(noise, data_dir)


SKIPPED_SHOWN = 20


def _print_skipped(skipped: dict[str, str]) -> None:
    """The files fit left out, one line each (the first SKIPPED_SHOWN; metrics.json has all)."""
    for path, why in list(skipped.items())[:SKIPPED_SHOWN]:
        print(f"skipped: {path}: {why}", file=sys.stderr)
    if len(skipped) > SKIPPED_SHOWN:
        print(
            f"skipped: ... and {len(skipped) - SKIPPED_SHOWN} more (all in metrics.json, 'skipped_paths')",
            file=sys.stderr,
        )


@app.command()
def evaluate(
    run: Annotated[Path, typer.Argument(help="Run folder written by 'trainer fit'.")],
    data_dir: Annotated[Path, typer.Argument(help="Labelled folder: a split folder or class folders.")],
    split: Annotated[str | None, typer.Option(help="train, val or test [default: test, else val].")] = None,
    batch_size: BatchSize = DEFAULT_BATCH_SIZE,
    confusion: Annotated[Path | None, typer.Option(help="Confusion matrix PNG [default: in the run folder].")] = None,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    jobs: Jobs = None,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Accuracy, per-class precision/recall/F1, the confusion matrix (PNG) and the most confidently wrong files.

    Every file is first inspected with validate's checks (its cache is reused): files validate
    calls an error are reported and left out, never scored."""
    _quiet_tensorflow()
    from trainer.evaluate import evaluate as run_evaluate
    from trainer.screening import ScreenOptions

    screen = ScreenOptions(max_pixels=max_pixels, jobs=jobs, cache_dir=cache_dir, use_cache=not no_cache)
    with decoder_messages() as noise:
        report = run_evaluate(run, data_dir, split=split, batch_size=batch_size, confusion_png=confusion, screen=screen)
    _print_skipped(report.refused)
    _print_decoder_summary(noise, data_dir)
    if as_json:
        _print_json(report.to_dict())
        return
    from trainer.render import print_evaluation

    print_evaluation(report)


@app.command()
def predict(
    run: Annotated[Path, typer.Argument(help="Run folder written by 'trainer fit'.")],
    paths: Annotated[list[Path], typer.Argument(help="Images or folders of images.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list of {path, label, confidence, probabilities}.")
    ] = False,
    grid: Annotated[
        Path | None,
        typer.Option(help="Also draw the answers to this PNG (✓/✗ where the folder names the class; wrong first)."),
    ] = None,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    jobs: Jobs = None,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
) -> None:
    """Predict the class of each image; exit code 1 when some file could not be read.

    Every file is first inspected with validate's checks (its cache is reused): a file validate
    calls an error (wrong pixels, over the pixel cap, undecodable) is reported, never predicted."""
    _quiet_tensorflow()
    from trainer.predict import predict as run_predict
    from trainer.render import print_predictions
    from trainer.screening import ScreenOptions

    screen = ScreenOptions(max_pixels=max_pixels, jobs=jobs, cache_dir=cache_dir, use_cache=not no_cache)
    with decoder_messages() as noise:
        results = run_predict(run, paths, grid=grid, screen=screen)
    _print_decoder_summary(noise, paths)
    if as_json:
        _print_json([r.to_dict() for r in results])
        for r in results:
            if r.error is not None:
                print(f"error: {r.path}: {r.error}", file=sys.stderr)
    else:
        print_predictions(results)
    if any(r.error is not None for r in results):
        raise typer.Exit(code=1)


@app.command()
def bench(
    data_dir: Annotated[Path, typer.Argument(help="Folder of class folders, or a split folder (its train/ is used).")],
    image_size: ImageSize = DEFAULT_BENCH_IMAGE_SIZE,
    batch_size: BatchSize = DEFAULT_BATCH_SIZE,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Measure the on-disk cache here instead of memory.", file_okay=False)
    ] = None,
    compare: Annotated[bool, typer.Option(help="Also time keras.utils.image_dataset_from_directory.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the measurements as JSON.")] = False,
) -> None:
    """Measure the input pipeline alone: first (decoding) pass and cached pass, images per second."""
    _quiet_tensorflow()
    from trainer.bench import bench as run_bench

    result = run_bench(data_dir, image_size=image_size, batch_size=batch_size, cache_dir=cache_dir, compare=compare)
    if as_json:
        _print_json(result)
        return
    from trainer.render import print_bench

    print_bench(result)


@app.command("label-issues")
def label_issues_command(
    data_dir: Annotated[
        Path, typer.Argument(help="Folder of class folders (or a split folder: every split is scored).")
    ],
    folds: Annotated[
        int, typer.Option(help="Models to train; each image is scored by the one that did not see it.", min=2, max=100)
    ] = 4,
    model: Annotated[str, typer.Option(help="Registered model (see 'trainer models').")] = "compact_cnn",
    image_size: ModelImageSize = 64,
    batch_size: BatchSize = DEFAULT_BATCH_SIZE,
    epochs: Epochs = 36,
    lr: LearningRate = DEFAULT_LR,
    augment: Annotated[
        str, typer.Option(help="Augmentation spec shared with 'dataprep augment-preview', 'default' or 'none'.")
    ] = "flip=horizontal,rotate=0.1,zoom=0.2,translate=0.1",
    snapshots: Annotated[
        int,
        typer.Option(help="Average each fold's held-out predictions over its last N epochs.", min=1, max=10_000),
    ] = 4,
    models_per_fold: Annotated[
        int,
        typer.Option(
            help="Models (seeds) per fold, their held-out predictions averaged: steadier, N times the time.",
            min=1,
            max=100,
        ),
    ] = 1,
    weights: Annotated[
        str, typer.Option(help="Transfer models: imagenet, none, or PATH to a .weights.h5 backbone.")
    ] = "none",
    seed: Seed = DEFAULT_SEED,
    threshold: Threshold = DEFAULT_THRESHOLD_BITS,
    run_dir: Annotated[
        Path | None, typer.Option(help="Run folder to create [default: runs/label-issues-<timestamp>].")
    ] = None,
    top: Annotated[int, typer.Option(help="Suspects drawn in label_issues.png.", min=1, max=10_000)] = 16,
    jobs: Jobs = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the interrupted run in --run-dir: finished folds are skipped.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the ranked list as JSON.")] = False,
) -> None:
    """Rank likely mislabelled images: k-fold training on duplicate-aware folds, out-of-fold probabilities, cleanlab."""
    from dataprep.errors import DataprepError
    from trainer.label_issues import LabelIssuesConfig, find_label_issues, require_cleanlab

    require_cleanlab()
    if resume and run_dir is None:
        raise DataprepError("--resume needs --run-dir RUN (the folder of the interrupted run)")
    _quiet_tensorflow()
    config = LabelIssuesConfig(
        data_dir=str(data_dir), folds=folds, model=model, image_size=image_size, batch_size=batch_size, epochs=epochs,
        lr=lr, augment=augment, snapshots=snapshots, models_per_fold=models_per_fold, weights=weights, seed=seed, threshold=threshold, run_dir=str(run_dir) if run_dir else None, top=top,
        jobs=jobs, verbose=0 if as_json else 2,
    )  # fmt: skip

    def say(message: str) -> None:
        print(message, file=sys.stderr if as_json else sys.stdout, flush=True)

    result = find_label_issues(config, resume=resume, progress=say)
    if as_json:
        _print_json(result.to_dict())
        return
    print(
        f"{len(result.issues)} of {len(result.paths)} images look mislabelled (folds' held-out accuracy: "
        + ", ".join(f"{a:.3f}" for a in result.fold_accuracy)
        + ")"
    )
    for issue in result.issues[:20]:
        print(f"{issue.rank:4d}  {issue.path}  {issue.given_label} -> {issue.suggested_label}  score {issue.score:.3f}")
    if len(result.issues) > 20:
        print(f"... {len(result.issues) - 20} more in {result.run_dir / 'label_issues.csv'}")
    print(f"run: {result.run_dir}  picture: {result.run_dir / 'label_issues.png'}")


@app.command("models")
def models_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the registered models with their default image sizes."""
    _quiet_tensorflow()
    from trainer.models import DEFAULT_MODEL, list_models, model_info

    rows = [model_info(name) for name in list_models()]
    if as_json:
        _print_json(
            [
                {
                    "name": i.name,
                    "default_image_size": i.default_image_size,
                    "min_image_size": i.min_image_size,
                    "transfer": i.transfer,
                    "default": i.name == DEFAULT_MODEL,
                    "summary": i.summary,
                }
                for i in rows
            ]
        )
        return
    from trainer.render import print_models

    print_models(rows, DEFAULT_MODEL)


def main() -> None:
    run_app(app, "trainer")
