"""`dataprep validate` on millions of files in memory that does not grow with the dataset.

`validate()` (the Python API that clean, split, duplicates and stats call) returns every result
in memory: about 2 KB per file. The validate command does not need that: `validate_streamed`
writes the walk, the results and the report's inputs to a run file (SQLite, in the temp folder,
removed at the end) as they arrive, and the summary, `--json` and `--csv` are written from there:

1. The walk (`scan.walk_scan`) streams every file and problem into the run file; only the class
   folders seen stay in memory.
2. Images are inspected in chunks of CHUNK, in natural order, each chunk through validate's own
   `inspect_scan` (the cache, the engine, content junk: the same code as `validate()`), its
   results written to the run file. One pool (or one Ray session) per chunk, so the engines'
   per-file bookkeeping stays bounded too.
3. Dataset findings from SQL over the run file: odd_size against the median side (ORDER BY ...
   OFFSET), exact duplicates by sha256 (GROUP BY), in the order `validate()` adds them.
4. The report: counts by GROUP BY, the worst files by ORDER BY ... LIMIT, findings streamed in
   natural order (`natural_sort_bytes` keys) into the JSON document and the CSV.

The output is byte for byte the in-memory report's (tests/test_validate_stream.py).
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from dataprep import validate as _validate
from dataprep.checks import Check, finding
from dataprep.findings import Finding, Severity
from dataprep.report import REPORT_VERSION, FileResult, ValidateSummary
from dataprep.scan import (
    FileRecord,
    Layout,
    Scan,
    ScanProblem,
    class_folder,
    empty_classes,
    junk_reason,
    natural_sort_bytes,
    open_scan,
    walk_scan,
)
from dataprep.validate import (
    _SIZE_SPOKEN_FOR,
    ODD_SIZE_MIN_IMAGES,
    ValidateOptions,
    _junk_result,
    _problem_result,
)

CHUNK = 50_000  # images inspected per engine run: bounds the engines' per-file bookkeeping (~30 MB)
WRITE_BATCH = 2_000  # rows per insert
IMAGE, JUNK, PROBLEM = 0, 1, 2  # a result's group: the tie-break order of `validate()`'s results


def _blob(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _text(blob: bytes) -> str:
    return blob.decode("utf-8", "surrogateescape")


def _worst(result: FileResult) -> int:
    """0 without findings, else 1 + the worst severity's rank (SQL orders and filters on it)."""
    w = result.worst
    return 0 if w is None else 1 + w.rank


class RunStore:
    """One validate run on disk: the files found and a result per file (SQLite, temp folder)."""

    def __init__(self, directory: Path | None = None) -> None:
        fd, name = tempfile.mkstemp(prefix="dataprep-validate-", suffix=".sqlite3", dir=directory)
        os.close(fd)
        self.path = Path(name)
        self.db = sqlite3.connect(name)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-16000", "temp_store=FILE"):
            self.db.execute(f"PRAGMA {pragma}")  # a scratch file: rebuilt by re-running, never recovered
        self.db.execute(
            "CREATE TABLE files (seq INTEGER PRIMARY KEY, sort BLOB, junk INTEGER, path BLOB, rel BLOB,"
            " label BLOB, split BLOB, size INTEGER, mtime_ns INTEGER)"
        )
        self.db.execute(
            "CREATE TABLE results (sort BLOB, grp INTEGER, seq INTEGER, rel BLOB, worst INTEGER, sha256 TEXT,"
            " side REAL, result TEXT)"
        )

    def add_files(self, records: list[tuple[int, FileRecord]]) -> None:
        self.db.executemany(
            "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (seq, natural_sort_bytes(r.rel), 1 if junk_reason(r.name) else 0, os.fsencode(r.path), _blob(r.rel),
                 None if r.label is None else _blob(r.label), None if r.split is None else _blob(r.split),
                 r.size, r.mtime_ns)
                for seq, r in records
            ],
        )  # fmt: skip

    def add_results(self, rows: list[tuple[int, int, FileResult]]) -> None:
        """(group, seq, result) rows; images also keep what the dataset findings need."""
        self.db.executemany(
            "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (natural_sort_bytes(r.rel), grp, seq, _blob(r.rel), _worst(r),
                 r.sha256 if grp == IMAGE and r.sha256 is not None and r.size > 0 else None,
                 _odd_size_side(r) if grp == IMAGE else None, json.dumps(r.to_cache()))
                for grp, seq, r in rows
            ],
        )  # fmt: skip

    def files(self, junk: bool) -> Iterator[list[tuple[int, FileRecord]]]:
        """The images (or the junk by name) in natural order, CHUNK at a time."""
        last: tuple[bytes, int] = (b"", -1)
        while True:
            rows = self.db.execute(
                "SELECT seq, sort, path, rel, label, split, size, mtime_ns FROM files"
                " WHERE junk = ? AND (sort, seq) > (?, ?) ORDER BY sort, seq LIMIT ?",
                (1 if junk else 0, *last, CHUNK),
            ).fetchall()
            if not rows:
                return
            last = (rows[-1][1], rows[-1][0])
            yield [
                (seq, FileRecord(Path(os.fsdecode(path)), _text(rel), None if label is None else _text(label),
                                 None if split is None else _text(split), size, mtime_ns))
                for seq, _, path, rel, label, split, size, mtime_ns in rows
            ]  # fmt: skip

    def results(self, where: str = "", params: tuple[Any, ...] = ()) -> Iterator[FileResult]:
        """Every result (or those matching `where`) in the report's order, read as it goes."""
        cursor = self.db.execute(f"SELECT rel, result FROM results {where} ORDER BY sort, grp, seq", params)
        while rows := cursor.fetchmany(WRITE_BATCH):
            for rel, text in rows:
                yield FileResult.from_cache(_text(rel), json.loads(text))

    def add_finding(self, rowids: list[int], make: Callable[[int, FileResult], Finding]) -> None:
        """Append `make(rowid, result)` to each result's findings, updating its worst severity."""
        for start in range(0, len(rowids), WRITE_BATCH):
            batch = rowids[start : start + WRITE_BATCH]
            marks = ",".join("?" * len(batch))
            rows = self.db.execute(f"SELECT rowid, rel, result FROM results WHERE rowid IN ({marks})", batch).fetchall()
            updates = []
            for rowid, rel, text in rows:
                r = FileResult.from_cache(_text(rel), json.loads(text))
                r.findings.append(make(rowid, r))
                updates.append((_worst(r), json.dumps(r.to_cache()), rowid))
            self.db.executemany("UPDATE results SET worst = ?, result = ? WHERE rowid = ?", updates)

    def close(self) -> None:
        self.db.close()
        self.path.unlink(missing_ok=True)


