"""Writes legacy (pre-1.6) torch `.pth` files without torch, for the restricted reader's tests.

The layout torch.save(..., _use_new_zipfile_serialization=False) writes: magic number, protocol
version and system info pickles, the state dict pickled with storages as persistent ids, the
list of storage keys, then each storage as an 8-byte element count and its raw bytes. Pickle
names globals by module and name, so stand-in `torch` modules are put in sys.modules while the
file is written; nothing of them is needed to read it back.
"""

from __future__ import annotations

import io
import pickle
import struct
import sys
import types
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_NAMES = {np.dtype("float32"): "FloatStorage", np.dtype("int64"): "LongStorage"}


class _Storage:
    def __init__(self, key: str, data: np.ndarray) -> None:
        self.key, self.data = key, data


class _Tensor:
    def __init__(self, storage: _Storage, shape: tuple[int, ...]) -> None:
        self.storage, self.shape = storage, shape

    def __reduce__(self) -> tuple[Any, ...]:
        stride = tuple(
            int(s // self.storage.data.itemsize) for s in np.empty(self.shape, self.storage.data.dtype).strides
        )
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2  # type: ignore[attr-defined]
        return (rebuild, (self.storage, 0, self.shape, stride, False, OrderedDict()))


def _fake_torch() -> dict[str, types.ModuleType]:
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: Any) -> None: ...

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    for name in STORAGE_NAMES.values():
        cls = type(name, (), {"__module__": "torch", "__qualname__": name})
        setattr(torch, name, cls)
    torch._utils = utils  # type: ignore[attr-defined]
    return {"torch": torch, "torch._utils": utils}


def legacy_pth_bytes(tensors: dict[str, np.ndarray], state_dict_payload: Any = None) -> bytes:
    """The bytes of a legacy .pth holding `tensors` (float32 or int64); `state_dict_payload`,
    when given, is pickled in place of the state dict (to plant something hostile)."""
    saved = {name: sys.modules.get(name) for name in ("torch", "torch._utils")}
    sys.modules.update(_fake_torch())
    try:
        out = io.BytesIO()
        for head in (MAGIC, 1001, {"protocol_version": 1001, "little_endian": True, "type_sizes": {}}):
            pickle.dump(head, out, protocol=2)
        storages: list[_Storage] = []
        state = OrderedDict()
        for i, (name, array) in enumerate(tensors.items()):
            storages.append(_Storage(str(1000 + i), np.ascontiguousarray(array).reshape(-1)))
            state[name] = _Tensor(storages[-1], tuple(array.shape))

        class Pickler(pickle.Pickler):
            def persistent_id(self, obj: Any) -> Any:
                if isinstance(obj, _Storage):
                    kind = getattr(sys.modules["torch"], STORAGE_NAMES[obj.data.dtype])
                    return ("storage", kind, obj.key, "cpu", obj.data.size, None)
                return None

        Pickler(out, protocol=2).dump(state if state_dict_payload is None else state_dict_payload)
        pickle.dump([s.key for s in storages], out, protocol=2)
        for s in storages:
            out.write(struct.pack("<q", s.data.size))
            out.write(s.data.astype(s.data.dtype.newbyteorder("<")).tobytes())
        return out.getvalue()
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def write_legacy_pth(path: Path, tensors: dict[str, np.ndarray], state_dict_payload: Any = None) -> Path:
    path.write_bytes(legacy_pth_bytes(tensors, state_dict_payload))
    return path
