"""`dataprep validate`: its declaration and its console output, registered on the app by
`dataprep.cli`. The inspection options it shares with every command that inspects files are
declared once, in `dataprep.options`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dataprep.base.output_files import require_new_file
from dataprep.console import EXIT_FINDINGS, EXIT_OK, decoder_note
from dataprep.options import DEFAULT_INSPECTION, InspectionOptions, JsonOut, Layout, OverwriteFiles, inspection_options

FailOn = Annotated[
    str,
    typer.Option(
        "--fail-on",
        help="Exit 1 when a finding at or above this severity exists: error|warning|info|never.",
        metavar="LEVEL",
    ),
]


@inspection_options
def validate(
    directory: Annotated[
        Path, typer.Argument(help="Folder of images: DIR/CLASS/*.jpg, DIR/{train,val,test}/CLASS/, or flat.")
    ],
    json_out: JsonOut = False,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Also write every finding to this CSV file.")] = None,
    fail_on: FailOn = "error",
    inspection: InspectionOptions = DEFAULT_INSPECTION,
    layout: Layout = None,
    force: OverwriteFiles = False,
) -> None:
    """Check every file: format sniffing, JFIF marker, Pillow's full decode and TensorFlow's decoder."""

    import sys

    from dataprep import render
    from dataprep.base.findings import parse_severity
    from dataprep.inspection.validate_stream import validate_streamed

    level = parse_severity(fail_on, allow_never=True)
    require_new_file(csv_out, "--csv", force)
    options = inspection.validate_options("validate", layout)
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
