"""Where the per-file inspection runs: one row per engine, chosen by `--engine`.

Each row streams `(index, result)` for every record as it finishes, calling the one per-file
inspection (`dataprep.inspection.per_file`). A new engine is one function with this signature and one row;
the two engines know nothing of each other.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence

from dataprep.base.defaults import DEFAULT_ENGINE, DEFAULT_TIMEOUT_S
from dataprep.inspection.checks import CheckOptions
from dataprep.inspection.local_engine import inspect_stream
from dataprep.inspection.per_file import InspectFn, inspect_file
from dataprep.inspection.ray_engine import ray_stream
from dataprep.inspection.report import FileResult
from dataprep.inspection.scan import FileRecord

ResultStream = Generator[tuple[int, FileResult], None, None]
# (records, options, ray address, jobs, per-file time limit, inspect) -> the stream
EngineFn = Callable[[Sequence[FileRecord], CheckOptions, str | None, int | None, float, InspectFn], ResultStream]


def _local(
    records: Sequence[FileRecord],
    options: CheckOptions,
    address: str | None,
    jobs: int | None,
    timeout_s: float,
    inspect: InspectFn,
) -> ResultStream:
    """This machine's process pool (`jobs=0`: in this process)."""
    return inspect_stream(records, options, jobs, timeout_s, inspect)


def _ray(
    records: Sequence[FileRecord],
    options: CheckOptions,
    address: str | None,
    jobs: int | None,
    timeout_s: float,
    inspect: InspectFn,
) -> ResultStream:
    """A Ray cluster (`address`, else $RAY_ADDRESS, else a private one); `jobs` caps the actors."""
    return ray_stream(records, options, address=address, jobs=jobs or None, timeout_s=timeout_s, inspect=inspect)


ENGINES: dict[str, EngineFn] = {"local": _local, "ray": _ray}


def result_stream(
    records: Sequence[FileRecord],
    options: CheckOptions,
    engine: str = DEFAULT_ENGINE,
    ray_address: str | None = None,
    jobs: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    inspect: InspectFn = inspect_file,
) -> ResultStream:
    """(index, result) for every record as it finishes, on the engine named `engine`."""
    return ENGINES[engine](records, options, ray_address, jobs, timeout_s, inspect)
