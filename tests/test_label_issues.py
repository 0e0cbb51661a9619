"""Acting on a label-issues list: `dataprep clean --label-issues` and `dataprep relabel`, both
undone by `dataprep restore`, relabel killed at every step and finished by a re-run."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import tree_digest
from typer.testing import CliRunner

from dataprep.actions.relabel import read_label_issues, relabel, select_suspects
from dataprep.actions.restore import restore
from dataprep.base.errors import DataprepError
from dataprep.base.journal import KILL_AFTER_ENV
from dataprep.cli import app

runner = CliRunner()


def _dataset(root: Path) -> Path:
    from PIL import Image

    for label, colour in (("cat", (200, 50, 40)), ("dog", (40, 60, 200))):
        for i in range(5):
            path = root / label / f"{label}{i}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (16 + i, 16), colour).save(path)
    return root


def _issues_file(root: Path, target: Path, rows: list[tuple[str, str, float]]) -> Path:
    """A label_issues.json as `trainer label-issues` writes it, for (path, suggested, score)."""
    issues = [
        {"rank": r + 1, "path": path, "given_label": path.split("/")[-2], "suggested_label": suggested,
         "self_confidence": 1 - score, "score": score,
         "sha256": hashlib.sha256((root / path).read_bytes()).hexdigest()}
        for r, (path, suggested, score) in enumerate(rows)
    ]  # fmt: skip
    target.write_text(json.dumps({"version": 1, "data_dir": str(root), "issues": issues}))
    return target


ROWS = [("cat/cat1.jpg", "dog", 0.97), ("dog/dog3.jpg", "cat", 0.9), ("cat/cat4.jpg", "dog", 0.6)]


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path]:
    root = _dataset(tmp_path / "data")
    return root, _issues_file(root, tmp_path / "label_issues.json", ROWS)


def test_select_top_or_min_score(data: tuple[Path, Path]) -> None:
    suspects = read_label_issues(data[1])
    assert [s.path for s in select_suspects(suspects, top=2)] == ["cat/cat1.jpg", "dog/dog3.jpg"]
    assert [s.path for s in select_suspects(suspects, min_score=0.8)] == ["cat/cat1.jpg", "dog/dog3.jpg"]
    assert len(select_suspects(suspects)) == 3
    with pytest.raises(DataprepError, match="pass one of them"):
        select_suspects(suspects, top=1, min_score=0.5)


def test_csv_list_reads_like_the_json(data: tuple[Path, Path], tmp_path: Path) -> None:
    suspects = read_label_issues(data[1])
    target = tmp_path / "label_issues.csv"
    with target.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rank", "path", "given_label", "suggested_label", "self_confidence", "score"])
        for s in suspects:
            writer.writerow([s.rank, s.path, s.given_label, s.suggested_label, 1 - s.score, s.score])
    assert [(s.path, s.suggested_label) for s in read_label_issues(target)] == [
        (s.path, s.suggested_label) for s in suspects
    ]


def test_relabel_moves_to_suggested_class_and_restore_undoes_it(data: tuple[Path, Path]) -> None:
    root, issues = data
    original = tree_digest(root)
    dry = runner.invoke(app, ["relabel", str(root), "--label-issues", str(issues), "--dry-run"])
    assert dry.exit_code == 0 and "would move cat/cat1.jpg -> dog/cat1.jpg" in dry.stdout
    assert tree_digest(root) == original and not (root.parent / "data.relabel").exists()

    done = runner.invoke(app, ["relabel", str(root), "--label-issues", str(issues), "--top", "2"])
    assert done.exit_code == 0, done.output
    after = tree_digest(root)
    assert after["dog/cat1.jpg"] == original["cat/cat1.jpg"] and after["cat/dog3.jpg"] == original["dog/dog3.jpg"]
    assert "cat/cat1.jpg" not in after and "cat/cat4.jpg" in after
    again = runner.invoke(app, ["relabel", str(root), "--label-issues", str(issues), "--top", "2"])
    assert again.exit_code == 0 and "2 file(s) were relabelled by an earlier run" in again.stdout
    assert tree_digest(root) == after

    restored = runner.invoke(app, ["restore", str(root.parent / "data.relabel")])
    assert restored.exit_code == 0, restored.output
    assert tree_digest(root) == original


def test_relabel_refuses_a_changed_file_and_a_name_clash(data: tuple[Path, Path]) -> None:
    root, issues = data
    (root / "dog" / "dog3.jpg").write_bytes(b"edited since it was scored")
    with pytest.raises(DataprepError, match="changed since label-issues scored it"):
        relabel(root, read_label_issues(issues))
    root2 = _dataset(root.parent / "other")
    issues2 = _issues_file(root2, root.parent / "li2.json", [("cat/cat1.jpg", "dog", 0.9)])
    (root2 / "dog" / "cat1.jpg").write_bytes(b"x")
    before = tree_digest(root2)
    with pytest.raises(DataprepError, match="already there"):
        relabel(root2, read_label_issues(issues2))
    assert tree_digest(root2) == before


def _dataprep(args: list[str], env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "dataprep", *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_relabel_killed_at_every_step_then_rerun_loses_nothing(data: tuple[Path, Path]) -> None:
    root, issues = data
    original = tree_digest(root)
    record = root.parent / "data.relabel"
    args = ["relabel", str(root), "--label-issues", str(issues)]
    kill_after = 1
    while True:
        killed = _dataprep(args, {KILL_AFTER_ENV: str(kill_after)})
        if killed.returncode == 0:
            break
        assert killed.returncode == -9, killed.stderr
        assert sorted(tree_digest(root).values()) == sorted(original.values()), kill_after  # every photo once
        relabel(root, read_label_issues(issues))  # the re-run finishes the job
        assert {"dog/cat1.jpg", "cat/dog3.jpg", "dog/cat4.jpg"} <= set(tree_digest(root))
        assert not restore(record).refused
        assert tree_digest(root) == original, kill_after
        kill_after += 1
    assert kill_after > 5  # manifest, then intent + move + done per file, then the manifest again


def test_clean_label_issues_quarantines_and_restore_brings_back(data: tuple[Path, Path]) -> None:
    root, issues = data
    original = tree_digest(root)
    result = runner.invoke(
        app, ["clean", str(root), "--label-issues", str(issues), "--min-score", "0.8", "--jobs", "0", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert sorted(f["path"] for f in report["files"]) == ["cat/cat1.jpg", "dog/dog3.jpg"] and report["moved"] == 2
    assert report["files"][0]["findings"][-1]["check"] == "label_issue"
    quarantine = root.parent / "data.quarantine"
    assert (quarantine / "cat" / "cat1.jpg").read_bytes() == original["cat/cat1.jpg"]
    assert "cat/cat1.jpg" not in tree_digest(root)
    assert runner.invoke(app, ["restore", str(quarantine)]).exit_code == 0
    assert tree_digest(root) == original


def test_clean_label_issues_dry_run_and_bad_combinations(data: tuple[Path, Path]) -> None:
    root, issues = data
    original = tree_digest(root)
    dry = runner.invoke(app, ["clean", str(root), "--label-issues", str(issues), "--dry-run", "--jobs", "0"])
    assert dry.exit_code == 0 and "cat/cat1.jpg" in dry.stdout and tree_digest(root) == original
    assert not (root.parent / "data.quarantine").exists()
    clash = runner.invoke(app, ["clean", str(root), "--label-issues", str(issues), "--delete"])
    assert clash.exit_code == 2 and "drop --delete" in clash.stderr
    lonely = runner.invoke(app, ["clean", str(root), "--top", "3"])
    assert lonely.exit_code == 2 and "--label-issues FILE" in lonely.stderr
    missing = runner.invoke(app, ["relabel", str(root), "--label-issues", str(root / "nope.json")])
    assert missing.exit_code == 2 and "no such file" in missing.stderr
