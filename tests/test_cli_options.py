"""The inspection options are declared once (`dataprep.options.inspection_options`) and mean the
same in every command that inspects files: same names, defaults and ranges, and the values a user
types reach validate's options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from dataprep.cli import app
from dataprep.options import INSPECTION_PARAMETERS

INSPECTING = ("validate", "clean", "duplicates", "leakage", "split", "convert", "report")
runner = CliRunner()


def _params(command: str) -> dict[str, Any]:
    group = typer.main.get_command(app)
    return {p.name: p for p in group.commands[command].params}  # type: ignore[attr-defined]


def test_every_inspecting_command_has_the_one_inspection_group() -> None:
    reference = _params("validate")
    for command in INSPECTING:
        params = _params(command)
        for name, _, default in INSPECTION_PARAMETERS:
            assert name in params, (command, name)
            assert params[name].default == default, (command, name)
            assert params[name].opts == reference[name].opts, (command, name)
            assert params[name].help == reference[name].help, (command, name)
    assert "inspection" not in _params("validate")


def test_typed_inspection_options_reach_validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataprep.inspection.validate_stream as validate_stream

    seen: list[Any] = []

    def stop_here(directory: Path, options: Any) -> None:
        seen.append(options)
        raise KeyboardInterrupt

    monkeypatch.setattr(validate_stream, "validate_streamed", stop_here)
    args = ["validate", str(tmp_path), "--jobs", "3", "--timeout", "7.5", "--no-cache", "--max-pixels", "1000",
            "--min-size", "4", "--layout", "raw", "--cache-dir", str(tmp_path / "c")]  # fmt: skip
    runner.invoke(app, args)
    [options] = seen
    assert (options.jobs, options.timeout_s, options.use_cache, options.max_pixels, options.min_size) == (
        3, 7.5, False, 1000, 4,
    )  # fmt: skip
    assert options.layout == "raw" and options.cache_dir == tmp_path / "c" and options.engine == "local"


def test_an_out_of_range_inspection_option_is_one_line_in_any_command(tmp_path: Path) -> None:
    for command in ("validate", "report"):
        extra = ["--out", str(tmp_path / "r")] if command == "report" else []
        result = runner.invoke(app, [command, str(tmp_path), *extra, "--jobs", "-1"])
        assert result.exit_code == 2 and "--jobs" in result.output
        assert not (tmp_path / "r").exists()
