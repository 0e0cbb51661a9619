"""Every command of both command lines, driven with generated option values (hypothesis).

The property (issue 17): whatever value a user types, the command ends with exit 0, 1 or 2,
no traceback, at most a few lines on stderr, and on exit 2 no output folder or file left behind.
Here the library call behind each command is replaced by a recorder, so each example costs
microseconds and what is tested is the edge itself (dataprep/options.py): a value reaches the
library only if it is a finite number inside the option's range, and every value inside the
range does reach it. `test_real_runs_*` below drive the cheap commands for real.
"""

from __future__ import annotations

import contextlib
import io
import math
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from dataprep.base import defaults as d
from dataprep.console import run_app


class Reached(Exception):
    """Raised by the recorder that stands in for the library: the edge let the values through."""


@dataclass(frozen=True)
class Numeric:
    low: float
    high: float
    integer: bool = True
    open_range: bool = False  # (low, high) instead of [low, high]

    def accepts(self, value: float) -> bool:
        if not math.isfinite(value) or (self.integer and not value.is_integer()):
            return False
        if self.open_range:
            return self.low < value < self.high
        return self.low <= value <= self.high


def rng(bounds: tuple[float, float], integer: bool = True) -> Numeric:
    return Numeric(bounds[0], bounds[1], integer)


INSPECTION = {
    "--jobs": rng(d.JOBS_RANGE), "--timeout": rng(d.TIMEOUT_RANGE_S, integer=False),
    "--max-pixels": rng(d.MAX_PIXELS_RANGE), "--min-size": rng(d.MIN_SIZE_RANGE),
}  # fmt: skip
THRESHOLD = {"--threshold": rng(d.THRESHOLD_RANGE_BITS)}
SIMILARITY = {"--similarity": Numeric(0, 1, integer=False)}


@dataclass
class Command:
    prog: str
    args: list[str]  # positionals and required options; DIR, RUN, OUT are filled in per example
    patch: str  # "module:attribute" of the library call behind the command
    numbers: dict[str, Numeric] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)  # placeholders of paths the command writes


