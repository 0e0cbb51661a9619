"""The worker pool: a decoder that hangs or crashes becomes an error finding; the run goes on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dataprep.base.errors import DataprepError
from dataprep.inspection import local_engine as engine
from dataprep.inspection.checks import CheckOptions
from dataprep.inspection.local_engine import INTERRUPT_HOOK_ENV, inspect_file, inspect_files
from dataprep.inspection.report import FileResult
from dataprep.inspection.scan import scan_dataset

NO_TF = CheckOptions(use_tf=False)


def misbehaving_inspect(path: Path, rel: str, size: int, mtime_ns: int, options: CheckOptions) -> FileResult:
    """Stands in for a decoder that hangs on one file and crashes the process on another."""
    if path.name.startswith("hang"):
        time.sleep(60)
    if path.name.startswith("crash"):
        os.abort()
    return inspect_file(path, rel, size, mtime_ns, options)


def slow_inspect(path: Path, rel: str, size: int, mtime_ns: int, options: CheckOptions) -> FileResult:
    """`inspect_file` at 50 ms a file: keeps a batch in flight long enough to lose its node mid-batch."""
    time.sleep(0.05)
    return inspect_file(path, rel, size, mtime_ns, options)


@pytest.fixture(params=["fork", "forkserver"])
def start_method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a pool test with forked workers (the CLI's way) and with a forkserver's."""
    if request.param == "fork" and not engine.fork_is_safe():
        pytest.skip("this test process runs threads or imported TensorFlow: its workers are not forked")
    if request.param == "forkserver":
        monkeypatch.setattr(engine, "fork_is_safe", lambda: False)
    return str(request.param)


def test_hang_and_crash_become_findings(tmp_path: Path, start_method: str) -> None:
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


def test_hang_and_crash_inside_batches_fail_only_their_file(tmp_path: Path, start_method: str) -> None:
    """Many small files go to a worker in batches: a crash loses its batch's unsent results, and
    a hang ends its worker; either way only the culprit fails and every other file is inspected."""
    from conftest import ZOO

    folder = tmp_path / "c"
    folder.mkdir()
    good = (ZOO / "zoo" / "valid_baseline.jpg").read_bytes()
    names = [f"a{i:02d}.jpg" for i in range(60)]
    names[9], names[33] = "crash.jpg", "hang.jpg"
    for name in names:
        (folder / name).write_bytes(good)
    records = scan_dataset(tmp_path).images
    results = inspect_files(records, NO_TF, jobs=2, timeout_s=3, inspect=misbehaving_inspect)
    assert [r.rel for r in results] == [r.rel for r in records]
    failed = {Path(r.rel).name: r.findings[0].detail for r in results if r.findings}
    assert set(failed) == {"crash.jpg", "hang.jpg"}
    assert "crashed" in failed["crash.jpg"] and "longer than 3 s" in failed["hang.jpg"]
    assert all(r.sha256 is not None for r in results if Path(r.rel).name not in failed)


def test_files_queued_behind_a_hang_are_inspected(tmp_path: Path) -> None:
    """One worker: a crash sends every file of its batch back to be inspected alone; then the file
    queued behind the one that hangs must still be inspected when the watchdog ends that worker."""
    import threading

    from conftest import ZOO

    folder = tmp_path / "c"
    folder.mkdir()
    good = (ZOO / "zoo" / "valid_baseline.jpg").read_bytes()
    for name in ("crash.jpg", "hang.jpg", "x1.jpg", "x2.jpg"):
        (folder / name).write_bytes(good)
    records = scan_dataset(tmp_path).images
    out: list[FileResult] = []
    run = threading.Thread(
        target=lambda: out.extend(inspect_files(records, NO_TF, jobs=1, timeout_s=2, inspect=misbehaving_inspect)),
        daemon=True,
    )
    run.start()
    run.join(timeout=120)
    assert not run.is_alive(), "the pool lost a file and waits for it forever"
    failed = {Path(r.rel).name: r.findings[0].detail for r in out if r.findings}
    assert "crashed" in failed.pop("crash.jpg") and "longer than 2 s" in failed.pop("hang.jpg")
    assert failed == {} and len(out) == 4


