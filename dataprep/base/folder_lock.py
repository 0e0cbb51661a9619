"""One writer per folder: every mutating command holds an exclusive lock on what it writes.

Two runs writing one folder at once interleave their journals and manifests (two `split`s into
one OUT both exit 0 with photos in two splits; two `clean`s leave a manifest of "planned"
entries). So each mutating command locks, for the whole run:

- the folder it owns and records in (a split's OUT, the quarantine, the relabel record, a run
  folder): `FOLDER/.dataprep.lock`, which says who holds it (pid, command, since when);
- the dataset folder it changes in place (clean, convert, restore, relabel, `split --mode move`):
  the folder itself, so no file is written into the user's dataset.

The locks are `flock(2)` locks: the kernel drops them when the process ends however it ends, so
`kill -9` never leaves a stale lock (a lock file left behind by a killed run is reused as is). A
second run does not wait: it stops at once with one line naming the holder and what to do
(exit 2). Dry runs touch nothing and take no lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from dataprep.base.errors import DataprepError

LOCK_NAME = ".dataprep.lock"


class FolderLocked(DataprepError):
    """Another run holds the lock on a folder this run would write."""


def _holder_text(info: dict[str, Any]) -> str:
    pid = info.get("pid", "?")
    command = " ".join(str(info.get("command") or "a dataprep command").split())  # one line, whatever it ran
    command = command if len(command) <= 120 else command[:119] + "…"
    since = f", since {info['since']}" if info.get("since") else ""
    return f"pid {pid} (`{command}`{since})"


def _busy(folder: Path, info: dict[str, Any], what: str) -> FolderLocked:
    return FolderLocked(
        f"'{folder}' ({what}) is being written by another run: {_holder_text(info)}; wait for it to finish "
        "(one writer per folder), or stop that process; its journal lets the same command finish the job"
    )


def _read_info(fd: int) -> dict[str, Any]:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096).decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _this_run(command: str) -> dict[str, Any]:
    """Who holds the lock: the command line as typed (`python -m dataprep` reads as `dataprep`),
    or, called from Python, the command and the program."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("python")
    name = program.parent.name if program.name == "__main__.py" else program.name
    typed = shlex.join([name, *sys.argv[1:]]) if name in ("dataprep", "trainer") else f"{command} (from {name})"
    return {"pid": os.getpid(), "command": typed, "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


@contextmanager
def _lock_file(folder: Path, command: str, what: str) -> Iterator[None]:
    """`folder/.dataprep.lock`, flocked and holding this run's pid, command and start time;
    removed when the run ends (and the folders this run created for it, when it left them empty)."""
    created = [f for f in (folder, *folder.parents) if not f.exists()]  # the deepest first
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = _read_info(fd)
            os.close(fd)
            raise _busy(folder, info, what) from None
        try:  # the holder before us may have removed the file between our open and our lock
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_this_run(command)).encode("utf-8"), 0)
        yield
    finally:
        path.unlink(missing_ok=True)  # still locked: a run waiting on this inode re-checks and retries
        os.close(fd)
        for made in created:
            try:
                made.rmdir()  # only when empty: nothing was written after all
            except OSError:
                break


def _proc_holder(folder: Path) -> dict[str, Any]:
    """Who holds a flock on `folder` (Linux: /proc/locks names the pid; /proc/PID the command)."""
    try:
        st = os.stat(folder)
        wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        with open("/proc/locks", encoding="ascii") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return {}
    for line in lines:
        parts = line.split()
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5] == wanted:
            info: dict[str, Any] = {"pid": int(parts[4])}
            try:
                with open(f"/proc/{parts[4]}/cmdline", "rb") as fh:
                    args = [a.decode("utf-8", "replace") for a in fh.read().split(b"\0") if a]
                info["command"] = shlex.join(args)
                info["since"] = _process_start(parts[4])
            except (OSError, ValueError, IndexError):
                pass
            return info
    return {}


def _process_start(pid: str) -> str:
    """When a process started (Linux: its start tick in /proc/PID/stat after the boot time)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        ticks = int(fh.read().rsplit(")", 1)[1].split()[19])  # field 22, counted after the command
    with open("/proc/stat", encoding="ascii") as fh:
        boot = next(int(line.split()[1]) for line in fh if line.startswith("btime "))
    started = boot + ticks / os.sysconf("SC_CLK_TCK")
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started))


@contextmanager
def _lock_directory(folder: Path, what: str) -> Iterator[None]:
    """A flock on the folder itself: nothing is written into it."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(folder, _proc_holder(folder), what) from None
        yield
    finally:
        os.close(fd)


@contextmanager
def folder_locks(command: str, owned: Path | None, dataset: Path | None = None, enabled: bool = True) -> Iterator[None]:
    """Hold the locks of one mutating run of `command`: the folder it owns (`owned`, created if
    missing; None for none) and the dataset folder it changes in place (`dataset`, or None).
    Raises FolderLocked (one line, exit 2) when another run holds either."""
    with ExitStack() as stack:
        if enabled:
            if dataset is not None:
                stack.enter_context(_lock_directory(dataset, f"the dataset {command} changes"))
            if owned is not None:
                stack.enter_context(_lock_file(owned, command, f"the folder {command} writes"))
        yield
