"""`convert` never launders damage, and a decoder that raises is one line, never the interrupt
path (issue 26): the generated regression files `fixtures/regressions/jpeg_cmyk_corrupt_*.jpg`
and `psd_unseekable_*.psd`, plus a decoder made to raise."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, ZOO, tree_digest
from PIL import Image
from typer.testing import CliRunner

from dataprep.actions.clean import CleanOptions, clean
from dataprep.actions.convert import ConvertOptions, convert
from dataprep.actions.restore import restore
from dataprep.base.journal import KILL_AFTER_ENV
from dataprep.cli import app
from dataprep.console import CommandApp, run_app
from dataprep.inspection.damage import decode_damage
from dataprep.inspection.validate import ValidateOptions, validate

runner = CliRunner()
SERIAL = ValidateOptions(jobs=0)
CORRUPT_CMYK = FIXTURES / "regressions" / "jpeg_cmyk_corrupt_laundered_by_convert.jpg"
PSD = FIXTURES / "regressions" / "psd_unseekable_frame_convert_aborted.psd"


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    """A folder with the corrupt CMYK JPEG and a good TIFF (which convert must still fix)."""
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    shutil.copyfile(CORRUPT_CMYK, root / "a" / "bad.jpg")
    shutil.copyfile(ZOO / "zoo" / "valid.tif", root / "a" / "good.tif")
    return root


def _findings(root: Path) -> dict[str, set[str]]:
    return {r.rel: {f.check for f in r.findings} for r in validate(root, SERIAL).results}


def test_the_corrupt_cmyk_jpeg_is_damaged_and_clean_removes_it_instead_of_leaving_it_for_convert(
    damaged: Path,
) -> None:
    report = validate(damaged, SERIAL)
    bad = next(r for r in report.results if r.rel == "a/bad.jpg")
    assert {"corrupt_data", "wrong_pixels"} <= {f.check for f in bad.findings}
    assert decode_damage(bad) and decode_damage(bad)[0].startswith("corrupt_data: libjpeg: Corrupt JPEG data")
    result = clean(damaged, CleanOptions(dry_run=True, validate=SERIAL))
    assert [r.rel for r in result.selected] == ["a/bad.jpg"]
    assert result.to_convert == ["a/good.tif"]


def test_convert_refuses_the_damaged_file_by_name_and_validate_still_sees_it(damaged: Path) -> None:
    before = (damaged / "a" / "bad.jpg").read_bytes()
    out = runner.invoke(app, ["convert", str(damaged), "--jobs", "0"])
    assert out.exit_code == 1, out.output
    refusals = [line for line in out.stderr.splitlines() if line.startswith("refused")]
    assert len(refusals) == 1 and refusals[0].startswith("refused a/bad.jpg: damaged, not converted (corrupt_data")
    assert "--force-damaged" in refusals[0]
    assert (damaged / "a" / "bad.jpg").read_bytes() == before
    after = _findings(damaged)
    assert {"corrupt_data", "wrong_pixels"} <= after["a/bad.jpg"]  # not laundered: validate still sees it
    assert "unsupported_format" not in after["a/good.png"]  # the good file was converted


def test_force_damaged_converts_and_records_the_damage_in_the_manifest(damaged: Path) -> None:
    original = tree_digest(damaged)
    out = runner.invoke(app, ["convert", str(damaged), "--jobs", "0", "--force-damaged", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    forced = next(f for f in data["files"] if f["path"] == "a/bad.jpg")
    assert forced["damage"][0].startswith("corrupt_data: ")
    manifest = json.loads((damaged.parent / "data.quarantine" / "manifest.json").read_text())
    entry = next(e for e in manifest["entries"] if e["path"] == "a/bad.jpg")
    assert entry["damage"] == forced["damage"]
    assert "damage" not in next(e for e in manifest["entries"] if e["path"] == "a/good.tif")
    restore(damaged.parent / "data.quarantine")
    assert tree_digest(damaged) == original


def test_a_psd_converts_to_its_pixels_and_restores_byte_identical(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    shutil.copyfile(PSD, root / "a" / "layered.psd")
    original = tree_digest(root)
    out = runner.invoke(app, ["convert", str(root), "--jobs", "0"])
    assert out.exit_code == 0, out.output
    with Image.open(PSD) as psd, Image.open(root / "a" / "layered.png") as png:
        assert np.array_equal(np.asarray(psd.convert("RGB")), np.asarray(png.convert("RGB")))
    restore(tmp_path / "data.quarantine")
    assert tree_digest(root) == original


def _raise_eof(data: bytes, output: str, quality: int) -> bytes:
    raise EOFError("no more images in PSD file")


def test_a_decoder_that_raises_fails_one_file_in_one_line_and_leaves_it_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    shutil.copyfile(PSD, root / "a" / "layered.psd")
    original = tree_digest(root)
    monkeypatch.setattr("dataprep.actions.convert.encode_converted", _raise_eof)
    for _ in range(2):  # and the same on a re-run: never the interrupt path
        out = runner.invoke(app, ["convert", str(root), "--jobs", "0"])
        assert out.exit_code == 1, out.output
        errors = [line for line in out.stderr.splitlines() if line.startswith("error")]
        assert errors == [
            "error: could not convert 'a/layered.psd': EOFError: no more images in PSD file; "
            "the original is in place, unchanged"
        ]
        assert tree_digest(root) == original
        manifest = json.loads((tmp_path / "data.quarantine" / "manifest.json").read_text())
        assert manifest["entries"] == []


def _killed_convert(root: str, kill_after: int) -> None:
    os.environ[KILL_AFTER_ENV] = str(kill_after)
    convert(root, ConvertOptions(validate=SERIAL))


def test_a_killed_run_left_the_original_quarantined_and_a_raising_decoder_rolls_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    shutil.copyfile(PSD, root / "a" / "layered.psd")
    original = tree_digest(root)
    # Operations: the manifest save, the journaled intent, the move into the quarantine.
    proc = mp.get_context("fork").Process(target=_killed_convert, args=(str(root), 3))
    proc.start()
    proc.join(120)
    assert proc.exitcode == -9
    assert not (root / "a" / "layered.psd").exists()  # the state the old bug left after `error: aborted`
    monkeypatch.setattr("dataprep.actions.convert.encode_converted", _raise_eof)
    result = convert(root, ConvertOptions(validate=SERIAL))
    assert [rel for rel, _ in result.failed] == ["a/layered.psd"]
    assert tree_digest(root) == original
    journal = (tmp_path / "data.quarantine" / "journal.jsonl").read_text().splitlines()
    assert json.loads(journal[-1]) == {"op": "convert", "path": "a/layered.psd", "phase": "rolled_back"}


def test_an_eoferror_leaving_a_command_is_one_line_and_exit_2_not_an_interrupt(
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo = CommandApp()

    @demo.command()
    def read() -> None:
        raise EOFError("attempt to seek outside sequence")

    @demo.command()
    def other() -> None:  # two commands, so Typer keeps the command name
        pass

    with pytest.raises(SystemExit) as exited:
        run_app(demo, "demo", ["read"])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: unexpected end of data (EOFError: attempt to seek outside sequence); "
        "re-run with --debug for where it happened"
    ]


def _damaged_cmyk_photo() -> bytes:
    """A CMYK photo whose Adobe tag has one flipped bit and 64 entropy-coded bytes XORed: on a
    picture this size libjpeg resynchronises without a warning, so only the decoders' disagreement
    about its edges shows the damage (Pillow draws a drifted band, TensorFlow a black frame)."""
    import io

    from photos import photo

    buf = io.BytesIO()
    photo(4, (300, 280)).convert("CMYK").save(buf, "JPEG", quality=90)
    data = bytearray(buf.getvalue())
    data[data.find(b"Adobe") + 1] ^= 0x01
    pos = 2
    while data[pos + 1] != 0xDA:  # to the start of scan
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    start = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    middle = start + (len(data) - 2 - start) * 6 // 10
    rng = np.random.default_rng(0)  # with seed 0 libjpeg reports nothing (seeds 1-3 warn)
    for i in range(middle, middle + 64):
        value = data[i] ^ int(rng.integers(1, 255))
        if data[i] != 0xFF and data[i - 1] != 0xFF and value != 0xFF:
            data[i] = value
    return bytes(data)


def test_a_jpeg_whose_decoders_disagree_about_its_edges_is_damaged_not_another_colour_model(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    (root / "a" / "drifted.jpg").write_bytes(_damaged_cmyk_photo())
    shutil.copyfile(ZOO / "zoo" / "cmyk.jpg", root / "a" / "cmyk.jpg")
    shutil.copyfile(ZOO / "zoo" / "palette_8bit.bmp", root / "a" / "palette.bmp")
    by_file = {r.rel: r for r in validate(root, SERIAL).results}
    wrong = next(f for f in by_file["a/drifted.jpg"].findings if f.check == "wrong_pixels")
    assert "their edges disagree too" in wrong.detail and "damaged" in wrong.detail
    assert decode_damage(by_file["a/drifted.jpg"]) == [f"wrong_pixels: {wrong.detail}"]
    assert decode_damage(by_file["a/cmyk.jpg"]) == []  # a sound CMYK JPEG: the decoders agree
    assert decode_damage(by_file["a/palette.bmp"]) == []  # indices read as gray: a colour model, convertible
    result = clean(root, CleanOptions(dry_run=True, validate=SERIAL))
    assert [r.rel for r in result.selected] == ["a/drifted.jpg"] and result.to_convert == ["a/palette.bmp"]
