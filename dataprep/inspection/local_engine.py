"""Runs the checks over many files in a pool of worker processes.

Each worker reads a file once and runs every check on it (one decode per decoder). The pool
is our own rather than concurrent.futures because a per-file time limit needs to kill the one
worker that hangs: a decoder that hangs or crashes (even a segfault) becomes an `error`
finding for that file, the worker is replaced, and the run goes on.

Results come back as they finish (`WorkerPool.imap`), so a caller can stream them to disk
instead of holding them; `dataprep.inspection.ray_engine` gives the same stream from a Ray cluster. Both call
the one per-file inspection (`dataprep.inspection.per_file`), so the two engines cannot drift, and neither
imports the other: `dataprep.inspection.engines` chooses between them.

Ctrl-C (SIGINT) and SIGTERM: workers ignore SIGINT and the parent stops them, so the user sees
one line and no worker tracebacks; the caller keeps what finished before the interrupt.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from types import FrameType
from typing import Any

from dataprep.base.defaults import DEFAULT_TIMEOUT_S
from dataprep.base.errors import DataprepError
from dataprep.inspection.checks import CheckOptions
from dataprep.inspection.per_file import (
    CRASHED,
    InspectFn,
    failed_result,
    inspect_file,
    inspect_guarded,
    prepare_worker,
    timed_out,
)
from dataprep.inspection.report import FileResult
from dataprep.inspection.scan import FileRecord

ProgressFn = Callable[[int, int], None]

# Test hook: after this many results the parent sends itself SIGINT ("N") or SIGTERM ("N:TERM"),
# so interrupt handling is tested at a deterministic point instead of after a sleep.
INTERRUPT_HOOK_ENV = "DATAPREP_INTERRUPT_AFTER_FILES"


# --- the messages between the parent and a worker ---------------------------------------------


@dataclass(frozen=True)
class Task:
    """One file to inspect."""

    index: int
    path: str
    rel: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Batch:
    """Parent -> worker: inspect these files, in order."""

    tasks: tuple[Task, ...]


@dataclass(frozen=True)
class Stop:
    """Parent -> worker: no more work; exit."""


@dataclass(frozen=True)
class Ready:
    """Worker -> parent: the decoders are loaded; send work."""


@dataclass(frozen=True)
class Inspected:
    """Worker -> parent: (index, result) of the next files of its batches, in the order sent."""

    results: list[tuple[int, FileResult]]


@dataclass(frozen=True)
class TimedOut:
    """Worker -> parent, from its watchdog: file `index` outlived the time limit; the worker exits."""

    index: int


WATCHDOG_EXIT = 124  # a worker whose file outlived the time limit ends itself with this code
FLUSH_S = 0.25  # a worker sends what it has finished at least this often, even mid-batch


class _WorkerState:
    """What a worker's main thread and its watchdog share: the file being inspected, since when,
    and the results not yet sent. The watchdog ends the process when one file outlives the time
    limit (per file, not per batch), after sending the finished results and which file hung."""

    def __init__(self, conn: Connection, timeout_s: float) -> None:
        self.conn = conn
        self.timeout_s = timeout_s
        self.lock = threading.Lock()
        self.index: int | None = None
        self.started = 0.0
        self.done: list[tuple[int, FileResult]] = []

    def flush(self) -> None:
        with self.lock:
            if self.done:
                self.conn.send(Inspected(self.done))
                self.done = []

    def watchdog(self) -> None:
        while True:
            time.sleep(min(0.5, self.timeout_s / 4))
            with self.lock:
                if self.index is not None and time.monotonic() - self.started > self.timeout_s:
                    try:
                        self.conn.send(Inspected(self.done))
                        self.conn.send(TimedOut(self.index))
                    finally:
                        os._exit(WATCHDOG_EXIT)


def _worker_main(conn: Connection, options: CheckOptions, inspect: InspectFn, timeout_s: float) -> None:
    """Worker loop: warm up the decoders, say ready, then inspect batches of files, sending the
    results when a batch ends (or every FLUSH_S within a long one)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker must not inherit the parent's handler
    prepare_worker(options)
    state = _WorkerState(conn, timeout_s)
    threading.Thread(target=state.watchdog, name="dataprep-watchdog", daemon=True).start()
    conn.send(Ready())
    while True:
        try:
            msg = conn.recv()
        except EOFError:  # the parent is gone
            return
        if not isinstance(msg, Batch):
            return
        flushed = time.monotonic()
        for task in msg.tasks:
            with state.lock:
                state.index, state.started = task.index, time.monotonic()
            result = inspect_guarded(inspect, Path(task.path), task.rel, task.size, task.mtime_ns, options)
            with state.lock:
                state.done.append((task.index, result))
                state.index = None
            if time.monotonic() - flushed > FLUSH_S:
                state.flush()
                flushed = time.monotonic()
        state.flush()


