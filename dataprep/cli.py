"""The `dataprep` command line: declarations plus one call into the library per command.

Only this module prints. Library errors (DataprepError) become one line and exit code 2 in
`dataprep.console.run_app`. TensorFlow is never imported here.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from dataprep import __version__
from dataprep.base.defaults import (
    DEFAULT_CONVERT_TO,
    DEFAULT_ENGINE,
    DEFAULT_JPEG_QUALITY,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_SIZE,
    DEFAULT_PREVIEW_IMAGES,
    DEFAULT_PREVIEW_PER_IMAGE,
    DEFAULT_PREVIEW_SEED,
    DEFAULT_PREVIEW_SIZE,
    DEFAULT_SEED,
    DEFAULT_SIMILARITY,
    DEFAULT_THRESHOLD_BITS,
    DEFAULT_TIMEOUT_S,
)
from dataprep.base.output_files import require_new_file
from dataprep.console import EXIT_FINDINGS, EXIT_OK, CommandApp, decoder_note, run_app
from dataprep.embeddings.embed_cli import embed as embed_command
from dataprep.embeddings.outliers_cli import outliers as outliers_command
from dataprep.html_report.command import report as report_command
from dataprep.insight.augment import DEFAULT_NAME as DEFAULT_AUGMENT_NAME
from dataprep.inspection.engine_options import with_engine
from dataprep.options import (
    Augment,
    CacheDir,
    Engine,
    Jobs,
    Layout,
    MaxPixels,
    MinSize,
    NoCache,
    OverwriteFiles,
    RayAddress,
    Seed,
    Semantic,
    Similarity,
    Threshold,
    Timeout,
    finite_range,
)

if TYPE_CHECKING:
    from dataprep.inspection.validate import ValidateOptions

T = TypeVar("T")

app = CommandApp(
    name="dataprep",
    help="From a folder of labelled photos to a dataset you can train on: validate, clean, convert, restore, relabel, duplicates, leakage, split, stats, augment-preview, embed, outliers, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    version=lambda: f"dataprep {__version__}",
)


def print_json(obj: object) -> None:
    """A report as indented JSON on stdout, streamed: `json.dumps(indent=...)` of 100k files'
    findings would first build a string of hundreds of megabytes (measured: +400 MB)."""
    import json
    import sys

    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


# --- commands are declared below, one block per command ------------------------------------


FailOn = Annotated[
    str,
    typer.Option(
        "--fail-on",
        help="Exit 1 when a finding at or above this severity exists: error|warning|info|never.",
        metavar="LEVEL",
    ),
]
# Jobs, Timeout, MaxPixels, MinSize, CacheDir, NoCache, Threshold, Seed, Layout, Engine, RayAddress, Augment:
# declared once, with their ranges, in dataprep/options.py (shared with trainer's command line); the
# defaults below are dataprep/base/defaults.py's named constants.


@contextlib.contextmanager
def _on_interrupt(message: str) -> Iterator[None]:
    """Ctrl-C inside the block: one line saying what was kept and what to run, exit 130."""
    from dataprep.base.errors import Interrupted

    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(message) from None


def _validate_options(
    jobs: int | None, timeout: float, cache_dir: Path | None, no_cache: bool, max_pixels: int, min_size: int
) -> ValidateOptions:
    from dataprep.inspection.validate import ValidateOptions

    return ValidateOptions(
        jobs=jobs, timeout_s=timeout, cache_dir=cache_dir, use_cache=not no_cache, max_pixels=max_pixels,
        min_size=min_size,
    )  # fmt: skip


@app.command()
def validate(
    directory: Annotated[
        Path, typer.Argument(help="Folder of images: DIR/CLASS/*.jpg, DIR/{train,val,test}/CLASS/, or flat.")
    ],
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object to stdout instead of tables.")
    ] = False,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Also write every finding to this CSV file.")] = None,
    fail_on: FailOn = "error",
    jobs: Jobs = None,
    timeout: Timeout = DEFAULT_TIMEOUT_S,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    min_size: MinSize = DEFAULT_MIN_SIZE,
    layout: Layout = None,
    engine: Engine = DEFAULT_ENGINE,
    ray_address: RayAddress = None,
    force: OverwriteFiles = False,
) -> None:
    """Check every file: format sniffing, JFIF marker, Pillow's full decode and TensorFlow's decoder."""

    import sys

    from dataprep import render
    from dataprep.base.findings import parse_severity
    from dataprep.inspection.validate_stream import validate_streamed

    level = parse_severity(fail_on, allow_never=True)
    require_new_file(csv_out, "--csv", force)
    options = _validate_options(jobs, timeout, cache_dir, no_cache, max_pixels, min_size)
    options.layout = layout
    with_engine(options, engine, ray_address, "validate")
    notes = decoder_note("the findings name the files; --debug shows every line")
    with notes, render.progress_bar("validating", enabled=True) as progress:
        options.progress = progress
        report = validate_streamed(directory, options)  # every result on disk: memory stays flat at any size
    try:
        if not report.images:
            from dataprep.base.errors import DataprepError
            from dataprep.inspection.scan import no_images_message

            raise DataprepError(no_images_message(report.scan_for_message(), directory))
        if csv_out is not None:
            report.write_csv(csv_out)
        if json_out:
            report.write_json(sys.stdout)
        else:
            render.print_validate_summary(report)
            if csv_out is not None:
                print(f"findings written to {csv_out}")
        failed = report.has_findings_at_or_above(level)
    finally:
        report.store.close()
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


LabelIssuesFile = Annotated[
    Path | None,
    typer.Option(
        "--label-issues",
        help="label_issues.json/.csv from `trainer label-issues`: act on its suspects.",
        metavar="FILE",
    ),
]
OutliersFile = Annotated[
    Path | None,
    typer.Option(
        "--outliers", help="The JSON of `dataprep outliers DIR --json`: quarantine its images.", metavar="FILE"
    ),
]
Top = Annotated[
    int | None,
    typer.Option(
        "--top", help="With --label-issues or --outliers: only the N highest-ranked.", min=1, max=1_000_000_000
    ),
]
MinScore = Annotated[
    float | None,
    typer.Option(
        "--min-score",
        help="With --label-issues: only suspects scoring at least S (score = 1 - self-confidence, 0-1).",
        metavar="S",
        callback=finite_range(0.0, 1.0),
    ),
]


def _clean_label_issues(
    directory: Path,
    file: Path,
    outliers: bool,
    top: int | None,
    min_score: float | None,
    quarantine: Path | None,
    delete: bool,
    duplicates: bool,
    dry_run: bool,
    json_out: bool,
) -> None:
    """`clean --label-issues` / `--outliers`: quarantine the suspects of `trainer label-issues` or the
    images of `dataprep outliers` (one path: manifest, journal, restore)."""
    import json

    from dataprep import render
    from dataprep.actions.relabel import clean_label_issues, read_label_issues, select_suspects
    from dataprep.base.errors import DataprepError
    from dataprep.embeddings.outliers import read_outliers

    option = "--outliers" if outliers else "--label-issues"
    if delete or duplicates:
        raise DataprepError(f"{option} quarantines images for review; drop --delete/--duplicates (restore undoes it)")
    if outliers and min_score is not None:
        raise DataprepError("--min-score is a label-issue score (0-1); with --outliers choose with --top N")
    suspects = select_suspects(read_outliers(file) if outliers else read_label_issues(file), top, min_score)
    with render.progress_bar("validating", enabled=not json_out) as progress:
        from dataprep.inspection.validate import ValidateOptions

        result = clean_label_issues(directory, suspects, quarantine, dry_run, ValidateOptions(progress=progress))
    if json_out:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        render.print_clean_result(result, delete=False)


@app.command()
def clean(
    directory: Annotated[Path, typer.Argument(help="Dataset folder to clean (e.g. PetImages).")],
    level: Annotated[
        str,
        typer.Option("--level", help="Remove images whose worst finding is at least: error|warning.", metavar="LEVEL"),
    ] = "error",
    quarantine: Annotated[
        Path | None,
        typer.Option("--quarantine", help="Where removed files go (default: DIR.quarantine beside DIR)."),
    ] = None,
    delete: Annotated[
        bool, typer.Option("--delete", help="Delete the files instead of quarantining them (not undoable).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only print what would be removed; touch nothing.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout.")] = False,
    duplicates: Annotated[
        bool,
        typer.Option(
            "--duplicates", help="Also remove exact and near duplicates: keep the largest file of each group."
        ),
    ] = False,
    threshold: Threshold = DEFAULT_THRESHOLD_BITS,
    jobs: Jobs = None,
    timeout: Timeout = DEFAULT_TIMEOUT_S,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    min_size: MinSize = DEFAULT_MIN_SIZE,
    label_issues: LabelIssuesFile = None,
    outliers: OutliersFile = None,
    top: Top = None,
    min_score: MinScore = None,
    engine: Engine = DEFAULT_ENGINE,
    ray_address: RayAddress = None,
) -> None:
    """Move every file validate calls an error (and every junk file; with --duplicates every extra copy) into a quarantine, with a manifest.

    With --label-issues FILE: quarantine the suspected label errors `trainer label-issues` listed instead;
    with --outliers FILE, the images `dataprep outliers --json` listed.

    Undo with `dataprep restore DIR.quarantine`. A killed run loses nothing; re-run it to finish.
    """
    import json

    from dataprep import render
    from dataprep.actions.clean import CleanOptions
    from dataprep.actions.clean import clean as run_clean
    from dataprep.base.errors import DataprepError
    from dataprep.base.findings import Severity, parse_severity

    if label_issues is not None and outliers is not None:
        raise DataprepError("--label-issues and --outliers both given; clean one list at a time")
    listed = label_issues if label_issues is not None else outliers
    if listed is not None:
        _clean_label_issues(
            directory, listed, outliers is not None, top, min_score, quarantine, delete, duplicates, dry_run, json_out
        )
        return
    if top is not None or min_score is not None:
        raise DataprepError(
            "--top and --min-score choose among listed images; pass --label-issues FILE or --outliers FILE with them"
        )
    chosen = parse_severity(level)
    if chosen is None or chosen < Severity.WARNING:
        raise DataprepError(f"--level {level!r} would remove valid photos; expected error or warning")
    options = CleanOptions(
        level=chosen, quarantine=quarantine, delete=delete, dry_run=dry_run, duplicates=duplicates, threshold=threshold,
        validate=_validate_options(jobs, timeout, cache_dir, no_cache, max_pixels, min_size),
    )  # fmt: skip
    with_engine(options.validate, engine, ray_address, "clean")
    again = shlex.join(["dataprep", "clean", str(directory), *(["--delete"] if delete else [])])
    with (
        _on_interrupt(
            f"clean stopped; every file moved so far is in the quarantine with its manifest; "
            f"finish with the same command: {again} (same options)"
        ),
        render.progress_bar("validating") as progress,
    ):
        options.validate.progress = progress
        result = run_clean(directory, options)
    if json_out:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        render.print_clean_result(result, delete=delete)


def _with_hashing_progress(
    json_out: bool,
    options: ValidateOptions,
    run: Callable[[ValidateOptions], T],
    engine: tuple[str, str | None, str],
) -> T:
    """Run a grouping report (validate's hashes, then groups) with a progress bar on a terminal."""
    from dataprep import render

    options = with_engine(options, *engine)
    with render.progress_bar("hashing", enabled=not json_out) as progress:
        options.progress = progress
        return run(options)


@app.command()
def duplicates(
    directory: Annotated[Path, typer.Argument(help="Folder of images (any layout dataprep reads).")],
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object to stdout instead of a table.")
    ] = False,
    threshold: Threshold = DEFAULT_THRESHOLD_BITS,
    similarity: Similarity = DEFAULT_SIMILARITY,
    semantic: Semantic = False,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Also draw the groups, one row each, into this .png, to audit them by eye."),
    ] = None,
    jobs: Jobs = None,
    timeout: Timeout = DEFAULT_TIMEOUT_S,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    min_size: MinSize = DEFAULT_MIN_SIZE,
    engine: Engine = DEFAULT_ENGINE,
    ray_address: RayAddress = None,
    force: OverwriteFiles = False,
) -> None:
    """Groups of exact (same bytes or pixels) and near duplicates (resized, re-compressed, cropped, rotated, recoloured, mirrored copies); with --semantic also look-alike copies."""

    from dataprep import render
    from dataprep.duplicates.search import duplicates_report

    require_new_file(plot, "--plot", force)
    options = _validate_options(jobs, timeout, cache_dir, no_cache, max_pixels, min_size)
    report = _with_hashing_progress(
        json_out,
        options,
        lambda opts: duplicates_report(directory, threshold, opts, similarity, semantic),
        (engine, ray_address, "duplicates"),
    )
    if plot is not None:
        render.plot_duplicates(report, plot)
    if json_out:
        print_json(report.to_dict())
    else:
        render.print_duplicates(report)
        if plot is not None:
            render.stdout.print(f"groups drawn in {plot}")


