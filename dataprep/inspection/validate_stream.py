"""validate's one implementation: a folder's walk, results and dataset findings in a run file on disk.

`validate_streamed` writes the walk, the results and the report's inputs to a run file (SQLite, in
the temp folder, removed at the end) as they arrive, so its memory does not grow with the dataset;
the validate command writes the summary, `--json` and `--csv` from there, and `validate()` (the
Python API) reads the finished run back into a Report (`StreamedReport.to_report`):

1. The walk (`scan.walk_scan`) streams every file and problem into the run file; only the class
   folders seen stay in memory.
2. The cache is attached to the run file and every unchanged image's row copied over in one SQL
   join (`RunStore.fill_from_cache`: no result is read into Python); what it lacks goes to a `todo`
   table, and one engine run (the local pool or Ray, `engines.result_stream`) inspects it,
   indexing the records straight from the run file (`TodoRecords`); each result goes to the run
   file and the cache as it arrives.
   The per-file rules and the inspect loop are in `dataprep.inspection.validate_files` (`inspect_todo`,
   `content_junk_reason`, `junk_result`).
3. The dataset findings, written only here, in SQL over the run file: odd_size against the median
   side (ORDER BY ... OFFSET), exact duplicates by sha256 (GROUP BY).
4. The report: counts by GROUP BY, the worst files by ORDER BY ... LIMIT, findings streamed in
   natural order (`natural_sort_bytes` keys) into the JSON document and the CSV; the same order
   `to_report` reads the results in (tests/test_validate_stream.py).
"""

from __future__ import annotations

import csv
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple, overload

from dataprep.base.errors import Interrupted
from dataprep.base.findings import Finding, Severity
from dataprep.inspection.cache import CacheRow, ResultCache, fingerprint
from dataprep.inspection.checks import CHECKS_VERSION, Check, finding
from dataprep.inspection.per_file import InspectFn, inspect_file
from dataprep.inspection.report import REPORT_VERSION, FileResult, Report, ValidateSummary
from dataprep.inspection.run_store import IMAGE, JUNK, PROBLEM, WRITE_BATCH, RunStore, _text
from dataprep.inspection.scan import (
    FileRecord,
    Layout,
    Scan,
    ScanProblem,
    class_folder,
    empty_classes,
    junk_reason,
    natural_key,
    open_scan,
    walk_scan,
)
from dataprep.inspection.validate_files import (
    JUNK_DETAIL,
    ODD_SIZE_MIN_IMAGES,
    ValidateOptions,
    inspect_todo,
    junk_result,
    problem_result,
)
from dataprep.split.manifest import link_targets

TODO_BLOCK, TODO_BLOCKS_KEPT = 512, 16  # records read from the run file at a time, and kept (~5 MB)


class RunFile(NamedTuple):
    """One file of a run (an image or junk) with its result, as the run file keeps it."""

    rowid: int  # its result's row in the run file
    record: FileRecord
    image: bool  # else junk (by its name, or by its content)
    junk_by_name: bool
    result_text: str

    def result(self) -> FileResult:
        return FileResult.from_cache(self.record.rel, json.loads(self.result_text))

    def content_junk_reason(self) -> str:
        """Why a file found to be junk by its content is junk (its one junk_file finding)."""
        (junk,) = self.result().findings
        return junk.detail.removesuffix(JUNK_DETAIL)


