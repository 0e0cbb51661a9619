"""The `dataprep` command line: declarations plus one call into the library per command.

Only this module prints. Library errors (DataprepError) become one line and exit code 2 in
`dataprep.console.run_app`. TensorFlow is never imported here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional, TypeVar

import typer

from dataprep import __version__
from dataprep.augment import augment_help
from dataprep.console import EXIT_FINDINGS, EXIT_OK, CommandApp, run_app

if TYPE_CHECKING:
    from dataprep.validate import ValidateOptions

T = TypeVar("T")

app = CommandApp(
    name="dataprep",
    help="From a folder of labelled photos to a dataset you can train on: validate, clean, restore, duplicates, leakage, split, stats, augment-preview.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def print_json(obj: object) -> None:
    """A report as indented JSON on stdout, streamed: `json.dumps(indent=...)` of 100k files'
    findings would first build a string of hundreds of megabytes (measured: +400 MB)."""
    import json
    import sys

    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _version(value: bool) -> None:
    if value:
        print(f"dataprep {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """dataprep: find bad images, split without leaks, see your data. Add --debug to any command for tracebacks."""


# --- commands are declared below, one block per command ------------------------------------


FailOn = Annotated[
    str,
    typer.Option(
        "--fail-on",
        help="Exit 1 when a finding at or above this severity exists: error|warning|info|never.",
        metavar="LEVEL",
    ),
]
Jobs = Annotated[
    Optional[int], typer.Option("--jobs", "-j", help="Worker processes (default: all cores; 0: no pool).", min=0)
]
CacheDir = Annotated[
    Optional[Path],
    typer.Option("--cache-dir", help="Result cache folder (default $XDG_CACHE_HOME/dataprep or ~/.cache/dataprep)."),
]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Inspect every file again; neither read nor write the cache.")]
Timeout = Annotated[
    float, typer.Option("--timeout", help="Seconds one file may take before it is an error (hung decoder).", min=1)
]
MaxPixels = Annotated[
    int, typer.Option("--max-pixels", help="Images whose header claims more pixels are errors and not decoded.", min=1)
]
MinSize = Annotated[int, typer.Option("--min-size", help="Warn about images narrower or shorter than this (px).", min=1)]
Threshold = Annotated[
    int,
    typer.Option(
        "--threshold",
        help="Near-duplicate candidates: at most this many of the 64 pHash bits differ, directly, mirrored or cropped (0-24; default 12).",
        metavar="BITS",
    ),
]
Similarity = Annotated[
    float,
    typer.Option(
        "--similarity",
        help="Near duplicates: a candidate pair is kept when its aligned thumbnails' detail correlates at least this much "
        "(0-1; default 0.5; 0.7 only close copies, 0.45 heavier edits).",
        metavar="0-1",
    ),
]


def _validate_options(
    jobs: Optional[int], timeout: float, cache_dir: Optional[Path], no_cache: bool, max_pixels: int, min_size: int
) -> "ValidateOptions":
    from dataprep.validate import ValidateOptions

    return ValidateOptions(
        jobs=jobs, timeout_s=timeout, cache_dir=cache_dir, use_cache=not no_cache, max_pixels=max_pixels,
        min_size=min_size,
    )  # fmt: skip


@app.command()
def validate(
    directory: Annotated[Path, typer.Argument(help="Folder of images: DIR/CLASS/*.jpg, DIR/{train,val,test}/CLASS/, or flat.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout instead of tables.")] = False,
    csv_out: Annotated[Optional[Path], typer.Option("--csv", help="Also write every finding to this CSV file.")] = None,
    fail_on: FailOn = "error",
    jobs: Jobs = None,
    timeout: Timeout = 60.0,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    max_pixels: MaxPixels = 178_956_970,
    min_size: MinSize = 8,
) -> None:
    """Check every file: format sniffing, JFIF marker, Pillow's full decode and TensorFlow's decoder."""

    from dataprep import render
    from dataprep.findings import parse_severity
    from dataprep.journal import write_atomic
    from dataprep.validate import validate as run_validate

    level = parse_severity(fail_on, allow_never=True)
    options = _validate_options(jobs, timeout, cache_dir, no_cache, max_pixels, min_size)
    with render.progress_bar("validating", enabled=True) as progress:
        options.progress = progress
        report = run_validate(directory, options)
    if csv_out is not None:
        write_atomic(csv_out, report.to_csv().encode("utf-8", "backslashreplace"))
    if json_out:
        print_json(report.to_dict())
    else:
        render.print_validate_summary(report)
        if csv_out is not None:
            print(f"findings written to {csv_out}")
    raise typer.Exit(EXIT_FINDINGS if report.has_findings_at_or_above(level) else EXIT_OK)


@app.command()
def clean(
    directory: Annotated[Path, typer.Argument(help="Dataset folder to clean (e.g. PetImages).")],
    level: Annotated[
        str, typer.Option("--level", help="Remove images whose worst finding is at least: error|warning.", metavar="LEVEL")
    ] = "error",
    quarantine: Annotated[
        Optional[Path], typer.Option("--quarantine", help="Where removed files go (default: DIR.quarantine beside DIR).")
    ] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Delete the files instead of quarantining them (not undoable).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only print what would be removed; touch nothing.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout.")] = False,
    duplicates: Annotated[bool, typer.Option("--duplicates", help="Also remove exact and near duplicates: keep the largest file of each group.")] = False,
    threshold: Threshold = 12,
    jobs: Jobs = None,
    timeout: Timeout = 60.0,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    max_pixels: MaxPixels = 178_956_970,
    min_size: MinSize = 8,
) -> None:
    """Move every file validate calls an error (and every junk file; with --duplicates every extra copy) into a quarantine, with a manifest.

    Undo with `dataprep restore DIR.quarantine`. A killed run loses nothing; re-run it to finish.
    """
    import json

    from dataprep import render
    from dataprep.clean import CleanOptions
    from dataprep.clean import clean as run_clean
    from dataprep.errors import DataprepError
    from dataprep.findings import Severity, parse_severity

    chosen = parse_severity(level)
    if chosen is None or chosen < Severity.WARNING:
        raise DataprepError(f"--level {level!r} would remove valid photos; expected error or warning")
    options = CleanOptions(
        level=chosen, quarantine=quarantine, delete=delete, dry_run=dry_run, duplicates=duplicates, threshold=threshold,
        validate=_validate_options(jobs, timeout, cache_dir, no_cache, max_pixels, min_size),
    )  # fmt: skip
    with render.progress_bar("validating") as progress:
        options.validate.progress = progress
        result = run_clean(directory, options)
    if json_out:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        render.print_clean_result(result, delete=delete)


def _with_hashing_progress(
    json_out: bool, jobs: Optional[int], cache_dir: Optional[Path], no_cache: bool, run: Callable[["ValidateOptions"], T]
) -> T:
    """Run a grouping report (validate's hashes, then groups) with a progress bar on a terminal."""
    from dataprep import render
    from dataprep.validate import ValidateOptions

    options = ValidateOptions(jobs=jobs, cache_dir=cache_dir, use_cache=not no_cache)
    with render.progress_bar("hashing", enabled=not json_out) as progress:
        options.progress = progress
        return run(options)


@app.command()
def duplicates(
    directory: Annotated[Path, typer.Argument(help="Folder of images (any layout dataprep reads).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout instead of a table.")] = False,
    threshold: Threshold = 12,
    similarity: Similarity = 0.5,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Also draw the groups side by side into this .png, to audit them by eye.")] = None,
    jobs: Jobs = None,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
) -> None:
    """Groups of exact (same bytes or pixels) and near duplicates (resized, re-compressed, cropped, rotated, recoloured, mirrored copies)."""

    from dataprep import render
    from dataprep.duplicates import duplicates_report

    report = _with_hashing_progress(
        json_out, jobs, cache_dir, no_cache, lambda options: duplicates_report(directory, threshold, options, similarity)
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
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout instead of a table.")] = False,
    threshold: Threshold = 12,
    similarity: Similarity = 0.5,
    jobs: Jobs = None,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
) -> None:
    """Exact and near duplicates that sit in more than one split (train/test leakage). Exit 1 when any exists."""

    from dataprep import render
    from dataprep.duplicates import leakage_report

    report = _with_hashing_progress(
        json_out, jobs, cache_dir, no_cache, lambda options: leakage_report(out, threshold, options, similarity)
    )
    if json_out:
        print_json(report.to_dict())
    else:
        render.print_leaks(report)
    raise typer.Exit(EXIT_FINDINGS if report.leaks else EXIT_OK)


@app.command()
def restore(
    quarantine: Annotated[Path, typer.Argument(help="The quarantine folder `dataprep clean` wrote (DIR.quarantine).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only print what would be restored; touch nothing.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout.")] = False,
) -> None:
    """Put every quarantined file back where it came from. Never overwrites; refuses paths outside DIR."""
    import json

    from dataprep import render
    from dataprep.clean import restore as run_restore

    result = run_restore(quarantine, dry_run=dry_run)
    if json_out:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        render.print_restore_result(result)
    if result.refused:
        raise typer.Exit(EXIT_FINDINGS)


@app.command("augment-preview")
def augment_preview(
    root: Annotated[Path, typer.Argument(help="Dataset folder: CLASS/* or {train,val,test}/CLASS/* images.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write, e.g. preview.png.")],
    images: Annotated[int, typer.Option("--images", min=1, help="How many real images to show (spread across classes).")] = 4,
    per_image: Annotated[int, typer.Option("--per-image", min=1, help="Augmented copies per image.")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the images picked and the random transforms; same seed, same PNG.")] = 0,
    augment: Annotated[Optional[str], typer.Option("--augment", help=augment_help())] = None,
    size: Annotated[int, typer.Option("--size", min=16, help="Longest side, in pixels, of each image in the grid.")] = 256,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it already exists.")] = False,
) -> None:
    """Show what training augmentation does to your images: a grid, original first in each row."""
    from dataprep.preview import render_augment_preview  # imports TensorFlow: only when this command runs

    def skipped(rel: str, reason: str) -> None:
        typer.echo(f"warning: skipped {rel}: cannot decode ({reason})", err=True)

    path = render_augment_preview(
        root, out, images=images, per_image=per_image, seed=seed, augment=augment, size=size, force=force, on_skip=skipped
    )
    print(path)


@app.command()
def split(
    raw: Annotated[Path, typer.Argument(help="Folder of class folders to split: RAW/CLASS/*.jpg (never changed, except by --mode move).")],
    out: Annotated[Path, typer.Argument(help="New or empty folder for OUT/{train,val,test}/CLASS/ and OUT/split.json.")],
    val: Annotated[str, typer.Option("--val", metavar="N|FRACTION", help="Per class: a count (6) or a fraction in (0, 1) (0.1); a fraction gives every class that can spare one at least one.")] = "0.1",
    test: Annotated[str, typer.Option("--test", metavar="N|FRACTION", help="Per class, like --val; 0 for no test split.")] = "0.1",
    train: Annotated[Optional[str], typer.Option("--train", metavar="N|FRACTION", help="Per class cap on train (count or fraction); default: all the rest.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Same files + same seed = same split on any machine.")] = 1337,
    mode: Annotated[str, typer.Option("--mode", help="copy|hardlink|symlink|move. Only move changes RAW.", metavar="MODE")] = "copy",
    on_conflict: Annotated[str, typer.Option("--on-conflict", metavar="keep|exclude", help="Copies of one photo in different classes: keep the group (in one split, under its first file's class) or exclude it. Each conflict is reported with both paths.")] = "keep",
    include_invalid: Annotated[bool, typer.Option("--include-invalid", help="Also split files that validate rates 'error' (left out and listed by default).")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Finish an interrupted split into OUT; the arguments must match OUT/split.json.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Write into a non-empty OUT: removes only the files a previous copy/hardlink/symlink split wrote there (RAW still has them); refuses, writing nothing, when OUT's split folders hold anything else or the photos of a previous move split. Other files in OUT are kept.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan (counts per split and class) and write nothing.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout instead of tables.")] = False,
    jobs: Jobs = None,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
) -> None:
    """Split RAW into train/val/test per class: seeded, duplicates kept together, journaled (resumable)."""
    import json

    from dataprep import render
    from dataprep.split import SplitSpec, split_dataset
    from dataprep.validate import ValidateOptions

    options = ValidateOptions(jobs=jobs, cache_dir=cache_dir, use_cache=not no_cache)
    with render.progress_bar("splitting", enabled=not json_out) as progress:
        options.progress = progress
        result = split_dataset(
            raw, out, SplitSpec.parse(val, test, train, on_conflict), seed=seed, mode=mode, include_invalid=include_invalid,
            resume=resume, force=force, dry_run=dry_run, validate_options=options, after_file=progress,
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
    directory: Annotated[Path, typer.Argument(help="Dataset folder: DIR/CLASS/*.jpg or DIR/{train,val,test}/CLASS/*.jpg.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout instead of tables.")] = False,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Also write a bar chart of images per class (stacked by split) to this .png.")] = None,
) -> None:
    """Counts, shares, bytes, formats, colour modes and sizes per class (and split); imbalance; junk. Reads headers only."""
    import json

    from dataprep import render
    from dataprep.stats import dataset_stats, plot_stats, stats_renderables

    numbers = dataset_stats(directory)
    if plot is not None:
        plot_stats(numbers, plot)
    if json_out:
        print(json.dumps(numbers, indent=2, ensure_ascii=False))
        return
    for renderable in stats_renderables(numbers):
        render.stdout.print(renderable)
    if plot is not None:
        print(f"chart written to {plot}")


def main() -> None:
    run_app(app, "dataprep")


if __name__ == "__main__":
    main()
