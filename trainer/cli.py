"""`trainer` command line: declarations plus one call into the library per command.

TensorFlow is imported inside each command, so `trainer --help` stays fast. Only this module
prints; errors are DataprepError, turned into one line and exit code 2 by `run_app`.
"""

from __future__ import annotations

import contextlib
import enum
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from dataprep.base.defaults import DEFAULT_BATCH_SIZE, DEFAULT_BENCH_IMAGE_SIZE, DEFAULT_MAX_PIXELS
from dataprep.base.output_files import require_new_file
from dataprep.console import CommandApp, decoder_note, run_app, validate_hint
from dataprep.options import (
    Augment,
    BatchSize,
    CacheDir,
    Epochs,
    FitModel,
    FitSeed,
    FitWeights,
    FreezeEpochs,
    ImageCache,
    ImageSize,
    Jobs,
    Layout,
    LearningRate,
    MaxPixels,
    Model,
    ModelImageSize,
    NoCache,
    OverwriteFiles,
    Patience,
    Seed,
    Threshold,
    ValFraction,
    Weights,
    config_from,
)
from trainer.config import FitConfig, LabelIssuesConfig


class LabelIssuesMethod(str, enum.Enum):
    """How `label-issues` gets its out-of-fold probabilities."""

    embeddings = "embeddings"
    cnn = "cnn"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from trainer import __version__

    try:  # from the installed metadata: importing TensorFlow would take seconds
        libraries = f" (tensorflow {version('tensorflow')}, keras {version('keras')})"
    except PackageNotFoundError:
        libraries = ""
    return f"trainer {__version__}{libraries}"


app = CommandApp(
    name="trainer",
    help="Train, evaluate and use image classifiers on folders prepared by dataprep.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    version=_version,
)


def _quiet_tensorflow() -> None:
    from dataprep.base.tensorflow_runtime import import_tensorflow

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


def _refuse_old_cache_dir(cache_dir: Path | None, command: str) -> None:
    """`--cache-dir` names validate's result cache (evaluate, predict, every dataprep command); the
    decoded-image cache of fit and bench is `--image-cache`."""
    if cache_dir is not None:
        from dataprep.base.errors import DataprepError

        raise DataprepError(
            f"--cache-dir in `trainer {command}` is now --image-cache {cache_dir} (decoded images on disk); "
            "--cache-dir names validate's result cache, as in evaluate, predict and dataprep"
        )


