"""One decode per file: clean JPEGs are settled without TensorFlow (never imported for them),
everything else is asked of it; the check table, its name constants and the cache key."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
from pathlib import Path

import photos
import pytest
from conftest import ZOO
from PIL import Image

from dataprep.base.findings import Finding, Severity
from dataprep.inspection.cache import fingerprint
from dataprep.inspection.checks import (
    CHECK_NAMES,
    CHECKS,
    DATASET_CHECKS,
    Check,
    CheckOptions,
    QualityThresholds,
    Sample,
)
from dataprep.inspection.local_engine import inspect_file, inspect_files
from dataprep.inspection.report import FileResult
from dataprep.inspection.scan import scan_dataset


def _jpeg(im: Image.Image, **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", **params)  # type: ignore[arg-type]
    return buf.getvalue()


def clean_jpeg_folder(root: Path, count: int = 6) -> Path:
    for i in range(count):
        im = photos.photo(i, (200 + 10 * i, 150))
        data = _jpeg(im.convert("L") if i == 1 else im, quality=85, progressive=i == 2)
        photos.save(root / ("cats" if i % 2 else "dogs") / f"{i}.jpg", data)
    return root


TF_IMPORTED = "tensorflow_imported"


def inspect_noting_tensorflow(path: Path, rel: str, size: int, mtime_ns: int, options: CheckOptions) -> FileResult:
    """inspect_file, plus a note when the worker has imported TensorFlow by the time it is done."""
    result = inspect_file(path, rel, size, mtime_ns, options)
    if "tensorflow" in sys.modules:
        result.findings.append(Finding(rel, TF_IMPORTED, Severity.INFO, "TensorFlow imported in this worker"))
    return result


def _tf_imported_by_workers(root: Path) -> bool:
    results = inspect_files(scan_dataset(root).images, CheckOptions(), jobs=2, inspect=inspect_noting_tensorflow)
    assert all(r.sha256 for r in results)
    return any(f.check == TF_IMPORTED for r in results for f in r.findings)


def test_workers_never_import_tensorflow_for_clean_jpegs(tmp_path: Path) -> None:
    assert not _tf_imported_by_workers(clean_jpeg_folder(tmp_path / "clean"))


def test_a_damaged_jpeg_is_asked_of_tensorflow(tmp_path: Path) -> None:
    root = clean_jpeg_folder(tmp_path / "one_bad", count=2)
    (root / "cats" / "bad.jpg").write_bytes((ZOO / "zoo" / "truncated_half.jpg").read_bytes())
    assert _tf_imported_by_workers(root)


_CLI_IMPORTS_TF = """
import sys
from dataprep.cli import main
sys.argv = ["dataprep", "validate", sys.argv[1], "--json", "--jobs", "0", "--no-cache", "--fail-on", "never"]
try:
    main()
except SystemExit:
    pass
print("tensorflow" in sys.modules, file=sys.stderr)
"""


@pytest.mark.parametrize("damaged", [False, True])
def test_validate_command_imports_tensorflow_only_when_a_file_needs_it(tmp_path: Path, damaged: bool) -> None:
    root = clean_jpeg_folder(tmp_path / "data", count=3)
    if damaged:
        (root / "cats" / "x.jpg").write_bytes((ZOO / "zoo" / "extraneous_bytes.jpg").read_bytes())
    command = [sys.executable, "-c", _CLI_IMPORTS_TF, str(root)]
    proc = subprocess.run(command, check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == str(damaged)
    assert ('"corrupt_data"' in proc.stdout) == damaged


@pytest.mark.parametrize(
    ("params", "mode"),
    [({"quality": 90}, "RGB"), ({"quality": 80, "progressive": True}, "RGB"), ({"subsampling": 0}, "RGB"), ({}, "L")],
)
def test_single_decode_matches_pillows_draft_pixels(params: dict[str, object], mode: str) -> None:
    """The libjpeg-turbo decode picks Pillow's draft scale, so hashes do not depend on the path."""
    import numpy as np

    data = _jpeg(photos.photo(7, (517, 389)).convert(mode), **params)
    sample = Sample(Path("x.jpg"), "x.jpg", CheckOptions(), data=data)
    assert sample.settled
    single = sample.pixels.array
    with Image.open(io.BytesIO(data)) as im:
        im.draft(im.mode, sample._draft_size(im.width, im.height))
        pillow = np.asarray(im.convert("RGB"))
    assert single is not None and single.shape == pillow.shape
    assert np.abs(single.astype(int) - pillow.astype(int)).mean() < 1.0