@dataclass
class StreamedReport:
    """What `validate()`'s Report says, read from the run file instead of memory."""

    root: Path
    layout: Layout
    store: RunStore
    scan: Scan  # the folder as opened (layout, split folders, trusted links): its files are in the store
    files: int
    images: int
    junk: int
    cached: int
    inspected: int
    seconds: float

    def counts_by_severity(self) -> dict[str, int]:
        rows = dict(self.store.db.execute("SELECT worst, COUNT(*) FROM results GROUP BY worst").fetchall())
        return {s.value: rows.get(1 + s.rank, 0) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)}

    def counts_by_check(self) -> dict[str, dict[str, Any]]:
        """Per check: its severity and how many files it flagged (one pass over the results)."""
        out: dict[str, dict[str, Any]] = {}
        for r in self.store.results("WHERE worst > 0"):
            for check in dict.fromkeys(f.check for f in r.findings):
                sev = next(f.severity.value for f in r.findings if f.check == check)
                out.setdefault(check, {"severity": sev, "files": 0})["files"] += 1
        order = sorted(out, key=lambda c: (-Severity(out[c]["severity"]).rank, -out[c]["files"], c))
        return {c: out[c] for c in order}

    def flagged_files(self) -> Iterator[FileResult]:
        """The result of every file (image or junk; not the walk's problems) with a finding, in the
        report's order: what `clean` chooses from, read as it goes."""
        return self.store.results("WHERE worst > 0 AND grp != ?", (PROBLEM,))

    def files_with_results(self) -> Iterator[RunFile]:
        """Every file (image or junk; not the walk's problems) in natural order, read as it goes."""
        rows = self.store.db.execute(
            "SELECT r.rowid, f.path, f.rel, f.label, f.split, f.size, f.mtime_ns, f.junk, r.grp, r.result FROM files f"
            " JOIN results r ON r.seq = f.seq AND r.grp != ? ORDER BY f.sort, f.seq",
            (PROBLEM,),
        )
        while batch := rows.fetchmany(WRITE_BATCH):
            for rowid, path, rel, label, split, size, mtime_ns, by_name, grp, text in batch:
                rec = FileRecord(Path(os.fsdecode(path)), _text(rel), None if label is None else _text(label),
                                 None if split is None else _text(split), size, mtime_ns)  # fmt: skip
                yield RunFile(rowid, rec, grp == IMAGE, bool(by_name), text)

    def classes(self) -> list[str]:
        """Class names of the images (folder names), natural-sorted (`Scan.classes`)."""
        rows = self.store.db.execute(
            "SELECT DISTINCT f.label FROM files f JOIN results r ON r.seq = f.seq AND r.grp = ? WHERE f.label IS NOT NULL",
            (IMAGE,),
        )
        return sorted((_text(label) for (label,) in rows), key=natural_key)

    def splits(self) -> list[str]:
        """The split folders holding images, as named on disk, in role order (`Scan.splits`)."""
        present = {
            _text(name)
            for (name,) in self.store.db.execute(
                "SELECT DISTINCT f.split FROM files f JOIN results r ON r.seq = f.seq AND r.grp = ?"
                " WHERE f.split IS NOT NULL",
                (IMAGE,),
            )
        }
        return [name for name in self.scan.split_folders.values() if name in present]

    def findings(self) -> Iterator[Finding]:
        for r in self.store.results("WHERE worst > 0"):
            yield from r.findings

    def has_findings_at_or_above(self, level: Severity | None) -> bool:
        if level is None:
            return False
        return (
            self.store.db.execute("SELECT 1 FROM results WHERE worst >= ? LIMIT 1", (1 + level.rank,)).fetchone()
            is not None
        )

    def summary(self, worst: int = 15) -> ValidateSummary:
        warn = 1 + Severity.WARNING.rank
        (bad,) = self.store.db.execute("SELECT COUNT(*) FROM results WHERE worst >= ?", (warn,)).fetchone()
        rows = self.store.db.execute(
            "SELECT rel, result FROM results WHERE worst >= ? ORDER BY worst DESC, rel LIMIT ?", (warn, worst)
        ).fetchall()
        has = self.store.db.execute("SELECT 1 FROM results WHERE worst > 0 LIMIT 1").fetchone() is not None
        return ValidateSummary(
            root=self.root, files=self.files, images=self.images, junk=self.junk, seconds=self.seconds,
            cached=self.cached, has_findings=has, counts=self.counts_by_severity(),
            checks=self.counts_by_check() if has else {}, bad_files=bad,
            worst_files=[FileResult.from_cache(_text(rel), json.loads(text)) for rel, text in rows],
        )  # fmt: skip

    def write_json(self, out: IO[str]) -> None:
        """The JSON document `validate --json` prints (`Report.to_dict()`, indent 2), written as
        the findings are read: never the whole document in memory."""
        head = {
            "version": REPORT_VERSION, "root": str(self.root), "files": self.files, "images": self.images,
            "junk": self.junk, "files_by_worst_severity": self.counts_by_severity(), "checks": self.counts_by_check(),
        }  # fmt: skip
        tail = {"cache": {"reused": self.cached, "inspected": self.inspected}, "seconds": round(self.seconds, 3)}
        out.write("{")
        for key, value in head.items():
            out.write(f"\n  {_json(key)}: {_json(value, 2)},")
        out.write('\n  "findings": ')
        first = True
        for f in self.findings():
            out.write("[\n    " if first else ",\n    ")
            out.write(_json(f.to_dict(), 4))
            first = False
        out.write("[]," if first else "\n  ],")
        out.write(",".join(f"\n  {_json(key)}: {_json(value, 2)}" for key, value in tail.items()))
        out.write("\n}\n")

    def write_csv(self, path: Path) -> None:
        """Every finding as path,check,severity,detail (`Report.to_csv()`), through a temporary
        file and a rename."""
        from dataprep.base.journal import atomic_file

        with atomic_file(path, "w", encoding="utf-8", errors="backslashreplace", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["path", "check", "severity", "detail"])
            for f in self.findings():
                writer.writerow([f.path, f.check, f.severity.value, f.detail])

    def scan_for_message(self) -> Scan:
        """The junk and problems as a Scan, for `no_images_message` (a run without images)."""
        scan = Scan(root=self.root, layout=self.layout)
        for r in self.store.results("WHERE grp = ?", (JUNK,)):
            scan.junk.append(FileRecord(self.root / r.rel, r.rel, None, None, r.size, r.mtime_ns))
        scan.problems = self.problems()
        return scan

    def problems(self) -> list[ScanProblem]:
        return [
            ScanProblem(f.path, f.check, f.detail)
            for r in self.store.results("WHERE grp = ?", (PROBLEM,))
            for f in r.findings
        ]

    def to_report(self) -> Report:
        """The whole run read back into memory: `validate()`'s Report (every result, the scan with its
        images, junk by name or by content, and problems), in the same order."""
        opened = self.scan
        scan = Scan(root=self.root, layout=self.layout, split_folders=opened.split_folders, trusted=opened.trusted)
        for file in self.files_with_results():
            if file.image:
                scan.images.append(file.record)
                continue
            scan.junk.append(file.record)
            if not file.junk_by_name:  # junk by its content: the reason is in its junk_file finding
                scan.content_junk[file.record.rel] = file.content_junk_reason()
        scan.problems = self.problems()
        return Report(
            root=self.root, scan=scan, results=list(self.store.results()), cached=self.cached,
            inspected=self.inspected, seconds=self.seconds,
        )  # fmt: skip


