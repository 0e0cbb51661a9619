"""The checks of `--engine` and `--ray-address` (declared in `dataprep.options`): where the per-file
inspection runs, for every command that inspects files (validate, clean, split, duplicates, leakage,
convert)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataprep.base.errors import DataprepError

if TYPE_CHECKING:
    from dataprep.inspection.validate import ValidateOptions


def check_engine(engine: str, ray_address: str | None, command: str) -> None:
    """Refuse an unknown engine, a --ray-address without --engine ray, and --engine ray without Ray."""
    from dataprep.inspection.engines import (
        ENGINES,  # here: the engines import the pool and the checks; `--help` needs neither
    )

    if engine not in ENGINES:
        raise DataprepError(f"--engine {engine!r} for `dataprep {command}`: expected one of {', '.join(ENGINES)}")
    if ray_address and engine != "ray":
        raise DataprepError(
            f"--ray-address {ray_address!r} is only used with --engine ray; add --engine ray or drop it"
        )
    if engine == "ray":
        from dataprep.inspection.ray_engine import import_ray

        import_ray(command)


def with_engine(options: ValidateOptions, engine: str, ray_address: str | None, command: str) -> ValidateOptions:
    """`options` set to inspect on `engine` (checked first: one line when it cannot be used)."""
    check_engine(engine, ray_address, command)
    options.engine, options.ray_address = engine, ray_address
    return options
