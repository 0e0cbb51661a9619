"""`--engine` and `--ray-address`: where the per-file inspection runs, declared once for every
command that inspects files (validate, clean, split, duplicates, leakage, convert)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from dataprep.engines import ENGINES
from dataprep.errors import DataprepError

if TYPE_CHECKING:
    from dataprep.validate import ValidateOptions


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


def check_engine(engine: str, ray_address: str | None, command: str) -> None:
    """Refuse an unknown engine, a --ray-address without --engine ray, and --engine ray without Ray."""
    if engine not in ENGINES:
        raise DataprepError(f"--engine {engine!r} for `dataprep {command}`: expected one of {', '.join(ENGINES)}")
    if ray_address and engine != "ray":
        raise DataprepError(
            f"--ray-address {ray_address!r} is only used with --engine ray; add --engine ray or drop it"
        )
    if engine == "ray":
        from dataprep.ray_engine import import_ray

        import_ray(command)


def with_engine(options: ValidateOptions, engine: str, ray_address: str | None, command: str) -> ValidateOptions:
    """`options` set to inspect on `engine` (checked first: one line when it cannot be used)."""
    check_engine(engine, ray_address, command)
    options.engine, options.ray_address = engine, ray_address
    return options