@dataclass
class _Worker:
    proc: Any
    conn: Connection
    ready: bool = False
    # The batches sent to it, oldest first, less the files already reported: it inspects the
    # first while the next waits in its pipe, so it never sits idle for a round trip.
    batches: deque[list[int]] = field(default_factory=deque)
    heard: float = 0.0  # when it last reported (or was last given work while idle)

    @property
    def busy(self) -> bool:
        return bool(self.batches)

    def unreported(self) -> list[int]:
        return [i for batch in self.batches for i in batch]


# Batches: files are sent to a worker in batches of about BATCH_BYTES (at most BATCH_FILES), and
# results come back per batch, so the parent wakes once per ~20 ms of a worker's work instead of
# once per file (on a busy 2-core machine each wake-up is a scheduler round trip). Each worker
# holds IN_FLIGHT batches, so it never waits for the parent between two.
BATCH_BYTES = 512 * 1024
BATCH_FILES = 32
IN_FLIGHT = 2
BACKSTOP_S = 5.0  # the parent's own limit beyond the watchdog's, for a worker too stuck to run it


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# Imported once by the forkserver, before it forks any worker: a worker starts with the decoders
# and the checks already loaded instead of importing them itself (never TensorFlow: see
# `prepare_worker`).
WORKER_PRELOAD = [
    "__main__",
    "dataprep.inspection.local_engine",
    "dataprep.inspection.checks.image_properties",
    "numpy",
    "PIL.Image",
    "simplejpeg",
]


def fork_is_safe() -> bool:
    """Whether workers may be forked from this process: on Linux, with no other thread running
    (a thread could hold a lock the child then waits on forever) and TensorFlow not imported (its
    thread pools do not survive a fork). The CLI's parent never imports TensorFlow and runs no
    thread unless it draws a progress bar, so a plain run forks: its workers start with
    everything the parent imported, about half the forkserver's start-up."""
    return sys.platform == "linux" and threading.active_count() == 1 and "tensorflow" not in sys.modules


def _context() -> Any:
    """fork where `fork_is_safe`; otherwise a forkserver (workers never inherit a parent's
    TensorFlow threads: tests, notebooks), or spawn where there is none."""
    methods = mp.get_all_start_methods()
    if "fork" in methods and fork_is_safe():
        return mp.get_context("fork")
    if "forkserver" not in methods:
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(WORKER_PRELOAD)
    return ctx


class _Pending:
    """The indices still to send, in order: files sent back (their worker died) first, then
    `next` up to `end`. A counter, not a list of every index: flat memory for any folder size."""

    def __init__(self, end: int) -> None:
        self.returned: deque[int] = deque()
        self.next = 0
        self.end = end

    def __len__(self) -> int:
        return len(self.returned) + self.end - self.next

    def peek(self) -> int:
        return self.returned[0] if self.returned else self.next

    def pop(self) -> int:
        if self.returned:
            return self.returned.popleft()
        self.next += 1
        return self.next - 1

    def push_front(self, indices: list[int]) -> None:
        self.returned.extendleft(reversed(indices))