@app.command()
def leakage(
    out: Annotated[Path, typer.Argument(help="A split folder: OUT/{train,val,test}/CLASS/*.")],
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object to stdout instead of a table.")
    ] = False,
    threshold: Threshold = DEFAULT_THRESHOLD_BITS,
    similarity: Similarity = DEFAULT_SIMILARITY,
    semantic: Semantic = False,
    jobs: Jobs = None,
    timeout: Timeout = DEFAULT_TIMEOUT_S,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    min_size: MinSize = DEFAULT_MIN_SIZE,
    engine: Engine = DEFAULT_ENGINE,
    ray_address: RayAddress = None,
) -> None:
    """Exact and near duplicates that sit in more than one split (train/test leakage). Exit 1 when any exists."""

    from dataprep import render
    from dataprep.duplicates.search import leakage_report

    options = _validate_options(jobs, timeout, cache_dir, no_cache, max_pixels, min_size)
    report = _with_hashing_progress(
        json_out,
        options,
        lambda opts: leakage_report(out, threshold, opts, similarity, semantic),
        (engine, ray_address, "leakage"),
    )
    if json_out:
        print_json(report.to_dict())
    else:
        render.print_leaks(report)
    raise typer.Exit(EXIT_FINDINGS if report.leaks else EXIT_OK)


