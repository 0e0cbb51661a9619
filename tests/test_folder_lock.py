"""One writer per folder (issue 26): a second mutating run on a folder another run is writing
stops at once with one line naming the holder; `kill -9` never leaves a stale lock; the lock is
never data to scan and never a file in the user's dataset."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO
from photos import photo
from typer.testing import CliRunner

from dataprep.base.folder_lock import LOCK_NAME, FolderLocked, folder_locks
from dataprep.cli import app
from dataprep.inspection.scan import scan_dataset
from dataprep.inspection.validate import ValidateOptions, validate

runner = CliRunner()
SERIAL = ValidateOptions(jobs=0)

# A first run that stops inside its locked section until the test writes a line to its stdin:
# `split` after placing its first file, `clean` once validate has reported (its `select` hook).
_HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from dataprep.inspection.validate import ValidateOptions

    def pause(*_):
        if not getattr(pause, "done", False):
            pause.done = True
            print("holding", flush=True)
            sys.stdin.readline()

    kind, src, dst = sys.argv[1:4]
    if kind == "split":
        from dataprep.split import SplitSpec, split_dataset
        split_dataset(src, dst, SplitSpec(2, 2), validate_options=ValidateOptions(jobs=0), after_file=pause)
    else:
        from dataprep.actions.clean import CleanOptions, clean
        def select(report):
            pause()
            return [r for r in report.results if r.worst is not None and r.worst.value == "error"]
        clean(src, CleanOptions(quarantine=Path(dst), validate=ValidateOptions(jobs=0), select=select))
    print("finished", flush=True)
    """
)


def _dataset(root: Path, per_class: int = 6) -> Path:
    for c, label in enumerate(("cats", "dogs")):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            photo(100 * c + i, (64, 48)).save(root / label / f"{label}_{i:02d}.jpg", quality=90)
    (root / "cats" / "broken.jpg").write_bytes(b"<html>404</html>")
    return root


def _start_holder(kind: str, src: Path, dst: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, kind, str(src), str(dst)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line == "holding\n", (line, proc.stderr.read() if proc.stderr else "")
    return proc


def _release(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate("go\n", timeout=300)
    assert proc.returncode == 0, err
    return out


def test_two_splits_into_one_output_the_second_is_refused_in_one_line(tmp_path: Path) -> None:
    raw = _dataset(tmp_path / "raw")
    out = tmp_path / "out"
    holder = _start_holder("split", raw, out)
    try:
        second = runner.invoke(app, ["split", str(raw), str(out), "--val", "2", "--test", "2", "--jobs", "0"])
        assert second.exit_code == 2, second.output
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"error: '{out}' (the folder split writes) is being written by another run: ")
        assert f"pid {holder.pid} (`" in lines[0] and ", since 20" in lines[0] and "wait for it to finish" in lines[0]
        info = json.loads((out / LOCK_NAME).read_text())
        assert info["pid"] == holder.pid and info["since"]
    finally:
        assert "finished" in _release(holder)
    assert not (out / LOCK_NAME).exists()  # released and removed at the end of the run
    placed = list(out.rglob("*.jpg"))
    assert len(placed) == 12  # one split: every photo once
    manifest = json.loads((out / "split.json").read_text())
    assert manifest["complete"] is True


def test_two_cleans_on_one_folder_the_second_is_refused_and_the_first_finishes(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "data")
    quarantine = tmp_path / "data.quarantine"
    holder = _start_holder("clean", data, quarantine)
    try:
        assert not any(p.name == LOCK_NAME for p in data.rglob("*"))  # nothing written into the dataset
        second = runner.invoke(app, ["clean", str(data), "--jobs", "0"])
        assert second.exit_code == 2, second.output
        assert len(second.stderr.strip().splitlines()) == 1
        assert f"pid {holder.pid}" in second.stderr
        # Another quarantine does not make a second writer of the same dataset.
        elsewhere = runner.invoke(app, ["clean", str(data), "--jobs", "0", "--quarantine", str(tmp_path / "q2")])
        assert elsewhere.exit_code == 2, elsewhere.output
        assert (
            f"'{data}' (the dataset clean changes) is being written by another run: pid {holder.pid}"
            in elsewhere.stderr
        )
        assert ", since 20" in elsewhere.stderr  # the holder's start time, read from /proc
        assert not (tmp_path / "q2").exists()
        assert runner.invoke(app, ["clean", str(data), "--jobs", "0", "--dry-run"]).exit_code == 0  # reads only
    finally:
        _release(holder)
    manifest = json.loads((quarantine / "manifest.json").read_text())
    assert [(e["path"], e["status"]) for e in manifest["entries"]] == [("cats/broken.jpg", "quarantined")]
    assert runner.invoke(app, ["restore", str(quarantine)]).exit_code == 0


def test_kill_9_leaves_no_stale_lock(tmp_path: Path) -> None:
    raw = _dataset(tmp_path / "raw")
    out = tmp_path / "out"
    holder = _start_holder("split", raw, out)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=60)
    assert (out / LOCK_NAME).exists()  # the file stays; the kernel dropped the lock with the process
    resumed = runner.invoke(app, ["split", str(raw), str(out), "--val", "2", "--test", "2", "--jobs", "0", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert len(list(out.rglob("*.jpg"))) == 12 and not (out / LOCK_NAME).exists()


def test_a_lock_file_a_killed_run_left_is_not_data(tmp_path: Path) -> None:
    raw = _dataset(tmp_path / "raw")
    out = tmp_path / "out"
    assert runner.invoke(app, ["split", str(raw), str(out), "--val", "2", "--test", "2", "--jobs", "0"]).exit_code == 0
    (out / LOCK_NAME).write_text(json.dumps({"pid": 1, "command": "dataprep split", "since": "then"}))
    found = scan_dataset(out)
    assert LOCK_NAME not in {Path(r.rel).name for r in [*found.images, *found.junk]}
    assert not any(f.check == "junk_file" for f in validate(out, SERIAL).findings)


def test_the_lock_is_held_for_the_run_and_released_after(tmp_path: Path) -> None:
    folder = tmp_path / "owned"
    with (
        folder_locks("clean", folder),
        pytest.raises(FolderLocked, match=rf"pid {os.getpid()} "),
        folder_locks("split", folder),
    ):
        pass
    assert not folder.exists()  # created for the lock, left empty: removed
    deep = tmp_path / "new" / "deeper" / "owned"
    with folder_locks("split", deep):
        assert (deep / LOCK_NAME).exists()
    assert not (tmp_path / "new").exists()  # every folder it made for the lock, when left empty
    with folder_locks("clean", folder), folder_locks("clean", tmp_path / "other"):
        pass  # another folder is another lock
