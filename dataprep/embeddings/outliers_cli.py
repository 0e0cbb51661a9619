"""`dataprep outliers`: its declaration and its console output, registered by `dataprep.cli`.

Kept out of cli.py (already past the size a module should have), like `embed_cli`. TensorFlow
is imported only when some image's vector is not cached yet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dataprep.base.defaults import DEFAULT_OUTLIER_NEIGHBOURS, DEFAULT_OUTLIERS_TOP, OUTLIER_FLAG_SCORE
from dataprep.base.output_files import require_new_file
from dataprep.options import CacheDir, NoCache, OverwriteFiles

if TYPE_CHECKING:
    from dataprep.embeddings.outliers import OutliersResult

SKIPPED_SHOWN = 10


def outliers(
    directory: Annotated[
        Path, typer.Argument(help="Folder of images: DIR/CLASS/*.jpg or DIR/{train,val,test}/CLASS/.")
    ],
    top: Annotated[
        int, typer.Option("--top", help="How many of the most unusual images to list.", min=1)
    ] = DEFAULT_OUTLIERS_TOP,
    neighbours: Annotated[
        int, typer.Option("--neighbours", help="Nearest neighbours each image is compared with.", min=1, max=1000)
    ] = DEFAULT_OUTLIER_NEIGHBOURS,
    json_out: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON object to stdout (what `clean --outliers FILE` reads)."),
    ] = False,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Also draw the listed images into this .png, to look at them.")
    ] = None,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    force: OverwriteFiles = False,
) -> None:
    """Images unlike the rest of their class and of the dataset (neighbour distance of their embeddings), most unusual first.

    Save the list with --json > outliers.json, then `dataprep clean DIR --outliers outliers.json --top N` quarantines them.
    """
    from dataprep import render
    from dataprep.base.tensorflow_runtime import decoder_messages
    from dataprep.embeddings.embed import CHECKING
    from dataprep.embeddings.outliers import find_outliers, plot_outliers

    require_new_file(plot, "--plot", force)
    with decoder_messages(), render.progress_bar(CHECKING, enabled=not json_out) as progress:
        result = find_outliers(
            directory,
            top=top,
            neighbours=neighbours,
            cache_dir=cache_dir,
            use_cache=not no_cache,
            progress=progress,
            phase=progress.phase if progress else None,
        )
    if plot is not None:
        plot_outliers(result, plot)
    if json_out:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return
    print_outliers(result)
    if plot is not None:
        render.stdout.print(f"drawn in {plot}", highlight=False)


def print_outliers(result: OutliersResult) -> None:
    from rich.table import Table

    from dataprep.render import stdout

    stdout.print(
        f"{result.flagged} of {result.images} images in {result.root} score at least {OUTLIER_FLAG_SCORE} "
        f"(robust z of the distance to their {result.neighbours} nearest neighbours, in their class and overall); "
        f"the {len(result.outliers)} most unusual:",
        highlight=False,
    )
    table = Table(show_edge=False)
    for column in ("rank", "score", "class", "overall", "path", "nearest (similarity)"):
        table.add_column(column, justify="right" if column in ("rank", "score", "class", "overall") else "left")
    for o in result.outliers:
        style = "bold red" if o.score >= OUTLIER_FLAG_SCORE else None
        table.add_row(
            str(o.rank), f"{o.score:.1f}", f"{o.class_score:.1f}", f"{o.dataset_score:.1f}", o.path,
            f"{o.nearest} ({o.nearest_similarity:.2f})", style=style,
        )  # fmt: skip
    stdout.print(table)
    if result.skipped:
        stdout.print(f"[yellow]{len(result.skipped)} file(s) skipped[/] (validate calls them errors, or junk)")
