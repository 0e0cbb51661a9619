"""Hostile inputs: each gets a finding or exit 2 with one clear line, never a traceback, and
never a lost file. Where root (the test user here) cannot be denied access, the denial is
simulated by patching the one call that would fail."""

from __future__ import annotations

import errno
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from conftest import ZOO, tree_digest
from PIL import Image
from typer.testing import CliRunner

import dataprep.split as split_mod
import dataprep.split.place as split_place
import dataprep.split.sources as split_sources
from dataprep.actions.clean import CleanOptions, clean
from dataprep.actions.restore import restore
from dataprep.cli import app
from dataprep.inspection.validate import ValidateOptions, validate

NO_TF = ValidateOptions(jobs=0, use_tf=False, use_cache=False)
REPO = Path(__file__).resolve().parents[1]


def _png(path: Path, index: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 12), (index % 251, (index * 7) % 251, 9)).save(path)
    return path


def _findings(report: Any) -> dict[str, set[str]]:
    return {r.rel: {f.check for f in r.findings} for r in report.results}


def _one_line_error(result: Any) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.output
    return lines[0]


@pytest.fixture()
def no_tf_split(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = split_sources._validate
    monkeypatch.setattr(
        split_sources,
        "_validate",
        lambda raw, options: real(raw, ValidateOptions(jobs=0, use_tf=False, cache_dir=tmp_path / "cache")),
    )


def _dataprep(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "dataprep", *args], capture_output=True, timeout=300, cwd=REPO, check=False
    )


# --- links ----------------------------------------------------------------------------------


def test_symlink_loops_and_links_out_of_the_folder_are_reported_not_followed(tmp_path: Path, no_tf_split: None) -> None:
    root = tmp_path / "data"
    _png(root / "cats" / "a.png", 1)
    _png(root / "cats" / "b.png", 2)
    secret = _png(tmp_path / "elsewhere" / "secret.png", 3)
    (root / "cats" / "loop1.jpg").symlink_to(root / "cats" / "loop2.jpg")
    (root / "cats" / "loop2.jpg").symlink_to(root / "cats" / "loop1.jpg")
    (root / "cats" / "outside.png").symlink_to(secret)
    (root / "cats" / "dangling.png").symlink_to(tmp_path / "nothing-here.png")
    (root / "cats" / "back_to_root").symlink_to(root)  # a folder loop
    (root / "cats" / "out_folder").symlink_to(tmp_path / "elsewhere")
    (root / "cats" / "inside.png").symlink_to(root / "cats" / "a.png")  # inside: followed
    report = validate(root, NO_TF)
    found = _findings(report)
    for name in ("loop1.jpg", "loop2.jpg", "outside.png", "dangling.png", "back_to_root", "out_folder"):
        assert found[f"cats/{name}"] == {"not_followed"}, name
    assert "loop" in report.result("cats/loop1.jpg").findings[0].detail  # type: ignore[union-attr]
    assert "outside the dataset folder" in report.result("cats/outside.png").findings[0].detail  # type: ignore[union-attr]
    assert {r.rel for r in report.scan.images} == {"cats/a.png", "cats/b.png", "cats/inside.png"}
    # clean leaves links alone (level warning would otherwise take them); split leaves them out
    before = {p.name for p in (root / "cats").iterdir()}
    clean(
        root,
        CleanOptions(
            level=__import__("dataprep.base.findings", fromlist=["Severity"]).Severity.WARNING, validate=NO_TF
        ),
    )
    assert {p.name for p in (root / "cats").iterdir()} == before and secret.exists()
    result = split_mod.split_dataset(root, tmp_path / "out", split_mod.SplitSpec(1, 0), seed=1)
    assert {a.source for a in result.plan.assignments} == {"cats/a.png", "cats/b.png", "cats/inside.png"}
    assert "cats/outside.png" in {e.path for e in result.excluded}
    assert not any("secret" in p.name for p in (tmp_path / "out").rglob("*"))


# --- unreadable files and folders -----------------------------------------------------------


