"""The `dataprep` command line: the app, and each command registered on it.

Each stage's commands are declared in its package, beside the code they call, as plain functions
(`dataprep.inspection.cli`, `dataprep.actions.cli`, `dataprep.duplicates.cli`,
`dataprep.insight.cli`, `dataprep.embeddings.embed_cli` and `outliers_cli`,
`dataprep.html_report.command`); `split` is declared here. Only the command modules print.
Library errors (DataprepError) become one line and exit code 2 in `dataprep.console.run_app`.
TensorFlow is never imported at start.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from dataprep import __version__
from dataprep.actions import cli as actions
from dataprep.base.defaults import DEFAULT_SEED
from dataprep.console import CommandApp, on_interrupt, run_app
from dataprep.duplicates import cli as duplicates
from dataprep.embeddings.embed_cli import embed
from dataprep.embeddings.outliers_cli import outliers
from dataprep.html_report.command import report
from dataprep.insight import cli as insight
from dataprep.inspection import cli as inspection_commands
from dataprep.options import DEFAULT_INSPECTION, InspectionOptions, JsonOut, Seed, Semantic, inspection_options

app = CommandApp(
    name="dataprep",
    help="From a folder of labelled photos to a dataset you can train on: validate, clean, convert, restore, relabel, duplicates, leakage, split, stats, augment-preview, embed, outliers, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    version=lambda: f"dataprep {__version__}",
)


@inspection_options
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
    json_out: JsonOut = False,
    inspection: InspectionOptions = DEFAULT_INSPECTION,
) -> None:
    """Split RAW into train/val/test per class: seeded, duplicates kept together, journaled (resumable)."""
    import json

    from dataprep import render
    from dataprep.split import SplitSpec, split_dataset

    options = inspection.validate_options("split")
    mode = mode if mode is not None else ("folds" if folds else "copy")
    if val is None:
        val = "0" if mode == "folds" else "0.1"
    spec = SplitSpec.parse(val, test, train, on_conflict, folds)
    again = shlex.join(["dataprep", "split", str(raw), str(out), "--resume"])
    with (
        on_interrupt(
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


# --- the commands, in the order `dataprep --help` lists them --------------------------------------
app.command()(inspection_commands.validate)
app.command()(actions.clean)
app.command()(duplicates.duplicates)
app.command()(duplicates.leakage)
app.command()(actions.restore)
app.command()(actions.relabel)
app.command("augment-preview")(insight.augment_preview)
app.command()(split)
app.command()(insight.stats)
app.command()(actions.convert)
app.command()(embed)
app.command()(outliers)
app.command()(report)


def main() -> None:
    run_app(app, "dataprep")


if __name__ == "__main__":
    main()
