"""Fuzzing validate with damaged images (tests/fuzz.py): it never raises, always emits valid
JSON, calls `error` every file TensorFlow's decoder rejects, and whatever it passes decodes
in the trainer's pipeline. Mutants that once broke something live in fixtures/regressions/.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import fuzz
import pytest
from conftest import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataprep.base.findings import Severity
from dataprep.inspection.report import Report
from dataprep.inspection.validate import ValidateOptions, validate

REGRESSIONS = FIXTURES / "regressions"
SEEDS = fuzz.seed_images()
IN_PROCESS = ValidateOptions(jobs=0, use_cache=False)
_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]{6,}")
IMAGE_SIZE = 32  # small enough that the trainer's JPEG path also takes its reduced-scale branches


def tf_rejects(data: bytes) -> bool:
    """Whether TensorFlow's decoder, as validate's contract names it, refuses these bytes."""
    import tensorflow as tf

    try:
        tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.OpError, ValueError):
        return True
    return False


def trainer_decodes(data: bytes) -> str | None:
    """None when trainer/data.py's decode path reads the bytes, else its error."""
    import tensorflow as tf

    from trainer.data import decode_image

    try:
        decode_image(tf.constant(data), IMAGE_SIZE).numpy()
    except (tf.errors.OpError, ValueError) as err:
        return f"{type(err).__name__}: {err}"
    return None


def assert_report_keeps_the_contract(report: Report, folder: Path) -> None:
    """The properties every mutant must satisfy, whatever its bytes."""
    text = json.dumps(report.to_dict(), allow_nan=False)  # strict JSON: no NaN, no Infinity
    assert json.loads(text)["files"] == len(report.results)
    for result in report.results:
        checks = {f.check for f in result.findings}
        assert "inspection_failed" not in checks, result.findings  # a check raised: a bug
        assert not any(_ADDRESS.search(f.detail) for f in result.findings), result.findings  # same input, same report
        data = (folder / result.rel).read_bytes()
        if "pixel_limit" in checks:
            continue  # never handed to a decoder: it would try to allocate gigabytes
        if tf_rejects(data):
            assert result.worst == Severity.ERROR, (result.rel, result.findings)
        elif result.worst != Severity.ERROR:
            assert trainer_decodes(data) is None, (result.rel, result.findings, trainer_decodes(data))


def _validate_one(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "fuzz").mkdir()
        (folder / "fuzz" / name).write_bytes(data)
        report = validate(folder, IN_PROCESS)
        assert len(report.results) == 1
        assert_report_keeps_the_contract(report, folder)


mutants = st.tuples(
    st.sampled_from(sorted(SEEDS)),
    st.lists(st.sampled_from(sorted(fuzz.MUTATORS)), min_size=1, max_size=3),
    st.integers(0, 2**32 - 1),
)


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(mutants)
def test_validate_keeps_its_contract_on_mutants(mutant: tuple[str, list[str], int]) -> None:
    name, how, seed = mutant
    _validate_one(name, fuzz.apply(SEEDS[name], how, seed))


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutants)
def test_validate_keeps_its_contract_on_many_mutants(mutant: tuple[str, list[str], int]) -> None:
    name, how, seed = mutant
    _validate_one(name, fuzz.apply(SEEDS[name], how, seed))


@pytest.mark.parametrize("mutator", sorted(fuzz.MUTATORS))
@pytest.mark.parametrize("name", ["valid_baseline.jpg", "valid.png", "valid.gif", "valid_24bit.bmp", "valid.webp"])
def test_every_mutator_on_every_format(name: str, mutator: str) -> None:
    """Each mutator at least once on each format TensorFlow decodes (hypothesis may not pick all)."""
    _validate_one(name, fuzz.apply(SEEDS[name], [mutator], 7))


def test_truncation_at_every_structural_boundary() -> None:
    """A JPEG, a PNG and a GIF cut exactly where each marker segment or chunk begins and ends."""
    for name in ("valid_baseline.jpg", "valid.png", "valid.gif"):
        data = SEEDS[name]
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "fuzz").mkdir()
            for cut in fuzz.boundaries(data):
                (folder / "fuzz" / f"cut{cut:06d}-{name}").write_bytes(data[:cut])
            report = validate(folder, IN_PROCESS)
            assert_report_keeps_the_contract(report, folder)


def test_mutators_are_deterministic() -> None:
    for seed in range(20):
        assert fuzz.mutate(SEEDS["valid.png"], seed) == fuzz.mutate(SEEDS["valid.png"], seed)


def test_pooled_run_over_a_corpus_finishes_within_its_limits(tmp_path: Path) -> None:
    """One pooled run (per-file time limit, worker processes) over generated mutants: it
    finishes, gives every file a verdict, and agrees with the in-process run file for file."""
    fuzz.write_corpus(tmp_path / "corpus", 120, seed=3)
    pooled = validate(tmp_path / "corpus", ValidateOptions(jobs=2, timeout_s=30, use_cache=False))
    assert len(pooled.results) == 120
    assert_report_keeps_the_contract(pooled, tmp_path / "corpus")
    serial = validate(tmp_path / "corpus", IN_PROCESS)
    assert [f.to_dict() for f in pooled.findings] == [f.to_dict() for f in serial.findings]


# --- the regression corpus ------------------------------------------------------------------


def _regression_table() -> dict[str, set[str]]:
    text = (REGRESSIONS / "README.md").read_text(encoding="utf-8")
    table: dict[str, set[str]] = {}
    for line in text.splitlines():
        m = re.match(r"^\| `([^`]+)` \|.*\| ([^|]+) \|$", line)
        if m:
            cell = m.group(2).strip()
            table[m.group(1)] = set() if cell in ("—", "-") else {c.strip() for c in cell.split(",")}
    return table


def test_regression_readme_lists_every_file() -> None:
    on_disk = {p.name for p in REGRESSIONS.iterdir() if p.name != "README.md"}
    assert on_disk == set(_regression_table())


@pytest.mark.parametrize("name", sorted(_regression_table()))
def test_regression_mutant(tmp_path: Path, name: str) -> None:
    """Every mutant that ever broke validate: now it gets exactly its listed findings."""
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / name).write_bytes((REGRESSIONS / name).read_bytes())
    report = validate(tmp_path, IN_PROCESS)
    assert_report_keeps_the_contract(report, tmp_path)
    assert {f.check for f in report.results[0].findings} == _regression_table()[name]
