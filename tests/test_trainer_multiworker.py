"""Two local workers on loopback train one model with MultiWorkerMirroredStrategy (TF_CONFIG)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_colour_split

pytest.importorskip("tensorflow")


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.mark.slow
def test_two_workers_on_loopback(tmp_path: Path) -> None:
    data = make_colour_split(tmp_path / "data", {"train": 8, "val": 4}, seed=2)
    run = tmp_path / "run"
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    procs = []
    for index in range(2):
        env = {
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "TF_CONFIG": json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}),
        }
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "trainer",
                    "fit",
                    str(data),
                    "--run-dir",
                    str(run),
                    "--epochs",
                    "2",
                    "--image-size",
                    "32",
                    "--batch-size",
                    "4",
                    "--augment",
                    "none",
                    "--json",
                ],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=400)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
        outputs.append((proc.returncode, out, err))
    for code, _out, err in outputs:
        assert code == 0, err[-3000:]
    chief = json.loads(outputs[0][1][outputs[0][1].index("{\n") :])
    assert chief["epochs_run"] == 2
    config = json.loads((run / "config.json").read_text())
    assert config["resolved"]["strategy"] == "MultiWorkerMirroredStrategy"
    assert config["resolved"]["workers"] == 2 and config["resolved"]["replicas"] == 2
    assert (run / "model.keras").is_file() and (run / "metrics.json").is_file()
    assert not any(p.name.startswith(".run.worker") for p in tmp_path.iterdir())  # worker scratch removed
