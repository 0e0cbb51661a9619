"""`validate` streamed through its run file (the CLI's path) says exactly what the in-memory
report says: the same JSON document byte for byte, the same CSV, the same summary, the same exit
decision, with chunks and write batches small enough that every boundary is crossed."""

from __future__ import annotations

import io
import json
import random
import re
import shutil
from pathlib import Path

import pytest
from conftest import DEMO, ZOO
from PIL import Image

import dataprep.inspection.run_store as run_store
import dataprep.inspection.validate_stream as validate_stream
from dataprep import render
from dataprep.base.findings import Severity
from dataprep.inspection.scan import natural_key, natural_sort_bytes
from dataprep.inspection.validate import ValidateOptions, validate


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """The zoo and the demo photos, plus what only dataset-wide passes find: byte copies far
    apart in natural order, odd sizes, junk by name, an empty class."""
    root = tmp_path / "all"
    shutil.copytree(ZOO, root)
    shutil.copytree(DEMO, root, dirs_exist_ok=True)
    photos = sorted(p for p in root.rglob("*.png") if p.is_file())
    (root / "zzz_copies").mkdir()
    for k, src in enumerate(photos[:5]):
        shutil.copy(src, root / "zzz_copies" / f"copy{k}.png")
    Image.new("RGB", (2400, 1800), (90, 120, 30)).save(root / "zzz_copies" / "huge.png")
    (root / "zzz_copies" / "Thumbs.db").write_bytes(b"\0" * 64)
    (root / "empty_class").mkdir()
    return root


def _normalised(text: str) -> str:
    text = re.sub(r'"seconds": [0-9.]+', '"seconds": S', text)
    return re.sub(r"checked in [0-9.]+ s", "checked in S s", text)


def test_streamed_report_is_the_in_memory_report(
    dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(run_store, "CHUNK", 50)
    monkeypatch.setattr(validate_stream, "WRITE_BATCH", 7)
    opts = ValidateOptions(jobs=0, use_tf=False, use_cache=False)
    report = validate(dataset, opts)
    streamed = validate_stream.validate_streamed(dataset, opts, store_dir=tmp_path)
    run_file = streamed.store.path
    try:
        checks = report.to_dict()["checks"]
        for check in ("duplicate", "odd_size", "junk_file", "empty_class"):  # the comparison is not vacuous
            assert check in checks, check
        assert streamed.files == len(report.results) > 600
        want = _normalised(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
        out = tmp_path / "streamed.json"
        with open(out, "w", encoding="utf-8") as fh:
            streamed.write_json(fh)
        assert _normalised(out.read_text(encoding="utf-8")) == want

        streamed.write_csv(tmp_path / "streamed.csv")
        assert (tmp_path / "streamed.csv").read_bytes() == report.to_csv().encode("utf-8", "backslashreplace")

        for level in (None, Severity.INFO, Severity.WARNING, Severity.ERROR):
            assert streamed.has_findings_at_or_above(level) == report.has_findings_at_or_above(level)
        render.print_validate_summary(report)
        in_memory = capsys.readouterr().out
        render.print_validate_summary(streamed)
        assert _normalised(capsys.readouterr().out) == _normalised(in_memory)
        assert "Worst files (15 of" in in_memory
    finally:
        streamed.store.close()
    assert not run_file.exists()  # the run file is scratch: removed with the report


def test_a_rerun_copies_the_cached_rows_and_says_the_same(dataset: Path, tmp_path: Path) -> None:
    """A re-run over unchanged files copies the cache's rows into the run file with one SQL join:
    the same JSON and CSV as the cold run, byte for byte, and for `validate()` the same results
    with their hashes, signatures and properties; junk by content comes back as junk."""
    (dataset / "zzz_copies" / "notes.txt").write_text("not an image\n")  # junk by its content
    opts = ValidateOptions(jobs=0, use_tf=False, cache_dir=tmp_path / "cache")
    outputs = []
    for expect_cached in (False, True):
        streamed = validate_stream.validate_streamed(dataset, opts, store_dir=tmp_path)
        try:
            assert (streamed.cached > 0) == expect_cached and (streamed.inspected == 0) == expect_cached
            text, csv_path = io.StringIO(), tmp_path / f"run{expect_cached}.csv"
            streamed.write_json(text)
            streamed.write_csv(csv_path)
            counts = re.sub(r'"(reused|inspected)": \d+', r'"\1": N', _normalised(text.getvalue()))
            outputs.append((counts, csv_path.read_bytes()))
        finally:
            streamed.store.close()
    (cold_json, cold_csv), (warm_json, warm_csv) = outputs
    assert cold_json == warm_json and cold_csv == warm_csv
    assert '"junk_file"' in cold_json and '"duplicate"' in cold_json  # junk by content and copies: not vacuous

    cold = validate(dataset, ValidateOptions(jobs=0, use_tf=False, use_cache=False))
    warm = validate(dataset, opts)
    assert warm.inspected == 0 and warm.cached > 600
    assert [(r.rel, r.to_cache()) for r in warm.results] == [(r.rel, r.to_cache()) for r in cold.results]
    assert sum(r.signature is not None for r in warm.results) > 100  # hashes came back from the cache
    assert warm.scan.content_junk == cold.scan.content_junk == {"zzz_copies/notes.txt": "content is text"}


def test_no_images_names_the_reason(tmp_path: Path) -> None:
    root = tmp_path / "junk_only"
    (root / "cats").mkdir(parents=True)
    (root / "cats" / "notes.txt").write_text("hello")
    streamed = validate_stream.validate_streamed(root, ValidateOptions(jobs=0, use_tf=False, use_cache=False))
    try:
        assert streamed.images == 0 and streamed.junk == 1
        assert [r.rel for r in streamed.scan_for_message().junk] == ["cats/notes.txt"]
    finally:
        streamed.store.close()


def test_sort_bytes_order_like_natural_key() -> None:
    """The run file orders paths by these bytes: they must compare as natural_key does."""
    rng = random.Random(0)
    alphabet = ["a", "B", "0", "1", "9", "10", "007", "/", ".", "-", "_", "é", "Z", "ß", "\udcff", "x2", "İ", "\x01"]
    for _ in range(20_000):
        a, b = ("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(2))
        want = (natural_key(a) > natural_key(b)) - (natural_key(a) < natural_key(b))
        got = (natural_sort_bytes(a) > natural_sort_bytes(b)) - (natural_sort_bytes(a) < natural_sort_bytes(b))
        assert got == want, (a, b)


def test_a_run_file_that_cannot_be_made_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    from typer.testing import CliRunner

    from dataprep.cli import app

    (tmp_path / "data" / "cats").mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(tmp_path / "data" / "cats" / "a.png")
    missing = tmp_path / "no_such_tmp"
    monkeypatch.setattr(tempfile, "tempdir", str(missing))  # what TMPDIR=missing gives
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "data"), "--jobs", "0"])
    assert result.exit_code == 2, result.output
    assert "cannot create validate's run file" in result.stderr and "set TMPDIR" in result.stderr
    assert "Traceback" not in result.output