@app.command()
def fit(
    ctx: typer.Context,
    data_dir: Annotated[Path, typer.Argument(help="Split folder (dataprep split) or a folder of class folders.")],
    model: FitModel = FitConfig.model,
    image_size: ModelImageSize = FitConfig.image_size,
    batch_size: BatchSize = FitConfig.batch_size,
    epochs: Epochs = FitConfig.epochs,
    lr: LearningRate = FitConfig.lr,
    lr_schedule: Annotated[str, typer.Option(help="cosine (with warm-up) or constant.")] = FitConfig.lr_schedule,
    augment: Augment = FitConfig.augment,
    run_dir: Annotated[Path | None, typer.Option(help="Run folder to create [default: runs/<timestamp>].")] = None,
    seed: FitSeed = FitConfig.seed,
    deterministic: Annotated[
        bool,
        typer.Option(
            "--deterministic",
            help="CPU: the same files and --seed give the same run, epoch for epoch (TensorFlow's op determinism; "
            "slower: median 1.3x the training time, measured).",
        ),
    ] = FitConfig.deterministic,
    patience: Patience = FitConfig.patience,
    class_weight: Annotated[
        str, typer.Option(help="'auto' weighs classes by inverse frequency; 'none'.")
    ] = FitConfig.class_weight,
    weights: FitWeights = FitConfig.weights,
    freeze_epochs: FreezeEpochs = FitConfig.freeze_epochs,
    val_fraction: ValFraction = FitConfig.val_fraction,
    layout: Layout = FitConfig.layout,
    image_cache: ImageCache = None,
    cache_dir: Annotated[Path | None, typer.Option(hidden=True)] = None,
    precision: Annotated[
        str, typer.Option(help="auto (mixed_float16 on GPU), float32, mixed_float16, mixed_bfloat16.")
    ] = FitConfig.precision,
    xla: Annotated[bool, typer.Option(help="Compile the train step with XLA.")] = FitConfig.xla,
    max_pixels: MaxPixels = FitConfig.max_pixels,
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
    from dataprep.base.errors import DataprepError
    from trainer.fit import fit as run_fit

    if resume and run_dir is None:
        raise DataprepError("--resume needs --run-dir RUN (the folder of the interrupted run)")
    if override and not resume:
        raise DataprepError("--override only applies with --resume (it takes changed options into a resumed run)")
    _refuse_old_cache_dir(cache_dir, "fit")
    given = _options_given(ctx, ("data_dir", "run_dir", "resume", "override", "as_json"))
    config = config_from(
        FitConfig, ctx.params, cache_dir=str(image_cache) if image_cache else None,
        verbose=1 if sys.stdout.isatty() else 2,
    )  # fmt: skip
    from trainer import render
    from trainer.run_folder import LOGS

    with decoder_note(validate_hint(data_dir)):
        if as_json:
            # stdout carries one JSON document: Keras' progress lines go to stderr meanwhile.
            with contextlib.redirect_stdout(sys.stderr):
                result = run_fit(config, resume=resume, given=given, override=override)
        else:
            result = run_fit(config, resume=resume, given=given, override=override)
        logs = result.run_dir / LOGS
        if as_json:
            _print_json(
                {"run_dir": str(result.run_dir), **result.metrics, "tensorboard": render.tensorboard_command(logs)}
            )
        else:
            render.print_fit_result(result.run_dir, result.metrics, logs)
        _print_skipped(result.metrics.get("skipped_paths") or {})


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
    force: OverwriteFiles = False,
) -> None:
    """Accuracy, per-class precision/recall/F1, the confusion matrix (PNG) and the most confidently wrong files.

    Every file is first inspected with validate's checks (its cache is reused): files validate
    calls an error are reported and left out, never scored."""
    require_new_file(confusion, "--confusion", force)
    _quiet_tensorflow()
    from trainer.evaluate import evaluate as run_evaluate
    from trainer.screening import ScreenOptions

    screen = ScreenOptions(max_pixels=max_pixels, jobs=jobs, cache_dir=cache_dir, use_cache=not no_cache)
    with decoder_note(validate_hint(data_dir)):
        report = run_evaluate(run, data_dir, split=split, batch_size=batch_size, confusion_png=confusion, screen=screen)
        _print_skipped(report.refused)
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
        bool,
        typer.Option(
            "--json",
            help="Print one JSON object: {version, run, predictions: [{path, label, confidence, probabilities}], errors}.",
        ),
    ] = False,
    grid: Annotated[
        Path | None,
        typer.Option(help="Also draw the answers to this PNG (✓/✗ where the folder names the class; wrong first)."),
    ] = None,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    jobs: Jobs = None,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    force: OverwriteFiles = False,
) -> None:
    """Predict the class of each image; exit code 1 when some file could not be read.

    Every file is first inspected with validate's checks (its cache is reused): a file validate
    calls an error (wrong pixels, over the pixel cap, undecodable) is reported, never predicted."""
    require_new_file(grid, "--grid", force)
    _quiet_tensorflow()
    from trainer.predict import predict as run_predict
    from trainer.predict import predictions_document
    from trainer.render import print_predictions
    from trainer.screening import ScreenOptions

    screen = ScreenOptions(max_pixels=max_pixels, jobs=jobs, cache_dir=cache_dir, use_cache=not no_cache)
    with decoder_note(validate_hint(paths)):
        results = run_predict(run, paths, grid=grid, screen=screen)
    if as_json:
        _print_json(predictions_document(run, results))
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
    image_cache: ImageCache = None,
    cache_dir: Annotated[Path | None, typer.Option(hidden=True)] = None,
    compare: Annotated[bool, typer.Option(help="Also time keras.utils.image_dataset_from_directory.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the measurements as JSON.")] = False,
) -> None:
    """Measure the input pipeline alone: first (decoding) pass and cached pass, images per second."""
    _refuse_old_cache_dir(cache_dir, "bench")
    _quiet_tensorflow()
    from trainer.bench import bench as run_bench

    with decoder_note(validate_hint(data_dir)):
        result = run_bench(
            data_dir, image_size=image_size, batch_size=batch_size, cache_dir=image_cache, compare=compare
        )
    if as_json:
        _print_json(result)
        return
    from trainer.render import print_bench

    print_bench(result)


