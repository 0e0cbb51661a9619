"""`dataprep duplicates` and `dataprep leakage`: their declarations and console output,
registered on the app by `dataprep.cli`; the search is `dataprep.duplicates.search`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from dataprep.base.defaults import DEFAULT_SIMILARITY, DEFAULT_THRESHOLD_BITS
from dataprep.base.output_files import require_new_file
from dataprep.console import EXIT_FINDINGS, EXIT_OK, print_json
from dataprep.options import (
    DEFAULT_INSPECTION,
    InspectionOptions,
    JsonOut,
    OverwriteFiles,
    Semantic,
    Similarity,
    Threshold,
    inspection_options,
)

if TYPE_CHECKING:
    from dataprep.inspection.validate import ValidateOptions

T = TypeVar("T")


def _with_hashing_progress(json_out: bool, options: ValidateOptions, run: Callable[[ValidateOptions], T]) -> T:
    """Run a grouping report (validate's hashes, then groups) with a progress bar on a terminal."""
    from dataprep import render

    with render.progress_bar("hashing", enabled=not json_out) as progress:
        options.progress = progress
        return run(options)


@inspection_options
def duplicates(
    directory: Annotated[Path, typer.Argument(help="Folder of images (any layout dataprep reads).")],
    json_out: JsonOut = False,
    threshold: Threshold = DEFAULT_THRESHOLD_BITS,
    similarity: Similarity = DEFAULT_SIMILARITY,
    semantic: Semantic = False,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Also draw the groups, one row each, into this .png, to audit them by eye."),
    ] = None,
    inspection: InspectionOptions = DEFAULT_INSPECTION,
    force: OverwriteFiles = False,
) -> None:
    """Groups of exact (same bytes or pixels) and near duplicates (resized, re-compressed, cropped, rotated, recoloured, mirrored copies); with --semantic also look-alike copies."""

    from dataprep import render
    from dataprep.duplicates.search import duplicates_report

    require_new_file(plot, "--plot", force)
    report = _with_hashing_progress(
        json_out,
        inspection.validate_options("duplicates"),
        lambda opts: duplicates_report(directory, threshold, opts, similarity, semantic),
    )
    if plot is not None:
        render.plot_duplicates(report, plot)
    if json_out:
        print_json(report.to_dict())
    else:
        render.print_duplicates(report)
        if plot is not None:
            render.stdout.print(f"groups drawn in {plot}")


@inspection_options
def leakage(
    out: Annotated[Path, typer.Argument(help="A split folder: OUT/{train,val,test}/CLASS/*.")],
    json_out: JsonOut = False,
    threshold: Threshold = DEFAULT_THRESHOLD_BITS,
    similarity: Similarity = DEFAULT_SIMILARITY,
    semantic: Semantic = False,
    inspection: InspectionOptions = DEFAULT_INSPECTION,
) -> None:
    """Exact and near duplicates that sit in more than one split (train/test leakage). Exit 1 when any exists."""

    from dataprep import render
    from dataprep.duplicates.search import leakage_report

    report = _with_hashing_progress(
        json_out,
        inspection.validate_options("leakage"),
        lambda opts: leakage_report(out, threshold, opts, similarity, semantic),
    )
    if json_out:
        print_json(report.to_dict())
    else:
        render.print_leaks(report)
    raise typer.Exit(EXIT_FINDINGS if report.leaks else EXIT_OK)
