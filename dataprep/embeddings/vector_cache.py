"""The embedding cache: a second `embed` over unchanged files computes nothing.

One SQLite file beside validate's result cache. A row is one file's vector for one network at
one image size, reused only while the file's size and mtime_ns are unchanged; the key names the
model, its weights' digest and the image size, so vectors of different networks never mix.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dataprep.inspection.cache import FileCache
from dataprep.inspection.scan import FileRecord


def vector_key(model: str, weights_digest: str, image_size: int) -> str:
    """What must match for a cached vector to be reused, besides the file itself."""
    return f"{model};weights={weights_digest};size={image_size}"


class VectorCache(FileCache):
    """Per-file float32 vectors keyed by (absolute path, key), valid while size and mtime_ns hold."""

    FILE = "embeddings-v1.sqlite3"
    TABLE = "vectors"
    VALUE = "vector BLOB"

    def lookup(self, records: Iterable[FileRecord]) -> dict[str, np.ndarray]:
        """Cached vectors of the records whose file is unchanged, by `rel`."""
        return {rec.rel: np.frombuffer(blob, dtype="<f4") for rec, blob in self._stored(records)}

    def store(self, pairs: Iterable[tuple[FileRecord, np.ndarray]]) -> None:
        self._store((rec.path, rec.size, rec.mtime_ns, np.asarray(vec, dtype="<f4").tobytes()) for rec, vec in pairs)