class WorkerPool:
    """`jobs` worker processes that inspect batches of files, each file under `timeout_s`.

    A file that hangs is reported by the worker's watchdog, which then ends the worker; a worker
    that dies (a decoder crash) loses the results of its unfinished batch: those files are sent
    again, each alone, so a file that kills its worker alone is the one reported. `inspect` must
    be a module-level function (workers import it by name).
    """

    def __init__(
        self,
        options: CheckOptions,
        jobs: int | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        inspect: InspectFn = inspect_file,
    ) -> None:
        self.options = options
        self.jobs = max(1, jobs or default_jobs())
        self.timeout_s = timeout_s
        self.inspect = inspect
        self._ctx: Any = _context()
        self._workers: list[_Worker] = []

    def imap(self, records: Sequence[FileRecord]) -> Iterator[tuple[int, FileResult]]:
        """(index into `records`, result) for every record, in the order they finish."""
        if not records:
            return
        pending = _Pending(len(records))
        solo: set[int] = set()  # files to send alone: their batch's worker died
        while len(self._workers) < min(self.jobs, len(records)):
            self._workers.append(self._start())
        left = len(records)
        while left:
            busy = [w for w in self._workers if not w.ready or w.busy]
            arrived = wait([w.conn for w in busy], timeout=0.5)
            now = time.monotonic()
            for k, w in enumerate(self._workers):
                if w.conn in arrived:
                    try:
                        msg = w.conn.recv()
                    except (EOFError, OSError):  # the worker died: a decoder crashed the process
                        if not w.ready:
                            raise DataprepError(
                                "a validate worker process failed to start; re-run with --jobs 0 (no pool) or --debug"
                            ) from None
                        for index in self._lost(w, k, pending, solo):
                            left -= 1
                            yield index, failed_result(records[index], CRASHED)
                        continue
                    w.heard = now
                    if isinstance(msg, Ready):
                        w.ready = True
                    elif isinstance(msg, Inspected):
                        for index, result in msg.results:
                            self._reported(w, index)
                            left -= 1
                            yield index, result
                    elif isinstance(msg, TimedOut):  # its watchdog ends it: replace it now
                        self._reported(w, msg.index)
                        self._lost(w, k, pending, solo, blame=False)
                        left -= 1
                        yield msg.index, failed_result(records[msg.index], timed_out(self.timeout_s))
                elif w.busy and now - w.heard > self.timeout_s + BACKSTOP_S:
                    for index in self._lost(w, k, pending, solo):
                        left -= 1
                        yield index, failed_result(records[index], timed_out(self.timeout_s))
            for w in self._workers:  # replaced workers get work once ready; idle ready ones now
                if w.ready and pending:
                    self._assign(w, records, pending, solo)

    def close(self) -> None:
        """Stop every worker (politely, then by force)."""
        for w in self._workers:
            try:
                w.conn.send(Stop())
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 2
        for w in self._workers:
            w.proc.join(timeout=max(0.0, deadline - time.monotonic()))
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(timeout=5)
            w.conn.close()
        self._workers = []

    def kill(self) -> None:
        """Stop every worker at once (an interrupt: what they are doing is abandoned)."""
        for w in self._workers:
            w.proc.kill()
        self.close()

    def _start(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        args = (child, self.options, self.inspect, self.timeout_s)
        proc = self._ctx.Process(target=_worker_main, args=args, daemon=True)
        proc.start()
        child.close()
        return _Worker(proc=proc, conn=parent, heard=time.monotonic())

    @staticmethod
    def _reported(w: _Worker, index: int) -> None:
        """Take a reported file off the worker's batches (results come back in the order sent)."""
        first = w.batches[0]
        first.remove(index)
        if not first:
            w.batches.popleft()

    def _lost(self, w: _Worker, k: int, pending: _Pending, solo: set[int], blame: bool = True) -> list[int]:
        """Replace worker `k`, which died, stopped answering, or (`blame=False`) ended itself
        after reporting the file that hung. Returns the file to report as failed: with `blame`,
        the one it held alone (a file that kills its worker alone is the culprit); the other
        unreported files go back to the front of `pending`, each to be sent alone."""
        w.proc.kill()
        w.proc.join(timeout=5)
        w.conn.close()
        self._workers[k] = self._start()
        unreported = w.unreported()
        alone = bool(w.batches) and len(w.batches[0]) == 1 and unreported[0] in solo
        culprit = unreported[:1] if blame and alone else []
        retry = unreported[len(culprit) :]
        solo.update(retry)
        pending.push_front(retry)
        return culprit

    def _assign(self, w: _Worker, records: Sequence[FileRecord], pending: _Pending, solo: set[int]) -> None:
        """Send batches to `w` until it holds IN_FLIGHT of them. A batch is one file to be sent
        alone, or up to BATCH_BYTES / BATCH_FILES of the others, and no more than a fair share of
        what is left (so that the workers finish together)."""
        share = max(1, len(pending) // (2 * self.jobs))
        while pending and len(w.batches) < IN_FLIGHT:
            batch = [pending.pop()]
            size = records[batch[0]].size
            if batch[0] not in solo:
                while pending and pending.peek() not in solo and len(batch) < min(BATCH_FILES, share):
                    if size >= BATCH_BYTES:
                        break
                    batch.append(pending.pop())
                    size += records[batch[-1]].size
            if not w.busy:
                w.heard = time.monotonic()
            w.batches.append(batch)
            tasks = tuple(
                Task(i, str(records[i].path), records[i].rel, records[i].size, records[i].mtime_ns) for i in batch
            )
            try:
                w.conn.send(Batch(tasks))
            except OSError:  # it died idle: the next wait() sees it gone, and its batch is sent again
                return


def inspect_stream(
    records: Sequence[FileRecord],
    options: CheckOptions,
    jobs: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    inspect: InspectFn = inspect_file,
) -> Generator[tuple[int, FileResult], None, None]:
    """(index, result) for every record as it finishes, from a local pool (`jobs=0`: in this process)."""
    if jobs == 0:
        for i, rec in enumerate(records):
            yield i, inspect_guarded(inspect, rec.path, rec.rel, rec.size, rec.mtime_ns, options)
        return
    pool = WorkerPool(options, jobs=jobs, timeout_s=timeout_s, inspect=inspect)
    interrupted = False
    try:
        yield from pool.imap(records)
    except (KeyboardInterrupt, GeneratorExit):
        interrupted = True
        raise
    finally:
        pool.kill() if interrupted else pool.close()


def inspect_files(
    records: Sequence[FileRecord],
    options: CheckOptions,
    jobs: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    progress: ProgressFn | None = None,
    inspect: InspectFn = inspect_file,
) -> list[FileResult]:
    """Inspect `records` in parallel; results come back in the order of `records`."""
    results: list[FileResult | None] = [None] * len(records)
    for done, (i, result) in enumerate(inspect_stream(records, options, jobs, timeout_s, inspect), 1):
        results[i] = result
        if progress is not None:
            progress(done, len(records))
    return [r for r in results if r is not None]


def inspect_files_serially(
    records: Sequence[FileRecord], options: CheckOptions, progress: ProgressFn | None = None
) -> list[FileResult]:
    """In-process inspection with no pool (jobs=0): for debugging and for tiny folders."""
    return inspect_files(records, options, jobs=0, progress=progress)


# --- interrupts --------------------------------------------------------------------------------


@contextmanager
def interrupts_as_keyboard_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt like Ctrl-C does, so one handler
    stops the workers and keeps the finished results. Only the main thread can set handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class InterruptHook:
    """The INTERRUPT_HOOK_ENV test hook: after N results, send the signal a terminal's Ctrl-C
    would: to the whole process group when this process leads it (workers included), else to
    this process alone."""

    def __init__(self) -> None:
        spec = os.environ.get(INTERRUPT_HOOK_ENV, "")
        count, _, name = spec.partition(":")
        self.after = int(count) if count.strip().isdigit() else None
        self.signum = signal.SIGTERM if name.strip().upper() == "TERM" else signal.SIGINT
        self.seen = 0

    def tick(self) -> None:
        if self.after is None:
            return
        self.seen += 1
        if self.seen == self.after:
            if os.getpgrp() == os.getpid():
                os.killpg(os.getpgrp(), self.signum)
            else:
                os.kill(os.getpid(), self.signum)