def _odd_size_side(r: FileResult) -> float | None:
    """sqrt(width * height) of an image odd_size judges (`validate._add_odd_size`), else None."""
    if r.properties and r.width and r.height and not any(f.check in _SIZE_SPOKEN_FOR for f in r.findings):
        return float((r.width * r.height) ** 0.5)
    return None


@dataclass
class StreamedReport:
    """What `validate()`'s Report says, read from the run file instead of memory."""

    root: Path
    layout: Layout
    store: RunStore
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
        from dataprep.journal import TMP_PREFIX, fsync_dir, make_dirs

        make_dirs(path.parent)
        tmp = path.parent / f"{TMP_PREFIX}{os.getpid()}-{path.name}"
        try:
            with open(tmp, "w", encoding="utf-8", errors="backslashreplace", newline="") as fh:
                writer = csv.writer(fh, lineterminator="\n")
                writer.writerow(["path", "check", "severity", "detail"])
                for f in self.findings():
                    writer.writerow([f.path, f.check, f.severity.value, f.detail])
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(path.parent)

    def scan_for_message(self) -> Scan:
        """The junk and problems as a Scan, for `no_images_message` (a run without images)."""
        scan = Scan(root=self.root, layout=self.layout)
        for r in self.store.results("WHERE grp = ?", (JUNK,)):
            scan.junk.append(FileRecord(self.root / r.rel, r.rel, None, None, r.size, r.mtime_ns))
        for r in self.store.results("WHERE grp = ?", (PROBLEM,)):
            scan.problems.extend(ScanProblem(f.path, f.check, f.detail) for f in r.findings)
        return scan


def _json(value: Any, indent: int = 0) -> str:
    """`value` as `json.dump(..., indent=2)` writes it `indent` spaces deep."""
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + " " * indent)


def validate_streamed(
    root: str | os.PathLike[str], options: ValidateOptions | None = None, store_dir: Path | None = None
) -> StreamedReport:
    """Validate `root` with every result on disk (see the module docstring). The caller closes
    `report.store` (which removes the run file)."""
    opts = options or ValidateOptions()
    started = time.perf_counter()
    scan = open_scan(root, opts.layout)
    store = RunStore(store_dir)
    try:
        images, junk, cached, inspected = _fill(store, scan, opts)
        (files,) = store.db.execute("SELECT COUNT(*) FROM results").fetchone()
    except BaseException:
        store.close()
        raise
    return StreamedReport(
        root=scan.root, layout=scan.layout, store=store, files=files, images=images, junk=junk, cached=cached,
        inspected=inspected, seconds=time.perf_counter() - started,
    )  # fmt: skip


