"""The result cache: a second validate over unchanged files decodes nothing.

One SQLite file under the user cache dir ($XDG_CACHE_HOME/dataprep, else ~/.cache/dataprep).
A row is keyed by the file's absolute path and is reused only when size, mtime_ns, the checks'
version and the check options all match. Nothing is ever written into the dataset folder.

Beside the result itself, a validate row holds what a validate run file keeps of it (`CacheRow`:
the group, worst severity, sha256, odd-size side and the reported text), so a re-run of an
unchanged folder copies its rows into the run file with one SQL join
(`dataprep.inspection.run_store.RunStore.fill_from_cache`), without reading a result into Python.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from dataprep.base.errors import DataprepError
from dataprep.inspection.report import FileResult
from dataprep.inspection.scan import FileRecord

LOOKUP_BATCH = 500  # paths per query; SQLite allows 32766 parameters


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dataprep"


def _path_key(path: Path) -> str:
    """The row key of a file: its absolute path, with bytes that are not UTF-8 (which SQLite
    text cannot hold) written as backslash escapes."""
    return path_key(os.fsencode(path))


def path_key(raw: bytes) -> str:
    """`_path_key` of a path already encoded (os.fsencode)."""
    return raw.decode("utf-8", "backslashreplace")


class FileCache:
    """One SQLite table of per-file values under the user cache dir: a row is keyed by the file's
    absolute path and a `key` (what else must match: the checks' version and options, the
    network), and is reused only while the file's size and mtime_ns are unchanged. Subclasses
    name the file, the table and its value column, and turn values to and from what is stored."""

    FILE: ClassVar[str]
    TABLE: ClassVar[str]
    VALUE: ClassVar[str]  # the value column, with its SQL type
    PRIMARY_KEY: ClassVar[str] = "path, key"
    SUPERSEDED: ClassVar[tuple[str, ...]] = ()  # earlier versions' files, removed when this one opens

    def __init__(self, directory: Path | None, key: str) -> None:
        self.directory = directory or default_cache_dir()
        self.key = key
        self._value = self.VALUE.split()[0]
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.directory / self.FILE, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {self.TABLE} (path TEXT, key TEXT, size INTEGER, mtime_ns INTEGER,"
                f" {self.VALUE}, PRIMARY KEY ({self.PRIMARY_KEY}))"
            )
        except (OSError, sqlite3.Error) as err:
            raise DataprepError(
                f"cannot use cache folder '{self.directory}': {err}; pass --cache-dir PATH or --no-cache"
            ) from None
        self._remove_superseded()

    def _remove_superseded(self) -> None:
        """An earlier version's cache file is never read again: it would only hold disk space."""
        for name in self.SUPERSEDED:
            for suffix in ("", "-wal", "-shm"):
                try:
                    (self.directory / (name + suffix)).unlink(missing_ok=True)
                except OSError:  # not ours to remove (permissions): harmless, left as it is
                    pass

    def _stored(self, records: Iterable[FileRecord]) -> Iterator[tuple[FileRecord, Any]]:
        """(record, stored value) for the records whose file is unchanged. Rows are fetched in
        batches (one query per LOOKUP_BATCH paths): a re-run over unchanged files is mostly this."""
        by_key = {_path_key(rec.path): rec for rec in records}
        keys = list(by_key)
        for start in range(0, len(keys), LOOKUP_BATCH):
            batch = keys[start : start + LOOKUP_BATCH]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT path, size, mtime_ns, {self._value} FROM {self.TABLE} WHERE key = ? AND path IN ({marks})",
                (self.key, *batch),
            ).fetchall()
            for path, size, mtime_ns, value in rows:
                rec = by_key[path]
                if size == rec.size and mtime_ns == rec.mtime_ns:
                    yield rec, value

    def _store(self, rows: Iterable[tuple[Path, int, int, Any]]) -> None:
        """Keep (path, size, mtime_ns, stored value) rows under this cache's key."""
        keyed = [(_path_key(path), self.key, size, mtime_ns, value) for path, size, mtime_ns, value in rows]
        if keyed:
            with self._db:
                self._db.executemany(
                    f"INSERT OR REPLACE INTO {self.TABLE} (path, key, size, mtime_ns, {self._value})"
                    " VALUES (?, ?, ?, ?, ?)",
                    keyed,
                )

    @property
    def path(self) -> Path:
        return self.directory / self.FILE

    def close(self) -> None:
        self._db.close()


class CacheRow(NamedTuple):
    """One inspection result as the validate cache keeps it: the result (`FileResult.to_cache()` as
    JSON) and the columns a validate run file copies (`dataprep.inspection.validate_files.cache_row`)."""

    result: str
    group: int  # image or junk by content (validate_files' IMAGE / JUNK)
    worst: int  # 0 without findings, else 1 + the worst severity's rank
    sha256: str | None
    side: float | None  # sqrt(width * height) where odd_size judges the image
    report: str  # the run file's text of the result: without hashes (for junk: the junk result)


class ResultCache(FileCache):
    """Per-file validate results, keyed by (path, size, mtime_ns, checks version, options); one
    row per path (a run with other options replaces it). The `result` column is what `lookup`
    reads; the others are what a validate run file copies (`CacheRow`)."""

    FILE = "results-v2.sqlite3"  # v2: the run-file columns beside each result
    SUPERSEDED = ("results-v1.sqlite3",)
    TABLE = "results"
    VALUE = "result TEXT, grp INTEGER, worst INTEGER, sha256 TEXT, side REAL, report TEXT"
    PRIMARY_KEY = "path"

    def lookup(self, records: Iterable[FileRecord]) -> dict[str, FileResult]:
        """Cached results for the records whose file is unchanged, by `rel`."""
        return {rec.rel: FileResult.from_cache(rec.rel, json.loads(value)) for rec, value in self._stored(records)}

    def store(self, pairs: Iterable[tuple[FileRecord, CacheRow]]) -> None:
        rows = [(_path_key(rec.path), self.key, rec.size, rec.mtime_ns, *row) for rec, row in pairs]
        if rows:
            with self._db:
                self._db.executemany(
                    f"INSERT OR REPLACE INTO {self.TABLE} (path, key, size, mtime_ns, result, grp, worst, sha256,"
                    " side, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )


def fingerprint(options: object) -> str:
    """`name=value;...` over a dataclass's fields, nested dataclasses inline: the part of the
    cache key that says which options produced a result. Derived from the fields themselves,
    so a new threshold cannot be left out of the key; a field that must not be part of it
    (judged after the cache, over the whole dataset) says so with `metadata={"cache_key": False}`."""
    parts = []
    for f in dataclasses.fields(options):  # type: ignore[arg-type]
        if not f.metadata.get("cache_key", True):
            continue
        value = getattr(options, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            parts.append(f"{f.name}=({fingerprint(value)})")
        else:
            parts.append(f"{f.name}={value!r}")
    return ";".join(parts)
