"""The embedding cache: a second `embed` over unchanged files computes nothing.

One SQLite file beside validate's result cache. A row is one file's vector for one network at
one image size, reused only while the file's size and mtime_ns are unchanged; the key names the
model, its weights' digest and the image size, so vectors of different networks never mix.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from dataprep.base.errors import DataprepError
from dataprep.inspection.cache import LOOKUP_BATCH, _path_key, default_cache_dir
from dataprep.inspection.scan import FileRecord

CACHE_FILE = "embeddings-v1.sqlite3"


def vector_key(model: str, weights_digest: str, image_size: int) -> str:
    """What must match for a cached vector to be reused, besides the file itself."""
    return f"{model};weights={weights_digest};size={image_size}"


class VectorCache:
    """Per-file float32 vectors keyed by (absolute path, key), valid while size and mtime_ns hold."""

    def __init__(self, directory: Path | None, key: str) -> None:
        self.directory = directory or default_cache_dir()
        self.key = key
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.directory / CACHE_FILE, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (path TEXT, key TEXT, size INTEGER, mtime_ns INTEGER,"
                " vector BLOB, PRIMARY KEY (path, key))"
            )
        except (OSError, sqlite3.Error) as err:
            raise DataprepError(
                f"cannot use cache folder '{self.directory}': {err}; pass --cache-dir PATH or --no-cache"
            ) from None

    def lookup(self, records: Iterable[FileRecord]) -> dict[str, np.ndarray]:
        """Cached vectors of the records whose file is unchanged, by `rel`."""
        by_key = {_path_key(rec.path): rec for rec in records}
        keys = list(by_key)
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), LOOKUP_BATCH):
            batch = keys[start : start + LOOKUP_BATCH]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT path, size, mtime_ns, vector FROM vectors WHERE key = ? AND path IN ({marks})",
                (self.key, *batch),
            ).fetchall()
            for path, size, mtime_ns, blob in rows:
                rec = by_key[path]
                if size == rec.size and mtime_ns == rec.mtime_ns:
                    found[rec.rel] = np.frombuffer(blob, dtype="<f4")
        return found

    def store(self, pairs: Iterable[tuple[FileRecord, np.ndarray]]) -> None:
        rows = [
            (_path_key(rec.path), self.key, rec.size, rec.mtime_ns, np.asarray(vec, dtype="<f4").tobytes())
            for rec, vec in pairs
        ]
        if rows:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?, ?)", rows)

    def close(self) -> None:
        self._db.close()
