"""issue 26, "Trust at the edges": what a new user meets at the edges of the tool, on generated data.

A NaN option is called what it is; decoder noise is one `note:` line in every command; text-based
image formats are images; split counts each copy toward its own class; stats calls junk junk;
quality findings leave good photos alone; every output file follows one overwrite rule; every
`--json` is one object with a `version`; the pictures keep their captions and bars visible.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def run_cli(prog: str, args: list[str], cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", prog, *args], cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "XDG_CACHE_HOME": str(cache), **env},
    )  # fmt: skip


def lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


# --- a NaN option is "not a finite number" ------------------------------------------------------


@pytest.mark.parametrize(
    ("prog", "args", "option"),
    [
        ("dataprep", ["validate", "DIR", "--timeout"], "--timeout"),
        ("dataprep", ["duplicates", "DIR", "--similarity"], "--similarity"),
        ("dataprep", ["relabel", "DIR", "--label-issues", "DIR/x.json", "--min-score"], "--min-score"),
        ("trainer", ["fit", "DIR", "--lr"], "--lr"),
        ("trainer", ["label-issues", "DIR", "--lr"], "--lr"),
    ],
)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_nan_and_infinity_are_called_not_finite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], prog: str, args: list[str], option: str, value: str
) -> None:
    from dataprep.console import run_app

    if prog == "dataprep":
        from dataprep.cli import app
    else:
        from trainer.cli import app
    argv = [a.replace("DIR", str(tmp_path)) for a in args] + [value]
    with pytest.raises(SystemExit) as stopped:
        run_app(app, prog, argv)
    assert stopped.value.code == 2
    err = lines(capsys.readouterr().err)
    assert len(err) == 1, err
    assert f"'{option}': {value} is not a finite number" in err[0], err[0]
    assert "less than" not in err[0]


def test_a_finite_value_out_of_range_names_the_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dataprep.cli import app
    from dataprep.console import run_app

    with pytest.raises(SystemExit):
        run_app(app, "dataprep", ["validate", str(tmp_path), "--timeout", "0.5"])
    assert "'--timeout': 0.5 is not in the range 1<=x<=604800" in capsys.readouterr().err


# --- decoder noise: one note line -----------------------------------------------------------------


def damaged_tiffs(root: Path, count: int = 6) -> Path:
    """LZW and Deflate TIFFs with scrambled strips: Pillow's libtiff prints an error line for each."""
    rng = np.random.default_rng(3)
    for i in range(count):
        buf = io.BytesIO()
        pixels = rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(buf, "TIFF", compression=("tiff_lzw", "tiff_adobe_deflate")[i % 2])
        data = bytearray(buf.getvalue())
        for k in range(200, 400):
            data[k] ^= 0x55
        path = root / ("a", "b")[i % 2] / f"scan{i}.tif"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(data))
    return root


@pytest.mark.parametrize("jobs", ["0", "2"])
def test_validate_folds_libtiff_noise_into_one_note(tmp_path: Path, jobs: str) -> None:
    data = damaged_tiffs(tmp_path / "data")
    proc = run_cli("dataprep", ["validate", str(data), "--json", "-j", jobs], tmp_path / "cache")
    assert proc.returncode == 1, proc.stderr
    err = lines(proc.stderr)
    # libtiff's lines never reach the console raw: at most one note counting them (none if the
    # per-file inspection keeps them as findings instead)
    assert len(err) <= 1 and all(ln.startswith("note: the image decoders reported ") for ln in err), proc.stderr


def corrupt_jpegs(root: Path, per_class: int = 6, damaged: int = 2) -> Path:
    """Gradient JPEGs; the first `damaged` of each class have bytes before their end marker
    (libjpeg: "Corrupt JPEG data: N extraneous bytes before marker 0xd9", the image decodes)."""
    y, x = np.mgrid[0:64, 0:64]
    for label in ("cats", "dogs"):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = np.stack([(x * 4 + i * 20) % 255, (y * 4) % 255, ((x + y) * 2) % 255], -1).astype(np.uint8)
            buf = io.BytesIO()
            Image.fromarray(pixels).save(buf, "JPEG", quality=90)
            data = buf.getvalue()
            if i < damaged:
                data = data[:-2] + b"\x12\x34\x56" + data[-2:]
            (root / label / f"{i}.jpg").write_bytes(data)
    return root


