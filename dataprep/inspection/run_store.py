"""The run file of one validate run: the files a walk found and one result per file (SQLite, temp folder).

`dataprep.inspection.validate_stream` writes it and reads the report from it; the dataset findings are SQL over
its `results` table. A scratch file: rebuilt by re-running, never recovered, removed at the end.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from dataprep.base.errors import DataprepError
from dataprep.base.findings import Finding
from dataprep.inspection.cache import CacheRow, ResultCache, path_key
from dataprep.inspection.report import FileResult
from dataprep.inspection.scan import FileRecord, junk_reason, natural_sort_bytes
from dataprep.inspection.validate_files import IMAGE, JUNK, PROBLEM, UNREPORTED, odd_size_side, worst_rank

__all__ = ["CHUNK", "IMAGE", "JUNK", "PROBLEM", "WRITE_BATCH", "RunStore"]

CHUNK = 10_000  # records read back from the run file at a time (cache look-ups, the junk by name)
WRITE_BATCH = 2_000  # rows per insert
SIGNATURE_HEAD = 160  # a signature's mirrored and cropped pHashes: 10 x 16 hex digits, before its thumbnails
HashedRow = tuple[int, str, str | None, str | None, bool, int, int]  # see `RunStore.hashed_rows`
# An image's columns for duplicate search, from its whole result (JSON) `{0}` (a store with `near_columns`)
_NEAR_COLUMNS = "json_extract({0}, '$.phash'), json_extract({0}, '$.pixel_hash'), json_extract({0}, '$.signature')"


def _blob(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _text(blob: bytes) -> str:
    return blob.decode("utf-8", "surrogateescape")


class RunStore:
    """One validate run on disk: the files found and a result per file (SQLite, temp folder)."""

    def __init__(self, directory: Path | None = None, keep_hashes: bool = False, near_columns: bool = False) -> None:
        self.keep_hashes = keep_hashes  # keep each result whole (validate()'s Report), not only what reports show
        self.near_columns = near_columns  # keep what duplicate search reads in columns of its own (`hashed_rows`)
        try:
            fd, name = tempfile.mkstemp(prefix="dataprep-validate-", suffix=".sqlite3", dir=directory)
        except OSError as err:
            raise DataprepError(
                f"cannot create validate's run file in '{directory or tempfile.gettempdir()}' ({err.strerror or err}); "
                "set TMPDIR to a writable folder with room (about 0.6 KB per file)"
            ) from None
        os.close(fd)
        self.path = Path(name)
        self.db = sqlite3.connect(name, check_same_thread=False)  # the walk may run beside Ray's start
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-16000", "temp_store=FILE"):
            self.db.execute(f"PRAGMA {pragma}")  # a scratch file: rebuilt by re-running, never recovered
        self.db.execute(
            "CREATE TABLE files (seq INTEGER PRIMARY KEY, sort BLOB, junk INTEGER, path BLOB, rel BLOB,"
            " label BLOB, split BLOB, size INTEGER, mtime_ns INTEGER, ckey TEXT)"
        )
        self.db.execute(
            "CREATE TABLE results (sort BLOB, grp INTEGER, seq INTEGER, rel BLOB, worst INTEGER, sha256 TEXT,"
            " side REAL, result TEXT, phash TEXT, pixel_hash TEXT, signature TEXT)"
        )

    def add_files(self, records: list[tuple[int, FileRecord]]) -> None:
        """Files of the walk; `ckey` is the file's key in the result cache (`dataprep.inspection.cache.path_key`)."""
        rows = []
        for seq, r in records:
            raw = os.fsencode(r.path)
            rows.append(
                (seq, natural_sort_bytes(r.rel), 1 if junk_reason(r.name) else 0, raw, _blob(r.rel),
                 None if r.label is None else _blob(r.label), None if r.split is None else _blob(r.split),
                 r.size, r.mtime_ns, path_key(raw))
            )  # fmt: skip
        self.db.executemany("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def fill_from_cache(self, cache: ResultCache) -> int:
        """Copy the cached result of every unchanged image (same path, size and mtime, same cache
        key) into `results`, in one SQL join with the cache attached: no result is read into Python.
        Returns how many were copied."""
        self.db.execute("ATTACH DATABASE ? AS cache", (str(cache.path),))
        try:
            near = _NEAR_COLUMNS.format("c.result") if self.near_columns else "NULL, NULL, NULL"
            copied = self.db.execute(
                "INSERT INTO results (sort, grp, seq, rel, worst, sha256, side, result, phash, pixel_hash, signature)"
                " SELECT NULL, c.grp, f.seq, f.rel, c.worst, c.sha256, c.side,"
                f" CASE WHEN ? AND c.grp = ? THEN c.result ELSE c.report END, {near}"
                " FROM files f JOIN cache.results c ON c.path = f.ckey"
                " WHERE f.junk = 0 AND c.key = ? AND c.size = f.size AND c.mtime_ns = f.mtime_ns AND c.report IS NOT NULL",
                (1 if self.keep_hashes else 0, IMAGE, cache.key),
            ).rowcount
            self.db.commit()
        finally:
            self.db.execute("DETACH DATABASE cache")
        return int(copied)

    def add_inspected(self, rows: list[tuple[int, CacheRow]]) -> None:
        """(seq, cache row) of freshly inspected images: the same columns `fill_from_cache` copies."""
        near = _NEAR_COLUMNS.format("?") if self.near_columns else "?, ?, ?"
        self.db.executemany(
            "INSERT INTO results (sort, grp, seq, rel, worst, sha256, side, result, phash, pixel_hash, signature)"
            f" SELECT NULL, ?, ?, rel, ?, ?, ?, ?, {near} FROM files WHERE seq = ?",
            [
                (r.group, seq, r.worst, r.sha256, r.side,
                 r.result if self.keep_hashes and r.group == IMAGE else r.report,
                 *((r.result,) * 3 if self.near_columns and r.group == IMAGE else (None,) * 3), seq)
                for seq, r in rows
            ],
        )  # fmt: skip

    def add_results(self, rows: list[tuple[int, int, FileResult]]) -> None:
        """(group, seq, result) rows; images also keep what the dataset findings need. A file's
        sort key is its files row's (`copy_sort_keys`), a problem's is made here."""
        near = self.near_columns
        self.db.executemany(
            "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (natural_sort_bytes(r.rel) if grp == PROBLEM else None, grp, seq, _blob(r.rel), worst_rank(r),
                 r.sha256 if grp == IMAGE and r.sha256 is not None and r.size > 0 else None,
                 odd_size_side(r) if grp == IMAGE else None, self.row_text(r),
                 *((r.phash, r.pixel_hash, r.signature) if near and grp == IMAGE else (None, None, None)))
                for grp, seq, r in rows
            ],
        )  # fmt: skip

    def copy_sort_keys(self) -> None:
        self.db.execute(
            "UPDATE results SET sort = (SELECT sort FROM files WHERE files.seq = results.seq) WHERE grp != ?",
            (PROBLEM,),
        )

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

    def hashed_rows(self, skip: Iterable[int] = ()) -> Iterator[HashedRow]:
        """What duplicate search reads of every image with content (a sha256; not `skip`'s row ids),
        in natural order (a store made with `near_columns`): (row id, rel, pHash, the signature's
        first `head` characters, whether it has a signature, the position of the first image with
        the same bytes, of the first with the same decoded pixels (-1 when unknown)). The
        firsts are SQL window functions over the run file, so no table of hashes is held here."""
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS skipped (id INTEGER PRIMARY KEY)")
        self.db.execute("DELETE FROM skipped")
        self.db.executemany("INSERT OR IGNORE INTO skipped VALUES (?)", ((i,) for i in skip))
        cursor = self.db.execute(
            "SELECT id, rel, phash, substr(signature, 1, ?), signature IS NOT NULL, MIN(n) OVER (PARTITION BY sha256),"
            " CASE WHEN pixel_hash IS NULL THEN -1 ELSE MIN(n) OVER (PARTITION BY pixel_hash) END FROM ("
            "  SELECT rowid AS id, rel, phash, pixel_hash, signature, sha256,"
            "   ROW_NUMBER() OVER (ORDER BY sort, grp, seq) - 1 AS n FROM results"
            "  WHERE grp = ? AND sha256 IS NOT NULL AND rowid NOT IN skipped"
            ") ORDER BY n",
            (SIGNATURE_HEAD, IMAGE),
        )
        while rows := cursor.fetchmany(WRITE_BATCH):
            for rowid, rel, phash, head, signed, first_bytes, first_pixels in rows:
                yield rowid, _text(rel), phash, head, bool(signed), first_bytes, first_pixels

    def signature(self, rowid: int) -> str | None:
        """The near-duplicate signature of one image (a store made with `near_columns`)."""
        row = self.db.execute("SELECT signature FROM results WHERE rowid = ?", (rowid,)).fetchone()
        return None if row is None else row[0]

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
                updates.append((worst_rank(r), self.row_text(r), rowid))
            self.db.executemany("UPDATE results SET worst = ?, result = ? WHERE rowid = ?", updates)

    def row_text(self, r: FileResult) -> str:
        """A result as the run file keeps it: what the report shows (findings, sizes), without the
        hashes and the near-duplicate signature (most of a result's bytes; the cache has them),
        unless the store keeps them for a Report in memory."""
        cached = r.to_cache()
        return json.dumps(cached if self.keep_hashes else {k: v for k, v in cached.items() if k not in UNREPORTED})

    def close(self) -> None:
        self.db.close()
        self.path.unlink(missing_ok=True)