def test_unsettled_files_are_decoded_by_pillow_and_asked_of_tensorflow() -> None:
    for name in ("cmyk.jpg", "valid.png", "valid.gif", "valid_24bit.bmp", "valid.webp", "corrupt_scan.jpg"):
        sample = Sample(ZOO / "zoo" / name, name, CheckOptions())
        assert not sample.settled, name
        assert sample.tensorflow.settled is None and (sample.tensorflow.array is not None), name
        assert sample.pixels is sample.pillow


def test_check_table_holds_every_name_once() -> None:
    constants = {v for k, v in vars(Check).items() if k.isupper()}
    assert constants == set(CHECK_NAMES) and len(CHECK_NAMES) == len(set(CHECK_NAMES))
    per_file = {c.name for c in CHECKS if c.per_file}
    assert set(DATASET_CHECKS) == set(CHECK_NAMES) - per_file
    assert DATASET_CHECKS[Check.INSPECTION_FAILED][0] is Severity.ERROR


def test_cache_key_covers_every_option_field() -> None:
    """Changing any option that shapes per-file results changes the key; odd_size (judged after
    the cache, over the whole dataset) does not."""
    base = fingerprint(CheckOptions())
    for f in dataclasses.fields(CheckOptions):
        if f.name == "quality":
            continue
        value = getattr(CheckOptions(), f.name)
        changed = (not value) if isinstance(value, bool) else value + 1
        assert fingerprint(dataclasses.replace(CheckOptions(), **{f.name: changed})) != base, f.name
    for f in dataclasses.fields(QualityThresholds):
        quality = dataclasses.replace(QualityThresholds(), **{f.name: getattr(QualityThresholds(), f.name) + 1})
        same = fingerprint(CheckOptions(quality=quality)) == base
        assert same == (f.name == "odd_size"), f.name


def _settled_corpus() -> dict[str, bytes]:
    files = {name: (ZOO / "zoo" / name).read_bytes() for name in ("valid_baseline.jpg", "grayscale.jpg")}
    for i, mode in enumerate(("RGB", "L")):
        im = photos.photo(30 + i, (203, 141)).convert(mode)
        files[f"{mode}.jpg"] = _jpeg(im, quality=85)
        files[f"{mode}_progressive.jpg"] = _jpeg(im, quality=85, progressive=True)
        exif = Image.Exif()
        exif[0x0112] = 6
        files[f"{mode}_exif.jpg"] = _jpeg(im, exif=exif.tobytes())
    return files


@pytest.mark.parametrize("name", sorted(_settled_corpus()))
def test_a_settled_jpegs_header_is_pillows(name: str) -> None:
    """A settled JPEG's header comes from the frame the single decode read, not a second parse:
    it must say what Pillow's header says (format, size, mode, frames)."""
    data = _settled_corpus()[name]
    sample = Sample(Path(name), name, CheckOptions(), data=data)
    assert sample.settled
    assert sample.header == Sample(Path(name), name, CheckOptions(), data=data)._pillow_header()
    with Image.open(io.BytesIO(data)) as im:
        assert (sample.header.width, sample.header.height, sample.header.mode) == (im.width, im.height, im.mode)


def test_a_multi_picture_jpeg_gets_pillows_header() -> None:
    """Pillow opens a JPEG with an MPF segment as MPO (format, frame count): not settled by the frame."""
    frames = [photos.photo(40 + i, (120, 90)) for i in range(2)]
    buf = io.BytesIO()
    frames[0].save(buf, "MPO", save_all=True, append_images=frames[1:])
    sample = Sample(Path("m.jpg"), "m.jpg", CheckOptions(), data=buf.getvalue())
    assert not sample.settled
    assert sample.header.format == "mpo" and sample.header.frames == 2