@app.command("label-issues")
def label_issues_command(
    ctx: typer.Context,
    data_dir: Annotated[
        Path, typer.Argument(help="Folder of class folders (or a split folder: every split is scored).")
    ],
    method: Annotated[
        LabelIssuesMethod,
        typer.Option(
            help="embeddings: a logistic regression on the pretrained backbone's cached vectors (seconds); "
            "cnn: train a CNN per fold (minutes)."
        ),
    ] = LabelIssuesMethod.embeddings,
    folds: Annotated[
        int, typer.Option(help="Folds; each image is scored by the model that did not see it.", min=2, max=100)
    ] = LabelIssuesConfig.folds,
    model: Model = LabelIssuesConfig.model,
    image_size: ModelImageSize = LabelIssuesConfig.image_size,
    batch_size: BatchSize = LabelIssuesConfig.batch_size,
    epochs: Epochs = LabelIssuesConfig.epochs,
    lr: LearningRate = LabelIssuesConfig.lr,
    augment: Augment = LabelIssuesConfig.augment,
    snapshots: Annotated[
        int,
        typer.Option(help="Average each fold's held-out predictions over its last N epochs.", min=1, max=10_000),
    ] = LabelIssuesConfig.snapshots,
    models_per_fold: Annotated[
        int,
        typer.Option(
            help="Models (seeds) per fold, their held-out predictions averaged: steadier, N times the time.",
            min=1,
            max=100,
        ),
    ] = LabelIssuesConfig.models_per_fold,
    weights: Weights = LabelIssuesConfig.weights,
    seed: Seed = LabelIssuesConfig.seed,
    threshold: Threshold = LabelIssuesConfig.threshold,
    run_dir: Annotated[
        Path | None, typer.Option(help="Run folder to create [default: runs/label-issues-<timestamp>].")
    ] = None,
    top: Annotated[
        int, typer.Option(help="Suspects drawn in label_issues.png.", min=1, max=10_000)
    ] = LabelIssuesConfig.top,
    jobs: Jobs = None,
    knn_weight: Annotated[
        float,
        typer.Option(
            help="Embeddings: share of the nearest neighbours' label vote in the probabilities (0 = regression alone).",
            min=0.0,
            max=1.0,
        ),
    ] = LabelIssuesConfig.knn_weight,
    resume: Annotated[
        bool, typer.Option(help="Continue the interrupted run in --run-dir: finished folds are skipped.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the ranked list as JSON.")] = False,
) -> None:
    """Rank likely mislabelled images: out-of-fold probabilities on duplicate-aware folds, ranked by cleanlab."""
    from dataprep.base.errors import DataprepError

    if resume and run_dir is None:
        raise DataprepError("--resume needs --run-dir RUN (the folder of the interrupted run)")
    _quiet_tensorflow()  # before trainer.label_issues, which imports TensorFlow: its start-up lines stay hidden
    from trainer.label_issues import find_label_issues, require_cleanlab, saved_method
    from trainer.label_issues_embed import find_label_issues_from_embeddings

    require_cleanlab()
    chosen = (saved_method(run_dir) if resume and run_dir else None) or method.value
    config = config_from(LabelIssuesConfig, ctx.params, method=chosen, verbose=0 if as_json else 2)

    def say(message: str) -> None:
        print(message, file=sys.stderr if as_json else sys.stdout, flush=True)

    find = find_label_issues_from_embeddings if chosen == LabelIssuesMethod.embeddings.value else find_label_issues
    with decoder_note(validate_hint(data_dir)):
        result = find(config, resume=resume, progress=say)
    if as_json:
        _print_json(result.to_dict())
        return
    from trainer.render import print_label_issues

    print_label_issues(result)


MODELS_VERSION = 1  # of what `trainer models --json` prints


@app.command("models")
def models_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List the registered models with their default image sizes."""
    _quiet_tensorflow()
    from trainer.models import choose_model, list_models, model_info

    rows = [model_info(name) for name in list_models()]
    default = choose_model(None, None)[0]  # what 'trainer fit' takes without --model, here
    if as_json:
        _print_json(
            {
                "version": MODELS_VERSION,
                "default": default,
                "models": [
                    {
                        "name": i.name,
                        "default_image_size": i.default_image_size,
                        "min_image_size": i.min_image_size,
                        "transfer": i.transfer,
                        "default": i.name == default,
                        "summary": i.summary,
                    }
                    for i in rows
                ],
            }
        )
        return
    from trainer.render import print_models

    print_models(rows, default)


def main() -> None:
    run_app(app, "trainer")
