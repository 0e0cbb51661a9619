"""`dataprep stats`: numbers on raw and split layouts, JSON shape, the chart, header-only reads.

Images are generated here with Pillow under `tmp_path`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

from dataprep.base.errors import DataprepError
from dataprep.cli import app
from dataprep.insight.stats import (
    IMBALANCE_WARN,
    dataset_stats,
    imbalance,
    plot_stats,
)
from dataprep.render import stats_renderables

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _image(path: Path, size: tuple[int, int], fmt: str = "PNG", mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, 128 if mode == "L" else (10, 20, 30)).save(path, fmt)


@pytest.fixture()
def raw(tmp_path: Path) -> Path:
    root = tmp_path / "raw"
    for i in range(6):
        _image(root / "cats" / f"c{i}.png", (20 + i, 10))
    for i in range(2):
        _image(root / "dogs" / f"d{i}.jpg", (30, 40), "JPEG", "L")
    (root / "cats" / "Thumbs.db").write_bytes(b"x")
    (root / "cats" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n nope")
    return root


@pytest.fixture()
def split_root(tmp_path: Path) -> Path:
    root = tmp_path / "split"
    for split, n in (("train", 4), ("val", 1), ("test", 1)):
        for label in ("a", "b"):
            for i in range(n if label == "a" else n * 2):
                _image(root / split / label / f"{i}.png", (16, 16))
    (root / "split.json").write_text("{}")  # dataprep's own manifest: not junk
    (root / "train" / ".DS_Store").write_bytes(b"x")
    return root


def test_raw_layout_numbers(raw: Path) -> None:
    s = dataset_stats(raw)
    assert s["version"] == 1 and s["layout"] == "raw" and "splits" not in s
    cats, dogs = s["classes"]["cats"], s["classes"]["dogs"]
    assert (cats["count"], dogs["count"]) == (7, 2)  # broken.png is an image file, counted, unreadable
    assert cats["unreadable"] == 1 and [u["path"] for u in s["unreadable"]] == ["cats/broken.png"]
    assert cats["formats"] == {"PNG": 6} and dogs["formats"] == {"JPEG": 2}
    assert cats["modes"] == {"RGB": 6} and dogs["modes"] == {"L": 2}
    assert cats["width"] == {"min": 20, "p5": 20, "p50": 22, "p95": 25, "max": 25}
    assert dogs["height"]["p50"] == 40
    assert cats["share"] == round(7 / 9, 4)
    assert cats["bytes"] == sum(p.stat().st_size for p in (raw / "cats").glob("*.png"))
    assert s["junk"] == [{"path": "cats/Thumbs.db", "reason": "system file 'Thumbs.db'"}]
    assert s["imbalance"]["ratio"] == 3.5 and s["imbalance"]["high"] is True


def test_split_layout_numbers(split_root: Path) -> None:
    s = dataset_stats(split_root)
    assert s["layout"] == "split" and "classes" not in s
    assert list(s["splits"]) == ["train", "val", "test"]
    assert {c: v["count"] for c, v in s["splits"]["train"]["classes"].items()} == {"a": 4, "b": 8}
    assert s["splits"]["val"]["count"] == 3 and s["splits"]["val"]["share"] == round(3 / 18, 4)
    assert s["splits"]["train"]["classes"]["a"]["share"] == round(4 / 12, 4)
    assert s["imbalance"]["ratio"] == 2.0 and s["imbalance"]["high"] is False
    assert [j["path"] for j in s["junk"]] == ["train/.DS_Store"]


def test_imbalance_threshold_and_empty_class() -> None:
    assert imbalance({"a": 10, "b": 10})["ratio"] == 1.0
    assert imbalance({"a": int(IMBALANCE_WARN * 10) + 1, "b": 10})["high"] is True
    empty = imbalance({"a": 5, "b": 0})
    assert empty["ratio"] is None and empty["high"] is True and empty["smallest"] == "b"


def test_reads_headers_only(raw: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decode(self: Any, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("stats must not decode pixels")

    monkeypatch.setattr(Image.Image, "load", no_decode)
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", no_decode)
    assert dataset_stats(raw)["classes"]["cats"]["count"] == 7


def test_flat_or_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    _image(tmp_path / "flat" / "a.png", (8, 8))
    with pytest.raises(DataprepError, match="has no class folders"):
        dataset_stats(tmp_path / "flat")
    with pytest.raises(DataprepError, match="no such directory"):
        dataset_stats(tmp_path / "missing")


def test_renderables_mention_imbalance_and_junk(raw: Path) -> None:
    from rich.console import Console

    console = Console(record=True, width=140)
    for r in stats_renderables(dataset_stats(raw)):
        console.print(r)
    text = console.export_text()
    assert "cats" in text and "imbalance: 3.50" in text and "warning" in text and "Thumbs.db" in text


def test_plot_both_layouts(raw: Path, split_root: Path, tmp_path: Path) -> None:
    for root in (raw, split_root):
        path = plot_stats(dataset_stats(root), tmp_path / f"{root.name}.png")
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        with Image.open(path) as im:
            assert im.width > 100 and im.height > 100
    with pytest.raises(DataprepError, match="not a .png"):
        plot_stats(dataset_stats(raw), tmp_path / "chart.jpg")


def test_cli_stats_json_and_plot(split_root: Path, raw: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["stats", str(split_root), "--json", "--plot", str(tmp_path / "c.png")])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["version"] == 1 and doc["splits"]["test"]["classes"]["b"]["count"] == 2
    assert (tmp_path / "c.png").read_bytes()[:8] == PNG_SIGNATURE
    res = runner.invoke(app, ["stats", str(raw), "--json"])
    assert json.loads(res.stdout)["classes"]["dogs"]["count"] == 2
    res = runner.invoke(app, ["stats", str(raw)])
    assert res.exit_code == 0 and "dogs" in res.stdout
    res = runner.invoke(app, ["stats", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "no such directory" in res.stderr


def test_stats_on_a_split_made_by_split(tmp_path: Path, raw: Path) -> None:
    from dataprep.inspection.validate import ValidateOptions
    from dataprep.split import SplitSpec, split_dataset

    out = tmp_path / "out"
    split_dataset(
        raw, out, SplitSpec(1, 0), validate_options=ValidateOptions(jobs=0, use_tf=False, cache_dir=tmp_path / "c")
    )
    s = dataset_stats(out)
    assert s["junk"] == [] and set(s["splits"]) == {"train", "val"}
    assert sum(v["count"] for b in s["splits"].values() for v in b["classes"].values()) == 8  # broken.png left out
