"""`dataprep embed`: its declaration and its console output, registered by `dataprep.cli`.

Kept out of cli.py (already past the size a module should have); it knows nothing of the app
it is registered on. TensorFlow is imported only once there are images to embed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dataprep.base.defaults import DEFAULT_BATCH_SIZE, DEFAULT_EMBED_SIZE, DEFAULT_ENGINE
from dataprep.inspection.engine_options import check_engine
from dataprep.options import BatchSize, CacheDir, Engine, JsonOut, NoCache, RayAddress
from dataprep.options import ImageSize as ImageSizeOption

if TYPE_CHECKING:
    from dataprep.embeddings.embed import Embeddings

SKIPPED_SHOWN = 10


def default_out(directory: Path) -> Path:
    """Where the vectors go by default: DIR.embeddings.npz beside DIR (never inside it)."""
    folder = directory.expanduser().absolute()
    return folder.parent / f"{folder.name}.embeddings.npz"


def check_out(directory: Path, out: Path) -> None:
    """Refuse an --out inside DIR (the next scan would find it) or one that is a file of the
    user's rather than an earlier `embed` output, which is refreshed in place."""
    from dataprep.base.errors import DataprepError
    from dataprep.embeddings.embed import load_embeddings

    folder, target = directory.expanduser().resolve(), out.expanduser().resolve()
    if target.is_relative_to(folder):
        raise DataprepError(
            f"--out '{out}' is inside the dataset folder '{directory}' (expected a path outside it); "
            f"pass --out {default_out(directory)}"
        )
    if target.is_dir():
        raise DataprepError(f"--out '{out}' is a folder (expected an .npz file path); pass --out {out}/vectors.npz")
    if target.exists():
        try:
            load_embeddings(target)
        except DataprepError:
            raise DataprepError(
                f"--out '{out}' exists and is not an embeddings file of `dataprep embed` (expected a new path, "
                "or an earlier output to refresh); pass another --out"
            ) from None


def embed(
    directory: Annotated[
        Path, typer.Argument(help="Folder of images: DIR/CLASS/*.jpg or DIR/{train,val,test}/CLASS/.")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="The .npz to write (default: DIR.embeddings.npz beside DIR).")
    ] = None,
    image_size: ImageSizeOption = DEFAULT_EMBED_SIZE,
    batch_size: BatchSize = DEFAULT_BATCH_SIZE,
    weights: Annotated[
        str,
        typer.Option(
            "--weights", help="imagenet (the installed MobileNetV2 weights) or a weights file (.pth or .weights.h5)."
        ),
    ] = "imagenet",
    json_out: JsonOut = False,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    layout: Annotated[
        str | None,
        typer.Option("--layout", help="raw|split: how to read a tree that could be either.", metavar="LAYOUT"),
    ] = None,
    engine: Engine = DEFAULT_ENGINE,
    ray_address: RayAddress = None,
) -> None:
    """One L2-normalised vector per image from a pretrained ImageNet backbone, cached per file."""
    from dataprep import render
    from dataprep.base.tensorflow_runtime import decoder_messages
    from dataprep.embeddings.backbone import BACKBONE, resolve_weights
    from dataprep.embeddings.embed import CHECKING, embed_folder, save_embeddings
    from dataprep.inspection.scan import require_directory

    require_directory(directory)
    target = out or default_out(directory)
    check_out(directory, target)
    check_engine(engine, ray_address, "embed")
    if resolve_weights(BACKBONE, weights) is None:  # missing weights: one line before any work
        from dataprep.base.errors import DataprepError

        raise DataprepError(
            f"--weights {weights} would embed with an untrained network (expected imagenet or a weights file); "
            "pass --weights imagenet"
        )
    with decoder_messages(), render.progress_bar(CHECKING, enabled=not json_out) as progress:
        emb = embed_folder(
            directory, image_size=image_size, batch_size=batch_size, weights=weights, cache_dir=cache_dir,
            use_cache=not no_cache, layout=layout, engine=engine, ray_address=ray_address, progress=progress,
            phase=progress.phase if progress else None,
        )  # fmt: skip
    save_embeddings(emb, target)
    if json_out:
        print(json.dumps({**emb.summary(), "out": str(target)}, indent=2, ensure_ascii=False))
    else:
        print_embed_summary(emb, target)


def print_embed_summary(emb: Embeddings, target: Path) -> None:
    from dataprep.render import stdout

    dim = emb.vectors.shape[1]
    stdout.print(
        f"[bold]{len(emb.paths)}[/] images of {emb.root} embedded with {emb.model} at {emb.image_size} px "
        f"({dim}-d; {emb.computed} computed, {emb.cached} from cache) -> {target}",
        highlight=False,
    )
    if emb.skipped:
        stdout.print(f"[yellow]{len(emb.skipped)} file(s) skipped[/] (validate calls them errors, or junk):")
        for path, reason in emb.skipped[:SKIPPED_SHOWN]:
            stdout.print(f"  {path}: {reason}", highlight=False, markup=False)
        if len(emb.skipped) > SKIPPED_SHOWN:
            stdout.print(f"  ... and {len(emb.skipped) - SKIPPED_SHOWN} more (--json lists them all)")
