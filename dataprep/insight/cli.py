"""`dataprep stats` and `dataprep augment-preview`: looking at a dataset. Declarations and
console output, registered on the app by `dataprep.cli`; the work is `dataprep.insight`'s."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dataprep.base.defaults import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_PREVIEW_IMAGES,
    DEFAULT_PREVIEW_PER_IMAGE,
    DEFAULT_PREVIEW_SEED,
    DEFAULT_PREVIEW_SIZE,
)
from dataprep.base.output_files import require_new_file
from dataprep.insight.augment import DEFAULT_NAME as DEFAULT_AUGMENT_NAME
from dataprep.options import Augment, JsonOut, Layout, MaxPixels, OverwriteFiles, Seed


def stats(
    directory: Annotated[
        Path, typer.Argument(help="Dataset folder: DIR/CLASS/*.jpg or DIR/{train,val,test}/CLASS/*.jpg.")
    ],
    json_out: JsonOut = False,
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