def _json(value: Any, indent: int = 0) -> str:
    """`value` as `json.dump(..., indent=2)` writes it `indent` spaces deep."""
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + " " * indent)


def validate_streamed(
    root: str | os.PathLike[str],
    options: ValidateOptions | None = None,
    store_dir: Path | None = None,
    inspect: InspectFn = inspect_file,
    keep_hashes: bool = False,
    near_columns: bool = False,
) -> StreamedReport:
    """Validate `root` with every result on disk (see the module docstring). The caller closes
    `report.store` (which removes the run file). With `engine="ray"`, Ray starts (or is reached)
    while the folder is walked and the cache read, as soon as one file is not in the cache; a
    run served from the cache never starts it. `inspect`: the per-file function
    (benchmarks pass a stand-in). `keep_hashes`: keep each result whole (`to_report`); `near_columns`:
    keep what duplicate search reads in columns of its own (`RunStore.hashed_rows`)."""
    opts = options or ValidateOptions()
    started = time.perf_counter()
    scan = open_scan(root, opts.layout, link_targets(root))
    store = RunStore(store_dir, keep_hashes, near_columns)
    try:
        stop = threading.Event()
        with _engine_session(opts, lambda needed: _walk(store, scan, opts, stop, needed), stop) as known:
            images, junk, cached, inspected = inspect_run(store, scan, opts, known, inspect)
        store.copy_sort_keys()
        store.db.execute("CREATE INDEX results_order ON results (sort, grp, seq)")
        store.db.execute("CREATE INDEX results_worst ON results (worst, rel)")
        if opts.image_properties:
            _add_odd_size(store, opts.quality.odd_size)
        _add_duplicates(store)
        store.db.commit()
        (files,) = store.db.execute("SELECT COUNT(*) FROM results").fetchone()
    except BaseException:
        store.close()
        raise
    return StreamedReport(
        root=scan.root, layout=scan.layout, store=store, scan=scan, files=files, images=images, junk=junk, cached=cached,
        inspected=inspected, seconds=time.perf_counter() - started,
    )  # fmt: skip


