"""Executing a plan into OUT: the journal, the placers, and what --resume and --force may touch.

Crash safety (`kill -9` at any instant, then `--resume`): ``OUT/split.json`` is written *first*,
with ``"complete": false`` and the whole plan, so it is the intent record for every file at once;
the journal ``OUT/.dataprep-split.journal`` (via `dataprep.base.journal`) logs which destinations are
done, in batches. A resumed run reloads the plan from split.json and looks at both ends of every
file: a destination in the journal is trusted after a size check, one that exists but is not
journaled is checked by sha256, a move whose source is gone and destination present is done.
When everything is in place split.json is rewritten with ``"complete": true`` and the journal is
deleted.

Copies run on a few threads: copying is system calls and I/O, which release the GIL, so
overlapping them keeps pace with ``cp -r``. Results are taken in plan order, so the journal and
the progress hook see files in order; a file is journaled only after it is complete. Files are
not fsynced one by one (a kill cannot leave a partial file thanks to the rename; after a power
loss `--resume` re-checks sizes and hashes).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dataprep.base.errors import DataprepError
from dataprep.base.folder_lock import LOCK_NAME
from dataprep.base.journal import TMP_PREFIX, Journal, make_dirs, walk_tree
from dataprep.base.naming import SPLIT_NAMES, natural_key
from dataprep.split.manifest import SplitManifest
from dataprep.split.place import Placer, placer_for
from dataprep.split.plan import Assignment, SplitPlan
from dataprep.split.spec import SplitSpec

JOURNAL_NAME = ".dataprep-split.journal"
JOURNAL_BATCH = 256  # destinations per journal line: one fsync per batch, not per file
COPY_THREADS = 4  # copies in flight at once (measured in benchmarks/split_bench.py)
COPY_CHUNK = 16  # files per task: a thread pool's per-task cost is paid once per chunk
FileHook = Callable[[int, int], None]  # (files placed so far, total)


def _placed(placer: Placer, assignments: list[Assignment], done: set[str], threads: int, fresh: bool) -> Iterator[bool]:
    """Place each assignment; yields, in plan order, whether each was written now. `fresh`: OUT's
    split folders were empty, so no destination needs checking first."""

    def run(chunk: list[Assignment]) -> list[bool]:
        return [placer.place(a, a.dest in done, fresh) for a in chunk]

    if threads <= 1:
        for a in assignments:
            yield placer.place(a, a.dest in done, fresh)
        return
    chunks = [assignments[k : k + COPY_CHUNK] for k in range(0, len(assignments), COPY_CHUNK)]
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="split-copy")
    try:
        window = threads * 2  # bounded look-ahead: memory stays flat, and few copies run past an interruption
        futures = [pool.submit(run, c) for c in chunks[:window]]
        for k in range(len(chunks)):
            results = futures[k].result()
            if k + window < len(chunks):
                futures.append(pool.submit(run, chunks[k + window]))
            yield from results
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # an error: let the copies in flight finish, start no more


def execute_split(
    plan: SplitPlan,
    raw: Path,
    out: Path,
    mode: str,
    *,
    journal: Journal,
    done: set[str] | None = None,
    after_file: FileHook | None = None,
    threads: int | None = None,
    fresh: bool = False,
) -> tuple[int, int]:
    """Place every planned file under OUT. Returns (written now, found already in place).

    `done` holds destinations a previous, interrupted run journaled as finished. `after_file`
    is called after each file with (files so far, total): the progress bar, and the tests'
    way to interrupt a run after N files. Copies use `threads` (default COPY_THREADS). `fresh`:
    OUT's split folders hold nothing yet (a new split), so destinations are not looked at first.
    """
    done = done or set()
    placing = placed_assignments(plan, mode)
    splits = {a.split for a in placing} if mode == "folds" else set(plan.splits)
    folders = {os.path.join(out, split, label) for split in splits for label in plan.classes}
    folders |= {os.path.dirname(os.path.join(out, a.dest)) for a in placing}
    for folder in sorted(folders):  # every class in every used split: Keras keeps the class index
        make_dirs(folder)
    placer = placer_for(mode, raw, out)
    workers = (COPY_THREADS if threads is None else threads) if mode in ("copy", "folds") else 1
    written = already = 0
    batch: list[str] = []
    total = len(placing)
    for i, (a, wrote) in enumerate(zip(placing, _placed(placer, placing, done, workers, fresh)), 1):
        written += wrote
        already += not wrote
        batch.append(a.dest)
        if len(batch) >= JOURNAL_BATCH:
            journal.append({"op": "done", "dest": batch})
            batch = []
        if after_file is not None:
            after_file(i, total)
    if batch:
        journal.append({"op": "done", "dest": batch})
    return written, already


def _check_folders(raw: Path, out: Path) -> None:
    if out == raw or out.is_relative_to(raw):
        raise DataprepError(
            f"OUT '{out}' is inside RAW '{raw}'; the split would be split again: choose a folder outside RAW"
        )
    if raw.is_relative_to(out):
        raise DataprepError(f"RAW '{raw}' is inside OUT '{out}'; choose an OUT folder that does not contain RAW")
    if out.exists() and not out.is_dir():
        raise DataprepError(f"OUT '{out}' is a file; expected a new or empty folder")


def _entries(out: Path) -> list[str]:
    """What OUT holds, but for the lock this run holds on it."""
    return sorted((e for e in os.listdir(out) if e != LOCK_NAME), key=natural_key) if out.is_dir() else []


def _files_under_splits(out: Path) -> list[str]:
    """Every file (or link) under OUT/{train,val,test}, relative to OUT, except our temporaries."""
    found: list[str] = []
    for split in SPLIT_NAMES:
        base = out / split
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in walk_tree(base):
            dirnames.sort()
            for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
                if not name.startswith(TMP_PREFIX):
                    found.append(Path(dirpath, name).relative_to(out).as_posix())
    return found


def placed_assignments(plan: SplitPlan, mode: str) -> list[Assignment]:
    """The assignments a split writes under OUT: all of them, except with ``--mode folds``, which
    copies only the held-out test split and leaves the files of the folds in RAW (split.json
    records them; ``trainer fit --fold I`` reads them there)."""
    if mode == "folds":
        return [a for a in plan.assignments if a.split == "test"]
    return list(plan.assignments)


def _previous_split_files(out: Path, old: SplitManifest | None) -> list[str]:
    """What --force may remove: files under OUT's split folders that a previous copy, hardlink or
    symlink split wrote and whose source still exists. Anything else there is refused: it may be
    the only copy of someone's photo."""
    present = _files_under_splits(out)
    if not present:
        return []
    if old is None:
        raise DataprepError(
            f"OUT '{out}' holds {len(present)} file(s) under train/val/test (e.g. '{present[0]}') and no split.json: "
            "they were not written by dataprep split, so --force will not replace them; move them away or choose another OUT"
        )
    old_raw = Path(old.raw)
    recorded = old.records()
    old_mode = old.mode
    for rel in present:
        entry = recorded.get(rel)
        if entry is None:
            raise DataprepError(
                f"'{out / rel}' was not written by the previous split (it is not in OUT/split.json); "
                "--force only replaces a previous split's files: move it away or choose another OUT"
            )
        if old_mode == "move":
            raise DataprepError(
                f"the previous split into '{out}' moved the photos there (--mode move): they are the only copies, "
                "so --force will not delete them; move them back to RAW or choose another OUT"
            )
        if (
            old_mode in ("copy", "hardlink", "folds")
            and entry.get("source") is not None
            and not (old_raw / entry["source"]).exists()
        ):
            raise DataprepError(
                f"'{out / rel}' is the only copy left (its source '{old_raw / entry['source']}' is gone), "
                "so --force will not delete it; copy it back to RAW or choose another OUT"
            )
    return present


