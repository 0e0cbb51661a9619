"""The per-file inspection: read one file once, run every check, and collect what the report needs.

Both engines (the local pool, `dataprep.inspection.local_engine`, and Ray, `dataprep.inspection.ray_engine`) call these
functions in their workers, so a file gets the same verdict wherever it is inspected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from dataprep.base.tensorflow_runtime import mark_decode_only_process
from dataprep.inspection.checks import Check, CheckOptions, Sample, finding, run_checks
from dataprep.inspection.report import FileResult
from dataprep.inspection.scan import FileRecord

InspectFn = Callable[[Path, str, int, int, CheckOptions], FileResult]


def inspect_file(path: Path, rel: str, size: int, mtime_ns: int, options: CheckOptions) -> FileResult:
    """Read one file once, run every check, and collect what the report and split need."""
    try:
        data = path.read_bytes()
    except OSError as err:
        failed = finding(rel, Check.INSPECTION_FAILED, f"cannot read the file: {err.strerror or err}")
        return FileResult(rel=rel, size=size, mtime_ns=mtime_ns, findings=[failed])
    sample = Sample(path, rel, options, data=data)
    findings = run_checks(sample)
    header = sample.header if sample.format is not None else None
    props = sample.properties if sample.format is not None else None
    return FileResult(
        rel=rel,
        size=size,
        mtime_ns=mtime_ns,
        sha256=hashlib.sha256(data).hexdigest(),
        format=sample.format,
        width=header.width if header else None,
        height=header.height if header else None,
        mode=header.mode if header else None,
        frames=header.frames if header else 1,
        findings=findings,
        phash=props.phash if props else None,
        dhash=props.dhash if props else None,
        pixel_hash=props.pixel_hash if props else None,
        signature=props.signature if props else None,
        properties=props.values if props else {},
    )


def inspect_guarded(
    inspect: InspectFn, path: Path, rel: str, size: int, mtime_ns: int, options: CheckOptions
) -> FileResult:
    """`inspect` one file; a bug in a check (any exception it raises) becomes an
    `inspection_failed` error for that file instead of ending the run. Used by the pool's
    workers, the Ray actors and the in-process path alike, so all give the same verdict."""
    try:
        return inspect(path, rel, size, mtime_ns, options)
    except Exception as err:
        text = str(err).strip().splitlines()
        detail = f"internal error in a check ({type(err).__name__}: {text[0] if text else ''}); please report it"
        failed = finding(rel, Check.INSPECTION_FAILED, detail)
        return FileResult(rel=rel, size=size, mtime_ns=mtime_ns, findings=[failed])


def failed_result(rec: FileRecord, detail: str) -> FileResult:
    """An `inspection_failed` error for a file whose inspection hung or crashed its worker."""
    return FileResult(
        rel=rec.rel, size=rec.size, mtime_ns=rec.mtime_ns,
        findings=[finding(rec.rel, Check.INSPECTION_FAILED, detail)],
    )  # fmt: skip


CRASHED = "a decoder crashed while reading this file"


def timed_out(timeout_s: float) -> str:
    return f"decoding took longer than {timeout_s:g} s (--timeout)"


def prepare_worker(options: CheckOptions) -> None:
    """Set up a worker before its first file (pool workers and Ray actors alike). TensorFlow is
    not imported here: only when the first file that needs its verdict arrives (most folders:
    never); the process is marked decode-only so that import hides the GPUs."""
    mark_decode_only_process()