@app.command()
def restore(
    quarantine: Annotated[
        Path,
        typer.Argument(
            help="The quarantine folder `dataprep clean` wrote (DIR.quarantine), or `dataprep relabel`'s record (DIR.relabel)."
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only print what would be restored; touch nothing.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout.")] = False,
) -> None:
    """Put every quarantined file back where it came from. Never overwrites; refuses paths outside DIR."""
    import json

    from dataprep import render
    from dataprep.actions.restore import restore as run_restore

    with _on_interrupt(
        f"restore stopped; files restored so far are back; finish with: "
        f"{shlex.join(['dataprep', 'restore', str(quarantine)])}"
    ):
        result = run_restore(quarantine, dry_run=dry_run)
    if json_out:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        render.print_restore_result(result)
    if result.refused:
        raise typer.Exit(EXIT_FINDINGS)


@app.command()
def relabel(
    directory: Annotated[
        Path, typer.Argument(help="The folder `trainer label-issues` scored: DIR/CLASS/* (or DIR/SPLIT/CLASS/*).")
    ],
    label_issues: Annotated[
        Path, typer.Option("--label-issues", help="label_issues.json/.csv from `trainer label-issues`.", metavar="FILE")
    ],
    top: Top = None,
    min_score: MinScore = None,
    record: Annotated[
        Path | None,
        typer.Option("--record", help="Where the manifest and journal go (default: DIR.relabel beside DIR)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only print the moves; touch nothing.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout.")] = False,
) -> None:
    """Move each suspected label error into its suggested class folder. Journaled; undo with `dataprep restore DIR.relabel`."""
    import json

    from dataprep import render
    from dataprep.actions.relabel import read_label_issues, select_suspects
    from dataprep.actions.relabel import relabel as run_relabel

    result = run_relabel(directory, select_suspects(read_label_issues(label_issues), top, min_score), record, dry_run)
    if json_out:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        render.print_relabel_result(result)


@app.command("augment-preview")
def augment_preview(
    root: Annotated[Path, typer.Argument(help="Dataset folder: CLASS/* or {train,val,test}/CLASS/* images.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write, e.g. preview.png.")],
    images: Annotated[
        int, typer.Option("--images", min=1, max=256, help="How many real images to show (spread across classes).")
    ] = DEFAULT_PREVIEW_IMAGES,
    per_image: Annotated[
        int, typer.Option("--per-image", min=1, max=64, help="Augmented copies per image.")
    ] = DEFAULT_PREVIEW_PER_IMAGE,
    seed: Seed = DEFAULT_PREVIEW_SEED,
    augment: Augment = DEFAULT_AUGMENT_NAME,
    size: Annotated[
        int, typer.Option("--size", min=16, max=4096, help="Longest side, in pixels, of each image in the grid.")
    ] = DEFAULT_PREVIEW_SIZE,
    force: OverwriteFiles = False,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
) -> None:
    """Show what training augmentation does to your images: a grid, original first in each row."""
    require_new_file(out, "--out", force, ".png")
    from dataprep.insight.preview import render_augment_preview  # imports TensorFlow: only when this command runs

    def skipped(rel: str, reason: str) -> None:
        typer.echo(f"warning: skipped {rel}: cannot decode ({reason})", err=True)

    path = render_augment_preview(
        root,
        out,
        images=images,
        per_image=per_image,
        seed=seed,
        augment=augment,
        size=size,
        force=force,
        on_skip=skipped,
        max_pixels=max_pixels,
    )
    print(path)


@app.command()
def split(
    raw: Annotated[
        Path,
        typer.Argument(
            help="Folder of class folders to split: RAW/CLASS/*.jpg (never changed, except by --mode move)."
        ),
    ],
    out: Annotated[
        Path, typer.Argument(help="New or empty folder for OUT/{train,val,test}/CLASS/ and OUT/split.json.")
    ],
    val: Annotated[
        str | None,
        typer.Option(
            "--val",
            metavar="N|FRACTION",
            help="Per class: a count (6) or a fraction in (0, 1) (0.1); a fraction gives every class that can spare one at least one. Default 0.1; 0 with --mode folds (the folds are the validation sets).",
        ),
    ] = None,
    test: Annotated[
        str, typer.Option("--test", metavar="N|FRACTION", help="Per class, like --val; 0 for no test split.")
    ] = "0.1",
    train: Annotated[
        str | None,
        typer.Option(
            "--train", metavar="N|FRACTION", help="Per class cap on train (count or fraction); default: all the rest."
        ),
    ] = None,
    seed: Seed = DEFAULT_SEED,
    mode: Annotated[
        str | None,
        typer.Option(
            "--mode",
            help="copy|hardlink|symlink|move|folds. Only move changes RAW. folds (the default with --folds): copy only the test split and record the folds in split.json; training reads them from RAW. Default without --folds: copy.",
            metavar="MODE",
        ),
    ] = None,
    folds: Annotated[
        int | None,
        typer.Option(
            "--folds",
            help="Also assign every non-test image to one of K cross-validation folds (stratified, seeded, duplicate groups kept together), recorded in split.json. Without --mode this is --mode folds: only the test split is copied; train a fold with: trainer fit OUT --fold I.",
            min=2,
            max=1000,
            metavar="K",
        ),
    ] = None,
    on_conflict: Annotated[
        str,
        typer.Option(
            "--on-conflict",
            metavar="keep|exclude",
            help="Copies of one photo in different classes: keep the group (in one split, under its first file's class) or exclude it. Each conflict is reported with both paths.",
        ),
    ] = "keep",
    include_invalid: Annotated[
        bool,
        typer.Option(
            "--include-invalid", help="Also split files that validate rates 'error' (left out and listed by default)."
        ),
    ] = False,
    semantic: Semantic = False,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Finish an interrupted split into OUT; the arguments must match OUT/split.json."),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write into a non-empty OUT: removes only the files a previous copy/hardlink/symlink split wrote there (RAW still has them); refuses, writing nothing, when OUT's split folders hold anything else or the photos of a previous move split. Other files in OUT are kept.",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan (counts per split and class) and write nothing.")
    ] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object to stdout instead of tables.")
    ] = False,
    jobs: Jobs = None,
    timeout: Timeout = DEFAULT_TIMEOUT_S,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    min_size: MinSize = DEFAULT_MIN_SIZE,
    engine: Engine = DEFAULT_ENGINE,
    ray_address: RayAddress = None,
) -> None:
    """Split RAW into train/val/test per class: seeded, duplicates kept together, journaled (resumable)."""
    import json

    from dataprep import render
    from dataprep.split import SplitSpec, split_dataset

    options = _validate_options(jobs, timeout, cache_dir, no_cache, max_pixels, min_size)
    options = with_engine(options, engine, ray_address, "split")
    mode = mode if mode is not None else ("folds" if folds else "copy")
    if val is None:
        val = "0" if mode == "folds" else "0.1"
    spec = SplitSpec.parse(val, test, train, on_conflict, folds)
    again = shlex.join(["dataprep", "split", str(raw), str(out), "--resume"])
    with (
        _on_interrupt(
            f"split stopped; the files placed in '{out}' so far are kept and journaled; "
            f"finish with: {again} (same options)"
        ),
        render.progress_bar("splitting", enabled=not json_out) as progress,
    ):
        options.progress = progress
        result = split_dataset(
            raw, out, spec, seed=seed, mode=mode, include_invalid=include_invalid,
            resume=resume, force=force, dry_run=dry_run, validate_options=options, after_file=progress,
            semantic=semantic,
        )  # fmt: skip
    if json_out:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return
    for renderable in render.split_renderables(result):
        render.stdout.print(renderable)
    for warning in result.plan.warnings:
        render.stderr.print(f"warning: {warning}", style="yellow", highlight=False)