def test_unreadable_file_is_an_error_and_is_still_quarantined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "data"
    _png(root / "cats" / "ok.png", 1)
    locked = _png(root / "cats" / "locked.png", 2)
    real_read_bytes, real_open = Path.read_bytes, open

    def read_bytes(self: Path) -> bytes:
        if self.name == "locked.png":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_read_bytes(self)

    def guarded_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file).endswith("locked.png"):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    monkeypatch.setattr("builtins.open", guarded_open)
    data = locked.stat()
    report = validate(root, NO_TF)
    failed = report.result("cats/locked.png")
    assert failed is not None and [f.check for f in failed.findings] == ["inspection_failed"]
    assert "cannot read the file: Permission denied" in failed.findings[0].detail
    result = clean(root, CleanOptions(validate=NO_TF))  # a rename needs no read permission
    assert [r.rel for r in result.selected] == ["cats/locked.png"]
    moved = tmp_path / "data.quarantine" / "cats" / "locked.png"
    assert moved.stat().st_size == data.st_size and not locked.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file; the simulation above covers it")
def test_unreadable_file_for_real(tmp_path: Path) -> None:
    root = tmp_path / "data"
    _png(root / "cats" / "ok.png", 1)
    _png(root / "cats" / "locked.png", 2).chmod(0)
    assert _findings(validate(root, NO_TF))["cats/locked.png"] == {"inspection_failed"}


