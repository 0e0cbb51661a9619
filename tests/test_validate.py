"""validate: every zoo file gets exactly its listed findings; JSON/CSV shapes; exit codes; cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ZOO, expected_zoo_findings, tree_digest
from typer.testing import CliRunner

from dataprep.base.findings import Severity
from dataprep.cli import app
from dataprep.inspection.report import Report
from dataprep.inspection.validate import ValidateOptions, validate

runner = CliRunner()
EXPECTED = expected_zoo_findings()


@pytest.fixture(scope="module")
def zoo_report() -> Report:
    return validate(ZOO, ValidateOptions(jobs=0, use_cache=False))


def test_readme_lists_every_zoo_file() -> None:
    on_disk = {p.name for p in (ZOO / "zoo").iterdir()}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_zoo_file_gets_exactly_its_findings(zoo_report: Report, name: str) -> None:
    result = zoo_report.result(f"zoo/{name}")
    assert result is not None
    assert {f.check for f in result.findings} == EXPECTED[name]


def test_every_file_tensorflow_rejects_is_an_error(zoo_report: Report) -> None:
    import tensorflow as tf

    for result in zoo_report.results:
        if any(f.check == "junk_file" for f in result.findings):
            continue
        data = (ZOO / result.rel).read_bytes()
        if any(f.check == "pixel_limit" for f in result.findings):
            continue  # never handed to a decoder (it would try to allocate 30 GB)
        try:
            tf.io.decode_image(data, channels=3, expand_animations=False)
            rejected = False
        except (tf.errors.InvalidArgumentError, ValueError):
            rejected = True
        if rejected:
            assert result.worst == Severity.ERROR, result.rel


def test_no_valid_photo_is_an_error(zoo_report: Report) -> None:
    valid = [n for n in EXPECTED if n.startswith(("valid", "exif_no_jfif", "duplicate_")) and n != "valid.tif"]
    for name in valid:
        result = zoo_report.result(f"zoo/{name}")
        assert result is not None and (result.worst is None or result.worst == Severity.INFO), name


def test_json_output_shape_and_exit_code() -> None:
    out = runner.invoke(app, ["validate", str(ZOO), "--json", "--jobs", "0"])
    assert out.exit_code == 1  # the zoo has errors and --fail-on defaults to error
    data = json.loads(out.stdout)
    assert data["version"] == 1
    assert data["root"] == str(ZOO.resolve())
    assert data["files"] == len(EXPECTED)
    for finding in data["findings"]:
        assert set(finding) == {"path", "check", "severity", "detail"}
        assert finding["severity"] in ("error", "warning", "info")
        assert not finding["path"].startswith("/") and "\\" not in finding["path"]
        assert (ZOO / finding["path"]).exists()


@pytest.mark.parametrize(("fail_on", "code"), [("error", 1), ("warning", 1), ("info", 1), ("never", 0)])
def test_fail_on_levels(fail_on: str, code: int) -> None:
    out = runner.invoke(app, ["validate", str(ZOO), "--fail-on", fail_on, "--jobs", "0", "--json"])
    assert out.exit_code == code


def test_clean_folder_exits_zero(tmp_path: Path) -> None:
    for name in ("valid_baseline.jpg", "valid.png", "valid.webp"):
        (tmp_path / "cls").mkdir(exist_ok=True)
        (tmp_path / "cls" / name).write_bytes((ZOO / "zoo" / name).read_bytes())
    out = runner.invoke(app, ["validate", str(tmp_path), "--jobs", "0"])
    assert out.exit_code == 0, out.output
    assert "no findings" in out.stdout


def test_csv_lists_every_finding(tmp_path: Path, zoo_report: Report) -> None:
    target = tmp_path / "findings.csv"
    out = runner.invoke(app, ["validate", str(ZOO), "--csv", str(target), "--jobs", "0", "--fail-on", "never"])
    assert out.exit_code == 0
    lines = target.read_text().splitlines()
    assert lines[0] == "path,check,severity,detail"
    assert len(lines) - 1 == len(zoo_report.findings)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["validate", "/no/such/dir"], "no such directory"),
        (["validate", str(ZOO), "--fail-on", "sometimes"], "expected one of"),
        (["validate", str(ZOO), "--jobs", "-3"], "--jobs"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: list[str], needle: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "dataprep", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_second_run_reuses_cache_and_notices_changes(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    for name in ("valid_baseline.jpg", "valid.png", "truncated_half.jpg"):
        (root / "a" / name).write_bytes((ZOO / "zoo" / name).read_bytes())
    opts = ValidateOptions(jobs=0, cache_dir=tmp_path / "cache")
    before = tree_digest(root)
    first = validate(root, opts)
    assert (first.cached, first.inspected) == (0, 3)
    second = validate(root, opts)
    assert (second.cached, second.inspected) == (3, 0)
    assert [f.to_dict() for f in second.findings] == [f.to_dict() for f in first.findings]
    assert tree_digest(root) == before  # nothing written into the dataset
    # Repair the truncated file: only it is inspected again, and its error is gone.
    (root / "a" / "truncated_half.jpg").write_bytes((ZOO / "zoo" / "valid_progressive.jpg").read_bytes())
    third = validate(root, opts)
    assert (third.cached, third.inspected) == (2, 1)
    assert not third.files_at_or_above(Severity.WARNING)


def test_an_earlier_cache_version_is_removed_and_nothing_else(tmp_path: Path) -> None:
    """The result cache's earlier file is never read again: opening the current one removes it (and
    its WAL files); anything else in the cache folder stays."""
    cache = tmp_path / "cache"
    cache.mkdir()
    stale = [cache / name for name in ("results-v1.sqlite3", "results-v1.sqlite3-wal", "results-v1.sqlite3-shm")]
    kept = [cache / "embeddings-v1.sqlite3", cache / "notes.txt"]
    for path in stale + kept:
        path.write_bytes(b"x")
    validate(ZOO / "zoo", ValidateOptions(jobs=0, cache_dir=cache))
    assert not any(p.exists() for p in stale)
    assert all(p.read_bytes() == b"x" for p in kept)
    assert (cache / "results-v2.sqlite3").is_file()


def test_no_cache_writes_no_cache(tmp_path: Path) -> None:
    validate(ZOO, ValidateOptions(jobs=0, cache_dir=tmp_path / "c", use_cache=False))
    assert not (tmp_path / "c").exists()


def test_pool_gives_the_same_findings_as_serial(zoo_report: Report) -> None:
    pooled = validate(ZOO, ValidateOptions(jobs=2, use_cache=False))
    assert [f.to_dict() for f in pooled.findings] == [f.to_dict() for f in zoo_report.findings]


@pytest.mark.parametrize("argv", [["--help"], ["validate", "--help"], ["clean", "--help"]])
def test_help_does_not_import_tensorflow(argv: list[str]) -> None:
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "dataprep", *argv], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "tensorflow" not in imported and "keras" not in imported
