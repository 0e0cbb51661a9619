"""Coverage-guided fuzzing of validate's checks with atheris (optional; not a test dependency).

    pip install atheris
    .venv/bin/python tests/atheris_harness.py -atheris_runs=100000 [CORPUS_DIR ...]

Each input is handed to every registered check as a file's bytes, under every extension the
checks care about. The property: no check raises (a decoder's failure must be a finding).
TensorFlow is off by default (fast, in-process); set DATAPREP_FUZZ_TF=1 to include it. A crash
is written by libFuzzer as crash-*: copy it into fixtures/regressions/, named for what it broke.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from dataprep.inspection.checks import CheckOptions, Sample, run_checks

OPTIONS = CheckOptions(use_tf=os.environ.get("DATAPREP_FUZZ_TF") == "1")
NAMES = [Path(f"fuzz/input{ext}") for ext in (".jpg", ".png", ".gif", ".bmp", ".webp", ".tif")]


def test_one_input(data: bytes) -> None:
    if not data:
        return
    path = NAMES[data[0] % len(NAMES)]
    run_checks(Sample(path, path.as_posix(), OPTIONS, data=data[1:]))


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
