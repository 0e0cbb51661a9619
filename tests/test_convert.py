"""Real-world datasets (issue 10): content decides what is an image; `convert` makes what
TensorFlow cannot read (or reads wrongly, or sees rotated) into files it reads right, losing
nothing: dry run, idempotence, kill -9 at every step, restore byte-identical."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import tree_digest
from PIL import Image, ImageOps
from real_world import exif_rotated, heic_classes, mixed_formats, picture, ppm_classes
from typer.testing import CliRunner

from dataprep.actions.convert import ConvertOptions, convert
from dataprep.actions.restore import restore
from dataprep.base.errors import DataprepError
from dataprep.base.formats import exif_orientation, identify_format
from dataprep.base.journal import KILL_AFTER_ENV
from dataprep.insight.stats import dataset_stats
from dataprep.inspection.validate import ValidateOptions, validate

runner = CliRunner()
SERIAL = ValidateOptions(jobs=0)
NO_TF = ValidateOptions(jobs=0, use_tf=False)


def checks_of(root: Path, options: ValidateOptions = SERIAL) -> dict[str, set[str]]:
    report = validate(root, options)
    return {r.rel: {f.check for f in r.findings} for r in report.results}


def errors_and_warnings(root: Path) -> dict[str, set[str]]:
    report = validate(root, SERIAL)
    return {
        r.rel: {f.check for f in r.findings if f.severity.value != "info"}
        for r in report.results
        if r.worst and r.worst.value != "info"
    }


# --- content decides -----------------------------------------------------------------------------


def test_identify_format_reads_content_not_names(tmp_path: Path) -> None:
    made = mixed_formats(tmp_path)
    for rel, key in made.items():
        assert identify_format((tmp_path / rel).read_bytes()) == key, rel
    ppm = ppm_classes(tmp_path / "gtsrb", classes=1, per_class=1)[0]
    assert identify_format(ppm.read_bytes()) == "pnm"
    for junk in (
        b"hello, this is text\n",
        b"<html><body>404</body></html>",
        b"PK\x03\x04" + bytes(60),
        b"\x1f\x8b\x08\x00" + bytes(40),
        bytes.fromhex("d0cf11e0a1b11ae1") + bytes(500),
        b"",
    ):
        assert identify_format(junk) is None, junk[:8]


def test_junk_is_what_is_no_image_by_content(tmp_path: Path) -> None:
    ppm_classes(tmp_path, classes=2, per_class=2)
    (tmp_path / "00000" / "notes.txt").write_text("collected 2019")
    (tmp_path / "00000" / "README").write_text("no extension, text")
    (tmp_path / "00001" / "backup.zip").write_bytes(b"PK\x03\x04" + bytes(100))
    (tmp_path / "00001" / "broken.jpg").write_bytes(b"<html><body>404 Not Found</body></html>")
    report = validate(tmp_path, SERIAL)
    assert {r.rel for r in report.scan.junk} == {"00000/notes.txt", "00000/README", "00001/backup.zip"}
    found = {r.rel: {f.check: f.detail for f in r.findings} for r in report.results}
    assert found["00000/notes.txt"]["junk_file"].startswith("content is text")
    assert found["00001/backup.zip"]["junk_file"].startswith("content is a ZIP archive")
    assert "unknown_format" in found["00001/broken.jpg"]  # named as an image: a failed download, an error
    assert "unsupported_format" in found["00000/00000_00000.ppm"]
    assert "PPM image" in found["00000/00000_00000.ppm"]["unsupported_format"]
    assert "dataprep convert" in found["00000/00000_00000.ppm"]["unsupported_format"]
    stats = dataset_stats(tmp_path)  # stats counts images: the page named .jpg is listed with the junk
    assert stats["count"] == 4 and set(stats["classes"]) == {"00000", "00001"}
    assert {j["path"] for j in stats["junk"]} == {
        "00000/notes.txt", "00000/README", "00001/backup.zip", "00001/broken.jpg"
    }  # fmt: skip


# --- each dataset shape: validate reports it, convert fixes it, validate then has no error ----------


def test_ppm_classes_are_a_dataset_and_convert_to_png(tmp_path: Path) -> None:
    ppm_classes(tmp_path, classes=3, per_class=4)
    stats = dataset_stats(tmp_path)
    assert stats["count"] == 12 and list(stats["classes"]) == ["00000", "00001", "00002"] and stats["junk"] == []
    assert stats["classes"]["00000"]["formats"] == {"PPM": 4} and stats["tf_unreadable"] == {"PPM": 12}
    assert all(c == {"unsupported_format"} for c in checks_of(tmp_path).values())
    originals = {p.relative_to(tmp_path).as_posix(): np.asarray(Image.open(p)) for p in tmp_path.rglob("*.ppm")}
    result = convert(tmp_path, ConvertOptions(validate=SERIAL))
    assert result.converted == 12 and result.skipped == []
    assert errors_and_warnings(tmp_path) == {}
    for rel, pixels in originals.items():
        png = tmp_path / rel.replace(".ppm", ".png")
        assert np.array_equal(np.asarray(Image.open(png).convert("RGB")), pixels)  # lossless
    assert not list(tmp_path.rglob("*.ppm"))


def test_mixed_formats_convert_and_a_lying_extension_is_renamed(tmp_path: Path) -> None:
    made = mixed_formats(tmp_path)
    before = checks_of(tmp_path)
    for rel, key in made.items():
        if key in ("tiff", "tga", "jpeg2000", "avif"):
            assert "unsupported_format" in before[rel], rel
        elif key == "png":
            assert "extension_mismatch" in before[rel] and "unsupported_format" not in before[rel]
        else:
            assert before[rel] == set(), rel  # WebP: TensorFlow reads it
    result = convert(tmp_path, ConvertOptions(validate=SERIAL))
    targets = {c.rel: c.target for c in result.planned}
    assert (
        targets["cat/cat_tif.tif"] == "cat/cat_tif.png" and targets["cat/cat_png_named.jpg"] == "cat/cat_png_named.png"
    )
    assert "cat/cat_webp.webp" not in targets
    # A rename keeps the bytes.
    stored = result.quarantine / "cat" / "cat_png_named.jpg"  # type: ignore[operator]
    assert (tmp_path / "cat" / "cat_png_named.png").read_bytes() == stored.read_bytes()
    assert errors_and_warnings(tmp_path) == {}
    assert not any(checks_of(tmp_path).values())


def test_to_jpeg_writes_jpeg_at_the_quality_asked(tmp_path: Path) -> None:
    mixed_formats(tmp_path)
    result = convert(tmp_path, ConvertOptions(to="jpeg", quality=90, validate=SERIAL))
    assert (tmp_path / "dog" / "dog_tga.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    assert all(c.target.endswith((".jpg", ".png")) for c in result.planned)
    assert errors_and_warnings(tmp_path) == {}


def test_heic_converts_with_pillow_heif(tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif", reason="HEIC needs the optional pillow-heif (pip install 'dataprep[heif]')")
    heic_classes(tmp_path)
    assert all("unsupported_format" in c for c in checks_of(tmp_path).values())
    result = convert(tmp_path, ConvertOptions(validate=SERIAL))
    assert result.converted == 4 and errors_and_warnings(tmp_path) == {}


def test_heic_without_pillow_heif_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataprep.actions.convert_plan as convert_plan

    folder = tmp_path / "cat"
    folder.mkdir()
    (folder / "IMG_0001.heic").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64))
    monkeypatch.setattr(convert_plan, "heif_available", lambda: False)
    with pytest.raises(DataprepError, match=r"pip install 'dataprep\[heif\]'"):
        convert(tmp_path, ConvertOptions(validate=SERIAL))


def test_exif_orientation_is_reported_and_baked_in(tmp_path: Path) -> None:
    tf = pytest.importorskip("tensorflow")
    made = exif_rotated(tmp_path)
    upright = {
        rel: np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / rel)).convert("RGB")).astype(int) for rel in made
    }
    found = validate(tmp_path, SERIAL)
    details = {r.rel: {f.check: f.detail for f in r.findings} for r in found.results}
    for rel, value in made.items():
        assert exif_orientation("jpeg", (tmp_path / rel).read_bytes()) == value
        assert "TensorFlow ignores the EXIF orientation" in details[rel]["exif_orientation"]
    assert "rotated 90° counter-clockwise" in details["cat/cat_orientation_6.jpg"]["exif_orientation"]
    assert "rotated 90° clockwise" in details["cat/cat_orientation_8.jpg"]["exif_orientation"]
    assert "exif_orientation" not in details["cat/cat_upright.jpg"]
    result = convert(tmp_path, ConvertOptions(validate=SERIAL))
    assert {c.rel for c in result.planned} == set(made) and all(c.target == c.rel for c in result.planned)
    for rel in made:
        data = (tmp_path / rel).read_bytes()
        assert exif_orientation("jpeg", data) in (None, 1)
        seen = tf.io.decode_image(data, channels=3, expand_animations=False).numpy().astype(int)
        assert seen.shape == upright[rel].shape, rel
        assert np.abs(seen - upright[rel]).mean() < 3.0, rel  # JPEG re-encoding at quality 95
    assert errors_and_warnings(tmp_path) == {}


def test_animated_gif_needs_first_frame(tmp_path: Path) -> None:
    folder = tmp_path / "cat"
    folder.mkdir()
    frames = [picture(0, i) for i in range(3)]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    Image.open(folder / "anim.gif").save(tmp_path / "still.tif")  # keeps one frame
    (tmp_path / "still.tif").rename(folder / "still.tif")
    assert convert(tmp_path, ConvertOptions(validate=SERIAL)).planned[0].rel == "cat/still.tif"
    result = convert(tmp_path, ConvertOptions(first_frame=True, validate=SERIAL))
    assert [c.rel for c in result.planned] == ["cat/anim.gif"]
    with Image.open(folder / "anim.png") as im:
        assert getattr(im, "n_frames", 1) == 1


# --- losing nothing (like clean) -----------------------------------------------------------------


@pytest.fixture
def shapes(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    mixed_formats(root)
    exif_rotated(root, orientations=(6,))
    return root


def test_dry_run_touches_nothing(shapes: Path) -> None:
    before = tree_digest(shapes.parent)
    result = convert(shapes, ConvertOptions(dry_run=True, validate=SERIAL))
    assert result.planned and result.converted == 0
    assert tree_digest(shapes.parent) == before


def test_second_run_finds_nothing_and_restore_is_byte_identical(shapes: Path) -> None:
    before = tree_digest(shapes)
    first = convert(shapes, ConvertOptions(validate=SERIAL))
    assert first.converted > 0
    again = convert(shapes, ConvertOptions(validate=SERIAL))
    assert again.planned == [] and again.converted == 0
    manifest = json.loads((first.quarantine / "manifest.json").read_text())  # type: ignore[operator]
    assert {e["status"] for e in manifest["entries"]} == {"converted"}
    back = restore(first.quarantine)  # type: ignore[arg-type]
    assert sorted(back.restored) == sorted(c.rel for c in first.planned) and back.refused == []
    assert tree_digest(shapes) == before


def test_restore_keeps_a_converted_file_the_user_changed(shapes: Path) -> None:
    result = convert(shapes, ConvertOptions(validate=SERIAL))
    changed = shapes / "cat" / "cat_tga.png"
    changed.write_bytes(b"edited by the user")
    back = restore(result.quarantine)  # type: ignore[arg-type]
    assert "cat/cat_tga.tga" in back.refused and changed.read_bytes() == b"edited by the user"
    assert (result.quarantine / "cat" / "cat_tga.tga").exists()  # type: ignore[operator]


def test_out_writes_a_converted_copy_and_touches_nothing(shapes: Path, tmp_path: Path) -> None:
    (shapes / "cat" / "notes.txt").write_text("junk")
    before = tree_digest(shapes)
    out = tmp_path / "converted"
    result = convert(shapes, ConvertOptions(out=out, validate=SERIAL))
    assert tree_digest(shapes) == before and not (shapes.parent / "data.quarantine").exists()
    assert result.converted == len(result.planned) and result.copied > 0
    assert not (out / "cat" / "notes.txt").exists()
    assert errors_and_warnings(out) == {}
    again = convert(shapes, ConvertOptions(out=out, validate=SERIAL))
    assert again.converted == 0 and again.copied == 0  # everything is there already
    other = tmp_path / "someone_elses"
    (other / "keep.txt").parent.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(DataprepError, match="not empty"):
        convert(shapes, ConvertOptions(out=other, validate=SERIAL))


def _killed_convert(root: str, kill_after: int) -> None:
    os.environ[KILL_AFTER_ENV] = str(kill_after)
    convert(root, ConvertOptions(validate=NO_TF))


def _killed_restore(quarantine: str, kill_after: int) -> None:
    os.environ[KILL_AFTER_ENV] = str(kill_after)
    restore(quarantine)


def _run_killed(target: object, *args: object) -> int | None:
    proc = mp.get_context("fork").Process(target=target, args=args)
    proc.start()
    proc.join(120)
    return proc.exitcode


def test_kill_at_every_step_then_rerun_or_restore(tmp_path: Path) -> None:
    root = tmp_path / "data"
    ppm_classes(root, classes=1, per_class=2)
    exif_rotated(root, orientations=(8,))
    original = tree_digest(root)
    quarantine = tmp_path / "data.quarantine"
    converted = convert(root, ConvertOptions(dry_run=True, validate=NO_TF))
    files = len(converted.planned)
    # Operations: 1 manifest save, per file intent + move + encoded + write + done, the final save.
    total_ops = 2 + 5 * files
    for kill_after in range(1, total_ops):
        assert _run_killed(_killed_convert, str(root), kill_after) == -9, kill_after
        # At every instant each original is in the dataset or the quarantine, whole.
        stored = {
            k: v
            for k, v in tree_digest(quarantine).items()
            if k not in ("manifest.json", "journal.jsonl", ".dataprep.lock")
        }
        present = tree_digest(root)
        for rel, data in original.items():
            assert present.get(rel) == data or stored.get(rel) == data, (kill_after, rel)
        if kill_after % 2:
            finished = convert(root, ConvertOptions(validate=NO_TF))  # re-run finishes the job
            assert not errors_and_warnings(root), kill_after
            assert convert(root, ConvertOptions(validate=NO_TF)).planned == [], kill_after
            assert finished.recovered >= 0
        assert _run_killed(_killed_restore, str(quarantine), 3) in (-9, 0)
        restore(quarantine)
        assert tree_digest(root) == original, kill_after


def test_kill_through_the_cli_then_rerun(tmp_path: Path) -> None:
    root = tmp_path / "data"
    ppm_classes(root, classes=2, per_class=1)
    original = tree_digest(root)
    env = {**os.environ, KILL_AFTER_ENV: "4"}
    killed = subprocess.run(
        [sys.executable, "-m", "dataprep", "convert", str(root), "--jobs", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert killed.returncode == -9, killed.stderr
    done = subprocess.run(
        [sys.executable, "-m", "dataprep", "convert", str(root), "--jobs", "0", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["recovered_from_interrupted_run"] == 1
    assert sorted(p.name for p in root.rglob("*.png")) == ["00000_00000.png", "00000_00000.png"]
    back = subprocess.run(
        [sys.executable, "-m", "dataprep", "restore", str(tmp_path / "data.quarantine")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert back.returncode == 0, back.stderr
    assert tree_digest(root) == original


def test_convert_cli_json_and_dry_run(tmp_path: Path) -> None:
    from dataprep.cli import app

    ppm_classes(tmp_path / "gtsrb", classes=2, per_class=1)
    out = runner.invoke(app, ["convert", str(tmp_path / "gtsrb"), "--jobs", "0", "--dry-run", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["dry_run"] and [f["target"] for f in data["files"]] == [
        "00000/00000_00000.png",
        "00001/00000_00000.png",
    ]
    bad = runner.invoke(app, ["convert", str(tmp_path / "gtsrb"), "--to", "gif"])
    assert bad.exit_code == 2 and "expected png or jpeg" in bad.stderr


def test_split_places_images_tensorflow_cannot_read_yet(tmp_path: Path) -> None:
    from photos import photo  # distinct pictures: no near duplicates to keep together

    from dataprep.split import SplitSpec, split_dataset

    for c in range(2):
        for i in range(10):
            (tmp_path / "gtsrb" / f"{c:05d}").mkdir(parents=True, exist_ok=True)
            photo(100 * c + i, (96, 72)).save(tmp_path / "gtsrb" / f"{c:05d}" / f"{i:05d}.ppm")
    result = split_dataset(tmp_path / "gtsrb", tmp_path / "out", SplitSpec(2, 2), validate_options=SERIAL)
    assert result.excluded == [] and len(result.plan.assignments) == 20
    convert(tmp_path / "out", ConvertOptions(validate=SERIAL))
    assert errors_and_warnings(tmp_path / "out") == {}
    assert len(list((tmp_path / "out").rglob("*.png"))) == 20


def test_convert_fixes_the_zoo_files_clean_leaves_for_it(zoo_copy: Path) -> None:
    from dataprep.actions.clean import CleanOptions, clean

    left = set(clean(zoo_copy, CleanOptions(dry_run=True, validate=SERIAL)).to_convert)
    result = convert(zoo_copy, ConvertOptions(validate=SERIAL))
    targets = {c.rel: c.target for c in result.planned}
    assert left <= set(targets)
    assert targets["zoo/palette_8bit.bmp"] == "zoo/palette_8bit.png"  # TensorFlow read palette indices as gray
    assert targets["zoo/gif_named.jpg"] == "zoo/gif_named.gif"  # renamed: same bytes
    assert "zoo/truncated_no_iend.png" not in targets and "zoo/animated.gif" not in targets
    after = checks_of(zoo_copy)
    for rel in targets.values():
        assert not after[rel] & {"unsupported_format", "tf_decode", "wrong_pixels", "extension_mismatch"}, rel
    assert clean(zoo_copy, CleanOptions(dry_run=True, validate=SERIAL)).to_convert == []
