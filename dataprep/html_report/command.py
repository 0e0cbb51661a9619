"""`dataprep report`: the command's declaration (registered on the app by `dataprep.cli`); the
inspection options it shares with validate are declared once, in `dataprep.options`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from dataprep.base.defaults import DEFAULT_GALLERY, DEFAULT_SIMILARITY, DEFAULT_THRESHOLD_BITS
from dataprep.options import (
    DEFAULT_INSPECTION,
    InspectionOptions,
    Layout,
    Semantic,
    Similarity,
    Threshold,
    inspection_options,
)


@inspection_options
def report(
    directory: Annotated[
        Path, typer.Argument(help="Dataset folder: DIR/CLASS/*, DIR/{train,val,test}/CLASS/*, or flat.")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for index.html and its thumbnails (new, or a previous report).")
    ],
    open_page: Annotated[bool, typer.Option("--open", help="Open the page in the web browser when written.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print what was written as one JSON object.")] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write into a non-empty folder that is no report (replaces only index.html, "
            "report.json and report-files/ there).",
        ),
    ] = False,
    label_issues: Annotated[
        Path | None,
        typer.Option(
            "--label-issues", metavar="FILE", help="label_issues.json (or the run folder) of `trainer label-issues`."
        ),
    ] = None,
    outliers: Annotated[
        Path | None, typer.Option("--outliers", metavar="FILE", help="The ranked list `dataprep outliers` wrote.")
    ] = None,
    gallery: Annotated[
        int,
        typer.Option(
            "--gallery", min=1, max=10_000, help="Thumbnails per section on the page; the rest are paged lists."
        ),
    ] = DEFAULT_GALLERY,
    threshold: Threshold = DEFAULT_THRESHOLD_BITS,
    similarity: Similarity = DEFAULT_SIMILARITY,
    semantic: Semantic = False,
    inspection: InspectionOptions = DEFAULT_INSPECTION,
    layout: Layout = None,
) -> None:
    """One self-contained HTML page of every judgment: findings, duplicates, label issues, outliers, with the command that acts on each.

    Reads validate's cached results (validating what changed) and the lists other commands wrote;
    opens from disk in any browser, makes no network request and runs no script.
    """
    from dataprep import render
    from dataprep.html_report.inputs import gather_inputs
    from dataprep.html_report.output import ReportOptions, check_out_dir, write_report
    from dataprep.html_report.page import GalleryCaps
    from dataprep.inspection.scan import require_directory

    root = require_directory(directory)
    check_out_dir(out.expanduser().absolute(), root.resolve(), force)  # before minutes of validating
    options = inspection.validate_options("report", layout)
    with render.progress_bar("validating", enabled=not json_out) as progress:
        options.progress = progress
        inputs = gather_inputs(root, options, threshold=threshold, similarity=similarity,
                               label_issues=label_issues, outliers=outliers, semantic=semantic)  # fmt: skip
    caps = GalleryCaps(cap=gallery, group_cap=max(1, gallery // 4))
    with render.progress_bar("thumbnails", enabled=not json_out) as progress:
        written = write_report(inputs, out, ReportOptions(caps, force, inspection.max_pixels, progress))
    if json_out:
        json.dump(written.to_dict(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        counts = ", ".join(
            f"{s['title']} {s['count']}" for s in written.sections if s["id"] != "summary" and s["count"]
        )
        print(f"report written to {written.index} ({written.bytes / 1e6:.1f} MB, {written.thumbnails} thumbnails)")
        print(f"found: {counts or 'nothing wrong'}")
    if open_page:
        import webbrowser

        webbrowser.open(written.index.as_uri())
