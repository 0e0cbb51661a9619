"""clean and restore: nothing is lost, whatever instant a run is killed at."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import tree_digest
from typer.testing import CliRunner

from dataprep.actions.clean import CleanOptions, clean
from dataprep.actions.restore import restore
from dataprep.base.errors import DataprepError
from dataprep.base.findings import Severity
from dataprep.base.journal import KILL_AFTER_ENV
from dataprep.inspection.validate import ValidateOptions

runner = CliRunner()
SERIAL = ValidateOptions(jobs=0)
# What clean must take out of the zoo at --level error: every error file plus the junk, except the
# images `dataprep convert` makes readable (ZOO_TO_CONVERT): photos to train on, left in place.
ZOO_REMOVED = {
    "zoo/.DS_Store", "zoo/Thumbs.db", "zoo/._valid_baseline.jpg", "zoo/decompression_bomb.png",
    "zoo/empty.jpg", "zoo/html_page.jpg", "zoo/truncated_half.jpg", "zoo/truncated_no_eoi.jpg", "zoo/truncated_no_iend.png",
}  # fmt: skip
ZOO_TO_CONVERT = {
    "zoo/bilevel_1bit.bmp", "zoo/palette_8bit.bmp", "zoo/rgb555_16bit.bmp", "zoo/tiff_named.jpg", "zoo/valid.tif",
}  # fmt: skip


def test_clean_moves_errors_and_junk_then_restore_is_byte_identical(zoo_copy: Path) -> None:
    before = tree_digest(zoo_copy)
    result = clean(zoo_copy, CleanOptions(validate=SERIAL))
    quarantine = zoo_copy.parent / "zoo.quarantine"
    assert result.quarantine == quarantine
    assert {r.rel for r in result.selected} == ZOO_REMOVED
    assert set(result.to_convert) == ZOO_TO_CONVERT
    after = tree_digest(zoo_copy)
    assert set(after) == set(before) - ZOO_REMOVED
    moved = {
        k: v
        for k, v in tree_digest(quarantine).items()
        if k not in ("manifest.json", "journal.jsonl", ".dataprep.lock")
    }
    assert moved == {k: before[k] for k in ZOO_REMOVED}  # same relative paths, same bytes
    manifest = json.loads((quarantine / "manifest.json").read_text())
    assert manifest["version"] == 1 and manifest["root"] == str(zoo_copy)
    entry = next(e for e in manifest["entries"] if e["path"] == "zoo/empty.jpg")
    assert entry["size"] == 0 and entry["status"] == "quarantined" and entry["time"]
    assert entry["sha256"] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert [f["check"] for f in entry["findings"]] == ["empty_file"]

    restored = restore(quarantine)
    assert sorted(restored.restored) == sorted(ZOO_REMOVED)
    assert tree_digest(zoo_copy) == before


def test_dry_run_touches_nothing(zoo_copy: Path) -> None:
    before = tree_digest(zoo_copy)
    result = clean(zoo_copy, CleanOptions(dry_run=True, validate=SERIAL))
    assert {r.rel for r in result.selected} == ZOO_REMOVED
    assert tree_digest(zoo_copy) == before
    assert not (zoo_copy.parent / "zoo.quarantine").exists()


def test_clean_is_idempotent(zoo_copy: Path) -> None:
    clean(zoo_copy, CleanOptions(validate=SERIAL))
    again = clean(zoo_copy, CleanOptions(validate=SERIAL))
    assert again.selected == [] and again.moved == 0


def test_level_warning_also_moves_damaged_files(zoo_copy: Path) -> None:
    result = clean(zoo_copy, CleanOptions(level=Severity.WARNING, validate=SERIAL))
    moved = {r.rel for r in result.selected}
    assert moved > ZOO_REMOVED
    assert {"zoo/extraneous_bytes.jpg", "zoo/corrupt_scan.jpg", "zoo/tiny_1x1.png"} <= moved
    assert "zoo/valid_baseline.jpg" not in moved


def test_delete_is_recorded_and_not_restorable(zoo_copy: Path) -> None:
    result = clean(zoo_copy, CleanOptions(delete=True, validate=SERIAL))
    assert result.deleted == len(ZOO_REMOVED) and result.moved == 0
    assert not any((zoo_copy / rel).exists() for rel in ZOO_REMOVED)
    back = restore(zoo_copy.parent / "zoo.quarantine")
    assert sorted(back.not_restorable) == sorted(ZOO_REMOVED) and back.restored == []


def test_quarantine_inside_dataset_is_refused(zoo_copy: Path) -> None:
    with pytest.raises(DataprepError, match="inside the dataset"):
        clean(zoo_copy, CleanOptions(quarantine=zoo_copy / "q", validate=SERIAL))


def test_restore_refuses_manifest_paths_outside_the_dataset(zoo_copy: Path) -> None:
    clean(zoo_copy, CleanOptions(validate=SERIAL))
    quarantine = zoo_copy.parent / "zoo.quarantine"
    manifest_path = quarantine / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["entries"][0]["path"] = "../escaped.jpg"
    manifest_path.write_text(json.dumps(manifest))
    snapshot = tree_digest(zoo_copy.parent)
    out = runner.invoke(__import__("dataprep.cli", fromlist=["app"]).app, ["restore", str(quarantine)])
    assert out.exit_code == 2 and "outside the dataset" in out.stderr
    assert tree_digest(zoo_copy.parent) == snapshot  # checked before anything moved


def test_restore_refuses_an_action_it_has_no_undo_for(zoo_copy: Path) -> None:
    """restore undoes each entry through its action's row (dataprep.actions.restore.UNDO); an entry with
    another action is one line naming the known ones, before anything moves."""
    from dataprep.actions.restore import UNDO

    clean(zoo_copy, CleanOptions(validate=SERIAL))
    quarantine = zoo_copy.parent / "zoo.quarantine"
    manifest_path = quarantine / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert {e["action"] for e in manifest["entries"]} == {"move"} and set(UNDO) == {
        "move",
        "delete",
        "convert",
        "relabel",
    }
    manifest["entries"][-1]["action"] = "shred"
    manifest_path.write_text(json.dumps(manifest))
    snapshot = tree_digest(zoo_copy.parent)
    out = runner.invoke(__import__("dataprep.cli", fromlist=["app"]).app, ["restore", str(quarantine)])
    assert out.exit_code == 2 and "with action 'shred' (expected one of move, delete, convert, relabel)" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert tree_digest(zoo_copy.parent) == snapshot


def test_restore_never_overwrites(zoo_copy: Path) -> None:
    clean(zoo_copy, CleanOptions(validate=SERIAL))
    quarantine = zoo_copy.parent / "zoo.quarantine"
    (zoo_copy / "zoo" / "empty.jpg").write_bytes(b"a new file the user made")
    from dataprep.cli import app

    out = runner.invoke(app, ["restore", str(quarantine)])
    assert out.exit_code == 1 and "refused" in out.stderr
    assert (zoo_copy / "zoo" / "empty.jpg").read_bytes() == b"a new file the user made"
    assert (quarantine / "zoo" / "empty.jpg").exists()


def _dataprep(args: list[str], env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "dataprep", *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_kill_during_clean_then_rerun_loses_nothing(zoo_copy: Path) -> None:
    original = tree_digest(zoo_copy)
    quarantine = zoo_copy.parent / "zoo.quarantine"
    # Operations: 1 manifest save, then per file intent + move + done, then the final save.
    total_ops = 2 + 3 * len(ZOO_REMOVED)
    warm = _dataprep(["validate", str(zoo_copy), "--fail-on", "never", "--json"])  # fill the cache once
    assert warm.returncode == 0
    for kill_after in (1, 2, 3, 4, 7, 20, total_ops - 1):
        killed = _dataprep(["clean", str(zoo_copy), "--jobs", "0"], {KILL_AFTER_ENV: str(kill_after)})
        assert killed.returncode == -9, (kill_after, killed.stderr)
        # At every instant each file is in the dataset or the quarantine, whole.
        union = tree_digest(zoo_copy) | {
            k: v
            for k, v in tree_digest(quarantine).items()
            if k not in ("manifest.json", "journal.jsonl", ".dataprep.lock")
        }
        assert union == original, kill_after
        finished = _dataprep(["clean", str(zoo_copy), "--jobs", "0"])
        assert finished.returncode == 0, finished.stderr
        assert set(tree_digest(zoo_copy)) == set(original) - ZOO_REMOVED
        # Restore, killed part-way too, then finished: the tree is as before.
        killed_restore = _dataprep(["restore", str(quarantine)], {KILL_AFTER_ENV: "5"})
        assert killed_restore.returncode == -9
        done = _dataprep(["restore", str(quarantine)])
        assert done.returncode == 0, done.stderr
        assert tree_digest(zoo_copy) == original, kill_after


def test_clean_cli_end_to_end(demo_copy: Path) -> None:
    from dataprep.cli import app

    out = runner.invoke(app, ["clean", str(demo_copy), "--jobs", "0", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["moved"] == 4
    assert sorted(f["path"] for f in data["files"]) == [
        "circle/circle_201.jpg", "square/Thumbs.db", "square/square_201.jpg", "triangle/triangle_201.jpg",
    ]  # fmt: skip
    assert data["left_for_convert"] == ["circle/circle_photo.ppm"]  # a PPM: `dataprep convert` makes it readable
    out = runner.invoke(app, ["restore", str(demo_copy.parent / "demo.quarantine"), "--dry-run"])
    assert out.exit_code == 0 and "would restore 4" in out.stdout
    bad_level = runner.invoke(app, ["clean", str(demo_copy), "--level", "info"])
    assert bad_level.exit_code == 2 and "would remove valid photos" in bad_level.stderr


def assert_journal_tells_the_truth(root: Path, quarantine: Path) -> None:
    """The last finished operation the journal records for each file matches where the file is:
    after 'quarantine ... done' it is out of the dataset (in the quarantine unless deleted),
    after 'restore ... done' it is back in the dataset."""
    journal = quarantine / "journal.jsonl"
    if not journal.exists():
        return
    last: dict[str, str] = {}
    action: dict[str, str] = {}
    for line in journal.read_text(encoding="utf-8").splitlines(keepends=True):
        if not line.endswith("\n"):
            break  # a torn last line: the operation it announced never started
        entry = json.loads(line)
        if entry["phase"] == "intent" and entry["op"] == "quarantine":
            action[entry["path"]] = entry["action"]
        # An intent with no done after it is in flight: the file may be at either end.
        last[entry["path"]] = entry["op"] if entry["phase"] == "done" else "in flight"
    for rel, op in last.items():
        if op == "in flight":
            continue
        if op == "restore":
            assert (root / rel).exists() and not (quarantine / rel).exists(), rel
        else:
            assert not (root / rel).exists(), rel
            assert (quarantine / rel).exists() == (action.get(rel, "move") == "move"), rel


def test_kill_during_restore_at_every_step_then_restore_again(zoo_copy: Path) -> None:
    original = tree_digest(zoo_copy)
    quarantine = zoo_copy.parent / "zoo.quarantine"
    clean(zoo_copy, CleanOptions(validate=SERIAL))
    # Steps of a restore: per file intent + move + done, then the manifest save.
    steps = 3 * len(ZOO_REMOVED) + 1
    for kill_after in (1, 2, 3, 4, 5, 6, 20, steps - 1, steps):
        killed = _dataprep(["restore", str(quarantine)], {KILL_AFTER_ENV: str(kill_after)})
        assert killed.returncode == -9, (kill_after, killed.stderr)
        union = tree_digest(zoo_copy) | {
            k: v
            for k, v in tree_digest(quarantine).items()
            if k not in ("manifest.json", "journal.jsonl", ".dataprep.lock")
        }
        assert union == original, kill_after  # each file in one place or the other, whole
        assert_journal_tells_the_truth(zoo_copy, quarantine)
        done = _dataprep(["restore", str(quarantine)])
        assert done.returncode == 0, done.stderr
        assert tree_digest(zoo_copy) == original, kill_after
        assert_journal_tells_the_truth(zoo_copy, quarantine)
        clean(zoo_copy, CleanOptions(validate=SERIAL))  # quarantine again for the next kill point


def test_kill_during_clean_delete_then_rerun(zoo_copy: Path) -> None:
    """clean --delete killed at each step: a re-run deletes exactly the rest, keeps every other
    file, and the manifest records each deleted file as deleted."""
    original = tree_digest(zoo_copy)
    steps = 2 + 3 * len(ZOO_REMOVED)  # manifest, per file intent + unlink + done, manifest
    trial, tq = zoo_copy.parent / "trial", zoo_copy.parent / "trial.quarantine"
    for kill_after in (1, 2, 3, 5, steps - 1):
        # The same path, sizes and mtimes each time: the validate cache answers after the first run.
        shutil.rmtree(trial, ignore_errors=True)
        shutil.rmtree(tq, ignore_errors=True)
        shutil.copytree(zoo_copy, trial)
        killed = _dataprep(["clean", str(trial), "--jobs", "0", "--delete"], {KILL_AFTER_ENV: str(kill_after)})
        assert killed.returncode == -9, (kill_after, killed.stderr)
        kept = tree_digest(trial)
        assert {k: original[k] for k in kept} == kept and set(original) - set(kept) <= ZOO_REMOVED
        assert_journal_tells_the_truth(trial, tq)
        finished = _dataprep(["clean", str(trial), "--jobs", "0", "--delete"])
        assert finished.returncode == 0, finished.stderr
        assert tree_digest(trial) == {k: v for k, v in original.items() if k not in ZOO_REMOVED}
        manifest = json.loads((tq / "manifest.json").read_text())
        assert {e["path"] for e in manifest["entries"] if e["status"] == "deleted"} == ZOO_REMOVED
