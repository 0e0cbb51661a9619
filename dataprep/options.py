"""The command-line options both programs share, declared once with their checks.

Each option is an ``Annotated`` type: its name, help, and allowed range (from
`dataprep.base.defaults`). A value out of range, not a number, NaN or infinite is refused here, at
the edge, before any work: one line (``Invalid value for '--jobs' / '-j': -1 is not in the
range 0<=x<=1024``), exit 2, nothing written. `dataprep.cli` and `trainer.cli` use these types,
so `--max-pixels` means the same in validate, split, predict and fit.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from dataprep.base import defaults as d
from dataprep.base.output_files import FORCE_HELP
from dataprep.insight.augment import augment_help

if TYPE_CHECKING:
    from dataprep.inspection.validate import ValidateOptions

Config = TypeVar("Config")
R = TypeVar("R")


def finite(value: float | None) -> float | None:
    """Refuse NaN and infinity (click's FloatRange lets NaN through: no comparison is true)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number (expected a number like 1.5)")
    return value


def finite_range(low: float, high: float) -> Callable[[float | None], float | None]:
    """A callback refusing NaN and infinity first, then a value outside ``[low, high]``.

    A float option takes this instead of ``min``/``max``: the range check would run first and
    call NaN "not less than or equal to" the bound, which hides what is wrong with it.
    """

    def check(value: float | None) -> float | None:
        finite(value)
        if value is not None and not low <= value <= high:
            raise typer.BadParameter(f"{value:g} is not in the range {low:g}<=x<={high:g}")
        return value

    return check


def _open_fraction(value: float) -> float:
    finite(value)
    if not 0.0 < value < 1.0:
        raise typer.BadParameter(f"{value} is not a fraction strictly between 0 and 1 (e.g. 0.2)")
    return value


def _int_range(bounds: tuple[int, int]) -> dict[str, int]:
    return {"min": bounds[0], "max": bounds[1]}


def config_from(cls: type[Config], params: Mapping[str, Any], **given: Any) -> Config:
    """A config dataclass built from a command's parameters (`ctx.params`): each field takes the
    parameter of its name (a Path as its string), and `given` sets the rest, so a command does not
    copy its options field by field."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values = {k: str(v) if isinstance(v, Path) else v for k, v in params.items() if k in names}
    return cls(**{**values, **given})


# --- inspection: validate and the commands that run its checks ------------------------------

Jobs = Annotated[
    int | None,
    typer.Option("--jobs", "-j", help="Worker processes (default: all cores; 0: no pool).", **_int_range(d.JOBS_RANGE)),
]
Timeout = Annotated[
    float,
    typer.Option(
        "--timeout",
        help="Seconds one file may take before it is an error (hung decoder; "
        f"{d.TIMEOUT_RANGE_S[0]:g} to {d.TIMEOUT_RANGE_S[1]:g}).",
        callback=finite_range(*d.TIMEOUT_RANGE_S),
    ),
]
MaxPixels = Annotated[
    int,
    typer.Option(
        "--max-pixels",
        help="Pixel cap: images whose header claims more pixels are errors and never decoded (raises Pillow's own limit too).",
        **_int_range(d.MAX_PIXELS_RANGE),
    ),
]
MinSize = Annotated[
    int,
    typer.Option(
        "--min-size", help="Warn about images narrower or shorter than this (px).", **_int_range(d.MIN_SIZE_RANGE)
    ),
]
CacheDir = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Result cache folder (default $XDG_CACHE_HOME/dataprep or ~/.cache/dataprep).",
        file_okay=False,
    ),
]
NoCache = Annotated[
    bool, typer.Option("--no-cache", help="Inspect every file again; neither read nor write the cache.")
]
Threshold = Annotated[
    int,
    typer.Option(
        "--threshold",
        help="Near-duplicate candidates: at most this many of the 64 pHash bits differ, directly, mirrored or cropped "
        f"(0-24; default {d.DEFAULT_THRESHOLD_BITS}).",
        metavar="BITS",
        **_int_range(d.THRESHOLD_RANGE_BITS),
    ),
]
Similarity = Annotated[
    float,
    typer.Option(
        "--similarity",
        help="Near duplicates: a candidate pair is kept when its aligned thumbnails' detail correlates at least this much "
        f"(0-1; default {d.DEFAULT_SIMILARITY}; 0.7 only close copies, 0.45 heavier edits).",
        metavar="0-1",
        callback=finite_range(0.0, 1.0),
    ),
]

Semantic = Annotated[
    bool,
    typer.Option(
        "--semantic",
        help="Also find look-alike copies the hashes miss (a tight crop, a 12-degree rotation, a grey or recoloured "
        "crop): each image's nearest neighbours by a pretrained network's embedding, kept when their local features "
        "match under one transform. Slower (embeds every image once, cached); needs OpenCV and the backbone weights.",
    ),
]

Layout = Annotated[
    str | None,
    typer.Option(
        "--layout",
        help="raw|split: how to read a tree that could be either (a class named like a split folder).",
        metavar="LAYOUT",
    ),
]

Engine = Annotated[
    str,
    typer.Option(
        "--engine",
        metavar="local|ray",
        help="Where files are inspected: local (a process pool on this machine) "
        "or ray (a Ray cluster; needs dataprep[ray]).",
    ),
]
RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        metavar="ADDR",
        help="Ray cluster for --engine ray, e.g. 10.0.0.5:6379 "
        "(default: $RAY_ADDRESS, else a private Ray on this machine, stopped at the end).",
    ),
]


@dataclass(frozen=True)
class InspectionOptions:
    """What the inspection options were given, as one value for the command."""

    jobs: int | None = None
    timeout: float = d.DEFAULT_TIMEOUT_S
    cache_dir: Path | None = None
    no_cache: bool = False
    max_pixels: int = d.DEFAULT_MAX_PIXELS
    min_size: int = d.DEFAULT_MIN_SIZE
    engine: str = d.DEFAULT_ENGINE
    ray_address: str | None = None

    def validate_options(self, command: str, layout: str | None = None) -> ValidateOptions:
        """validate's options for `dataprep COMMAND`, the engine checked first (one line when it
        cannot be used)."""
        from dataprep.inspection.engine_options import with_engine
        from dataprep.inspection.validate import ValidateOptions

        options = ValidateOptions(
            jobs=self.jobs, timeout_s=self.timeout, cache_dir=self.cache_dir, use_cache=not self.no_cache,
            max_pixels=self.max_pixels, min_size=self.min_size, layout=layout,
        )  # fmt: skip
        return with_engine(options, self.engine, self.ray_address, command)


DEFAULT_INSPECTION = InspectionOptions()

# The group every command that inspects files takes (validate, clean, duplicates, leakage, split,
# convert, report): each field of InspectionOptions as an option, with the field's default. Typer
# has no option groups: `inspection_options` puts these parameters into a command's signature where
# it declares `inspection`, so each is declared once.
_INSPECTION_TYPES: dict[str, Any] = {
    "jobs": Jobs, "timeout": Timeout, "cache_dir": CacheDir, "no_cache": NoCache, "max_pixels": MaxPixels,
    "min_size": MinSize, "engine": Engine, "ray_address": RayAddress,
}  # fmt: skip
INSPECTION_PARAMETERS: tuple[tuple[str, Any, Any], ...] = tuple(
    (f.name, _INSPECTION_TYPES[f.name], f.default) for f in fields(InspectionOptions)
)


def inspection_options(command: Callable[..., R]) -> Callable[..., R]:
    """`command` with the inspection options in its signature in place of its parameter
    `inspection` (declared `inspection: InspectionOptions = DEFAULT_INSPECTION`), which it
    receives as one `InspectionOptions`."""
    signature = inspect.signature(command, eval_str=True)
    if "inspection" not in signature.parameters:
        raise TypeError(f"{command.__name__} declares no `inspection: InspectionOptions` parameter")
    parameters: list[inspect.Parameter] = []
    for parameter in signature.parameters.values():
        if parameter.name != "inspection":
            parameters.append(parameter)
            continue
        parameters.extend(
            inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=annotation)
            for name, annotation, default in INSPECTION_PARAMETERS
        )

    @functools.wraps(command)
    def with_group(*args: Any, **kwargs: Any) -> R:
        given = {name: kwargs.pop(name) for name, _, _ in INSPECTION_PARAMETERS if name in kwargs}
        return command(*args, inspection=InspectionOptions(**given), **kwargs)

    with_group.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    with_group.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": signature.return_annotation}
    return with_group


# --- randomness --------------------------------------------------------------------------------

Seed = Annotated[
    int,
    typer.Option("--seed", help="Same files + same seed = same result on any machine.", **_int_range(d.SEED_RANGE)),
]
FitSeed = Annotated[
    int,
    typer.Option(
        "--seed",
        help="Seeds the hold-out, file order, shuffle, augmentation and initial weights; metrics still vary a "
        "little between runs unless --deterministic.",
        **_int_range(d.SEED_RANGE),
    ),
]

# --- training ----------------------------------------------------------------------------------

BatchSize = Annotated[int, typer.Option("--batch-size", help="Images per batch.", **_int_range(d.BATCH_SIZE_RANGE))]
ImageSize = Annotated[
    int, typer.Option("--image-size", help="Square size in pixels to decode to.", **_int_range(d.IMAGE_SIZE_RANGE))
]
ModelImageSize = Annotated[
    int | None,
    typer.Option(
        "--image-size", help="Square input size in pixels [default: the model's].", **_int_range(d.IMAGE_SIZE_RANGE)
    ),
]
Epochs = Annotated[
    int,
    typer.Option(
        "--epochs", help="Epochs to train (transfer models: frozen + fine-tuning).", **_int_range(d.EPOCHS_RANGE)
    ),
]
LearningRate = Annotated[
    float,
    typer.Option(
        "--lr",
        help=f"Peak learning rate (AdamW; {d.LR_RANGE[0]:g} to {d.LR_RANGE[1]:g}).",
        callback=finite_range(*d.LR_RANGE),
    ),
]
Patience = Annotated[
    int,
    typer.Option(
        "--patience", help="Early stopping: epochs without val_accuracy gain (0: off).", **_int_range(d.PATIENCE_RANGE)
    ),
]
FreezeEpochs = Annotated[
    int | None,
    typer.Option(
        "--freeze-epochs",
        help="Transfer models: epochs with the backbone frozen [default: half].",
        **_int_range(d.PATIENCE_RANGE),
    ),
]
ValFraction = Annotated[
    float,
    typer.Option(
        "--val-fraction", help="Held out for validation when there is no val/ split.", callback=_open_fraction
    ),
]
Model = Annotated[str, typer.Option("--model", help="Registered model (see 'trainer models').")]
Weights = Annotated[
    str, typer.Option("--weights", help="Transfer models: imagenet, none, or PATH to a .weights.h5 backbone.")
]
FitModel = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Registered model (see 'trainer models') [default: mobilenetv2 when its ImageNet weights are "
        "installed, else compact_cnn; $DATAPREP_DEFAULT_MODEL overrides].",
        show_default=False,
    ),
]
FitWeights = Annotated[
    str | None,
    typer.Option(
        "--weights",
        help="Transfer models: imagenet, none, or PATH to the backbone's weights file [default: imagenet for a "
        "transfer model, none for one trained from scratch].",
        show_default=False,
    ),
]
Augment = Annotated[str, typer.Option("--augment", help=augment_help())]
ImageCache = Annotated[
    Path | None,
    typer.Option(
        "--image-cache",
        help="Cache the decoded images on disk in this folder instead of memory (data larger than RAM).",
        file_okay=False,
    ),
]

# --- output ----------------------------------------------------------------------------------

JsonOut = Annotated[bool, typer.Option("--json", help="Print one JSON object to stdout instead of tables.")]

# --- output files ------------------------------------------------------------------------------

OverwriteFiles = Annotated[bool, typer.Option("--force", help=FORCE_HELP)]
