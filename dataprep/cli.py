"""The `dataprep` command line: declarations plus one call into the library per command.

Only this module prints. Library errors (DataprepError) become one line and exit code 2 in
`dataprep.console.run_app`. TensorFlow is never imported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dataprep import __version__
from dataprep.augment import augment_help
from dataprep.console import EXIT_FINDINGS, EXIT_OK, CommandApp, run_app

app = CommandApp(
    name="dataprep",
    help="From a folder of labelled photos to a dataset you can train on: validate, clean, restore, split, stats, augment-preview.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


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
    import json

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
        write_atomic(csv_out, report.to_csv().encode("utf-8"))
    if json_out:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        render.print_validate_summary(report)
        if csv_out is not None:
            print(f"findings written to {csv_out}")
    raise typer.Exit(EXIT_FINDINGS if report.has_findings_at_or_above(level) else EXIT_OK)


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


def main() -> None:
    run_app(app, "dataprep")


if __name__ == "__main__":
    main()
