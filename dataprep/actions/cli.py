"""The commands that act on a dataset and record what they did in a quarantine record:
`dataprep clean`, `restore`, `relabel` and `convert`. Declarations and console output only,
registered on the app by `dataprep.cli`; the work is `dataprep.actions`'."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from dataprep.base.defaults import DEFAULT_CONVERT_TO, DEFAULT_JPEG_QUALITY, DEFAULT_THRESHOLD_BITS
from dataprep.console import EXIT_FINDINGS, on_interrupt
from dataprep.options import (
    DEFAULT_INSPECTION,
    InspectionOptions,
    JsonOut,
    Layout,
    Threshold,
    finite_range,
    inspection_options,
)

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


@inspection_options
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
    json_out: JsonOut = False,
    duplicates: Annotated[
        bool,
        typer.Option(
            "--duplicates", help="Also remove exact and near duplicates: keep the largest file of each group."
        ),
    ] = False,
    threshold: Threshold = DEFAULT_THRESHOLD_BITS,
    inspection: InspectionOptions = DEFAULT_INSPECTION,
    label_issues: LabelIssuesFile = None,
    outliers: OutliersFile = None,
    top: Top = None,
    min_score: MinScore = None,
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
        validate=inspection.validate_options("clean"),
    )  # fmt: skip
    again = shlex.join(["dataprep", "clean", str(directory), *(["--delete"] if delete else [])])
    with (
        on_interrupt(
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
    json_out: JsonOut = False,
) -> None:
    """Put every quarantined file back where it came from. Never overwrites; refuses paths outside DIR."""
    import json

    from dataprep import render
    from dataprep.actions.restore import restore as run_restore

    with on_interrupt(
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
    json_out: JsonOut = False,
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


@inspection_options
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
    json_out: JsonOut = False,
    layout: Layout = None,
    inspection: InspectionOptions = DEFAULT_INSPECTION,
) -> None:
    """Re-encode what TensorFlow cannot read (PPM, TIFF, TGA, HEIC, ...), reads wrongly (palette/16-bit BMP) or sees rotated (EXIF orientation); rename lying extensions.

    Originals go to the quarantine with clean's manifest: undo with `dataprep restore DIR.quarantine`.
    A killed run loses nothing; re-run it to finish.
    """
    import json

    from dataprep import render
    from dataprep.actions.convert import ConvertOptions
    from dataprep.actions.convert import convert as run_convert

    validate_options = inspection.validate_options("convert", layout)
    options = ConvertOptions(
        to=to.lower(), quality=quality, first_frame=first_frame, force_damaged=force_damaged, out=out,
        quarantine=quarantine, dry_run=dry_run, validate=validate_options,
    )  # fmt: skip
    again = shlex.join(["dataprep", "convert", str(directory), *(["--out", str(out)] if out else [])])
    with (
        on_interrupt(
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