COMMANDS: dict[str, Command] = {
    "validate": Command("dataprep", ["validate", "DIR", "--csv", "OUT/f.csv"], "dataprep.inspection.validate_stream:validate_streamed", dict(INSPECTION), ["OUT"]),
    "clean": Command("dataprep", ["clean", "DIR"], "dataprep.actions.clean:clean", {**INSPECTION, **THRESHOLD}),
    "duplicates": Command("dataprep", ["duplicates", "DIR"], "dataprep.duplicates.search:duplicates_report", {**INSPECTION, **THRESHOLD, **SIMILARITY}),
    "leakage": Command("dataprep", ["leakage", "DIR"], "dataprep.duplicates.search:leakage_report", {**INSPECTION, **THRESHOLD, **SIMILARITY}),
    "restore": Command("dataprep", ["restore", "DIR"], "dataprep.actions.restore:restore"),
    "stats": Command("dataprep", ["stats", "DIR", "--plot", "OUT/p.png"], "dataprep.insight.stats:dataset_stats", {}, ["OUT"]),
    "split": Command("dataprep", ["split", "DIR", "OUT"], "dataprep.split:split_dataset",
                     {**INSPECTION, "--seed": rng(d.SEED_RANGE)}, ["OUT"]),
    "augment-preview": Command("dataprep", ["augment-preview", "DIR", "--out", "OUT/g.png"], "dataprep.insight.preview:render_augment_preview", {
        "--images": Numeric(1, 256), "--per-image": Numeric(1, 64), "--size": Numeric(16, 4096),
        "--seed": rng(d.SEED_RANGE), "--max-pixels": rng(d.MAX_PIXELS_RANGE)}, ["OUT"]),
    "fit": Command("trainer", ["fit", "DIR", "--run-dir", "OUT"], "trainer.fit:fit", {
        "--image-size": rng(d.IMAGE_SIZE_RANGE), "--batch-size": rng(d.BATCH_SIZE_RANGE),
        "--epochs": rng(d.EPOCHS_RANGE), "--lr": rng(d.LR_RANGE, integer=False), "--seed": rng(d.SEED_RANGE),
        "--patience": rng(d.PATIENCE_RANGE), "--freeze-epochs": rng(d.PATIENCE_RANGE),
        "--val-fraction": Numeric(0, 1, integer=False, open_range=True), "--max-pixels": rng(d.MAX_PIXELS_RANGE),
        "--fold": Numeric(0, 99)}, ["OUT"]),
    "evaluate": Command("trainer", ["evaluate", "RUN", "DIR", "--confusion", "OUT/c.png"], "trainer.evaluate:evaluate", {
        "--batch-size": rng(d.BATCH_SIZE_RANGE), "--max-pixels": rng(d.MAX_PIXELS_RANGE), "--jobs": rng(d.JOBS_RANGE)}, ["OUT"]),
    "predict": Command("trainer", ["predict", "RUN", "DIR", "--grid", "OUT/g.png"], "trainer.predict:predict", {
        "--max-pixels": rng(d.MAX_PIXELS_RANGE), "--jobs": rng(d.JOBS_RANGE)}, ["OUT"]),
    "bench": Command("trainer", ["bench", "DIR"], "trainer.bench:bench", {
        "--image-size": rng(d.IMAGE_SIZE_RANGE), "--batch-size": rng(d.BATCH_SIZE_RANGE)}),
    "models": Command("trainer", ["models"], "trainer.models:list_models"),
    "convert": Command("dataprep", ["convert", "DIR", "--out", "OUT/c"], "dataprep.actions.convert:convert",
                       {**INSPECTION, "--quality": Numeric(1, 100)}, ["OUT"]),
    "relabel": Command("dataprep", ["relabel", "DIR", "--label-issues", "DIR/a/x.png"], "dataprep.actions.relabel:read_label_issues",
                       {"--top": Numeric(1, 1_000_000_000), "--min-score": Numeric(0, 1, integer=False)}),
    "label-issues": Command("trainer", ["label-issues", "DIR", "--method", "cnn", "--run-dir", "OUT"], "trainer.label_issues:find_label_issues", {
        "--folds": Numeric(2, 100), "--image-size": rng(d.IMAGE_SIZE_RANGE), "--batch-size": rng(d.BATCH_SIZE_RANGE),
        "--epochs": rng(d.EPOCHS_RANGE), "--lr": rng(d.LR_RANGE, integer=False), "--seed": rng(d.SEED_RANGE),
        "--threshold": rng(d.THRESHOLD_RANGE_BITS), "--top": Numeric(1, 10_000), "--jobs": rng(d.JOBS_RANGE),
        "--snapshots": Numeric(1, 10_000), "--models-per-fold": Numeric(1, 100)}, ["OUT"]),
    "report": Command("dataprep", ["report", "DIR", "--out", "OUT/r"], "dataprep.html_report.inputs:gather_inputs",
                      {**INSPECTION, **THRESHOLD, **SIMILARITY, "--gallery": Numeric(1, 10_000)}, ["OUT"]),
    "embed": Command("dataprep", ["embed", "DIR", "--out", "OUT/e.npz"], "dataprep.embeddings.embed:embed_folder", {
        "--image-size": rng(d.IMAGE_SIZE_RANGE), "--batch-size": rng(d.BATCH_SIZE_RANGE)}, ["OUT"]),
    "outliers": Command("dataprep", ["outliers", "DIR"], "dataprep.embeddings.outliers:find_outliers",
                        {"--top": Numeric(1, math.inf), "--neighbours": Numeric(1, 1000)}),
}  # fmt: skip


def test_every_command_of_both_clis_is_driven() -> None:
    """A command added to either CLI must get a row above, or its option values go unchecked."""
    import typer.main

    found = {name for prog in ("dataprep", "trainer") for name in typer.main.get_command(_app(prog)).commands}  # type: ignore[attr-defined]
    assert found == set(COMMANDS)


# What a user may type: numbers of every size and sign, NaN, infinities, nothing, words, paths.
AWKWARD = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " ", "nan", "NaN", "inf", "-inf", "1e400", "-0", "0", "1", "0.5", "1.5", "abc", "0x10",
                     "/no/such/path", "1,000", "--json", "-1", "99999999999999999999999"]),
    st.text(max_size=6),
)  # fmt: skip