def _walk(store: RunStore, scan: Scan, opts: ValidateOptions, stop: threading.Event, needed: Callable[[], None]) -> int:
    """Stream the walk into `store` (files, problems, empty classes), then read the cache: what it
    holds goes to the results, the rest to the `todo` table (`needed()` is called when the first
    file goes there). Returns how many came from the cache."""
    with_images: set[str] = set()
    problem_classes: set[str] = set()
    batch: list[tuple[int, FileRecord]] = []
    problems: list[tuple[int, int, FileResult]] = []
    walked = 0
    for seq, item in enumerate(walk_scan(scan)):
        walked = seq + 1
        if stop.is_set():  # the run was stopped (Ctrl-C while Ray started): no need to finish
            raise Interrupted("stopped while listing the folder; nothing was inspected")
        if isinstance(item, ScanProblem):
            problem_classes.add(class_folder(item.rel.rstrip("/"), scan.layout))
            problems.append((PROBLEM, seq, problem_result(item)))
            if len(problems) >= WRITE_BATCH:
                store.add_results(problems)
                problems = []
            continue
        if not junk_reason(item.name):
            with_images.add(class_folder(item.rel, scan.layout))
        batch.append((seq, item))
        if len(batch) >= WRITE_BATCH:
            store.add_files(batch)
            batch = []
    store.add_files(batch)
    found = empty_classes(scan, with_images, problem_classes)
    store.add_results(problems + [(PROBLEM, walked + k, problem_result(p)) for k, p in enumerate(found)])
    store.db.execute("CREATE INDEX files_order ON files (junk, sort, seq)")
    store.db.execute("CREATE TABLE todo (pos INTEGER PRIMARY KEY, seq INTEGER)")
    cache = _cache(opts)
    try:
        known = store.fill_from_cache(cache) if cache else 0
    finally:
        if cache:
            cache.close()
    store.db.execute(
        "INSERT INTO todo (seq) SELECT seq FROM files WHERE junk = 0 AND seq NOT IN (SELECT seq FROM results)"
        " ORDER BY sort, seq"
    )
    if store.db.execute("SELECT 1 FROM todo LIMIT 1").fetchone():
        needed()  # a file to inspect: Ray (if asked for) is started now, not for a cached re-run
    for chunk in store.files(junk=True):
        store.add_results([(JUNK, seq, junk_result(rec, junk_reason(rec.name) or "")) for seq, rec in chunk])
    store.db.commit()
    return known


def _cache(opts: ValidateOptions) -> ResultCache | None:
    key = f"checks={CHECKS_VERSION};{fingerprint(opts.check_options)}"
    return ResultCache(opts.cache_dir, key) if opts.use_cache else None