def _fill(store: RunStore, scan: Scan, opts: ValidateOptions) -> tuple[int, int, int, int]:
    """Walk, inspect and judge into `store`: (images, junk, cached, inspected)."""
    with_images: set[str] = set()
    problem_classes: set[str] = set()
    batch: list[tuple[int, FileRecord]] = []
    problems: list[tuple[int, int, FileResult]] = []
    count = 0
    for seq, item in enumerate(walk_scan(scan)):
        if isinstance(item, ScanProblem):
            problem_classes.add(class_folder(item.rel.rstrip("/"), scan.layout))
            problems.append((PROBLEM, seq, _problem_result(item)))
            if len(problems) >= WRITE_BATCH:
                store.add_results(problems)
                problems = []
            continue
        count += 1
        if not junk_reason(item.name):
            with_images.add(class_folder(item.rel, scan.layout))
        batch.append((seq, item))
        if len(batch) >= WRITE_BATCH:
            store.add_files(batch)
            batch = []
    store.add_files(batch)
    problems += [
        (PROBLEM, count + k, _problem_result(p))
        for k, p in enumerate(empty_classes(scan, with_images, problem_classes))
    ]
    store.add_results(problems)
    store.db.execute("CREATE INDEX files_order ON files (junk, sort, seq)")
    (total,) = store.db.execute("SELECT COUNT(*) FROM files WHERE junk = 0").fetchone()

    images = junk = cached = inspected = done = 0
    with _engine_session(opts):
        for chunk in store.files(junk=False):
            part = Scan(
                root=scan.root, layout=scan.layout, images=[rec for _, rec in chunk], split_folders=scan.split_folders
            )
            seq_of = {rec.rel: seq for seq, rec in chunk}
            chunk_opts = _chunk_progress(opts, done, len(chunk), total)
            results, known, fresh = _validate.inspect_scan(part, chunk_opts)  # looked up here: one place to patch
            store.add_results([(JUNK if r.rel in part.content_junk else IMAGE, seq_of[r.rel], r) for r in results])
            images, junk = images + len(part.images), junk + len(part.junk)
            cached, inspected, done = cached + known, inspected + fresh, done + len(chunk)
    for chunk in store.files(junk=True):
        store.add_results([(JUNK, seq, _junk_result(scan, rec)) for seq, rec in chunk])
        junk += len(chunk)
    store.db.execute("CREATE INDEX results_order ON results (sort, grp, seq)")
    store.db.execute("CREATE INDEX results_worst ON results (worst, rel)")
    if opts.image_properties:
        _add_odd_size(store, opts.quality.odd_size)
    _add_duplicates(store)
    store.db.commit()
    return images, junk, cached, inspected


def _engine_session(opts: ValidateOptions) -> AbstractContextManager[Any]:
    """One Ray session for every chunk (a private Ray starts once), or nothing for the local pool."""
    if opts.engine != "ray":
        return nullcontext()
    from dataprep.ray_engine import ray_session

    return ray_session(opts.ray_address, num_cpus=opts.jobs or None)


def _chunk_progress(opts: ValidateOptions, done: int, size: int, total: int) -> ValidateOptions:
    """Options whose progress callback counts over the whole run, not the chunk."""
    progress = opts.progress
    if progress is None:
        return opts

    def update(fresh: int, todo: int) -> None:
        progress(done + (size - todo) + fresh, total)

    return replace(opts, progress=update)


def _add_odd_size(store: RunStore, factor: float) -> None:
    """`validate._add_odd_size` in SQL: the median side by ORDER BY ... OFFSET, then the outliers."""
    (n,) = store.db.execute("SELECT COUNT(*) FROM results WHERE side IS NOT NULL").fetchone()
    if n < ODD_SIZE_MIN_IMAGES:
        return
    middle = store.db.execute(
        "SELECT side FROM results WHERE side IS NOT NULL ORDER BY side LIMIT ? OFFSET ?",
        (2 - n % 2, (n - 1) // 2),
    ).fetchall()
    median = sum(side for (side,) in middle) / len(middle)
    rowids = [
        rowid for (rowid,) in store.db.execute(
            "SELECT rowid FROM results WHERE side IS NOT NULL AND (side > ? OR side * ? < ?)",
            (factor * median, factor, median),
        ).fetchall()
    ]  # fmt: skip

    def odd(_: int, r: FileResult) -> Finding:
        assert r.width and r.height
        side = (r.width * r.height) ** 0.5
        word = "larger" if side > median else "smaller"
        return finding(r.rel, Check.ODD_SIZE, (
            f"{r.width}x{r.height}: about {max(side / median, median / side):.0f}x {word} than the dataset's "
            f"median image ({median:.0f} px a side; threshold {factor:g}x)"
        ))  # fmt: skip

    store.add_finding(rowids, odd)


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
