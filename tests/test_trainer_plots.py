"""The pictures a run answers with: prediction grid order and marks, confusion matrix, confidently wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("keras")

from trainer.evaluate import EvalResult, per_class_scores
from trainer.plots import GridImage, grid_order, write_confusion_png, write_prediction_grid


def item(name: str, predicted: str, confidence: float, true: str | None) -> GridImage:
    return GridImage(np.zeros((8, 8, 3), np.uint8), name, predicted, confidence, true)


def test_grid_puts_wrong_answers_first_surest_first() -> None:
    items = [
        item("right_sure", "cat", 0.99, "cat"),
        item("wrong_unsure", "dog", 0.55, "cat"),
        item("unknown", "dog", 0.7, None),
        item("right_unsure", "dog", 0.51, "dog"),
        item("wrong_sure", "cat", 0.95, "dog"),
    ]
    assert [i.name for i in grid_order(items)] == [
        "wrong_sure",
        "wrong_unsure",
        "unknown",
        "right_unsure",
        "right_sure",
    ]
    assert [i.correct for i in items] == [True, False, None, True, False]


def test_grid_and_confusion_pngs_are_written(tmp_path: Path) -> None:
    grid = tmp_path / "grid.png"
    write_prediction_grid([item(f"f{k}.jpg", "cat", 0.6 + k / 100, "dog" if k % 3 else "cat") for k in range(9)], grid)
    matrix = np.array([[5, 1], [2, 4]])
    confusion = tmp_path / "confusion.png"
    write_confusion_png(
        matrix, ["cat", "dog"], confusion, title="test", scores=per_class_scores(matrix, ["cat", "dog"])
    )
    for png in (grid, confusion):
        with Image.open(png) as image:
            assert image.format == "PNG" and min(image.size) > 100


def test_confidently_wrong_lists_wrong_answers_surest_first() -> None:
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.05, 0.95]])
    result = EvalResult(0.5, 0.7, np.zeros((2, 2), np.int64), [], ["a", "b", "c", "d"], np.array([0, 0, 1, 0]), probs)
    wrong = result.confidently_wrong(["cat", "dog"])
    assert [(w["path"], w["true"], w["predicted"]) for w in wrong] == [
        ("d", "cat", "dog"), ("b", "cat", "dog"), ("c", "dog", "cat"),
    ]  # fmt: skip
    assert wrong[0]["confidence"] == pytest.approx(0.95)
    assert result.confidently_wrong(["cat", "dog"], limit=1) == wrong[:1]
