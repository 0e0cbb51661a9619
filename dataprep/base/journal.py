"""Crash-safe file operations: an append-only journal plus atomic copy and move.

Every mutating command (clean, restore, split) writes its intent to a journal *before* it
touches a file, and a `done` line after. A run killed at any instant (even `kill -9`) leaves
at most one operation in flight; `reconcile` looks at both ends of that operation and
finishes or rolls it forward, so a re-run completes the job without losing or duplicating
a file. Files are never written in place: bytes go to a temporary name in the destination
folder, are fsynced, then renamed into place, so no reader ever sees a partial file.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from dataprep.base.errors import DataprepError

TMP_PREFIX = ".dataprep-tmp-"
CHUNK = 1 << 20
# Test hook for the kill tests: with DATAPREP_KILL_AFTER_OPS=N in the environment, the process
# SIGKILLs itself right after its N-th journaled step or file operation.
KILL_AFTER_ENV = "DATAPREP_KILL_AFTER_OPS"
# The same for Ctrl-C: with DATAPREP_INTERRUPT_AFTER_OPS=N the process sends itself SIGINT
# (once) right after its N-th step, so tests interrupt at exact points, without sleeps;
# DATAPREP_INTERRUPT_SIGNAL=SIGTERM sends that instead.
INTERRUPT_AFTER_ENV = "DATAPREP_INTERRUPT_AFTER_OPS"
INTERRUPT_SIGNAL_ENV = "DATAPREP_INTERRUPT_SIGNAL"
_ops_done = 0
_interrupted = False


def crash_point() -> None:
    """Count one durable step; die here (as kill -9 would) or be interrupted (as by Ctrl-C)
    when a test hook says so."""
    global _ops_done, _interrupted
    kill_at = os.environ.get(KILL_AFTER_ENV)
    interrupt_at = os.environ.get(INTERRUPT_AFTER_ENV)
    if not kill_at and not interrupt_at:
        return
    import signal

    _ops_done += 1
    if kill_at and _ops_done >= int(kill_at):
        os.kill(os.getpid(), signal.SIGKILL)
    if interrupt_at and _ops_done >= int(interrupt_at) and not _interrupted:
        _interrupted = True
        os.kill(os.getpid(), getattr(signal, os.environ.get(INTERRUPT_SIGNAL_ENV, "SIGINT")))


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in `path` durable (no-op where directories can't be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def make_dirs(path: str | os.PathLike[str]) -> None:
    """`os.makedirs(path, exist_ok=True)` without recursion: `os.makedirs` recurses once per
    missing folder and dies with RecursionError in a tree about a thousand folders deep."""
    missing: list[str] = []
    current = os.fspath(path)
    while current and not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
        except FileExistsError:
            if not os.path.isdir(folder):
                raise


def walk_tree(top: str | os.PathLike[str], topdown: bool = True) -> Iterator[tuple[str, list[str], list[str]]]:
    """`os.walk(top)` (links not followed, unreadable folders skipped) without recursion, so a
    very deep tree cannot exhaust the stack. With `topdown=False` the deepest folders come first."""
    found: list[tuple[str, list[str], list[str]]] = []
    stack = [os.fspath(top)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:
            continue
        dirs = sorted(e.name for e in entries if e.is_dir(follow_symlinks=False))
        files = sorted(e.name for e in entries if not e.is_dir(follow_symlinks=False))
        if topdown:
            yield folder, dirs, files
        else:
            found.append((folder, dirs, files))
        stack.extend(os.path.join(folder, d) for d in reversed(dirs))
    if not topdown:
        yield from sorted(found, key=lambda t: -t[0].count(os.sep))


@contextmanager
def atomic_file(path: Path, mode: str = "wb", **open_args: Any) -> Iterator[IO[Any]]:
    """A file to write `path` through: a temporary file beside it, fsynced and renamed over
    `path` when the block ends, removed if it raises: all or nothing, also for a file written
    in a stream (a report of millions of rows)."""
    make_dirs(path.parent)
    tmp = path.parent / f"{TMP_PREFIX}{uuid.uuid4().hex}-{path.name}"
    try:
        with open(tmp, mode, **open_args) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename: all or nothing."""
    with atomic_file(path) as fh:
        fh.write(data)
    crash_point()


def json_text_bytes(text: str) -> bytes:
    """JSON text as UTF-8. A file name with bytes that are not UTF-8 reaches us as a str with
    lone surrogates (PEP 383), which UTF-8 cannot encode; inside a JSON string the backslash
    escape `\\udcff` is exactly what `json.loads` turns back into that str, so the name survives."""
    return text.encode("utf-8", "backslashreplace")


def write_json_atomic(path: Path, obj: Any) -> None:
    write_atomic(path, json_text_bytes(json.dumps(obj, indent=2, ensure_ascii=False) + "\n"))


def copy_atomic(src: Path, dst: Path) -> None:
    """Copy `src` to `dst` (bytes and mtime) so that `dst` is either absent or complete."""
    make_dirs(dst.parent)
    tmp = dst.parent / f"{TMP_PREFIX}{uuid.uuid4().hex}-{dst.name}"
    try:
        shutil.copyfile(src, tmp)
        shutil.copystat(src, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(dst.parent)
    crash_point()


def move_atomic(src: Path, dst: Path) -> None:
    """Move `src` to `dst`, never leaving a partial `dst` and never losing `src`.

    Same filesystem: one rename. Across filesystems: atomic copy, then unlink the source;
    a kill between the two leaves both (identical), which `reconcile_move` resolves.
    """
    if dst.exists():
        raise FileExistsError(errno.EEXIST, "destination exists", str(dst))
    make_dirs(dst.parent)
    try:
        os.rename(src, dst)
    except OSError as err:
        if err.errno != errno.EXDEV:
            raise
        copy_atomic(src, dst)
        src.unlink()
    fsync_dir(dst.parent)
    fsync_dir(src.parent)
    crash_point()


def reconcile_move(src: Path, dst: Path, sha256: str | None) -> str:
    """Finish a move that may have been interrupted. Returns what state it found:
    'done' (only dst), 'pending' (only src: not started), 'duplicate-resolved' (both, identical:
    the source copy was removed), 'missing' (neither), or raises when both exist and differ."""
    src_exists, dst_exists = src.exists(), dst.exists()
    if dst_exists and not src_exists:
        return "done"
    if src_exists and not dst_exists:
        return "pending"
    if not src_exists and not dst_exists:
        return "missing"
    if sha256 is not None and sha256_file(dst) == sha256 and sha256_file(src) == sha256:
        src.unlink()
        fsync_dir(src.parent)
        return "duplicate-resolved"
    raise DataprepError(f"both '{src}' and '{dst}' exist with different contents; move one of them away and re-run")


def remove_stale_temporaries(folder: Path) -> int:
    """Delete temporary files an interrupted run left under `folder`. Returns how many."""
    removed = 0
    if not folder.is_dir():
        return 0
    for dirpath, _dirs, files in walk_tree(folder):
        for name in files:
            if name.startswith(TMP_PREFIX):
                (Path(dirpath) / name).unlink(missing_ok=True)
                removed += 1
    return removed


class Journal:
    """Append-only JSON-lines log, fsynced per entry. A torn last line (kill mid-write) is ignored."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, entry: dict[str, Any]) -> None:
        make_dirs(self.path.parent)
        line = json_text_bytes(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        with open(self.path, "ab") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        crash_point()

    def entries(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                if not line.endswith("\n"):
                    return  # torn final write: the operation it announced never started
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    return