def _app(prog: str) -> typer.Typer:
    if prog == "dataprep":
        from dataprep.cli import app
    else:
        pytest.importorskip("tensorflow")
        from trainer.cli import app
    return app


@contextlib.contextmanager
def recorder(target: str) -> Iterator[None]:
    """Replace the library call `module:attribute` with one that raises Reached."""
    import importlib

    module_name, attribute = target.split(":")
    module = importlib.import_module(module_name)
    saved = getattr(module, attribute)

    def reached(*args: Any, **kwargs: Any) -> Any:
        raise Reached

    setattr(module, attribute, reached)
    try:
        yield
    finally:
        setattr(module, attribute, saved)


def run(command: Command, extra: list[str]) -> tuple[int | str, str, Path]:
    """Run the command with `extra` options in a fresh folder: (exit code or 'reached', stderr, folder)."""
    folder = Path(tempfile.mkdtemp(prefix="opts-"))
    (folder / "data" / "a").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(folder / "data" / "a" / "x.png")
    (folder / "run").mkdir()
    names = {"DIR": str(folder / "data"), "RUN": str(folder / "run"), "OUT": str(folder / "out")}
    argv = [names.get(a, a.replace("OUT/", names["OUT"] + "/")) for a in command.args] + extra
    err = io.StringIO()
    with recorder(command.patch), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            run_app(_app(command.prog), command.prog, argv)
            code: int | str = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 2
        except Reached:
            code = "reached"
    return code, err.getvalue(), folder


def check_ending(code: int | str, stderr: str, folder: Path) -> None:
    assert code in ("reached", 0, 1, 2), (code, stderr)
    assert "Traceback" not in stderr, stderr
    assert len(stderr.strip().splitlines()) <= 3, stderr
    if code == 2:
        assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("error: "), stderr
        assert not (folder / "out").exists(), "an output was left behind on exit 2"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_option_value_is_checked_at_the_edge(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(COMMANDS)), label="command")
    command = COMMANDS[name]
    options = sorted(command.numbers) or ["--jobs"]  # a command without numbers: an option it does not have
    option = data.draw(st.sampled_from(options), label="option")
    value = data.draw(AWKWARD, label="value")
    code, stderr, folder = run(command, [f"{option}={value}"])
    check_ending(code, stderr, folder)
    spec = command.numbers.get(option)
    if code == "reached":
        assert spec is not None, f"{name} accepted {option}"
        try:
            number = float(value.replace("_", ""))
        except ValueError:
            pytest.fail(f"{name} {option}={value!r} reached the library but is no number")
        assert spec.accepts(number), f"{name} {option}={value!r} reached the library"
    elif spec is not None:
        try:
            number = float(value)
        except ValueError:
            return
        if spec.accepts(number) and value.strip() == value and value.lstrip("-").replace(".", "", 1).isdigit():
            pytest.fail(f"{name} {option}={value!r} is a valid value but was refused: {stderr}")


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_every_value_inside_the_range_reaches_the_library(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(n for n, c in COMMANDS.items() if c.numbers)), label="command")
    command = COMMANDS[name]
    option = data.draw(st.sampled_from(sorted(command.numbers)), label="option")
    spec = command.numbers[option]
    if spec.integer:
        high = None if math.isinf(spec.high) else int(spec.high)  # an option with no upper bound
        number: float = data.draw(st.integers(int(spec.low), high))
    else:
        number = data.draw(st.floats(spec.low, spec.high, exclude_min=spec.open_range, exclude_max=spec.open_range))
    code, stderr, _ = run(command, [f"{option}={number}"])
    assert code == "reached", (name, option, number, stderr)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_unknown_options_and_missing_arguments_are_one_line(name: str) -> None:
    command = COMMANDS[name]
    for extra in (["--no-such-option"], ["--json=maybe"]):
        code, stderr, folder = run(command, extra)
        assert code == 2, (name, extra, stderr)
        check_ending(code, stderr, folder)
    code, stderr, folder = run(Command(command.prog, command.args[:1], command.patch), [])
    check_ending(code, stderr, folder)


# --- real runs: the cheap commands, for real, on a tiny dataset -----------------------------