@app.command()
def stats(
    directory: Annotated[
        Path, typer.Argument(help="Dataset folder: DIR/CLASS/*.jpg or DIR/{train,val,test}/CLASS/*.jpg.")
    ],
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object to stdout instead of tables.")
    ] = False,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Also write a bar chart of images per class (stacked by split) to this .png."),
    ] = None,
    layout: Layout = None,
    force: OverwriteFiles = False,
) -> None:
    """Counts, shares, bytes, formats, colour modes and sizes per class (and split); imbalance; junk. Reads headers only."""
    import json

    from dataprep import render
    from dataprep.insight.stats import dataset_stats, plot_stats

    require_new_file(plot, "--plot", force, ".png")
    numbers = dataset_stats(directory, layout=layout)
    if plot is not None:
        plot_stats(numbers, plot)
    if json_out:
        print(json.dumps(numbers, indent=2, ensure_ascii=False))
        return
    for renderable in render.stats_renderables(numbers):
        render.stdout.print(renderable)
    if plot is not None:
        print(f"chart written to {plot}")


@app.command()
def convert(
    directory: Annotated[
        Path, typer.Argument(help="Dataset folder whose images TensorFlow cannot read (or reads wrongly).")
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write a converted copy of the dataset here instead; DIR is not touched."),
    ] = None,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="Format for re-encoded images: png (lossless) or jpeg. JPEG sources stay JPEG.",
            metavar="FORMAT",
        ),
    ] = DEFAULT_CONVERT_TO,
    quality: Annotated[
        int, typer.Option("--quality", help="JPEG quality (1-100) for JPEG output.", min=1, max=100)
    ] = DEFAULT_JPEG_QUALITY,
    first_frame: Annotated[
        bool,
        typer.Option(
            "--first-frame", help="Also convert animated images to their first frame (drops the other frames)."
        ),
    ] = False,
    force_damaged: Annotated[
        bool,
        typer.Option(
            "--force-damaged",
            help="Also re-encode files whose decode was damaged (truncated, corrupt data, decoders disagreeing), "
            "recording the damage in the manifest. Without it they are refused: converting would hide the damage.",
        ),
    ] = False,
    quarantine: Annotated[
        Path | None,
        typer.Option("--quarantine", help="Where the originals go (default: DIR.quarantine beside DIR)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only print what would be converted; touch nothing.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout.")] = False,
    layout: Layout = None,
    jobs: Jobs = None,
    timeout: Timeout = DEFAULT_TIMEOUT_S,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    min_size: MinSize = DEFAULT_MIN_SIZE,
    engine: Engine = DEFAULT_ENGINE,
    ray_address: RayAddress = None,
) -> None:
    """Re-encode what TensorFlow cannot read (PPM, TIFF, TGA, HEIC, ...), reads wrongly (palette/16-bit BMP) or sees rotated (EXIF orientation); rename lying extensions.

    Originals go to the quarantine with clean's manifest: undo with `dataprep restore DIR.quarantine`.
    A killed run loses nothing; re-run it to finish.
    """
    import json

    from dataprep import render
    from dataprep.actions.convert import ConvertOptions
    from dataprep.actions.convert import convert as run_convert

    validate_options = with_engine(
        _validate_options(jobs, timeout, cache_dir, no_cache, max_pixels, min_size), engine, ray_address, "convert"
    )
    validate_options.layout = layout
    options = ConvertOptions(
        to=to.lower(), quality=quality, first_frame=first_frame, force_damaged=force_damaged, out=out,
        quarantine=quarantine, dry_run=dry_run, validate=validate_options,
    )  # fmt: skip
    again = shlex.join(["dataprep", "convert", str(directory), *(["--out", str(out)] if out else [])])
    with (
        _on_interrupt(
            f"convert stopped; every original moved so far is in the quarantine with its manifest; "
            f"finish with the same command: {again} (same options)"
        ),
        render.progress_bar("validating", enabled=not json_out) as progress,
    ):
        options.validate.progress = progress
        options.after_file = progress
        result = run_convert(directory, options)
    if json_out:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        render.print_convert_result(result)
    if result.refused or result.failed:
        raise typer.Exit(EXIT_FINDINGS)


app.command("embed")(embed_command)  # declared in dataprep/embeddings/embed_cli.py
app.command("outliers")(outliers_command)  # declared in dataprep/embeddings/outliers_cli.py
app.command("report")(report_command)  # declared in dataprep/html_report/command.py


def main() -> None:
    run_app(app, "dataprep")


if __name__ == "__main__":
    main()