def test_bench_folds_libjpeg_noise_into_one_note(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    data = corrupt_jpegs(tmp_path / "data")
    proc = run_cli("trainer", ["bench", str(data), "--no-compare", "--image-size", "32", "--json"], tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    err = lines(proc.stderr)
    assert len(err) == 1, proc.stderr
    assert err[0].startswith("note: the image decoders reported"), err[0]
    assert err[0].endswith(f"'dataprep validate {data}' lists the files"), err[0]


def test_label_issues_folds_decoder_noise_into_one_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The fold models decode every image: what libjpeg prints meanwhile is one note line."""
    pytest.importorskip("cleanlab")
    from dataprep.console import run_app
    from trainer import label_issues
    from trainer.cli import app

    class Found:
        def to_dict(self) -> dict[str, object]:
            return {"version": 1}

    def noisy(config: object, resume: bool, progress: object) -> Found:
        os.write(2, b"Corrupt JPEG data: 2 extraneous bytes before marker 0xd9\n" * 3)
        return Found()

    monkeypatch.setattr(label_issues, "find_label_issues", noisy)
    monkeypatch.setattr("trainer.cli._quiet_tensorflow", lambda: None)
    with pytest.raises(SystemExit) as stopped:
        run_app(app, "trainer", ["label-issues", str(tmp_path), "--method", "cnn", "--json"])
    assert stopped.value.code == 0
    err = lines(capfd.readouterr().err)
    assert err == [
        "note: the image decoders reported 3 warning(s), most often 'Corrupt JPEG data: 2 extraneous bytes before "
        f"marker 0xd9'; 'dataprep validate {tmp_path}' lists the files"
    ], err


# --- one rule for every output file ----------------------------------------------------------------

# (program, command, arguments, the output option, the library call behind the command)
OUTPUT_FILES = [
    ("dataprep", "validate", ["DIR"], "--csv", "dataprep.inspection.validate_stream:validate_streamed"),
    ("dataprep", "stats", ["DIR"], "--plot", "dataprep.insight.stats:dataset_stats"),
    ("dataprep", "duplicates", ["DIR"], "--plot", "dataprep.duplicates.search:duplicates_report"),
    ("dataprep", "augment-preview", ["DIR"], "--out", "dataprep.insight.preview:render_augment_preview"),
    ("dataprep", "outliers", ["DIR"], "--plot", "dataprep.embeddings.outliers:find_outliers"),
    ("trainer", "evaluate", ["DIR", "DIR"], "--confusion", "trainer.evaluate:evaluate"),
    ("trainer", "predict", ["DIR", "DIR"], "--grid", "trainer.predict:predict"),
]
FILE_OPTION_NAMES = {"--csv", "--plot", "--confusion", "--grid"}


def _apps() -> dict[str, object]:
    from dataprep.cli import app as dataprep_app
    from trainer.cli import app as trainer_app

    return {"dataprep": dataprep_app, "trainer": trainer_app}


def test_every_output_file_option_follows_the_rule() -> None:
    """An output-file option added to either CLI must be listed above (and so be tested)."""
    import typer.main

    found = set()
    for prog, app in _apps().items():
        for name, command in typer.main.get_command(app).commands.items():  # type: ignore[arg-type, attr-defined]
            for param in command.params:
                opts = set(getattr(param, "opts", ()))
                if opts & FILE_OPTION_NAMES or (name == "augment-preview" and "--out" in opts):
                    found.add((prog, name, next(iter(opts & (FILE_OPTION_NAMES | {"--out"})))))
                    assert any("--force" in getattr(p, "opts", ()) for p in command.params), (prog, name)
    assert found == {(prog, command, option) for prog, command, _, option, _ in OUTPUT_FILES}


class Reached(Exception):
    """Raised by the patched library call: the command got past its checks."""


@pytest.mark.parametrize(("prog", "command", "args", "option", "target"), OUTPUT_FILES)
def test_an_existing_output_file_is_refused_unless_force(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    prog: str,
    command: str,
    args: list[str],
    option: str,
    target: str,
) -> None:
    import importlib

    from dataprep.console import run_app

    module, attribute = target.split(":")
    calls: list[object] = []

    def reached(*a: object, **k: object) -> None:
        calls.append(a)
        raise Reached

    monkeypatch.setattr(importlib.import_module(module), attribute, reached)
    monkeypatch.setattr("trainer.cli._quiet_tensorflow", lambda: None)
    existing = tmp_path / "made-earlier.png"
    existing.write_bytes(b"the user's own file")
    argv = [command, *[a.replace("DIR", str(tmp_path)) for a in args], option, str(existing)]
    with pytest.raises(SystemExit) as stopped:
        run_app(_apps()[prog], prog, argv)  # type: ignore[arg-type]
    assert stopped.value.code == 2 and not calls
    err = lines(capsys.readouterr().err)
    assert err == [
        f"error: {option} '{existing}' already exists (expected a new file); "
        f"pass --force to overwrite it or choose another {option}"
    ]
    assert existing.read_bytes() == b"the user's own file"
    with pytest.raises(Reached):  # --force: the command goes on to its work
        run_app(_apps()[prog], prog, [*argv, "--force"])  # type: ignore[arg-type]
    with pytest.raises(Reached):  # a new file needs no --force
        run_app(_apps()[prog], prog, [*argv[:-1], str(tmp_path / "new.png")])  # type: ignore[arg-type]


# --- text-based image formats are images --------------------------------------------------------

XPM = b'/* XPM */\nstatic char *dot[] = {\n"4 4 2 1",\n"  c #000000",\n". c #FFFFFF",\n" .. ",\n".  .",\n".  .",\n" .. "\n};\n'


def text_images(root: Path) -> Path:
    """An XBM (written by Pillow) and an XPM, each also without its extension, beside a PNG."""
    (root / "icons").mkdir(parents=True)
    checker = (np.indices((16, 16)).sum(0) % 2 * 255).astype(np.uint8)
    Image.fromarray(checker).convert("1").save(root / "icons" / "check.xbm")
    (root / "icons" / "check-copy").write_bytes((root / "icons" / "check.xbm").read_bytes().replace(b"im_", b"ck_"))
    (root / "icons" / "dot.xpm").write_bytes(XPM)
    (root / "icons" / "dot-copy").write_bytes(XPM.replace(b"dot", b"dut"))
    Image.new("RGB", (16, 16), (200, 30, 30)).save(root / "icons" / "red.png")
    return root


def test_xbm_and_xpm_are_images_in_an_unsupported_format(tmp_path: Path) -> None:
    import json

    data = text_images(tmp_path / "data")
    proc = run_cli("dataprep", ["validate", str(data), "--json", "-j", "0"], tmp_path / "cache")
    report = json.loads(proc.stdout)
    checks = {f["path"]: f["check"] for f in report["findings"] if f["severity"] == "error"}
    assert checks == {f"icons/{n}": "unsupported_format" for n in ("check.xbm", "check-copy", "dot.xpm", "dot-copy")}
    assert not [f for f in report["findings"] if f["check"] == "junk_file"]
    converted = run_cli("dataprep", ["convert", str(data), "--json"], tmp_path / "cache")
    assert converted.returncode == 0, converted.stderr
    assert sorted(p.name for p in (data / "icons").iterdir()) == [
        "check-copy.png", "check.png", "dot-copy.png", "dot.png", "red.png"
    ]  # fmt: skip
    with Image.open(data / "icons" / "dot.png") as im:
        assert im.size == (4, 4)


def test_text_that_is_no_image_is_still_junk(tmp_path: Path) -> None:
    from dataprep.base.formats import identify_format

    assert identify_format(b"#define VERSION 3\nint main(void) { return 0; }\n") is None
    assert identify_format(b"/* XPM */ but then nothing an image needs\n") is None
    assert identify_format(XPM) == "xpm"


# --- stats: junk is junk, errors are short reasons ----------------------------------------------


def test_stats_counts_empty_files_and_pages_as_junk_and_gives_short_reasons(tmp_path: Path) -> None:
    import json

    data = tmp_path / "data"
    for label in ("cats", "dogs"):
        (data / label).mkdir(parents=True)
        Image.new("RGB", (30, 20), (10, 90, 200)).save(data / label / "photo.jpg")
    (data / "cats" / "empty.jpg").write_bytes(b"")
    (data / "dogs" / "page.jpg").write_text("<!DOCTYPE html><html><body>404 Not Found</body></html>\n")
    (data / "dogs" / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    proc = run_cli("dataprep", ["stats", str(data), "--json"], tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    numbers = json.loads(proc.stdout)
    assert numbers["count"] == 3 and numbers["classes"]["cats"]["count"] == 1
    assert {j["path"]: j["reason"] for j in numbers["junk"]} == {
        "cats/empty.jpg": "an empty file",
        "dogs/page.jpg": "content is an HTML page, not an image",
    }
    (unreadable,) = numbers["unreadable"]
    assert unreadable["path"] == "dogs/cut.png"
    table = run_cli("dataprep", ["stats", str(data)], tmp_path / "cache").stdout
    for noise in ("Error", "<_io", "BufferedReader", "0x"):
        assert noise not in table, table


# --- split: a copy filed under two classes counts toward each class ------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_split_counts_each_copy_toward_its_own_class(seed: int) -> None:
    """flower_photos has one photo under both roses/ and tulips/: --val 50 --test 50 must still
    give each class exactly 50 and 50, the two copies in one split."""
    from dataprep.split.plan import SourceFile, plan_split
    from dataprep.split.spec import SplitSpec

    source = [SourceFile(f"roses/r{i}.jpg", "roses", f"r{i}", 10) for i in range(300)]
    source += [SourceFile(f"tulips/t{i}.jpg", "tulips", f"t{i}", 10) for i in range(300)]
    # the shared photo, and a pair of near copies (one group) inside roses also holding a tulip
    source += [SourceFile("roses/both.jpg", "roses", "same", 10), SourceFile("tulips/both.jpg", "tulips", "same", 10)]
    source += [SourceFile(f"roses/n{i}.jpg", "roses", f"n{i}", 10, group="near") for i in range(2)]
    source.append(SourceFile("tulips/n.jpg", "tulips", "n", 10, group="near"))
    plan = plan_split(source, SplitSpec(50, 50), seed=seed)
    counts = plan.counts()
    assert {(s, c): counts[s][c] for s in ("val", "test") for c in ("roses", "tulips")} == {
        ("val", "roses"): 50, ("val", "tulips"): 50, ("test", "roses"): 50, ("test", "tulips"): 50,
    }, plan.warnings  # fmt: skip
    where = {a.source: a.split for a in plan.assignments}
    assert where["roses/both.jpg"] == where["tulips/both.jpg"]
    assert where["roses/n0.jpg"] == where["roses/n1.jpg"] == where["tulips/n.jpg"]
    assert len(plan.assignments) == len(source)
    assert not [w for w in plan.warnings if "images asked" in w], plan.warnings


# --- quality findings leave good photos alone -----------------------------------------------------


def test_a_flower_on_black_is_not_low_information_but_a_blank_frame_is(tmp_path: Path) -> None:
    """Subjects filling 5-40% of the frame on near-black velvet carry detail; a flat frame with a
    small flat patch, and a flat frame with faint noise, do not."""
    from photos import flower_on_black, jpeg, save

    from dataprep.inspection.validate import ValidateOptions, validate

    root = tmp_path / "raw"
    for i, radius in enumerate((0.2, 0.25, 0.3, 0.35, 0.4) * 2):
        size = ((320, 240), (500, 375), (240, 320), (400, 400))[i % 4]
        save(root / f"flowers/f{i}.jpg", jpeg(flower_on_black(i, size, radius)))
    flat = np.full((240, 320, 3), 120, np.uint8)
    flat[100:140, 150:170] = 130
    Image.fromarray(flat).save(root / "flowers" / "blank_patch.png")
    noise = np.random.default_rng(0).normal(60, 1.2, (240, 320, 1)).repeat(3, axis=2)
    Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8)).save(root / "flowers" / "blank_noise.png")
    report = validate(root, ValidateOptions(jobs=0, use_tf=False, use_cache=False))
    flagged = {r.rel for r in report.results for f in r.findings if f.check == "low_information"}
    assert flagged == {"flowers/blank_patch.png", "flowers/blank_noise.png"}


def test_clean_level_warning_leaves_an_exif_rotated_photo_for_convert(tmp_path: Path) -> None:
    from real_world import exif_rotated

    from dataprep.actions.clean import CleanOptions, clean
    from dataprep.base.findings import Severity
    from dataprep.inspection.validate import ValidateOptions

    data = tmp_path / "data"
    rotated = exif_rotated(data)
    (data / "cat" / "cut.jpg").write_bytes((data / "cat" / "cat_upright.jpg").read_bytes()[:-200])
    result = clean(data, CleanOptions(level=Severity.WARNING, dry_run=True, validate=ValidateOptions(jobs=0)))
    assert {r.rel for r in result.selected} == {"cat/cut.jpg"}  # damaged: still removed at --level warning
    assert set(result.to_convert) == set(rotated)


# --- pictures: every caption and bar visible -------------------------------------------------------


def test_prediction_grid_captions_stay_clear_of_the_images_above() -> None:
    """Three rows of wrong answers (three caption lines each) then right ones: no caption may
    overlap the image above it, nor the summary title."""
    import matplotlib.pyplot as plt

    from trainer.plots import GridImage, grid_figure, grid_order

    rng = np.random.default_rng(0)
    items = [
        GridImage(rng.integers(0, 255, (64, 64, 3)).astype(np.uint8), f"dog.{i}.jpg", "cats", 0.9 - i / 100, "dogs")
        for i in range(15)
    ]
    items += [GridImage(np.zeros((64, 64, 3), np.uint8), f"cat.{i}.jpg", "cats", 0.8, "cats") for i in range(9)]
    shown = grid_order(items)
    fig = grid_figure(shown, items, rows=4, cols=6)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    axes = np.asarray(fig.axes).reshape(4, 6)
    for row in range(1, 4):
        for col in range(6):
            title = axes[row, col].title.get_window_extent(renderer)
            above = axes[row - 1, col].get_window_extent(renderer)
            assert title.y1 <= above.y0 + 1, (row, col, title, above)
    suptitle = fig._suptitle.get_window_extent(renderer)  # type: ignore[attr-defined]
    assert all(ax.title.get_window_extent(renderer).y1 <= suptitle.y0 + 1 for ax in axes[0])
    plt.close(fig)


def test_stats_chart_legend_covers_no_bar() -> None:
    from dataprep.insight.stats import stats_figure

    def split(counts: dict[str, int]) -> dict[str, object]:
        return {"classes": {c: {"count": n} for c, n in counts.items()}}

    numbers = {"layout": "split", "splits": {
        "train": split({"cats": 300, "dogs": 300}), "val": split({"cats": 50, "dogs": 50}),
        "test": split({"cats": 50, "dogs": 50}),
    }}  # fmt: skip
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = stats_figure(numbers)
    canvas = FigureCanvasAgg(fig)  # a bare Figure (no pyplot) has no renderer of its own
    canvas.draw()
    renderer = canvas.get_renderer()
    (legend,) = fig.legends
    box = legend.get_window_extent(renderer)
    bars = [patch.get_window_extent(renderer) for ax in fig.axes for patch in ax.patches]
    assert len(bars) == 6 and not any(box.overlaps(bar) for bar in bars)
    assert [t.get_text() for t in legend.get_texts()] == ["test", "val", "train"]  # as stacked, top first
