"""The run folder: the names of the files in it, and loading a finished run back.

``runs/NAME/`` holds config.json (resolved), class_names.json, history.csv, curves.png,
metrics.json, model.keras (best epoch), confusion.png, logs/ (TensorBoard) and, while a run is
in progress, backup/ (what ``--resume`` continues from).
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from dataprep.base.errors import DataprepError

CONFIG = "config.json"
CLASS_NAMES = "class_names.json"
HISTORY = "history.csv"
CURVES = "curves.png"
METRICS = "metrics.json"
MODEL = "model.keras"
CONFUSION = "confusion.png"
LOGS = "logs"
BACKUP = "backup"
RUN_VERSION = 1


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename), so a killed run never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_history(path: Path) -> dict[str, list[float]]:
    """history.csv (written by keras.callbacks.CSVLogger) as columns; empty when missing."""
    if not path.is_file():
        return {}
    columns: dict[str, list[float]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for key, value in row.items():
                if key is None or value in (None, ""):
                    continue
                try:
                    columns.setdefault(key, []).append(float(value))
                except ValueError:
                    continue
    return columns


@dataclass
class LoadedRun:
    """A finished run, ready to answer: its best model, class names and input size."""

    path: Path
    model: keras.Model
    class_names: list[str]
    image_size: int
    config: dict[str, Any]


def load_run(run_dir: str | os.PathLike[str]) -> LoadedRun:
    """Load `run_dir` written by ``trainer fit``; one clear error when it is not a finished run."""
    path = Path(run_dir).expanduser()
    if not path.is_dir():
        raise DataprepError(
            f"no such run folder: '{run_dir}' (expected a folder written by 'trainer fit'); check the path"
        )
    model_file = path / MODEL
    names_file = path / CLASS_NAMES
    if not model_file.is_file() or not names_file.is_file():
        raise DataprepError(
            f"'{run_dir}' has no {MODEL} and {CLASS_NAMES} (expected a finished 'trainer fit' run); "
            "finish it with 'trainer fit DATA --run-dir RUN --resume'"
        )
    class_names = json.loads(names_file.read_text(encoding="utf-8"))
    config = json.loads((path / CONFIG).read_text(encoding="utf-8")) if (path / CONFIG).is_file() else {}
    model = keras.models.load_model(model_file)
    image_size = int(model.input_shape[1])
    return LoadedRun(path, model, list(class_names), image_size, config)


def read_config(run_dir: Path) -> dict[str, Any]:
    """config.json of a run folder; empty when missing or unreadable."""
    try:
        value = json.loads((run_dir / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
