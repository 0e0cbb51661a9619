"""The images duplicate search reads, as a few columns instead of one object per file.

`HashedImages` holds, in natural path order, each image's path, its pHash with the mirrored and nine
cropped pHashes (one row of eleven 64-bit integers), and where its unit starts (the first image with
the same bytes, the first with the same decoded pixels): about 130 bytes an image. The 1.7 KB
near-duplicate signature (`NearSignature`: the thumbnails the verification compares) stays where it
was, in validate's run file or the caller's results, and is decoded only for the images a candidate
pair names (`signature`).

Two sources give the same columns: `from_run` reads a streamed validate run (made with
`near_columns`: the firsts come from SQL), `from_results` a list of `FileResult`s in memory (the
Python API, tests).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, overload

from dataprep.inspection.scan import natural_key

if TYPE_CHECKING:
    import numpy as np

    from dataprep.inspection.checks.image_properties import NearSignature
    from dataprep.inspection.report import FileResult
    from dataprep.inspection.validate_stream import StreamedReport

HASHES = 11  # per image: its pHash, the mirrored pHash and the nine cropped pHashes
_NO_HASHES = bytes(8 * HASHES)


class PathColumn(Sequence[str]):
    """Paths in one buffer of UTF-8 bytes with their offsets: ~25 bytes a path instead of a str's ~75."""

    def __init__(self, blob: bytes, ends: np.ndarray) -> None:
        self._blob = blob
        self._ends = ends

    def __len__(self) -> int:
        return len(self._ends)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(len(self)))]
        start = int(self._ends[index - 1]) if index > 0 else 0
        return self._blob[start : int(self._ends[index])].decode("utf-8", "surrogateescape")

    def __iter__(self) -> Iterator[str]:
        return (self[k] for k in range(len(self)))


@dataclass
class HashedImages:
    """Every image with content (a sha256 and at least one byte) in natural path order; an image
    is named by its position. See the module docstring."""

    paths: PathColumn
    hashes: np.ndarray  # uint64 (n, HASHES); zeros where unknown
    has_phash: np.ndarray  # bool
    has_signature: np.ndarray  # bool
    same_bytes: np.ndarray  # int64: the position of the first image with the same sha256
    same_pixels: np.ndarray  # int64: ... with the same decoded pixels (-1 when unknown)
    signature_text: Callable[[int], str | None]  # position -> the image's encoded NearSignature

    def __len__(self) -> int:
        return len(self.paths)

    def signature(self, k: int) -> NearSignature:
        from dataprep.inspection.checks.image_properties import NearSignature

        text = self.signature_text(k)
        if text is None:
            raise ValueError(f"{self.paths[k]!r} has no near-duplicate signature")
        return NearSignature.decode(text)

    @classmethod
    def from_run(cls, run: StreamedReport, skip: Iterable[int] = ()) -> HashedImages:
        """The images of a streamed validate run made with `near_columns`, but the row ids `skip`."""
        import numpy as np

        columns = _Columns()
        rowids = array("q")
        for rowid, rel, phash, head, signed, first_bytes, first_pixels in run.store.hashed_rows(skip):
            rowids.append(rowid)
            columns.add(rel, phash, head if signed else None, first_bytes, first_pixels)
        ids = np.frombuffer(rowids, dtype=np.int64) if rowids else np.zeros(0, dtype=np.int64)
        store = run.store
        return columns.images(lambda k: store.signature(int(ids[k])))

    @classmethod
    def from_results(cls, results: Iterable[FileResult]) -> HashedImages:
        """The images among `results` (held by the columns' signature look-up)."""
        from dataprep.inspection.run_store import SIGNATURE_HEAD

        items = sorted((r for r in results if r.sha256 is not None and r.size > 0), key=lambda r: natural_key(r.rel))
        columns = _Columns()
        firsts: tuple[dict[str, int], dict[str, int]] = ({}, {})
        for k, r in enumerate(items):
            first_bytes = firsts[0].setdefault(r.sha256 or "", k)
            first_pixels = -1 if r.pixel_hash is None else firsts[1].setdefault(r.pixel_hash, k)
            columns.add(
                r.rel, r.phash, r.signature[:SIGNATURE_HEAD] if r.signature else None, first_bytes, first_pixels
            )
        return columns.images(lambda k: items[k].signature)


class _Columns:
    """The columns of `HashedImages` as they are read, one image at a time."""

    def __init__(self) -> None:
        self.blob = bytearray()
        self.ends = array("q")
        self.hashes = bytearray()
        self.flags = bytearray()  # bit 0: a pHash; bit 1: a signature
        self.firsts = array("q")

    def add(self, rel: str, phash: str | None, head: str | None, first_bytes: int, first_pixels: int) -> None:
        self.blob += rel.encode("utf-8", "surrogateescape")
        self.ends.append(len(self.blob))
        # pHashes are 16 hex digits, big-endian (`image_properties._hash_bits`)
        whole = bytes.fromhex(phash) if phash else bytes(8)
        self.hashes += whole + (bytes.fromhex(head) if head else _NO_HASHES[8:])
        self.flags.append((1 if phash else 0) | (2 if head else 0))
        self.firsts += array("q", (first_bytes, first_pixels))

    def images(self, signature_text: Callable[[int], str | None]) -> HashedImages:
        import numpy as np

        n = len(self.ends)
        flags = np.frombuffer(bytes(self.flags), dtype=np.uint8)
        firsts = np.frombuffer(self.firsts, dtype=np.int64).reshape(n, 2) if n else np.zeros((0, 2), np.int64)
        return HashedImages(
            paths=PathColumn(bytes(self.blob), np.frombuffer(self.ends, dtype=np.int64) if n else np.zeros(0, np.int64)),
            hashes=np.frombuffer(bytes(self.hashes), dtype=">u8").astype(np.uint64).reshape(n, HASHES),
            has_phash=(flags & 1).astype(bool), has_signature=(flags & 2).astype(bool),
            same_bytes=firsts[:, 0].copy(), same_pixels=firsts[:, 1].copy(), signature_text=signature_text,
        )  # fmt: skip