class TodoRecords(Sequence[FileRecord]):
    """The images still to inspect, read from the run file by position: the engines index the
    records they are given, and this way none of them sits in memory."""

    def __init__(self, store: RunStore) -> None:
        self.db = store.db
        (self.size,) = self.db.execute("SELECT COUNT(*) FROM todo").fetchone()
        self._blocks: dict[int, list[tuple[int, FileRecord]]] = {}

    def __len__(self) -> int:
        return int(self.size)

    @overload
    def __getitem__(self, index: int) -> FileRecord: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[FileRecord]: ...
    def __getitem__(self, index: int | slice) -> FileRecord | Sequence[FileRecord]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self.entry(index)[1]

    def entry(self, index: int) -> tuple[int, FileRecord]:
        """(seq, record) of the todo entry at `index`, read with its neighbours: the engines ask
        for records roughly in order, each twice (to send it, and when its result is back)."""
        if not 0 <= index < len(self):
            raise IndexError(index)
        block = index // TODO_BLOCK
        rows = self._blocks.get(block)
        if rows is None:
            folders: dict[bytes, Path] = {}  # a record's Path is its folder's joined with its name
            rows = []
            for seq, path, rel, label, split, size, mtime_ns in self.db.execute(
                "SELECT f.seq, path, rel, label, split, size, mtime_ns FROM todo JOIN files f ON f.seq = todo.seq"
                " WHERE pos > ? AND pos <= ? ORDER BY pos",
                (block * TODO_BLOCK, (block + 1) * TODO_BLOCK),
            ):
                head, name = os.path.split(path)
                folder = folders.get(head)
                if folder is None:
                    folder = folders[head] = Path(os.fsdecode(head))
                rows.append(
                    (seq, FileRecord(folder / os.fsdecode(name), _text(rel), None if label is None else _text(label),
                                     None if split is None else _text(split), size, mtime_ns))
                )  # fmt: skip
            self._blocks[block] = rows
            if len(self._blocks) > TODO_BLOCKS_KEPT:
                del self._blocks[next(iter(self._blocks))]  # the oldest read
        return rows[index - block * TODO_BLOCK]


def inspect_run(
    store: RunStore, scan: Scan, opts: ValidateOptions, known: int, inspect: InspectFn = inspect_file
) -> tuple[int, int, int, int]:
    """Inspect the todo images on the chosen engine, one engine run for all of them, writing each
    result to the run file and the cache as it arrives: (images, junk, cached, inspected).

    An interrupted run (Ctrl-C, SIGTERM: `Interrupted`, exit 130) keeps what it finished in the
    cache, and the next run reuses it, as `validate()` does."""
    todo = TodoRecords(store)
    cache = _cache(opts)
    rows: list[tuple[int, CacheRow]] = []

    def record(index: int, result: FileResult, row: CacheRow) -> None:
        rows.append((todo.entry(index)[0], row))
        if len(rows) >= WRITE_BATCH:
            store.add_inspected(rows)
            rows.clear()

    try:
        inspected = inspect_todo(todo, opts, cache, known, record, inspect)
    finally:
        if cache:
            cache.close()
    store.add_inspected(rows)
    counts = dict(store.db.execute("SELECT grp, COUNT(*) FROM results GROUP BY grp").fetchall())
    return counts.get(IMAGE, 0), counts.get(JUNK, 0), known, inspected