def _remove_previous(out: Path, paths: Iterable[str]) -> int:
    removed = 0
    for rel in paths:
        target = out / rel
        if target.is_symlink() or target.exists():
            target.unlink()
            removed += 1
    # Drop class folders the new split does not use (empty ones only).
    for split in SPLIT_NAMES:
        base = out / split
        if base.is_dir():
            for dirpath, _dirs, _files in walk_tree(base, topdown=False):
                if not os.listdir(dirpath):
                    os.rmdir(dirpath)
    return removed


def _journal_state(journal: Journal, digest: str) -> tuple[bool, set[str]]:
    """(previous files removed?, destinations done) for the run whose plan has `digest`."""
    removed, ours = False, False
    done: set[str] = set()
    for entry in journal.entries():
        op = entry.get("op")
        if op == "begin":
            ours = entry.get("digest") == digest
            removed, done = False, set()
        elif ours and op == "removed":
            removed = True
        elif ours and op == "done":
            done.update(entry.get("dest", []))
    return removed, done


def _resume_mismatch(
    old: SplitManifest, raw: Path, mode: str, seed: int, spec: SplitSpec, include_invalid: bool
) -> str | None:
    """What differs between the arguments of an interrupted split and those of its --resume."""
    recorded = {"raw": old.raw, "mode": old.mode, "seed": old.plan.seed, "spec": old.plan.spec.to_dict(),
                "include_invalid": old.include_invalid}  # fmt: skip
    asked = {"raw": str(raw), "mode": mode, "seed": seed, "spec": spec.to_dict(), "include_invalid": include_invalid}
    names = {
        "raw": "RAW",
        "mode": "--mode",
        "seed": "--seed",
        "spec": "--val/--test/--train/--on-conflict",
        "include_invalid": "--include-invalid",
    }
    for key, value in asked.items():
        if recorded[key] != value:
            return f"{names[key]} was {recorded[key]!r} (now {value!r})"
    return None


def _require_same_filesystem(raw: Path, out: Path) -> None:
    probe = out
    while not probe.exists():
        probe = probe.parent
    if os.stat(raw).st_dev != os.stat(probe).st_dev:
        raise DataprepError(
            f"--mode hardlink needs RAW and OUT on one filesystem ('{raw}' and '{out}' are not); use --mode copy or symlink"
        )
