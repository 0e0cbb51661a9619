"""PNG writers for a run folder: training curves, confusion matrix, prediction grid.

Matplotlib's non-interactive Agg backend is used explicitly, so plotting works headless.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def write_curves_png(history: Mapping[str, Sequence[float]], path: str | os.PathLike[str]) -> None:
    """Loss and accuracy per epoch, train vs validation, side by side (as the tutorials plot)."""
    epochs = [int(e) + 1 for e in history.get("epoch", range(len(history.get("loss", []))))]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key, label in ((metric, "train"), (f"val_{metric}", "validation")):
            if key in history and len(history[key]):
                ax.plot(epochs, [float(v) for v in history[key]], marker="o", label=label)
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


RIGHT_COLOUR = "#1a7f37"
WRONG_COLOUR = "#cf222e"
UNKNOWN_COLOUR = "#24292f"


def write_confusion_png(
    matrix: np.ndarray,
    class_names: Sequence[str],
    path: str | os.PathLike[str],
    title: str = "confusion matrix",
    scores: Sequence[Mapping[str, Any]] | None = None,
) -> None:
    """Counts per (true, predicted) class, rows are true classes; with `scores` (per-class
    precision and recall), each row is labelled with its recall and each column with its
    precision, and the title gives the accuracy."""
    k = len(class_names)
    size = max(4.5, 0.8 * k + 2.5)
    fig, ax = plt.subplots(figsize=(size + 0.5, size))
    ax.imshow(matrix, cmap="Blues")
    rows, columns = list(class_names), list(class_names)
    if scores is not None:
        by_name = {str(row["class"]): row for row in scores}
        rows = [f"{name}\nrecall {by_name[name]['recall']:.2f}" for name in class_names]
        columns = [f"{name}\nprecision {by_name[name]['precision']:.2f}" for name in class_names]
    ax.set_xticks(range(k), labels=columns, rotation=30 if k > 3 else 0, ha="right" if k > 3 else "center")
    ax.set_yticks(range(k), labels=rows)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    total = int(matrix.sum())
    if total:
        title += f": accuracy {np.trace(matrix) / total:.3f} on {total} images"
    ax.set_title(title)
    top = matrix.max() if matrix.size else 0
    for i in range(k):
        row_total = int(matrix[i].sum())
        for j in range(k):
            count = int(matrix[i, j])
            text = f"{count}\n{count / row_total:.0%}" if row_total else str(count)
            ax.text(j, i, text, ha="center", va="center", color="white" if top and count > top / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@dataclass(frozen=True)
class GridImage:
    """One picture of a prediction grid: its pixels, file name, the answer and (when the folder
    says) the true label."""

    pixels: np.ndarray
    name: str
    predicted: str
    confidence: float
    true: str | None = None

    @property
    def correct(self) -> bool | None:
        return None if self.true is None else self.true == self.predicted


def grid_order(items: Sequence[GridImage]) -> list[GridImage]:
    """Wrong answers first (surest first), then unknown and right ones (least sure first): the
    pictures that answer "where does the model fail?" come first."""

    def key(item: GridImage) -> tuple[int, float]:
        if item.correct is False:
            return 0, -item.confidence
        return (1 if item.correct is None else 2), item.confidence

    return sorted(items, key=key)


def write_prediction_grid(
    items: Sequence[GridImage], path: str | os.PathLike[str], columns: int = 6, limit: int = 48
) -> None:
    """The images titled with predicted label and confidence; where the true label is known, a
    green ✓ or a red ✗ (with the true label). Sorted wrong-first; at most `limit` are drawn."""
    ordered = grid_order(items)
    shown = ordered[:limit]
    n = max(1, len(shown))
    cols = min(columns, n)
    rows = (n + cols - 1) // cols
    fig = grid_figure(shown, items, rows, cols)
    fig.savefig(path, dpi=100)
    plt.close(fig)


CAPTION_LINE_INCHES = 0.16  # one 8-point caption line, with its leading


def grid_figure(shown: Sequence[GridImage], items: Sequence[GridImage], rows: int, cols: int) -> Any:
    """The figure of `write_prediction_grid`. Each row is as tall as its image plus its longest
    caption (a wrong answer takes three lines), and constrained layout keeps every caption
    between its image and the row above."""
    lines = max((3 if item.correct is False else 2 for item in shown), default=2)
    height = rows * (2.1 + lines * CAPTION_LINE_INCHES) + 0.7  # + the two summary lines
    fig, axes = plt.subplots(rows, cols, figsize=(2.3 * cols, height), squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, item in zip(axes.flat, shown):
        ax.imshow(item.pixels.astype("uint8"))
        answer = f"{item.predicted} {item.confidence:.0%}"
        if item.correct is None:
            colour, caption = UNKNOWN_COLOUR, answer
        elif item.correct:
            colour, caption = RIGHT_COLOUR, f"✓ {answer}"
        else:
            colour, caption = WRONG_COLOUR, f"✗ {answer}\n(true: {item.true})"
        ax.set_title(f"{caption}\n{_short(item.name)}", fontsize=8, color=colour)
        if item.correct is False:
            for side in ax.spines.values():
                side.set_visible(True)
                side.set_color(WRONG_COLOUR)
                side.set_linewidth(3)
            ax.axis("on")
            ax.set_xticks([])
            ax.set_yticks([])
    known = [item for item in items if item.correct is not None]
    if known:
        wrong = sum(1 for item in known if item.correct is False)
        summary = f"{len(known) - wrong} of {len(known)} right, {wrong} wrong (wrong ones first)"
    else:
        summary = f"{len(items)} predictions (true labels unknown)"
    if len(shown) < len(items):
        summary += f"; {len(shown)} of {len(items)} shown"
    summary += "\nimages as the model sees them (TensorFlow's decode: EXIF orientation not applied)"
    fig.suptitle(summary, fontsize=11)
    return fig


def _short(name: str, width: int = 24) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1) :]