@contextmanager
def _engine_session(
    opts: ValidateOptions, prepare: Callable[[Callable[[], None]], int], stop: threading.Event
) -> Iterator[int]:
    """Run `prepare(needed)` (the walk and the cache look-up). With `--engine ray` it runs in a
    thread, and this one starts (or reaches) Ray when `needed()` says a file must be inspected,
    so that the start-up overlaps the rest of the walk; a run served from the cache starts none.
    The Ray serves the whole run (`lazy_ray_session`)."""
    if opts.engine != "ray":
        yield prepare(lambda: None)
        return
    from dataprep.inspection.ray_engine import lazy_ray_session

    out: dict[str, Any] = {}
    needed, wake = threading.Event(), threading.Event()

    def need() -> None:
        needed.set()
        wake.set()

    def run() -> None:
        try:
            out["value"] = prepare(need)
        except BaseException as err:  # handed to the caller's thread below
            out["error"] = err
        finally:
            wake.set()

    worker = threading.Thread(target=run, name="dataprep-walk", daemon=True)
    worker.start()
    try:
        with lazy_ray_session(opts.ray_address, num_cpus=opts.jobs or None) as ray:
            wake.wait()
            if needed.is_set():
                ray.connect()  # in this (the main) thread, while the walk goes on
            worker.join()
            if "error" in out:
                raise out["error"]
            yield int(out["value"])
    except BaseException:
        stop.set()
        raise
    finally:
        worker.join()


def _add_odd_size(store: RunStore, factor: float) -> None:
    """odd_size (CleanVision's name): images whose side, sqrt(width * height), is `factor` times above or
    below the median side of the decoded images (`_odd_size_side`); the median by ORDER BY ... OFFSET.
    Needs at least ODD_SIZE_MIN_IMAGES images: a median of fewer says little about what is typical."""
    (n,) = store.db.execute("SELECT COUNT(*) FROM results WHERE side IS NOT NULL").fetchone()
    if n < ODD_SIZE_MIN_IMAGES:
        return
    middle = store.db.execute(
        "SELECT side FROM results WHERE side IS NOT NULL ORDER BY side LIMIT ? OFFSET ?",
        (2 - n % 2, (n - 1) // 2),
    ).fetchall()
    median = sum(side for (side,) in middle) / len(middle)
    store.db.execute(  # the outliers by rowid in a scratch table, read back a batch at a time
        "CREATE TEMP TABLE odd AS SELECT rowid AS id FROM results WHERE side IS NOT NULL AND (side > ? OR side * ? < ?)",
        (factor * median, factor, median),
    )

    def odd(_: int, r: FileResult) -> Finding:
        assert r.width and r.height
        side = (r.width * r.height) ** 0.5
        word = "larger" if side > median else "smaller"
        return finding(r.rel, Check.ODD_SIZE, (
            f"{r.width}x{r.height}: about {max(side / median, median / side):.0f}x {word} than the dataset's "
            f"median image ({median:.0f} px a side; threshold {factor:g}x)"
        ))  # fmt: skip

    cursor = store.db.execute("SELECT id FROM odd ORDER BY rowid")
    while rows := cursor.fetchmany(WRITE_BATCH):
        store.add_finding([rowid for (rowid,) in rows], odd)
    store.db.execute("DROP TABLE odd")


def _add_duplicates(store: RunStore) -> None:
    """Exact duplicates (same sha256): every member but the first in natural order names the first."""
    store.db.execute(
        "CREATE TEMP TABLE copies AS SELECT rowid AS id, sha256, rel FROM results WHERE sha256 IN"
        " (SELECT sha256 FROM results WHERE sha256 IS NOT NULL GROUP BY sha256 HAVING COUNT(*) > 1)"
        " ORDER BY sha256, sort, grp, seq"
    )
    cursor = store.db.execute("SELECT id, sha256, rel FROM copies ORDER BY rowid")
    group, first = "", ""
    copy_of: dict[int, str] = {}
    while rows := cursor.fetchmany(WRITE_BATCH):
        for rowid, sha, rel in rows:
            if sha != group:
                group, first = sha, _text(rel)
            else:
                copy_of[rowid] = first
        if len(copy_of) >= WRITE_BATCH:
            _mark_copies(store, copy_of)
            copy_of = {}
    _mark_copies(store, copy_of)
    store.db.execute("DROP TABLE copies")


def _mark_copies(store: RunStore, copy_of: dict[int, str]) -> None:
    store.add_finding(
        list(copy_of), lambda rowid, r: finding(r.rel, Check.DUPLICATE, f"same bytes as {copy_of[rowid]}")
    )