def test_unreadable_folder_is_an_error_and_the_rest_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_tf_split: None
) -> None:
    import dataprep.inspection.scan as scan_mod

    root = tmp_path / "data"
    _png(root / "cats" / "a.png", 1)
    _png(root / "cats" / "b.png", 2)
    _png(root / "dogs" / "locked" / "c.png", 3)
    _png(root / "dogs" / "d.png", 4)
    real_scandir = os.scandir

    def scandir(path: Any) -> Any:
        if str(path).endswith("locked"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(scan_mod.os, "scandir", scandir)
    report = validate(root, NO_TF)
    assert _findings(report)["dogs/locked/"] == {"inspection_failed"}
    assert "cannot read the folder: Permission denied" in report.result("dogs/locked/").findings[0].detail  # type: ignore[union-attr]
    assert {r.rel for r in report.scan.images} == {"cats/a.png", "cats/b.png", "dogs/d.png"}
    assert clean(root, CleanOptions(validate=NO_TF)).selected == []  # a folder is never moved
    result = split_mod.split_dataset(root, tmp_path / "out", split_mod.SplitSpec(0, 0), seed=1)
    assert "dogs/locked/" in {e.path for e in result.excluded}
    # the root itself unreadable: exit 2, one line
    monkeypatch.setattr(
        scan_mod.os, "scandir", lambda path: (_ for _ in ()).throw(PermissionError(errno.EACCES, "Permission denied"))
    )
    assert "cannot read" in _one_line_error(CliRunner().invoke(app, ["validate", str(root), "--jobs", "0"]))


# --- names ----------------------------------------------------------------------------------


def test_names_with_spaces_newlines_and_non_utf8_bytes(tmp_path: Path) -> None:
    """The real CLI (no CliRunner: it is stdout's encoding that breaks) on bytes names."""
    root = tmp_path / "data"
    names = [b"with space.png", b"new\nline.png", b"caf\xe9.png", b"\xff\xfe.png"]
    os.makedirs(os.fsencode(root / "cats"))
    os.makedirs(os.fsencode(root / "caf\udce9s"))  # a class folder named with a non-UTF-8 byte
    for i, name in enumerate(names):
        for k, folder in enumerate((b"cats", b"caf\xe9s")):
            _png(tmp_path / "tmp.png", 40 * i + 100 * k)  # distinct pictures: no duplicates
            with open(os.fsencode(root) + b"/" + folder + b"/" + name, "wb") as fh:
                fh.write((tmp_path / "tmp.png").read_bytes())
    with open(os.fsencode(root) + b"/cats/broken \xe9.png", "wb") as fh:
        fh.write(b"not a png")
    before = tree_digest(root)
    cache = ["--cache-dir", str(tmp_path / "cache")]
    checked = _dataprep("validate", str(root), "--json", "--jobs", "0", "--fail-on", "never", *cache)
    assert checked.returncode == 0, checked.stderr.decode()
    report = json.loads(checked.stdout)
    assert report["files"] == 9 and {f["check"] for f in report["findings"]} == {"unknown_format"}
    assert os.fsencode(root / report["findings"][0]["path"]) == os.fsencode(root) + b"/cats/broken \xe9.png"
    assert _dataprep("validate", str(root), "--jobs", "0", *cache).returncode == 1  # the table prints too
    cleaned = _dataprep("clean", str(root), "--jobs", "0", *cache)
    assert cleaned.returncode == 0, cleaned.stderr.decode()
    back = _dataprep("restore", str(tmp_path / "data.quarantine"))
    assert back.returncode == 0, back.stderr.decode()
    assert tree_digest(root) == before
    out = tmp_path / "out"
    split = subprocess.run([sys.executable, "-c", _NO_TF_CLI, str(tmp_path / "cache"), "split", str(root), str(out),
                            "--val", "1", "--test", "0"], capture_output=True, timeout=300, cwd=REPO, check=False)  # fmt: skip
    assert split.returncode == 0, split.stderr.decode()
    doc = json.loads((out / "split.json").read_text(encoding="utf-8"))
    assert len(doc["files"]) == 8
    for f in doc["files"]:  # the manifest names each file exactly, bytes and all
        assert (out / f["path"]).read_bytes() == (root / f["source"]).read_bytes()


_NO_TF_CLI = """
import sys
from pathlib import Path
import dataprep.split.sources as s
from dataprep.inspection.validate import ValidateOptions
real, cache = s._validate, Path(sys.argv[1])
s._validate = lambda raw, options: real(raw, ValidateOptions(jobs=0, use_tf=False, cache_dir=cache))
sys.argv = ["dataprep"] + sys.argv[2:]
from dataprep.cli import main
main()
"""


# --- shapes of trees ------------------------------------------------------------------------


def _remove_tree(top: Path) -> None:
    """Delete a tree without recursion (shutil.rmtree, and so pytest's tmp cleanup, would
    exceed the recursion limit on it)."""
    from dataprep.base.journal import walk_tree

    for folder, _dirs, files in walk_tree(top, topdown=False):
        for name in files:
            os.unlink(os.path.join(folder, name))
        os.rmdir(folder)


@pytest.fixture()
def deep_tmp(tmp_path: Path) -> Any:
    yield tmp_path
    for child in tmp_path.iterdir():
        if child.is_dir() and not child.is_symlink():
            _remove_tree(child)


def test_very_deep_tree(deep_tmp: Path, no_tf_split: None) -> None:
    """1,200 nested folders (deeper than Python's recursion limit): scan, validate, clean, split."""
    tmp_path = deep_tmp
    root = tmp_path / "data"
    from dataprep.base.journal import make_dirs

    deep = os.path.join(str(root), "cats", *(["d"] * 1200))
    make_dirs(deep)  # os.makedirs itself would recurse too deep
    _png(Path(deep) / "deep.png", 1)
    (Path(deep) / "junk.txt").write_text("x")
    for i in range(3):
        _png(root / "cats" / f"{i}.png", i + 2)
    report = validate(root, NO_TF)
    assert len(report.scan.images) == 4 and len(report.scan.junk) == 1
    assert len(clean(root, CleanOptions(validate=NO_TF)).selected) == 1
    restore(tmp_path / "data.quarantine")
    result = split_mod.split_dataset(root, tmp_path / "out", split_mod.SplitSpec(1, 1), seed=1)
    assert result.written == 4
    again = split_mod.split_dataset(root, tmp_path / "out", split_mod.SplitSpec(1, 1), seed=1, resume=True)
    assert again.already_done == 4


def test_class_folder_with_no_images(tmp_path: Path, no_tf_split: None) -> None:
    root = tmp_path / "data"
    for i in range(4):
        _png(root / "cats" / f"{i}.png", i)
    (root / "dogs").mkdir()
    (root / "emus").mkdir()
    (root / "emus" / "Thumbs.db").write_bytes(b"junk")
    report = validate(root, NO_TF)
    assert _findings(report)["dogs/"] == {"empty_class"} and _findings(report)["emus/"] == {"empty_class"}
    result = split_mod.split_dataset(root, tmp_path / "out", split_mod.SplitSpec(1, 1), seed=1)
    assert result.plan.classes == ["cats"] and {"dogs/", "emus/"} <= {e.path for e in result.excluded}


def test_a_thousand_empty_files(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "cats").mkdir(parents=True)
    for i in range(1000):
        (root / "cats" / f"{i}.jpg").touch()
    report = validate(root, NO_TF)
    assert all(_findings(report)[f"cats/{i}.jpg"] == {"empty_file"} for i in range(1000))
    assert not any(f.check == "duplicate" for f in report.findings)  # zero bytes are not "copies"
    assert len(clean(root, CleanOptions(validate=NO_TF)).selected) == 1000


@pytest.mark.slow
def test_100k_empty_files_through_the_pool(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "cats").mkdir(parents=True)
    for i in range(100_000):
        (root / "cats" / f"{i}.jpg").touch()
    proc = _dataprep("validate", str(root), "--json", "--no-cache")
    assert proc.returncode == 1, proc.stderr.decode()
    assert json.loads(proc.stdout)["checks"]["empty_file"]["files"] == 100_000


def _png_claiming(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


def _jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray((ZOO / "zoo" / "valid_baseline.jpg").read_bytes())
    pos = 2
    while data[pos + 1] not in (0xC0, 0xC2):
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    data[pos + 5 : pos + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def test_30k_by_30k_headers_are_refused_without_decoding(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "bombs").mkdir(parents=True)
    (root / "bombs" / "huge.png").write_bytes(_png_claiming(30_000, 30_000))
    (root / "bombs" / "huge.jpg").write_bytes(_jpeg_claiming(30_000, 30_000))
    (root / "bombs" / "wide.png").write_bytes(_png_claiming(0x7FFFFFFF, 1))
    report = validate(root, ValidateOptions(jobs=2, timeout_s=30, use_cache=False))  # the pool, with TensorFlow
    for name in ("huge.png", "huge.jpg"):
        result = report.result(f"bombs/{name}")
        assert result is not None and "pixel_limit" in {f.check for f in result.findings}
        assert not {"pillow_decode", "tf_decode", "inspection_failed"} & {f.check for f in result.findings}
    assert report.result("bombs/wide.png").worst.value == "error"  # type: ignore[union-attr]


# --- edited manifests -----------------------------------------------------------------------


@pytest.mark.parametrize("edit", ["dotdot", "absolute", "root_elsewhere", "link_out"])
def test_quarantine_manifest_edited_to_point_outside_is_refused(zoo_copy: Path, edit: str) -> None:
    clean(zoo_copy, CleanOptions(validate=ValidateOptions(jobs=0, use_tf=False)))
    quarantine = zoo_copy.parent / "zoo.quarantine"
    manifest_path = quarantine / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if edit == "dotdot":
        manifest["entries"][0]["path"] = "zoo/../../escaped.jpg"
    elif edit == "absolute":
        manifest["entries"][0]["path"] = "/etc/escaped.jpg"
    elif edit == "root_elsewhere":
        manifest["root"] = str(zoo_copy.parent / "no-such-dataset")
    else:  # a folder of the dataset replaced by a link that leaves it
        (zoo_copy.parent / "outside").mkdir()
        shutil.move(str(zoo_copy / "zoo"), str(zoo_copy.parent / "moved_zoo"))
        (zoo_copy / "zoo").symlink_to(zoo_copy.parent / "outside")
    manifest_path.write_text(json.dumps(manifest))
    snapshot = dict(tree_digest(zoo_copy.parent).items())
    line = _one_line_error(CliRunner().invoke(app, ["restore", str(quarantine)]))
    assert "outside" in line or "does not exist" in line, line
    assert tree_digest(zoo_copy.parent) == snapshot  # refused before anything moved


# --- the disk -------------------------------------------------------------------------------


def test_hardlink_across_filesystems_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_tf_split: None
) -> None:
    root = tmp_path / "data"
    for i in range(6):
        _png(root / "cats" / f"{i}.png", i)

    def link(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link", str(src), None, str(dst))

    monkeypatch.setattr(split_mod.os, "link", link)  # e.g. a bind mount: same st_dev, yet EXDEV
    line = _one_line_error(
        CliRunner().invoke(
            app, ["split", str(root), str(tmp_path / "out"), "--val", "1", "--test", "1", "--mode", "hardlink"]
        )
    )
    assert "across filesystems" in line and "--mode copy --force" in line
    monkeypatch.undo()
    res = CliRunner().invoke(
        app, ["split", str(root), str(tmp_path / "out"), "--val", "1", "--test", "1", "--mode", "copy", "--force"]
    )
    assert res.exit_code == 0, res.output


def test_disk_full_during_split_then_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_tf_split: None) -> None:
    root = tmp_path / "data"
    for i in range(10):
        _png(root / "cats" / f"{i}.png", i)
    ref = split_mod.split_dataset(root, tmp_path / "ref", split_mod.SplitSpec(2, 2), seed=1)
    real_copy = split_place._copy_bytes
    copies = {"n": 0}

    def copy_bytes(src: str, dst: str, st: os.stat_result) -> None:
        copies["n"] += 1
        if copies["n"] == 5:
            Path(dst).write_bytes(b"half a fi")  # the disk fills mid-file
            raise OSError(errno.ENOSPC, "No space left on device", dst)
        real_copy(src, dst, st)

    monkeypatch.setattr(split_place, "_copy_bytes", copy_bytes)
    out = tmp_path / "out"
    line = _one_line_error(
        CliRunner().invoke(app, ["split", str(root), str(out), "--val", "2", "--test", "2", "--seed", "1"])
    )
    assert "disk full" in line and "--resume" in line
    assert not any(p.name.startswith(".dataprep-tmp-") for p in out.rglob("*"))  # no partial file left
    present = list(out.rglob("*.png"))  # copies already in flight on other threads may finish, complete
    assert 4 <= len(present) < 10
    assert all(p.read_bytes() == (root / Path(*p.relative_to(out).parts[1:])).read_bytes() for p in present)
    monkeypatch.setattr(split_place, "_copy_bytes", real_copy)
    res = CliRunner().invoke(
        app, ["split", str(root), str(out), "--val", "2", "--test", "2", "--seed", "1", "--resume"]
    )
    assert res.exit_code == 0, res.output
    assert {k: v for k, v in tree_digest(out).items() if k != "split.json"} == {
        k: v for k, v in tree_digest(tmp_path / "ref").items() if k != "split.json"
    }
    assert ref.written == 10


def test_disk_full_during_a_cross_filesystem_clean_then_rerun(zoo_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataprep.base.journal as journal_mod

    original = tree_digest(zoo_copy)
    opts = CleanOptions(validate=ValidateOptions(jobs=0, use_tf=False))
    clean(zoo_copy, CleanOptions(dry_run=True, validate=opts.validate))  # fill the cache
    real_rename, real_copyfile = os.rename, shutil.copyfile
    copies = {"n": 0}

    def rename(src: Any, dst: Any) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")  # the quarantine is on another disk

    def copyfile(src: Any, dst: Any, **kwargs: Any) -> Any:
        copies["n"] += 1
        if copies["n"] == 4:
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real_copyfile(src, dst, **kwargs)

    monkeypatch.setattr(journal_mod.os, "rename", rename)
    monkeypatch.setattr(journal_mod.shutil, "copyfile", copyfile)
    line = _one_line_error(CliRunner().invoke(app, ["clean", str(zoo_copy), "--jobs", "0"]))
    assert "No space left on device" in line and "re-run" in line
    union = tree_digest(zoo_copy) | {
        k: v
        for k, v in tree_digest(zoo_copy.parent / "zoo.quarantine").items()
        if k not in ("manifest.json", "journal.jsonl", ".dataprep.lock")
    }
    assert union == original  # nothing lost, nothing partial
    monkeypatch.setattr(journal_mod.os, "rename", real_rename)
    monkeypatch.setattr(journal_mod.shutil, "copyfile", real_copyfile)
    assert CliRunner().invoke(app, ["clean", str(zoo_copy), "--jobs", "0"]).exit_code == 0
    restore(zoo_copy.parent / "zoo.quarantine")
    assert tree_digest(zoo_copy) == original
