"""The worker pool: a decoder that hangs or crashes becomes an error finding; the run goes on."""

from __future__ import annotations

import os
import time
from pathlib import Path

from dataprep.checks import CheckOptions
from dataprep.engine import inspect_file, inspect_files
from dataprep.report import FileResult
from dataprep.scan import scan_dataset

NO_TF = CheckOptions(use_tf=False)


def misbehaving_inspect(path: Path, rel: str, size: int, mtime_ns: int, options: CheckOptions) -> FileResult:
    """Stands in for a decoder that hangs on one file and crashes the process on another."""
    if path.name.startswith("hang"):
        time.sleep(60)
    if path.name.startswith("crash"):
        os.abort()
    return inspect_file(path, rel, size, mtime_ns, options)


def test_hang_and_crash_become_findings(tmp_path: Path) -> None:
    from conftest import ZOO

    folder = tmp_path / "c"
    folder.mkdir()
    good = (ZOO / "zoo" / "valid_baseline.jpg").read_bytes()
    for name in ("a1.jpg", "hang.jpg", "a2.jpg", "crash.jpg", "a3.jpg", "a4.jpg"):
        (folder / name).write_bytes(good)
    records = scan_dataset(tmp_path).images
    results = inspect_files(records, NO_TF, jobs=2, timeout_s=3, inspect=misbehaving_inspect)
    by_name = {Path(r.rel).name: r for r in results}
    assert [r.rel for r in results] == [r.rel for r in records]  # order kept
    assert [f.check for f in by_name["hang.jpg"].findings] == ["inspection_failed"]
    assert "longer than 3 s" in by_name["hang.jpg"].findings[0].detail
    assert [f.check for f in by_name["crash.jpg"].findings] == ["inspection_failed"]
    assert "crashed" in by_name["crash.jpg"].findings[0].detail
    for name in ("a1.jpg", "a2.jpg", "a3.jpg", "a4.jpg"):
        assert by_name[name].findings == [] and by_name[name].sha256 is not None


def test_progress_reports_every_file(tmp_path: Path) -> None:
    from conftest import ZOO

    (tmp_path / "c").mkdir()
    for i in range(5):
        (tmp_path / "c" / f"{i}.png").write_bytes((ZOO / "zoo" / "valid.png").read_bytes())
    seen: list[tuple[int, int]] = []
    inspect_files(scan_dataset(tmp_path).images, NO_TF, jobs=2, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (5, 5) and [d for d, _ in seen] == [1, 2, 3, 4, 5]