PATHS = st.sampled_from(["DIR", "", "/no/such/folder", "FILE", "OUT", "CLASS"])
REAL: dict[str, tuple[list[str], dict[str, st.SearchStrategy[str]]]] = {
    "stats": (["stats", "PATH"], {"--plot": st.sampled_from(["OUT/p.png", "OUT", ""])}),
    "validate": (["validate", "PATH", "-j", "0"], {"--fail-on": st.sampled_from(["error", "never", "", "fatal"]),
                 "--max-pixels": AWKWARD, "--min-size": AWKWARD, "--csv": st.sampled_from(["OUT/f.csv", ""])}),
    "duplicates": (["duplicates", "PATH", "-j", "0"], {"--threshold": AWKWARD, "--max-pixels": AWKWARD}),
    "leakage": (["leakage", "PATH", "-j", "0"], {"--threshold": AWKWARD, "--timeout": AWKWARD}),
    "split": (["split", "PATH", "OUT", "-j", "0"], {"--val": AWKWARD, "--test": AWKWARD, "--train": AWKWARD,
              "--seed": AWKWARD, "--mode": st.sampled_from(["copy", "symlink", "teleport", ""]), "--min-size": AWKWARD}),
    "clean": (["clean", "PATH", "-j", "0", "--dry-run"], {"--level": st.sampled_from(["error", "info", ""]),
              "--threshold": AWKWARD, "--quarantine": st.sampled_from(["OUT", ""])}),
}  # fmt: skip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    for c, label in enumerate(("cats", "dogs")):
        for i in range(3):
            (root / "data" / label).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (20, 20), (90 * c, 40 * i, 60)).save(root / "data" / label / f"{i}.png")
    (root / "data" / "cats" / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    (root / "file.txt").write_text("not a folder")
    return root


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data())
def test_real_runs_of_the_dataprep_commands(tiny: Path, data: st.DataObject) -> None:
    from dataprep.cli import app

    name = data.draw(st.sampled_from(sorted(REAL)), label="command")
    base, options = REAL[name]
    work = Path(tempfile.mkdtemp(prefix="real-", dir=tiny))
    names = {
        "DIR": str(tiny / "data"),
        "CLASS": str(tiny / "data" / "cats"),
        "FILE": str(tiny / "file.txt"),
        "OUT": str(work / "out"),
    }
    path = data.draw(PATHS, label="path")
    chosen = data.draw(st.lists(st.sampled_from(sorted(options)), max_size=2, unique=True), label="options")
    argv = [names.get(path, path) if a == "PATH" else names["OUT"] if a == "OUT" else a for a in base]
    for option in chosen:
        value = data.draw(options[option], label=option)
        argv.append(f"{option}={value.replace('OUT', names['OUT'])}")
    err = io.StringIO()
    # "" is the working directory: an empty folder here, never the repository (its .venv, build/).
    with contextlib.chdir(work), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            run_app(app, "dataprep", argv)
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 2
    check_ending(code, err.getvalue(), work)


@pytest.mark.parametrize("prog", ["dataprep", "trainer"])
def test_a_run_builds_only_the_command_it_names(prog: str) -> None:
    """`run_app` hands Typer an app with only the named command (its start-up reads no other
    command's parameters); each command's help is the same either way, and anything that names
    no single command (help, a misspelt name) gets the whole app."""
    import importlib

    from dataprep.console import only_the_command

    app = importlib.import_module("dataprep.cli" if prog == "dataprep" else "trainer.cli").app
    full = typer.main.get_command(app)
    names = sorted(full.commands)  # type: ignore[attr-defined]
    assert len(names) > 5
    for name in names:
        narrowed = only_the_command(app, [name, "--help"])
        group = typer.main.get_command(narrowed)
        assert list(group.commands) == [name]  # type: ignore[attr-defined]
        with typer.Context(group, info_name=prog) as parent:
            helps = [
                cmd.get_help(typer.Context(cmd, info_name=name, parent=parent))
                for cmd in (group.commands[name], full.commands[name])  # type: ignore[attr-defined]
            ]
        assert helps[0] == helps[1]
    for args in ([], ["--help"], ["--version"], ["valdate", "x"]):
        assert only_the_command(app, args) is app
