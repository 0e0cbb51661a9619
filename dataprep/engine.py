"""Runs the checks over many files in a pool of worker processes.

Each worker reads a file once and runs every check on it (one decode per decoder). The pool
is our own rather than concurrent.futures because a per-file time limit needs to kill the one
worker that hangs: a decoder that hangs or crashes (even a segfault) becomes an `error`
finding for that file, the worker is replaced, and the run goes on.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from dataprep.checks import CheckOptions, Sample, run_checks
from dataprep.findings import Finding, Severity
from dataprep.report import FileResult
from dataprep.scan import FileRecord

ProgressFn = Callable[[int, int], None]
InspectFn = Callable[[Path, str, int, int, CheckOptions], FileResult]


def inspect_file(path: Path, rel: str, size: int, mtime_ns: int, options: CheckOptions) -> FileResult:
    """Read one file once, run every check, and collect what the report and split need."""
    try:
        data = path.read_bytes()
    except OSError as err:
        finding = Finding(rel, "inspection_failed", Severity.ERROR, f"cannot read the file: {err.strerror or err}")
        return FileResult(rel=rel, size=size, mtime_ns=mtime_ns, findings=[finding])
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


def inspect_guarded(inspect: InspectFn, path: Path, rel: str, size: int, mtime_ns: int, options: CheckOptions) -> FileResult:
    """`inspect` one file; a bug in a check (any exception it raises) becomes an
    `inspection_failed` error for that file instead of ending the run. Used by the pool's
    workers and by the in-process path alike, so both give the same verdict on the same file."""
    try:
        return inspect(path, rel, size, mtime_ns, options)
    except Exception as err:  # noqa: BLE001 - a bug in one check must not end the run; it is reported
        text = str(err).strip().splitlines()
        detail = f"internal error in a check ({type(err).__name__}: {text[0] if text else ''}); please report it"
        return FileResult(rel=rel, size=size, mtime_ns=mtime_ns, findings=[Finding(rel, "inspection_failed", Severity.ERROR, detail)])


def _failed(rec: FileRecord, detail: str) -> FileResult:
    return FileResult(
        rel=rec.rel, size=rec.size, mtime_ns=rec.mtime_ns,
        findings=[Finding(rec.rel, "inspection_failed", Severity.ERROR, detail)],
    )  # fmt: skip


def _warm_up_tensorflow() -> None:
    """Import TensorFlow in a worker, leaving out what decoding does not need.

    TensorFlow's package init also imports Keras (about a fifth of its import time); a worker
    only decodes, so Keras is kept out when TensorFlow allows it. GPUs are hidden: decoding runs
    on the CPU, and a worker must not reserve GPU memory that training needs.
    """
    import sys

    from dataprep.tensorflow_runtime import import_tensorflow

    blocked = "keras" not in sys.modules
    if blocked:
        sys.modules["keras"] = None  # type: ignore[assignment]
    try:
        tf = import_tensorflow()
    except ImportError:
        if not blocked:
            raise
        del sys.modules["keras"]
        tf = import_tensorflow()
    finally:
        if blocked and sys.modules.get("keras", 0) is None:
            del sys.modules["keras"]
    tf.config.set_visible_devices([], "GPU")


def _worker_main(conn: Connection, options: CheckOptions, inspect: InspectFn) -> None:
    """Worker loop: warm up the decoders, say ready, then inspect one file per message."""
    if options.use_tf:
        _warm_up_tensorflow()
    conn.send(("ready", None))
    while True:
        try:
            task = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if task is None:
            return
        index, path, rel, size, mtime_ns = task
        conn.send((index, inspect_guarded(inspect, Path(path), rel, size, mtime_ns, options)))


@dataclass
class _Worker:
    proc: Any
    conn: Connection
    ready: bool = False
    index: int | None = None
    started: float = 0.0


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def inspect_files(
    records: Sequence[FileRecord],
    options: CheckOptions,
    jobs: int | None = None,
    timeout_s: float = 60.0,
    progress: ProgressFn | None = None,
    inspect: InspectFn = inspect_file,
) -> list[FileResult]:
    """Inspect `records` in parallel; results come back in the order of `records`.

    `inspect` must be a module-level function (workers import it by name)."""
    total = len(records)
    results: list[FileResult | None] = [None] * total
    if total == 0:
        return []
    jobs = max(1, min(jobs or default_jobs(), total))
    # forkserver: workers never inherit a parent's TensorFlow threads (tests, notebooks).
    ctx: Any = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    pending = deque(range(total))
    workers: list[_Worker] = []
    done = 0

    def start_worker() -> _Worker:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker_main, args=(child, options, inspect), daemon=True)
        proc.start()
        child.close()
        return _Worker(proc=proc, conn=parent)

    def assign(w: _Worker) -> None:
        if pending:
            i = pending.popleft()
            rec = records[i]
            w.index, w.started = i, time.monotonic()
            w.conn.send((i, str(rec.path), rec.rel, rec.size, rec.mtime_ns))
        else:
            w.index = None

    def finish(i: int, result: FileResult) -> None:
        nonlocal done
        results[i] = result
        done += 1
        if progress is not None:
            progress(done, total)

    def replace(w: _Worker) -> _Worker:
        w.proc.kill()
        w.proc.join(timeout=5)
        w.conn.close()
        return start_worker()

    try:
        workers = [start_worker() for _ in range(jobs)]
        while done < total:
            busy = [w for w in workers if not w.ready or w.index is not None]
            ready_conns = wait([w.conn for w in busy], timeout=0.5)
            now = time.monotonic()
            for k, w in enumerate(workers):
                if w.conn in ready_conns:
                    try:
                        tag, payload = w.conn.recv()
                    except (EOFError, OSError):
                        # The worker died: a decoder crashed the process (or warming up failed).
                        if w.index is not None:
                            finish(w.index, _failed(records[w.index], "a decoder crashed while reading this file"))
                        elif not w.ready:
                            raise RuntimeError("a validate worker failed to start") from None
                        workers[k] = replace(w)
                        continue
                    if tag == "ready":
                        w.ready = True
                    else:
                        finish(tag, payload)
                    assign(w)
                elif w.index is not None and now - w.started > timeout_s:
                    finish(w.index, _failed(records[w.index], f"decoding took longer than {timeout_s:g} s (--timeout)"))
                    workers[k] = replace(w)
    finally:
        for w in workers:
            try:
                w.conn.send(None)
            except (OSError, ValueError):
                pass
        for w in workers:
            w.proc.join(timeout=2)
            if w.proc.is_alive():
                w.proc.kill()
            w.conn.close()
    return [r for r in results if r is not None]


def inspect_files_serially(records: Sequence[FileRecord], options: CheckOptions, progress: ProgressFn | None = None) -> list[FileResult]:
    """In-process inspection with no pool (jobs=0): for debugging and for tiny folders."""
    out = []
    for n, rec in enumerate(records, 1):
        out.append(inspect_guarded(inspect_file, rec.path, rec.rel, rec.size, rec.mtime_ns, options))
        if progress is not None:
            progress(n, len(records))
    return out