def test_progress_reports_every_file(tmp_path: Path) -> None:
    from conftest import ZOO

    (tmp_path / "c").mkdir()
    for i in range(5):
        (tmp_path / "c" / f"{i}.png").write_bytes((ZOO / "zoo" / "valid.png").read_bytes())
    seen: list[tuple[int, int]] = []
    inspect_files(scan_dataset(tmp_path).images, NO_TF, jobs=2, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (5, 5) and [d for d, _ in seen] == [1, 2, 3, 4, 5]


def _copies(folder: Path, n: int) -> None:
    from conftest import ZOO

    folder.mkdir(parents=True)
    good = (ZOO / "zoo" / "valid_baseline.jpg").read_bytes()
    for i in range(n):
        (folder / f"{i:02d}.jpg").write_bytes(good)


def _validate_cli(folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # A new session: the interrupt hook then signals the whole group, as a terminal's Ctrl-C does.
    return subprocess.run(
        [sys.executable, "-m", "dataprep", "validate", str(folder), "--jobs", "2", "--json"],
        env=env, capture_output=True, text=True, timeout=300, start_new_session=True, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("signal_name", ["INT", pytest.param("TERM", marks=pytest.mark.slow)])
def test_interrupt_stops_quietly_and_keeps_finished_results(tmp_path: Path, signal_name: str) -> None:
    folder = tmp_path / "data" / "c"
    _copies(folder, 12)
    env = {**os.environ, INTERRUPT_HOOK_ENV: f"5:{signal_name}"}
    stopped = _validate_cli(tmp_path / "data", env)
    assert stopped.returncode == 130, stopped.stderr
    lines = [line for line in stopped.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted: stopped after inspecting 5 of 12 files"), (
        stopped.stderr
    )
    assert "Traceback" not in stopped.stderr and stopped.stdout == ""
    del env[INTERRUPT_HOOK_ENV]
    again = _validate_cli(tmp_path / "data", env)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["cache"] == {"reused": 5, "inspected": 7}
    assert report["files"] == 12 and {f["check"] for f in report["findings"]} == {
        "duplicate"
    }  # the same photo 12 times


class _ExitsWhenUnpickled:
    """An `inspect` a worker cannot even load: the worker process exits while starting."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (os._exit, (3,))


def _exit_while_starting(options: CheckOptions) -> None:
    os._exit(3)


def test_worker_that_cannot_start_is_one_domain_error(
    tmp_path: Path, start_method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _copies(tmp_path / "c", 2)
    records = scan_dataset(tmp_path).images
    with pytest.raises(DataprepError, match="worker process failed to start"):
        if start_method == "fork":  # a forked worker runs the parent's code: it dies setting up
            monkeypatch.setattr(engine, "prepare_worker", _exit_while_starting)
            inspect_files(records, NO_TF, jobs=1)
        else:  # a forkserver's worker must load `inspect` by name first: it dies there
            inspect_files(records, NO_TF, jobs=1, inspect=_ExitsWhenUnpickled())  # type: ignore[arg-type]


@pytest.mark.parametrize("command", ["validate", "duplicates", "clean", "split"])
def test_engine_ray_without_ray_installed_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    from typer.testing import CliRunner

    from dataprep.cli import app

    monkeypatch.setitem(sys.modules, "ray", None)  # as if `pip install 'dataprep[ray]'` had not been run
    _copies(tmp_path / "data" / "c", 1)
    args = [command, str(tmp_path / "data")] + ([str(tmp_path / "out")] if command == "split" else [])
    result = CliRunner().invoke(app, [*args, "--engine", "ray"])
    assert result.exit_code == 2
    expected = (
        f"error: --engine ray for `dataprep {command}` needs Ray, which is not installed; "
        "install it with: pip install 'dataprep[ray]' (or use --engine local)"
    )
    assert result.output.strip().splitlines() == [expected]
    assert not (tmp_path / "out").exists()


def test_pending_files_come_in_order_with_returned_files_first() -> None:
    pending = engine._Pending(5)
    assert [pending.pop(), pending.pop()] == [0, 1] and len(pending) == 3
    pending.push_front([0, 1])  # their worker died: they go out again before the rest, in order
    assert pending.peek() == 0 and len(pending) == 5
    assert [pending.pop() for _ in range(5)] == [0, 1, 2, 3, 4] and not pending
